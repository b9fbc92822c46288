"""The optional ``[centres]``, ``[detector]`` and ``[network]`` pipeline stages.

Thin adapters: they read the run's indices, the Haken co-evolution level and
the panel, check their table and call the pure functions of
:mod:`~nqpspatial.plugins.toolkit.centres`,
:mod:`~nqpspatial.plugins.toolkit.detector` and
:mod:`~nqpspatial.plugins.toolkit.network` (see ``docs/centres.md``,
``docs/detector.md``, ``docs/network.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from nqpspatial.artifacts import Artifact, HakenOutcome
from nqpspatial.errors import ConfigError, InputError
from nqpspatial.specs import spec_from_keys
from nqpspatial.stage import Analysis, StageContext, StageOutput

from .centres import DEFAULT_FORM, ELLIPSE_FORMS, gravity_centres, region_points
from .detector import DISCRETIZATIONS, geodetector_panel
from .network import THRESHOLDS, DifferenceTerm, GreatCircleTerm, SparseTerm, association_networks

__all__ = ["CentresStage", "DetectorStage", "NetworkStage", "centres_stage", "detector_stage", "network_stage"]


@dataclass(frozen=True)
class CentresOutcome(Artifact):
    """The ``[centres]`` stage's results and the region points they were computed on."""

    provided_by: ClassVar[str] = "centres"
    results: Any = None
    points: Any = None
    crs: Any = None


@dataclass(frozen=True)
class DetectorOutcome(Artifact):
    """The ``[detector]`` stage's results."""

    provided_by: ClassVar[str] = "detector"
    results: Any = None


@dataclass(frozen=True)
class NetworkOutcome(Artifact):
    """The ``[network]`` stage's networks by variable and the region points."""

    provided_by: ClassVar[str] = "network"
    results: Any = None
    points: Any = None
    crs: Any = None


def _spec(name: str, keys: dict, check, columns=(), years=()) -> type:
    # crs: "auto" or any CRS pyproj reads (an EPSG code, a string), checked by the stage
    return spec_from_keys(
        name,
        keys,
        normalize=lambda values, where: check(values),
        check_study=lambda spec, facts, where: _check_study(name, spec, facts, columns, years),
        kinds={"crs": "any"} if "crs" in keys else None,
    )


#: Columns of the Haken stage's co-evolution table a toolkit stage may name.
_HAKEN_COLUMNS = ("h", "q1", "q2", "V", "d")


def _check_study(table: str, spec, facts, columns, years) -> None:
    """Names and years of a toolkit table checked against the study before anything is computed."""
    from nqpspatial.specs import suggest

    known = [*facts.variables, *facts.ignored, *(c for c in _HAKEN_COLUMNS if c not in facts.variables)]
    for key in columns:
        value = spec[key]
        for name in [value] if isinstance(value, str) else list(value or []):
            if name and str(name) not in known:
                raise ConfigError(
                    f"[{table}] {key}: '{name}' is not an index, h or panel column{suggest(name, known)} "
                    f"(available: {', '.join(map(str, known[:40]))}{' ...' if len(known) > 40 else ''}; "
                    "a panel column that is not an indicator must be listed in [data] ignore)",
                    source="config",
                )
    if table == "detector" and not spec["drivers"] and not facts.indicators:
        raise ConfigError(
            "[detector] drivers: this study has no indicator list (its indices or variables are given "
            "directly), so there are no default drivers; name driver columns of the panel, e.g. "
            'drivers = ["x1", "x2"] (panel columns that are not analysed must be listed in [data] ignore)',
            source="config",
        )
    for key in years:
        bad = sorted(set(spec[key] or []) - set(facts.periods))
        if bad and facts.periods:
            raise ConfigError(
                f"[{table}] {key}: years {bad} are not in the data (years: {list(facts.periods)})", source="config"
            )


# --------------------------------------------------------------------------- shared helpers
def _haken_h(ctx: StageContext) -> pd.DataFrame | None:
    """``region, year, h`` from the Haken stage's co-evolution table (None without h)."""
    hk = ctx.get(HakenOutcome)
    tab = hk.coevolution if hk is not None else None
    if not isinstance(tab, pd.DataFrame) or "h" not in tab.columns or not tab["h"].notna().all():
        return None
    tab = tab.rename(columns={"region": ctx.region, "year": ctx.year})
    return tab[[ctx.region, ctx.year, "h"]]


def _ignored_column(ctx: StageContext, name: str) -> pd.DataFrame | None:
    """``region, year, <name>`` for a panel column listed in ``[data] ignore`` (read from the panel file)."""
    d = (ctx.config or {}).get("data") or {}
    if name not in (d.get("ignore") or []) or not d.get("panel"):
        return None
    from nqpspatial.io import read_table

    raw = read_table(
        ctx.resolve_path(d["panel"]),
        encoding=d.get("encoding", "utf-8-sig"),
        sheet=d.get("sheet"),
        what="panel",
        text_columns=[ctx.region],
    )
    raw.columns = [str(c).strip() for c in raw.columns]
    if name not in raw.columns or ctx.region not in raw.columns or ctx.year not in raw.columns:
        return None
    ids = {str(r).strip(): r for r in ctx.panel[ctx.region].unique()}
    out = pd.DataFrame(
        {
            ctx.region: [ids.get(str(r).strip()) for r in raw[ctx.region]],
            ctx.year: pd.to_numeric(raw[ctx.year], errors="coerce"),
            name: raw[name].to_numpy(),
        }
    )
    out = out[out[ctx.region].notna()]
    num = pd.to_numeric(out[name], errors="coerce")
    if num.notna().sum() == out[name].notna().sum():  # numeric column: keep numbers
        out[name] = num
    keys = ctx.panel[[ctx.region, ctx.year]]
    out = keys.merge(out.astype({ctx.year: keys[ctx.year].dtype}), on=[ctx.region, ctx.year], how="left")
    return out


def _variable(ctx: StageContext, name: str, table: str) -> pd.DataFrame:
    """``region, year, <name>`` from the indices, h, the panel, or a ``[data] ignore`` column (in that order)."""
    keys = [ctx.region, ctx.year]
    if name == "h":
        h = _haken_h(ctx)
        if h is not None:
            return h
    for src in (ctx.indices, ctx.panel):
        if src is not None and name in src.columns and name not in keys:
            return src[keys + [name]]
    extra = _ignored_column(ctx, name)
    if extra is not None:
        if extra[name].isna().any():
            r = extra.loc[extra[name].isna(), keys].iloc[0].tolist()
            raise InputError(
                f"[{table}] column '{name}' has no value for region {r[0]!r} in year {r[1]!r}: fill the cell",
                source=str((ctx.config.get("data") or {}).get("panel")),
            )
        return extra
    avail = sorted({str(c) for s in (ctx.indices, ctx.panel) if s is not None for c in s.columns} - set(keys))
    raise ConfigError(
        f"[{table}] '{name}' is not an index, h or panel column (available: "
        f"{', '.join(avail[:40])}{' ...' if len(avail) > 40 else ''}; a panel column that is not an "
        "indicator must be listed in [data] ignore)",
        source="config",
    )


def _default_variables(ctx: StageContext) -> list[str]:
    out = [s for s in ctx.subsystems if ctx.indices is not None and s in ctx.indices.columns]
    if _haken_h(ctx) is not None:
        out.append("h")
    return out


def _as_list(value, key: str, table: str) -> list:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"[{table}] {key} must be a list", source="config")
    return list(value)


def _years(value, key: str, table: str) -> list | None:
    ys = _as_list(value, key, table)
    if any(isinstance(y, bool) or not isinstance(y, int) for y in ys):
        raise ConfigError(
            f"[{table}] {key} = {value!r}: give years as whole numbers, e.g. [2014, 2023]", source="config"
        )
    return ys or None


def _choice(cfg: dict, key: str, allowed, table: str):
    if cfg[key] not in allowed:
        raise ConfigError(
            f"[{table}] {key} = {cfg[key]!r}: use one of {', '.join(map(repr, allowed))}", source="config"
        )
    return cfg[key]


def _points(ctx: StageContext, cfg: dict, table: str):
    try:
        return region_points(ctx.geometry, crs=cfg["crs"], points=cfg["points"], source=f"[{table}] geometry")
    except InputError as exc:
        if "crs =" in exc.detail or "points =" in exc.detail:
            raise ConfigError(f"[{table}] {exc.detail}", source="config") from None
        raise


def _missing_years(ys, have, table: str):
    if ys:
        bad = sorted(set(ys) - set(have))
        if bad:
            raise ConfigError(
                f"[{table}] years {bad} are not in the data (years: {sorted(set(have))})", source="config"
            )


# --------------------------------------------------------------------------- [centres]
class CentresStage(Analysis):
    """Gravity centres and standard deviational ellipses (``[centres]``, optional).

    Writes ``centres`` and ``ellipses``; publishes ``centres`` (a
    :class:`~nqpspatial.plugins.toolkit.centres.CentresResults`) and
    ``centres_points`` (the region points and their CRS); ``map_years`` is
    recorded in ``run.json`` for the map (:func:`plot_centres`).
    """

    name = "centres"
    optional = True
    order = 110
    requires = ("geometry",)
    config_keys = {
        "variables": [],
        "years": [],
        "form": DEFAULT_FORM,
        "crs": "auto",
        "points": "centroid",
        "map_years": [],
    }
    uses = (HakenOutcome,)
    provides = (CentresOutcome,)

    def report_sections(self, view) -> list:
        """This stage's section of the report."""
        from .report import centres_sections

        return centres_sections(view)

    tables = ("centres", "ellipses")

    @staticmethod
    def check(cfg: dict) -> dict:
        """The ``[centres]`` keys checked across one another (normalized lists)."""
        t = "centres"
        _choice(cfg, "form", tuple(ELLIPSE_FORMS), t)
        _choice(cfg, "points", ("centroid", "representative"), t)
        return {
            **cfg,
            "variables": [str(v) for v in _as_list(cfg["variables"], "variables", t)],
            "years": _years(cfg["years"], "years", t) or [],
            "map_years": _years(cfg["map_years"], "map_years", t) or [],
        }

    def run(self, ctx: StageContext, cfg) -> StageOutput:
        """Compute the centres and ellipses; see the class docstring."""
        cfg = self.spec.coerce(cfg, ctx)
        t = self.name
        form = cfg["form"]
        variables = list(cfg["variables"]) or _default_variables(ctx)
        if not variables:
            raise ConfigError("[centres] variables: no subsystem index to use; name panel columns", source="config")
        years = list(cfg["years"]) or None
        map_years = list(cfg["map_years"]) or None
        pts, crs, note = _points(ctx, cfg, t)
        parts = []
        for v in variables:
            frame = _variable(ctx, v, t)
            _missing_years(years, frame[ctx.year], t)
            parts.append(
                gravity_centres(
                    frame, v, pts, crs=crs, region=ctx.region, year=ctx.year, form=form, years=years, projection=note
                )
            )
        centres = pd.concat([p.centres for p in parts], ignore_index=True)
        ellipses = pd.concat([p.ellipses for p in parts], ignore_index=True)
        res = type(parts[0])(centres, ellipses, parts[0].points, {**parts[0].options, "variables": variables})
        out = StageOutput(
            tables={"centres": centres, "ellipses": ellipses},
            artifacts=[CentresOutcome(results=res, points=pts, crs=crs)],
        )
        out.info.update(
            variables=variables, projection=note, form=form, crs=res.options["crs"], map_years=map_years or []
        )
        out.notes.append(f"centres: {note}; ellipse form {form} ({ELLIPSE_FORMS[form]})")
        return out


# --------------------------------------------------------------------------- [detector]
class DetectorStage(Analysis):
    """The geographical detector (``[detector]``, optional).

    Writes ``detector_factors``, ``detector_interactions``,
    ``detector_risk``, ``detector_ecological``, ``detector_strata`` and (with
    the optimal discretization) ``detector_discretization``; publishes
    ``detector``.
    """

    name = "detector"
    optional = True
    order = 120
    requires = ()
    config_keys = {
        "target": "h",
        "drivers": [],
        "categorical": [],
        "by": "year",
        "years": [],
        "discretization": "optimal",
        "strata": 5,
        "methods": list(DISCRETIZATIONS),
        "strata_range": [3, 8],
        "alpha": 0.05,
    }
    uses = (HakenOutcome,)
    provides = (DetectorOutcome,)

    def report_sections(self, view) -> list:
        """This stage's section of the report."""
        from .report import detector_sections

        return detector_sections(view)

    tables = (
        "detector_factors",
        "detector_interactions",
        "detector_risk",
        "detector_ecological",
        "detector_strata",
        "detector_discretization",
    )

    @staticmethod
    def check(cfg: dict) -> dict:
        """The ``[detector]`` keys checked across one another."""
        t = "detector"
        _choice(cfg, "by", ("year", "pooled"), t)
        _choice(cfg, "discretization", ("optimal", *DISCRETIZATIONS), t)
        methods = [str(m) for m in _as_list(cfg["methods"], "methods", t)]
        bad = [m for m in methods if m not in DISCRETIZATIONS] or ([] if methods else ["(none)"])
        if bad:
            raise ConfigError(f"[detector] methods: unknown {bad}; use any of {list(DISCRETIZATIONS)}", source="config")
        k = cfg["strata"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ConfigError(f"[detector] strata = {k!r}: give a whole number >= 2", source="config")
        sr = cfg["strata_range"]
        if (
            not isinstance(sr, list)
            or len(sr) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) for x in sr)
            or not 2 <= sr[0] <= sr[1]
        ):
            raise ConfigError(
                f"[detector] strata_range = {sr!r}: give [low, high] with 2 <= low <= high, e.g. [3, 8]",
                source="config",
            )
        a = cfg["alpha"]
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a < 1:
            raise ConfigError(f"[detector] alpha = {a!r}: give a number between 0 and 1", source="config")
        return {**cfg, "methods": methods}

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Run the four detectors; see the class docstring."""
        cfg = dict(self.spec.coerce(cfg, ctx))
        t = self.name
        out = StageOutput()
        target = str(cfg["target"])
        if target == "h" and _haken_h(ctx) is None:
            target = ctx.subsystems[0] if ctx.subsystems else target
            out.notes.append(f"detector: no co-evolution level h in this run; target = {target!r}")
        drivers = [str(d) for d in _as_list(cfg["drivers"], "drivers", t)]
        if not drivers:
            if ctx.indicators is None:
                raise ConfigError(
                    "[detector] drivers: the study gives its indices directly, so there are no "
                    "indicators to use as drivers; name driver columns of the panel",
                    source="config",
                )
            drivers = ctx.indicators["indicator"].astype(str).tolist()
        keys = [ctx.region, ctx.year]
        data = _variable(ctx, target, t)
        for d in drivers:
            data = data.merge(_variable(ctx, d, t), on=keys, how="left", validate="one_to_one")
        lost = data[drivers].isna().any(axis=1)
        if lost.any():
            r = data.loc[lost, keys].iloc[0].tolist()
            raise InputError(
                f"[detector] a driver has no value for region {r[0]!r} in year {r[1]!r} (the target "
                f"{target!r} does): complete the panel or drop that driver",
                source="config",
            )
        years = _years(cfg["years"], "years", t)
        _missing_years(years, data[ctx.year], t)
        res = geodetector_panel(
            data,
            target,
            drivers,
            region=ctx.region,
            year=ctx.year,
            by=cfg["by"],
            years=years,
            discretization=cfg["discretization"],
            strata=cfg["strata"],
            methods=cfg["methods"],
            strata_range=cfg["strata_range"],
            categorical=[str(c) for c in _as_list(cfg["categorical"], "categorical", t)],
            alpha=float(cfg["alpha"]),
        )
        for name, attr in (
            ("detector_factors", "factors"),
            ("detector_interactions", "interactions"),
            ("detector_risk", "risk"),
            ("detector_ecological", "ecological"),
            ("detector_strata", "strata"),
        ):
            out.tables[name] = getattr(res, attr)
        if cfg["discretization"] == "optimal":
            out.tables["detector_discretization"] = res.discretization
        out.artifacts.append(DetectorOutcome(results=res))
        out.info.update(target=target, drivers=len(drivers), by=cfg["by"], discretization=cfg["discretization"])
        return out


# --------------------------------------------------------------------------- [network]
class NetworkStage(Analysis):
    """Spatial association networks (``[network]``, optional).

    Writes ``network_edges``, ``network_summary``, ``network_nodes``,
    ``network_blocks``, ``network_block_density`` and ``network_qap``;
    publishes ``network`` (variable -> :class:`~nqpspatial.plugins.toolkit.network.NetworkResults`) and
    ``network_points`` (the region points and their CRS).
    """

    name = "network"
    optional = True
    order = 130
    requires = ("geometry",)
    config_keys = {
        "variables": [],
        "decay": 2.0,
        "distance": "great-circle",
        "economic_column": "",
        "mass_columns": [],
        "threshold": "row-mean",
        "years": [],
        "detail_years": [],
        "blocks": "concor",
        "qap": [],
        "permutations": 999,
        "crs": "auto",
        "points": "centroid",
    }
    uses = (HakenOutcome,)
    provides = (NetworkOutcome,)

    def report_sections(self, view) -> list:
        """This stage's section of the report."""
        from .report import network_sections

        return network_sections(view)

    tables = (
        "network_edges",
        "network_summary",
        "network_nodes",
        "network_blocks",
        "network_block_density",
        "network_qap",
    )

    @staticmethod
    def check(cfg: dict) -> dict:
        """The ``[network]`` keys checked across one another."""
        t = "network"
        _choice(cfg, "distance", ("great-circle", "economic"), t)
        _choice(cfg, "threshold", THRESHOLDS, t)
        _choice(cfg, "blocks", ("concor", "none"), t)
        _choice(cfg, "points", ("centroid", "representative"), t)
        d = cfg["decay"]
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not d > 0:
            raise ConfigError(
                f"[network] decay = {d!r}: give a positive number (2 is the gravity model's)", source="config"
            )
        p = cfg["permutations"]
        if isinstance(p, bool) or not isinstance(p, int) or p < 0:
            raise ConfigError(f"[network] permutations = {p!r}: give a whole number >= 0", source="config")
        if cfg["distance"] == "economic" and not cfg["economic_column"]:
            raise ConfigError(
                '[network] distance = "economic" needs economic_column (a panel column such as GDP per capita)',
                source="config",
            )
        return cfg

    def _qap_terms(self, ctx, names, pts):
        terms = {}
        for name in names:
            if name == "distance":
                terms[name] = lambda g, ids: GreatCircleTerm(pts.loc[ids, "lon"], pts.loc[ids, "lat"])
            elif name == "contiguity":
                terms[name] = self._contiguity(ctx)
            else:
                frame = _variable(ctx, name, self.name)
                terms[name] = (
                    lambda f, v: (
                        lambda g, ids: DifferenceTerm(
                            f[f[ctx.year] == g[ctx.year].iloc[0]].set_index(ctx.region).loc[ids, v]
                        )
                    )
                )(frame, name)
        return terms

    @staticmethod
    def _contiguity(ctx):
        from libpysal.graph import Graph

        def term(g, ids):
            gr = Graph.build_contiguity(ctx.geometry.loc[ids], rook=False)
            return SparseTerm(gr.sparse)

        return term

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Build and analyse the networks; see the class docstring."""
        cfg = dict(self.spec.coerce(cfg, ctx))
        t = self.name
        out = StageOutput()
        h = _haken_h(ctx)
        variables = [str(v) for v in _as_list(cfg["variables"], "variables", t)] or (
            ["h"] if h is not None else list(ctx.subsystems[:1])
        )
        if not variables:
            raise ConfigError(
                "[network] variables: nothing to build a network from; name a panel column", source="config"
            )
        extra = [str(c) for c in _as_list(cfg["mass_columns"], "mass_columns", t)]
        if cfg["distance"] == "economic":
            extra.append(str(cfg["economic_column"]))
        keys = [ctx.region, ctx.year]
        qnames = [str(q) for q in _as_list(cfg["qap"], "qap", t)] or ["distance", *ctx.subsystems]
        pts, crs, note = _points(ctx, cfg, t)
        parts = []
        seed = int(ctx.rng(self.name).integers(0, 2**31 - 1))
        years = _years(cfg["years"], "years", t)
        detail = _years(cfg["detail_years"], "detail_years", t)
        from nqpspatial.backends import backend_from_config

        with backend_from_config(ctx.config) as be:  # QAP permutations on the run's backend
            for v in variables:
                data = _variable(ctx, v, t)
                for c in dict.fromkeys(extra):
                    if c != v:
                        data = data.merge(_variable(ctx, c, t), on=keys, how="left", validate="one_to_one")
                _missing_years(years, data[ctx.year], t)
                _missing_years(detail, data[ctx.year], t)
                parts.append(
                    association_networks(
                        data,
                        [v],
                        pts,
                        region=ctx.region,
                        year=ctx.year,
                        decay=float(cfg["decay"]),
                        distance=cfg["distance"],
                        economic_column=cfg["economic_column"] or None,
                        mass_columns=[str(c) for c in _as_list(cfg["mass_columns"], "mass_columns", t)],
                        threshold=cfg["threshold"],
                        years=years,
                        detail_years=detail,
                        blocks=cfg["blocks"],
                        qap_matrices=self._qap_terms(ctx, qnames, pts),
                        permutations=cfg["permutations"],
                        seed=seed,
                        backend=be,
                    )
                )
        names = {
            "edges": "network_edges",
            "structure": "network_summary",
            "nodes": "network_nodes",
            "blocks": "network_blocks",
            "block_density": "network_block_density",
            "qap": "network_qap",
        }
        for attr, name in names.items():
            out.tables[name] = pd.concat([getattr(p, attr) for p in parts], ignore_index=True)
        out.artifacts.append(NetworkOutcome(results=dict(zip(variables, parts)), points=pts, crs=crs))
        out.info.update(
            variables=variables, projection=note, qap=qnames, seed=seed, detail_years=parts[0].options["detail_years"]
        )
        return out


#: Instances registered under the ``nqpspatial.analyses`` entry-point group.
CentresStage.spec = _spec(
    "centres", CentresStage.config_keys, CentresStage.check, columns=("variables",), years=("years", "map_years")
)
DetectorStage.spec = _spec(
    "detector",
    DetectorStage.config_keys,
    DetectorStage.check,
    columns=("target", "drivers", "categorical"),
    years=("years",),
)
NetworkStage.spec = _spec(
    "network",
    NetworkStage.config_keys,
    NetworkStage.check,
    columns=("variables", "mass_columns", "economic_column"),
    years=("years", "detail_years"),
)

centres_stage = CentresStage()
detector_stage = DetectorStage()
network_stage = NetworkStage()
