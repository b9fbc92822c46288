"""The optional ``[zones]`` pipeline stage.

Runs the zone analyses of :mod:`nqpspatial.plugins.zones` on the run's
region scheme and writes their tables (see ``docs/zones.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nqpspatial.errors import ConfigError, InputError
from nqpspatial.stage import Analysis, StageContext, StageOutput

from .clusters import METHODS, cluster_regions, contiguity_graph
from .convergence import convergence
from .dagum import dagum_decomposition
from .density import kernel_density
from .markov import markov_chains
from .obstacles import obstacle_degree
from .summary import haken_by_zone, zones_summary
from .theil import theil_decomposition

__all__ = ["ZonesStage", "zones_stage", "ANALYSES"]

ANALYSES = ("summary", "dagum", "clusters", "markov", "density", "convergence", "obstacles")
_HAKEN_COLUMNS = ("q1", "q2", "V", "d", "h")
_GRADE = "__grade_h"


def _haken_table(ctx: StageContext) -> pd.DataFrame | None:
    """The Haken co-evolution table (region, year, q1, q2, V, d, h, grade), if published."""
    haken = ctx.results.get("haken")
    if haken is None:
        return None
    tab = None
    for name in ("coevolution_table", "coevolution"):
        try:
            obj = getattr(haken, name, None)
        except Exception:  # the Haken results could not provide it
            continue
        obj = getattr(obj, "table", obj)  # CoevolutionResults.table
        if isinstance(obj, pd.DataFrame):
            tab = obj
            break
    if not isinstance(tab, pd.DataFrame):
        return None
    tab = tab.copy()
    for want, alt in ((ctx.region, "region"), (ctx.year, "year")):
        if want not in tab.columns and alt in tab.columns:
            tab = tab.rename(columns={alt: want})
    if ctx.region not in tab.columns or ctx.year not in tab.columns:
        return None
    return tab


def _available(ctx: StageContext, haken: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Sources of variables, in order of precedence."""
    src: dict[str, pd.DataFrame] = {}
    if ctx.indices is not None:
        src["indices"] = ctx.indices
    if haken is not None:
        src["haken"] = haken[[c for c in haken.columns if c in (ctx.region, ctx.year, *_HAKEN_COLUMNS,
                                                                   "grade")]]
    src["panel"] = ctx.panel
    return src


def _default_variables(ctx: StageContext, haken: pd.DataFrame | None) -> list[str]:
    out = [s for s in ctx.subsystems if ctx.indices is not None and s in ctx.indices.columns]
    if haken is not None and "h" in haken.columns and haken["h"].notna().all():
        out.append("h")
    return out


def _gather(ctx: StageContext, variables: list[str], haken: pd.DataFrame | None):
    """One region-year table per variable, taken whole from the variable's source.

    Each variable keeps the coverage of its source (the Haken table may span
    a sub-period window), so no merge ever introduces empty cells.  ``h``
    carries its Haken grade in an extra column when every row is graded.
    """
    src = _available(ctx, haken)
    keys = [ctx.region, ctx.year]
    frames, origin = {}, {}
    for v in variables:
        for name, tab in src.items():
            if v in tab.columns and v not in keys:
                origin[v] = name
                cols = keys + [v]
                if (name == "haken" and v == "h" and "grade" in tab.columns
                        and tab["grade"].notna().all()):
                    frames[v] = tab[cols + ["grade"]].rename(columns={"grade": _GRADE})
                else:
                    frames[v] = tab[cols]
                break
        else:
            avail = sorted({c for t in src.values() for c in t.columns if c not in keys})
            raise ConfigError(f"[zones] variables: '{v}' is not a panel, index or Haken column "
                              f"(available: {', '.join(map(str, avail))})", source="config")
    return frames, origin


def _spatial_graph(ctx: StageContext, ids: list) -> tuple[Any, dict]:
    """A connected queen contiguity graph over ``ids`` (components linked by the core island routine)."""
    g, links = contiguity_graph(ctx.geometry, ids)
    return g, {"source": "queen contiguity, islands and other components linked to the nearest region by "
                         "boundary distance (nqpspatial.spatial.connect_components)",
               "links": links.to_dict("records")}


def _known_names(cfg: dict, key: str, allowed) -> list:
    """``cfg[key]`` as a list (a lone string becomes one item); every item must be in ``allowed``."""
    values = cfg[key]
    if isinstance(values, str):
        values = [values]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ConfigError(f"[zones] {key}: unknown {bad}; use any of {list(allowed)}", source="config")
    return list(values)


def _unit_bounds(values):
    """(0, 1) when every value lies in [0, 1] (indices: densities reflected at 0 and 1), else None."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return (0.0, 1.0) if v.size and v.min() >= 0.0 and v.max() <= 1.0 else None


class ZonesStage(Analysis):
    """Zone analyses on the run's region scheme (``[zones]``, optional).

    Config keys (defaults in :attr:`config_keys`): ``analyses`` (any of
    ``summary, dagum, clusters, markov, density, convergence, obstacles``),
    ``variables`` (empty = the subsystem indices plus Haken's ``h`` when
    published), ``clusters`` (k), ``cluster_methods``, ``min_region_size``
    (max-p floor), ``classes`` (Markov quantile classes when no grades),
    ``spatial_lag`` (spatial-lag beta convergence).

    Outputs: ``zones_summary``, ``dagum_gini``, ``dagum_pairs``, ``theil``,
    ``theil_groups``, ``clusters``, ``clusters_vs_zones``,
    ``markov_transitions``, ``markov_classes``, ``spatial_markov``,
    ``density``, ``density_curves``, ``convergence``, ``obstacles`` and,
    when the Haken results offer them, ``zones_haken_fits`` and
    ``zones_turning_points``.
    """

    name = "zones"
    optional = True
    order = 70
    min_periods = 2
    requires = ("scheme",)
    config_keys = {
        "analyses": list(ANALYSES),
        "variables": [],
        "clusters": 8,
        "cluster_methods": list(METHODS),
        "min_region_size": 3,
        "classes": 5,
        "spatial_lag": False,
    }

    def _check_cfg(self, cfg: dict) -> dict:
        cfg = {**self.config_keys, **cfg}
        analyses = _known_names(cfg, "analyses", ANALYSES)
        methods = _known_names(cfg, "cluster_methods", METHODS)
        for key, low in (("clusters", 2), ("min_region_size", 1), ("classes", 2)):
            if not isinstance(cfg[key], int) or isinstance(cfg[key], bool) or cfg[key] < low:
                raise ConfigError(f"[zones] {key} = {cfg[key]!r} must be a whole number >= {low}",
                                  source="config")
        if not isinstance(cfg["spatial_lag"], bool):
            raise ConfigError("[zones] spatial_lag must be true or false", source="config")
        variables = cfg["variables"]
        if isinstance(variables, str):
            variables = [] if variables == "auto" else [variables]
        return {**cfg, "analyses": analyses, "cluster_methods": methods,
                "variables": list(variables)}

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Run the configured zone analyses; see the class docstring."""
        cfg = self._check_cfg(cfg)
        out = StageOutput()
        haken = _haken_table(ctx)
        variables = cfg["variables"] or _default_variables(ctx, haken)
        if not variables:
            raise ConfigError("[zones] variables: no subsystem index to analyse; name panel "
                              "columns in `variables`", source="config")
        frames, origin = _gather(ctx, variables, haken)
        R, Y = ctx.region, ctx.year
        scheme, sname = ctx.scheme, ctx.scheme_name
        ids = sorted({r for f in frames.values() for r in f[R].unique()})
        out.info.update(variables=variables, variable_sources=origin, scheme=sname,
                        analyses=cfg["analyses"])
        rng = ctx.rng("zones")
        seed = int(rng.integers(0, 2**31 - 1))
        out.info["seed"] = seed
        graph = None
        needs_graph = {"clusters", "markov"} & set(cfg["analyses"]) or cfg["spatial_lag"]
        if needs_graph and ctx.geometry is not None:
            graph, ginfo = _spatial_graph(ctx, ids)
            out.info["graph"] = ginfo
            has_crs = getattr(ctx.geometry, "crs", None) is not None
            for link in ginfo["links"]:
                d = (f"{link['distance'] / 1000:.1f} km" if has_crs
                     else f"{link['distance']:.4g} layer units")
                out.notes.append(f"zones: island '{link['region']}' linked to '{link['neighbor']}' "
                                 f"(boundary distance {d})")

        def per_variable(label, fn):
            """Run fn(v, table) per variable; a user-fixable data problem skips it with a note."""
            res = []
            for v in variables:
                try:
                    res.append(fn(v, frames[v]))
                except InputError as exc:
                    if isinstance(exc, ConfigError):
                        raise
                    out.notes.append(f"zones {label} skipped for '{v}': {exc.detail}")
            return res

        def cat(results, attr):
            parts = [getattr(r, attr) if attr else r for r in results]
            parts = [p for p in parts if p is not None and len(p)]
            return pd.concat(parts, ignore_index=True) if parts else None

        def put(name, table):
            if table is not None:
                out.tables[name] = table

        kw = dict(region=R, year=Y)
        for a in ctx.progress(cfg["analyses"], total=len(cfg["analyses"]), desc="zones"):
            if a == "summary":
                res = per_variable("summary", lambda v, d: zones_summary(
                    d, v, scheme, scheme_name=sname, **kw))
                put("zones_summary", cat(res, None))
                tabs, notes = haken_by_zone(ctx.results.get("haken"), scheme, ctx.indices,
                                            region=R, year=Y, seed=seed)
                out.tables.update(tabs)
                out.notes.extend(f"zones: {n}" for n in notes)
            elif a == "dagum":
                res = per_variable("Dagum Gini", lambda v, d: dagum_decomposition(
                    d, v, scheme, scheme_name=sname, **kw))
                put("dagum_gini", cat(res, "gini"))
                put("dagum_pairs", cat(res, "pairs"))
                res = per_variable("Theil", lambda v, d: theil_decomposition(
                    d, v, scheme, scheme_name=sname, **kw))
                put("theil", cat(res, "theil"))
                put("theil_groups", cat(res, "groups"))
            elif a == "clusters":
                if graph is None and [m for m in cfg["cluster_methods"] if m != "kmeans"]:
                    out.notes.append("zones clusters skipped: no boundaries (ctx.geometry is None)")
                    continue
                if cfg["clusters"] > len(ids) or cfg["min_region_size"] > len(ids):
                    raise ConfigError(f"[zones] clusters and min_region_size must not exceed the "
                                      f"number of regions ({len(ids)})", source="config")
                res = per_variable("clustering", lambda v, d: cluster_regions(
                    d, v, ctx.geometry, graph=graph, groups=scheme, k=cfg["clusters"],
                    methods=cfg["cluster_methods"], min_region_size=cfg["min_region_size"],
                    seed=seed, scheme_name=sname, **kw))
                put("clusters", cat(res, "clusters"))
                put("clusters_vs_zones", cat(res, "comparison"))
            elif a == "markov":
                if graph is None:
                    out.notes.append("zones spatial and LISA Markov skipped: no boundaries "
                                     "(ctx.geometry is None); classical chain only")

                def mk(v, d):
                    cc = _GRADE if _GRADE in d.columns else None
                    return markov_chains(d, v, graph, classes=cfg["classes"], class_column=cc,
                                         seed=seed, **kw)

                res = per_variable("Markov", mk)
                put("markov_transitions", cat(res, "transitions"))
                put("markov_classes", cat(res, "classes"))
                put("spatial_markov", cat(res, "spatial"))
            elif a == "density":
                res = per_variable("density", lambda v, d: kernel_density(
                    d, v, scheme, scheme_name=sname, bounds=_unit_bounds(d[v]), **kw))
                put("density", cat(res, "density"))
                put("density_curves", cat(res, "curves"))
            elif a == "convergence":
                if cfg["spatial_lag"] and graph is None:
                    out.notes.append("zones spatial-lag convergence skipped: no boundaries")
                res = per_variable("convergence", lambda v, d: convergence(
                    d, v, scheme, graph=graph, spatial_lag=cfg["spatial_lag"] and graph is not None,
                    scheme_name=sname, **kw))
                put("convergence", cat(res, "table"))
            elif a == "obstacles":
                wt, norm = ctx.results.get("weights"), ctx.results.get("normalized")
                if not isinstance(wt, pd.DataFrame) or not isinstance(norm, pd.DataFrame):
                    out.notes.append("zones obstacles skipped: no indicator weights / normalized "
                                     "indicators (precomputed indices)")
                    continue
                res = obstacle_degree(norm, wt, region=R, year=Y)
                put("obstacles", res.table)
                out.notes.extend(f"zones obstacles: {n}" for n in res.notes)
        return out


#: The instance registered under the ``nqpspatial.analyses`` entry-point group.
zones_stage = ZonesStage()
