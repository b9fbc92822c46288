"""The ``spatial`` pipeline stage: weights and spatial autocorrelation for every period.

Config table ``[spatial]`` (defaults shown)::

    weights = ["queen"]        # specifications, e.g. "knn:k=5", "economic:variable=gdp_pc"
    islands = "nearest"        # nearest | keep | drop
    transform = "r"            # r | b | o | d | v (libpysal)
    variables = []             # default: the subsystem indices (and h when the Haken stage ran)
    permutations = 999
    alpha = 0.05
    fdr = false
    statistics = ["moran", "geary", "getis_ord", "lisa", "gistar", "moran_bivariate"]
    bivariate = []             # pairs [x, y]; default: the first two subsystems, both ways

Tables: ``moran_global``, ``geary``, ``getis_ord``, ``moran_bivariate``,
``lisa``, ``gistar``, ``weights_<slug>`` per weights specification and
``weights_summary``.  Publishes ``{"weights": {slug: SpatialWeights}}`` as
``ctx.results["spatial_weights"]``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from nqpspatial import registry
from nqpspatial._util import closest, stream
from nqpspatial.backends import backend_from_config
from nqpspatial.errors import ConfigError, InputError
from nqpspatial.stage import Analysis, StageContext, StageOutput

__all__ = ["SpatialStage", "spatial_stage", "DEFAULT_STATISTICS"]

DEFAULT_STATISTICS = ["moran", "geary", "getis_ord", "lisa", "gistar", "moran_bivariate"]
_HAKEN_COLUMNS = ("q1", "q2", "V", "h")
_SRC = "config [spatial]"


def _get_statistic(name: str):
    """The statistics plugin registered under ``name``."""
    names = registry.names("statistics")
    if name not in names:
        hint = closest(name, names, cutoff=0.0)
        raise ConfigError(f"statistics: unknown statistic '{name}'"
                          + (f" (did you mean '{hint[0]}'?)" if hint else "")
                          + f"; available: {', '.join(names)}", source=_SRC)
    return registry.get("statistics", name)


def _as_list(value, key):
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ConfigError(f"{key} must be a list, got {value!r}", source=_SRC)


def _haken_table(ctx: StageContext):
    res = ctx.results.get("haken") if isinstance(ctx.results, dict) else None
    table = getattr(res, "coevolution", None)
    if table is None and isinstance(res, dict):
        table = res.get("coevolution")
    if not isinstance(table, pd.DataFrame):
        return None
    rcol = ctx.region if ctx.region in table.columns else "region"
    ycol = ctx.year if ctx.year in table.columns else "year"
    if rcol not in table.columns or ycol not in table.columns:
        return None
    keep = [c for c in _HAKEN_COLUMNS if c in table.columns]
    out = table[[rcol, ycol, *keep]].rename(columns={rcol: ctx.region, ycol: ctx.year})
    return out


def _data_table(ctx: StageContext):
    """Long table region, year + every variable the stage may analyse."""
    r, y = ctx.region, ctx.year
    base = ctx.panel
    data = base.copy()
    sources = {c: "panel" for c in base.columns if c not in (r, y)}
    if ctx.indices is not None:
        idx = ctx.indices.rename(columns={"region": r, "year": y}) if r not in ctx.indices.columns else ctx.indices
        extra = [c for c in idx.columns if c not in (r, y) and c not in sources]
        if extra:
            data = data.merge(idx[[r, y, *extra]], on=[r, y], how="left", validate="one_to_one")
            sources.update({c: "indices" for c in extra})
    hk = _haken_table(ctx)
    if hk is not None:
        extra = [c for c in hk.columns if c not in (r, y) and c not in sources]
        if extra:
            data = data.merge(hk[[r, y, *extra]], on=[r, y], how="left", validate="one_to_one")
            sources.update({c: "haken" for c in extra})
    return data, sources, hk is not None


def _default_variables(ctx, sources, has_haken):
    subs = [s for s in (ctx.subsystems or []) if s in sources]
    if subs:
        out = list(subs)
        if has_haken and "h" in sources:
            out.append("h")
        return out
    numeric = [c for c, src in sources.items() if src == "panel"
               and pd.api.types.is_numeric_dtype(ctx.panel[c])]
    return numeric


def _check_variable(name, sources, key="variables"):
    if name not in sources:
        avail = list(sources)
        hint = closest(name, avail, cutoff=0.0)
        raise ConfigError(f"{key}: unknown variable '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                          + f"; available: {', '.join(map(str, avail))}"
                          + ("" if all(h in sources for h in _HAKEN_COLUMNS)
                             else " (q1, q2, V and h need a Haken result)"), source=_SRC)


def _pairs(value, ctx, sources):
    if value is None or value == []:
        subs = [s for s in (ctx.subsystems or []) if s in sources]
        return [(subs[0], subs[1]), (subs[1], subs[0])] if len(subs) >= 2 else []
    out = []
    for item in value:
        if isinstance(item, str) and "~" in item:
            item = item.split("~", 1)
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ConfigError(f"bivariate: {item!r} is not a pair; write [\"x\", \"y\"] (x against the lag of y)",
                              source=_SRC)
        for v in item:
            _check_variable(v, sources, key="bivariate")
        out.append((item[0], item[1]))
    return out


def _takes_backend(plugin) -> bool:
    """Whether a statistics plugin's ``compute`` accepts the optional ``backend`` keyword (read at load)."""
    return "backend" in registry.keywords("statistics", plugin)


def _wide(data, var, ids, r, y):
    sub = data[[r, y, var]]
    vals = pd.to_numeric(sub[var], errors="coerce")
    if vals.isna().any():
        bad = sub.loc[vals.isna(), [r, y]].head(10).to_dict("records")
        raise InputError(f"variable '{var}' has missing or non-numeric values at {bad}; fix the panel or "
                         "leave the variable out of [spatial] variables", source="panel")
    wide = pd.DataFrame({r: sub[r].to_numpy(), y: sub[y].to_numpy(), "v": vals.to_numpy()}).pivot(
        index=r, columns=y, values="v")
    return wide.reindex(list(ids))


def _add_dropped(frame, dropped, years):
    if not dropped or frame.empty or "region" not in frame.columns:
        return frame
    rows = pd.DataFrame({"year": np.repeat(np.asarray(years), len(dropped)),
                         "region": np.tile(np.asarray(dropped, dtype=object), len(years))})
    if "cluster" in frame.columns:
        rows["cluster"] = "isolated"
    return pd.concat([frame, rows], ignore_index=True)


def _canonical_ids(column):
    """Sorted distinct region ids: the graph order never depends on the panel's row order."""
    uniq = list(pd.unique(column))
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


class SpatialStage(Analysis):
    """Spatial weights, global and local spatial autocorrelation for every period.

    Runs when boundaries are known (``ctx.geometry``) or when no weights
    specification needs them (user matrices, economic, block); otherwise it
    is skipped with a note.  See the module doc for the config keys and
    tables.
    """

    name = "spatial"
    order = 60
    min_periods = 2
    optional = False
    requires: tuple = ()
    config_keys = {
        "weights": ["queen"],
        "islands": "nearest",
        "transform": "r",
        "variables": None,
        "permutations": 999,
        "alpha": 0.05,
        "fdr": False,
        "statistics": list(DEFAULT_STATISTICS),
        "bivariate": [],
    }

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Build every weights matrix and compute the statistics (see the class doc)."""
        from nqpspatial.spatial import build_weights, get_builder, parse_spec

        cfg = {**self.config_keys, **{k: v for k, v in (cfg or {}).items() if v is not None or k == "variables"}}
        unknown = [k for k in cfg if k not in self.config_keys and k != "enabled"]
        if unknown:
            hint = closest(unknown[0], self.config_keys, cutoff=0.0)
            raise ConfigError(f"unknown key '{unknown[0]}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""),
                              source=_SRC)
        specs = _as_list(cfg["weights"], "weights") or ["queen"]
        perms = cfg["permutations"]
        if isinstance(perms, bool) or not isinstance(perms, int) or perms < 0:
            raise ConfigError(f"permutations must be a non-negative integer, got {perms!r}", source=_SRC)
        from nqpspatial.resources import check_memory

        # kept per permutation: the permuted statistic (and Geary's linear term) of every period, with a copy
        check_memory(perms, 8 * 4 * max(1, int(pd.unique(ctx.panel[ctx.year]).size)), key="[spatial] permutations")
        alpha = cfg["alpha"]
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
            raise ConfigError(f"alpha must be between 0 and 1, got {alpha!r}", source=_SRC)
        if not isinstance(cfg["fdr"], bool):
            raise ConfigError(f"fdr must be true or false, got {cfg['fdr']!r}", source=_SRC)
        stat_names = _as_list(cfg["statistics"], "statistics")
        plugins = [_get_statistic(s) for s in stat_names]

        needs_geo = []
        for spec in specs:
            name, _ = parse_spec(spec)
            builder = get_builder(name)
            if "geometry" in set(getattr(builder, "needs", ()) or ()):
                needs_geo.append(spec)
        if ctx.geometry is None and needs_geo:
            return StageOutput(notes=[
                "spatial stage skipped: weights " + ", ".join(needs_geo) + " need region boundaries; set "
                "[geometry] source and id (a boundary file or a bundled layer), or use user matrices "
                "(\"matrix:path=...\")"],
                info={"skipped": True}, status="skipped")

        r, y = ctx.region, ctx.year
        data, sources, has_haken = _data_table(ctx)
        variables = _as_list(cfg["variables"], "variables")
        if not variables:
            variables = _default_variables(ctx, sources, has_haken)
        for v in variables:
            _check_variable(v, sources)
        pairs = _pairs(cfg["bivariate"], ctx, sources) if any(p.bivariate for p in plugins) else []
        ids = _canonical_ids(ctx.panel[r])
        years = sorted(pd.unique(ctx.panel[y]).tolist())

        notes: list[str] = []
        tables: dict[str, list] = {}
        weights: dict = {}
        summary_rows = []
        for spec in specs:
            sw = build_weights(spec, ids, geometry=ctx.geometry, panel=data, scheme=ctx.scheme,
                               islands=cfg["islands"], transform=cfg["transform"], region=r, year=y,
                               base_dir=ctx.base_dir)
            if sw.slug in weights:
                raise ConfigError(f"weights: two specifications give the same file name '{sw.slug}'; "
                                  "remove the duplicate", source=_SRC)
            weights[sw.slug] = sw
            summary_rows.append(sw.summary_row)
            tables[f"weights_{sw.slug}"] = [sw.table]
            notes.extend(f"weights {spec}: {n}" for n in sw.notes)

        base_seed = int(ctx.rng("spatial").integers(0, 2 ** 63 - 1))
        wide = {v: _wide(data, v, ids, r, y) for v in set(variables) | {a for p in pairs for a in p}}
        tasks = [(sw, plug, v) for sw in weights.values() for plug in plugins if not plug.bivariate
                 for v in variables]
        tasks += [(sw, plug, pr) for sw in weights.values() for plug in plugins if plug.bivariate for pr in pairs]
        nan_periods = set()
        # permutation chunks of the statistics that accept a backend run on [run] workers / scheduler;
        # the numbers do not depend on it
        use_backend = bool(perms) and any(_takes_backend(p) for p in plugins)
        with (backend_from_config(ctx.config) if use_backend else contextlib.nullcontext()) as be:
            for sw, plug, var in ctx.progress(tasks, total=len(tasks), desc="spatial statistics"):
                keep = list(sw.ids)
                rng = stream(base_seed, plug.name, sw.spec, var)
                extra = {"backend": be} if be is not None and _takes_backend(plug) else {}
                if plug.bivariate:
                    xv, yv = var
                    out = plug.compute(wide[xv].loc[keep], sw.graph, rng=rng, permutations=perms, alpha=alpha,
                                       fdr=cfg["fdr"], y=wide[yv].loc[keep], **extra)
                    label = {"variable": xv, "lag_variable": yv}
                else:
                    out = plug.compute(wide[var].loc[keep], sw.graph, rng=rng, permutations=perms, alpha=alpha,
                                       fdr=cfg["fdr"], **extra)
                    label = {"variable": var}
                out = _add_dropped(out, [i for i in ids if i not in set(keep)], years)
                head = pd.DataFrame({**label, "weights": sw.spec}, index=out.index)
                out = pd.concat([head, out.reset_index(drop=True)], axis=1)
                out["island_policy"] = sw.island_policy  # recorded in every output (as in weights_summary)
                for stat_col in ("I", "C", "G"):
                    if stat_col in out.columns and "region" not in out.columns and out[stat_col].isna().any():
                        nan_periods.update((label["variable"], yr) for yr in out.loc[out[stat_col].isna(), "year"])
                tables.setdefault(plug.table, []).append(out)
        if nan_periods:
            notes.append("no spatial statistic for periods where a variable does not vary across regions: "
                         + ", ".join(f"{v} {yr}" for v, yr in sorted(nan_periods, key=str)))
        if cfg["fdr"]:
            notes.append(f"local clusters use the Benjamini-Hochberg FDR cut-off at alpha = {alpha} "
                         "(per variable, weights and period)")
        out_tables = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
        out_tables["weights_summary"] = pd.DataFrame(summary_rows)
        info = {"weights": [sw.spec for sw in weights.values()], "variables": list(variables),
                "bivariate": [list(p) for p in pairs], "permutations": perms, "alpha": alpha,
                "fdr": cfg["fdr"], "islands": cfg["islands"], "transform": cfg["transform"],
                "statistics": stat_names,
                "island_ids": {sw.spec: list(map(str, sw.islands)) for sw in weights.values()}}
        return StageOutput(tables=out_tables, info=info, notes=notes,
                           publish={"spatial_weights": {"weights": weights}})


spatial_stage = SpatialStage()
