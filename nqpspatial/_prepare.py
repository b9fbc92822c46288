"""The core steps before the analyses: data, weighting, geometry, region scheme, spatial weights.

:func:`preflight` runs them all, with every check ``nqpspatial run`` makes
before computing (the stages' own checks against the study's facts, the
plugins the config names, the order of the stages), so that
``nqpspatial validate`` refuses exactly what a run would refuse before it
computes anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import registry
from ._util import jsonable
from .artifacts import SpatialWeightsSet
from .errors import ConfigError, InputError

__all__ = [
    "Prepared",
    "preflight",
    "read_data",
    "weighting",
    "geometry",
    "scheme",
    "spatial_weights",
    "input_files",
    "path_in",
]


def path_in(base: Path, p):
    """``p`` relative to the config's folder (a DataFrame given in a config dict is returned as is)."""
    if p is None or isinstance(p, pd.DataFrame):
        return p
    q = Path(p)
    return q if q.is_absolute() else base / q


def read_data(cfg: dict, base: Path):
    """Read and validate the panel and the indicator list (:func:`nqpspatial.panel.load_panel`)."""
    from .panel import load_panel

    d = cfg["data"]  # checked by DataSpec
    ind = d["indicators"]
    ind_where = None
    if isinstance(ind, str):
        ind_where = str(path_in(base, ind))
        ind = path_in(base, ind)
    return load_panel(
        path_in(base, d["panel"]),
        ind,
        region=d["region"],
        year=d["year"],
        missing=d["missing"],
        ignore=d["ignore"],
        indices=d["indices"],
        subsystems=d["subsystems"] or None,
        variables=d.get("variables") or None,
        form=d["form"],
        indicator_column=d["indicator_column"],
        value_column=d["value_column"],
        encoding=d["encoding"],
        sheet=d["sheet"],
        indicators_where=ind_where,
        indicators_encoding=d.get("indicators_encoding"),
    )


def weighting(panel, cfg: dict):
    """Indices, the indicator weights table (or None), the normalized indicators (or None) and facts."""
    region, year = panel.region, panel.year
    if panel.raw_variables:
        return panel.values[[region, year, *panel.subsystems]].copy(), None, None, {"indices": "raw variables"}
    if panel.indices_given:
        vals = panel.values
        subs = panel.subsystems
        bad = []
        for s in subs:
            out = vals[(vals[s] < 0) | (vals[s] > 1)]
            bad += [f"{s} ({r}, {y}) = {v:g}" for r, y, v in zip(out[region], out[year], out[s])]
        if bad:
            raise InputError(
                f"[data] indices = true, but index values lie outside [0, 1]: {', '.join(bad[:20])}"
                f"{' ...' if len(bad) > 20 else ''}. Give indices in [0, 1] or set indices = false and "
                "supply an indicator list.",
                source=panel.source,
            )
        return vals[[region, year, *subs]].copy(), None, None, {"indices": "given"}
    from .weighting import INDICATOR_TABLE, compute_weights

    w = cfg["weighting"]  # checked by WeightingSpec; shift None = the method's default
    try:
        res = compute_weights(
            panel.values,
            panel.indicators,
            region=region,
            year=year,
            method=w["method"],
            normalization=w["normalization"],
            critic_conflict=w["critic_conflict"],
            critic_cost=w["critic_cost"],
            levels=int(w["levels"]),
            zero_variance=w["zero_variance"],
            shift=w["shift"],
            aggregation=w["aggregation"],
            topsis_ideal=w["topsis_ideal"],
        )
    except InputError as exc:
        if exc.source is None:
            raise InputError(exc.detail, source=panel.source) from None
        if exc.source == INDICATOR_TABLE:  # name the indicator list's file
            raise InputError(exc.detail, source=panel.indicators_source) from None
        raise
    return res.indices, res.weights, res.normalized, {"options": jsonable(getattr(res, "options", {}))}


def geometry(cfg: dict, base: Path, panel):
    """The boundary layer (a user file, a bundled layer, or the bundled province layer) and a note."""
    g = cfg["geometry"]
    if not g.get("enabled", True):
        return None, "disabled in [geometry]"
    if len(panel.regions) < 2:
        return None, (
            f"no boundaries used: the panel has {len(panel.regions)} region, and spatial weights need at "
            "least 2 regions (spatial statistics at least 4)"
        )
    try:
        import nqpspatial.geodata as geodata
    except ImportError:  # pragma: no cover
        return None, "nqpspatial.geodata is not installed"
    source = g.get("source")  # checked by GeometrySpec
    if source:
        if source in getattr(geodata, "LAYERS", ("provinces", "prefectures", "counties")):
            gdf = (
                geodata.load_layer(source, regions=panel.regions)
                if "regions" in geodata.load_layer.__code__.co_varnames
                else geodata.load_layer(source)
            )
            return gdf, f"bundled layer '{source}'"
        if not g.get("id"):
            if not Path(str(source)).suffix and not path_in(base, source).exists():
                geodata.load_layer(source, source="config [geometry] source")  # misspelt layer: suggests one
            raise ConfigError(
                "[geometry] id is missing: name the boundary file's field that holds the panel's region ids.",
                source="config",
            )
        gdf = geodata.read_boundaries(path_in(base, source), g["id"], regions=panel.regions, crs=g.get("crs"))
        return gdf, f"file {source} (id field {g['id']})"
    # Chinese provinces, prefecture-level cities or counties, recognised from the ids; ids that mostly name
    # units of one level but not all raise the matcher's error (closest matches, candidates, the fix)
    found = geodata.china_layer(panel.regions, source=panel.source)
    if found is not None:
        return found
    return None, (
        "no boundaries: the regions are not Chinese provinces, cities or counties and [geometry] is not "
        'set; spatial stages need a boundary file ([geometry] source = "file.geojson", id = "<field>")'
    )


def scheme(cfg: dict, base: Path, panel, failures: list | None = None):
    """The region scheme (a scheme plugin or a CSV) as a Series region -> group, and its name.

    A scheme plugin that raises (other than InputError) or breaks its
    contract is recorded in ``failures`` and the run goes on without a scheme.
    """
    name = cfg["regions"].get("scheme")  # checked by RegionsSpec
    import nqpspatial.geodata as geodata

    if name is None:
        if geodata.detect_level(panel.regions) is not None:  # Chinese provinces, cities or counties
            name = "eight-zones"
        else:
            return None, None
    if name in registry.available("schemes"):
        plugin = registry.get("schemes", name)
        return _plugin_scheme(plugin, name, panel, failures)
    p = path_in(base, name)
    if str(name).lower().endswith((".csv", ".xlsx")) or p.exists():
        return geodata.load_scheme(p, regions=panel.regions, source=str(p)), Path(str(name)).stem
    raise ConfigError(
        f"[regions] scheme = {name!r} is neither a bundled scheme "
        f"({', '.join(registry.names('schemes'))}) nor an existing CSV file.",
        source="config",
    )


def _plugin_scheme(plugin, name: str, panel, failures: list | None):
    import traceback

    from .runner import plugin_failure

    try:
        groups = plugin.load(list(panel.regions))
    except (InputError, ConfigError):
        raise
    except Exception as exc:  # noqa: BLE001 - a scheme plugin's failure: the run goes on without a scheme
        if failures is None:
            raise
        failures.append(plugin_failure("schemes", name, exc, traceback.format_exc()))
        return None, None
    ok = isinstance(groups, pd.Series) and list(groups.index) == list(panel.regions) and groups.notna().all()
    if not ok:
        if failures is None:
            raise InputError(f"scheme '{name}' does not map every region of the panel to one group")
        failures.append(
            plugin_failure(
                "schemes",
                name,
                "breaks the schemes contract: load(regions) must return "
                "a Series indexed by exactly the regions, every one in a group",
            )
        )
        return None, None
    return groups, name


def _weights_specs(cfg: dict) -> list[str]:
    """Every spatial weights specification the config names: [spatial] weights first, then the keys stages
    declare as naming weights (``spatial_weights_keys`` of their spec), in config order."""
    specs: list[str] = []
    for tname, table in cfg.items():
        keys = getattr(type(table), "spatial_weights_keys", ())
        if tname == "spatial" and "weights" in keys:
            keys = ()  # taken first below
        for k in keys:
            value = table[k]
            specs += [value] if isinstance(value, str) else list(value or [])
    sp = cfg.get("spatial")
    first = sp["weights"] if sp is not None and "weights" in sp else ["queen"]
    first = [first] if isinstance(first, str) else list(first or ["queen"])
    return list(dict.fromkeys(first + specs))


def spatial_weights(
    cfg: dict, base: Path, panel, indices, geometry_, scheme_, failures: list | None = None
) -> tuple[SpatialWeightsSet | None, str]:
    """Build every spatial weights specification of the config once (the core weights step).

    The island policy and transformation are ``[spatial] islands`` and
    ``transform``.  Without boundaries only the specifications whose
    builders need none are built.

    Returns
    -------
    (SpatialWeightsSet or None, str)
        The weights (None when none can be built) and a note.
    """
    if len(panel.regions) < 2:
        return None, "no spatial weights: the panel has one region"
    data = panel.values
    if indices is not None:
        extra = [c for c in indices.columns if c not in data.columns]
        if extra:
            data = data.merge(
                indices[[panel.region, panel.year, *extra]],
                on=[panel.region, panel.year],
                how="left",
                validate="one_to_one",
            )
    return weights_set(
        _weights_specs(cfg),
        panel.regions,
        data,
        cfg.get("spatial"),
        geometry=geometry_,
        scheme=scheme_,
        region=panel.region,
        year=panel.year,
        base=base,
        failures=failures,
    )


def weights_set(
    specs,
    regions,
    data,
    spatial_cfg,
    *,
    geometry=None,
    scheme=None,
    region="region",
    year="year",
    base=None,
    failures: list | None = None,
) -> tuple[SpatialWeightsSet | None, str]:
    """Build the weights ``specs`` for ``regions`` (the loop behind the core weights step).

    ``spatial_cfg`` is the ``[spatial]`` table (or None) that gives the
    island policy and transformation.  A builder's failure is appended to
    ``failures`` (a plugin failure) or, when ``failures`` is None, raised.
    """
    from .spatial import build_weights, canonical_ids, get_builder, parse_spec

    sp = spatial_cfg
    islands = sp["islands"] if sp is not None and "islands" in sp else "nearest"
    transform = sp["transform"] if sp is not None and "transform" in sp else "r"
    ids = canonical_ids(regions)
    built, skipped = {}, []
    for spec in specs:
        name, _ = parse_spec(spec)
        if "geometry" in set(getattr(get_builder(name), "needs", ()) or ()) and geometry is None:
            skipped.append(spec)
            continue
        try:
            built[spec] = build_weights(
                spec,
                ids,
                geometry=geometry,
                panel=data,
                scheme=scheme,
                islands=islands,
                transform=transform,
                region=region,
                year=year,
                base_dir=base,
            )
        except (InputError, ConfigError):
            raise
        except Exception as exc:  # noqa: BLE001 - a builder's failure loses only its specification
            if failures is None:
                raise
            import traceback

            from .runner import plugin_failure

            failures.append(plugin_failure("weights", name, exc, traceback.format_exc()))
    slugs = [w.slug for w in built.values()]
    dup = sorted({s for s in slugs if slugs.count(s) > 1})
    if dup:
        raise ConfigError(
            f"weights: two specifications give the same file name '{dup[0]}'; remove the duplicate",
            source="config [spatial] weights",
        )
    note = f"spatial weights built: {', '.join(built)}" if built else "no spatial weights built"
    if skipped:
        note += f"; without boundaries, not built: {', '.join(skipped)}"
    if not built:
        return None, note
    return SpatialWeightsSet(by_spec=built, islands=islands, transform=transform), note


def input_files(cfg: dict, base: Path, where: str) -> list[Path]:
    """The run's input files (config, panel, indicator list, boundary file, scheme CSV): never a target."""
    files = [Path(where)] if where not in ("config",) and Path(where).suffix else []
    d = cfg["data"]
    for value in (d.get("panel"), d.get("indicators")):
        if isinstance(value, (str, Path)) and str(value).strip():
            files.append(path_in(base, value))
    source = (cfg.get("geometry") or {}).get("source")
    if isinstance(source, (str, Path)) and str(source).strip() and (Path(str(source)).suffix or "/" in str(source)):
        files.append(path_in(base, source))
    scheme = (cfg.get("regions") or {}).get("scheme")
    if isinstance(scheme, (str, Path)) and str(scheme).lower().endswith((".csv", ".xlsx")):
        files.append(path_in(base, scheme))
    return files


@dataclass
class Prepared:
    """What the pre-flight read and checked, with the seconds each core step took."""

    target: Any = None
    panel: Any = None
    indices: Any = None
    wtable: Any = None
    normalized: Any = None
    winfo: dict = field(default_factory=dict)
    geometry: Any = None
    gnote: str = ""
    scheme: Any = None
    scheme_name: str | None = None
    weights: SpatialWeightsSet | None = None
    wnote: str = ""
    failures: dict = field(default_factory=dict)
    order: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)


def preflight(cfg: dict, base: Path, analyses: list, check_target: Callable | None = None) -> Prepared:
    """Every check made before anything is written or computed.

    The output folder (``check_target``), the order of the stages, the data,
    weighting, geometry, region scheme and spatial weights, then each
    requested stage's checks against the study's facts
    (:meth:`nqpspatial.specs.TableSpec.check_study`) and the plugins the
    config names.  ``nqpspatial run`` and ``nqpspatial validate`` both use it.
    """
    from . import runner
    from .specs import StudyFacts

    prep = Prepared(target=check_target() if check_target is not None else None)
    prep.order = runner.plan(analyses, core=runner.CORE_PROVIDED)
    t0 = time.perf_counter()
    prep.panel = read_data(cfg, base)
    prep.seconds["data"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prep.indices, prep.wtable, prep.normalized, prep.winfo = weighting(prep.panel, cfg)
    prep.seconds["weighting"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prep.geometry, prep.gnote = geometry(cfg, base, prep.panel)
    prep.scheme, prep.scheme_name = scheme(cfg, base, prep.panel, prep.failures.setdefault("geometry", []))
    prep.seconds["geometry"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prep.weights, prep.wnote = spatial_weights(
        cfg, base, prep.panel, prep.indices, prep.geometry, prep.scheme, prep.failures.setdefault("weights", [])
    )
    prep.seconds["weights"] = time.perf_counter() - t0
    panel = prep.panel
    columns = [c for c in panel.values.columns if c not in (panel.region, panel.year)]
    columns += [c for c in (prep.indices.columns if prep.indices is not None else []) if c not in columns]
    facts = StudyFacts(
        subsystems=tuple(panel.subsystems),
        regions=tuple(panel.regions),
        periods=tuple(panel.years),
        variables=tuple(c for c in columns if c not in (panel.region, panel.year)),
        geometry=prep.geometry is not None,
        scheme=prep.scheme is not None,
        groups=prep.scheme,
        ignored=tuple(map(str, cfg["data"].get("ignore") or ())),
        indicators=() if panel.indicators is None else tuple(panel.indicators["indicator"].astype(str)),
    )
    for stage in analyses:
        table = cfg.get(stage.name)
        if table is not None and table.get("enabled", True):
            table.check_study(facts, "config")
    return prep
