"""The optional ``[zones]`` pipeline stage.

Runs the zone analyses of :mod:`nqpspatial.plugins.zones` on the run's
region scheme and writes their tables (see ``docs/zones.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nqpspatial.artifacts import HakenOutcome, IndicatorWeights
from nqpspatial.errors import ConfigError, InputError
from nqpspatial.specs import StageSpec, StudyFacts, key
from nqpspatial.stage import Analysis, StageContext, StageOutput

from .clusters import METHODS, cluster_regions, contiguity_graph
from .convergence import convergence
from .dagum import dagum_decomposition
from .density import kernel_density
from .markov import CLASS_MODES, markov_chains
from .obstacles import obstacle_degree
from .summary import haken_by_zone, zones_summary
from .theil import theil_decomposition

__all__ = ["ZonesStage", "zones_stage", "ANALYSES"]

#: SKATER and max-p (spopt) are skipped, with a note, above this many regions: both heuristics grow faster
#: than N log N (SKATER re-evaluates every tree edge per cut, max-p grows and swaps regions one by one).
SPOPT_MAX_REGIONS = 1000
SPOPT_METHODS = ("skater", "maxp")
ANALYSES = ("summary", "dagum", "clusters", "markov", "density", "convergence", "obstacles")
_HAKEN_COLUMNS = ("q1", "q2", "V", "d", "h")
_GRADE = "__grade_h"
#: Haken columns that are indices in [0, 1] (h only with a normalized co-evolution strategy)
_HAKEN_INDICES = ("q1", "q2", "h")


def _haken_table(ctx: StageContext) -> pd.DataFrame | None:
    """The Haken co-evolution table (region, year, q1, q2, V, d, h, grade), when the Haken stage gave one."""
    haken = ctx.get(HakenOutcome)
    if haken is None or not isinstance(haken.coevolution, pd.DataFrame):
        return None
    return haken.coevolution.rename(columns={"region": ctx.region, "year": ctx.year})


def _available(ctx: StageContext, haken: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """Sources of variables, in order of precedence."""
    src: dict[str, pd.DataFrame] = {}
    if ctx.indices is not None:
        src["indices"] = ctx.indices
    if haken is not None:
        src["haken"] = haken[[c for c in haken.columns if c in (ctx.region, ctx.year, *_HAKEN_COLUMNS, "grade")]]
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
                if name == "haken" and v == "h" and "grade" in tab.columns and tab["grade"].notna().all():
                    frames[v] = tab[cols + ["grade"]].rename(columns={"grade": _GRADE})
                else:
                    frames[v] = tab[cols]
                break
        else:
            avail = sorted({c for t in src.values() for c in t.columns if c not in keys})
            raise ConfigError(
                f"[zones] variables: '{v}' is not a panel, index or Haken column "
                f"(available: {', '.join(map(str, avail))})",
                source="config",
            )
    return frames, origin


def _spatial_graph(ctx: StageContext, ids: list) -> tuple[Any, dict]:
    """A connected queen contiguity graph over ``ids`` (components linked by the core island routine)."""
    g, links = contiguity_graph(ctx.geometry, ids)
    return g, {
        "source": "queen contiguity, islands and other components linked to the nearest region by "
        "boundary distance (nqpspatial.spatial.connect_components)",
        "links": links.to_dict("records"),
    }


def _normalized_h(haken: pd.DataFrame | None) -> bool:
    """Whether the Haken table's ``h`` comes from a normalized (``[0, 1]``) co-evolution strategy."""
    if haken is None or "strategy" not in haken.columns:
        return False
    from nqpspatial import registry

    for name in pd.unique(haken["strategy"].dropna()):
        try:
            if not getattr(registry.get("coevolution", str(name)), "normalized", False):
                return False
        except Exception:  # an unknown strategy name: not known to be normalized
            return False
    return haken["strategy"].notna().any()


def index_variables(frames: dict, origin: dict, haken: pd.DataFrame | None) -> list[str]:
    """The variables that are indices in ``[0, 1]``: subsystem and dimension indices, Haken ``q1``,
    ``q2`` and a normalized ``h``, whose values all lie in ``[0, 1]``."""
    out = []
    for v, src in origin.items():
        index_like = src == "indices" or (src == "haken" and v in _HAKEN_INDICES and (v != "h" or _normalized_h(haken)))
        vals = frames[v][v].to_numpy(dtype=float)
        if index_like and np.all((vals >= 0) & (vals <= 1)):
            out.append(v)
    return out


def _unit_bounds(values):
    """(0, 1) when every value lies in [0, 1] (indices: densities reflected at 0 and 1), else None."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return (0.0, 1.0) if v.size and v.min() >= 0.0 and v.max() <= 1.0 else None


@dataclass
class _Run:
    """One run of the stage: the inputs every analysis needs and the output it fills."""

    ctx: StageContext
    cfg: dict
    frames: dict
    variables: list
    graph: Any
    ids: list
    seed: int
    out: StageOutput = field(default_factory=StageOutput)

    @property
    def kw(self) -> dict:
        return dict(region=self.ctx.region, year=self.ctx.year)

    def per_variable(self, label, fn, variables=None) -> list:
        """Run fn(v, table) per variable; a user-fixable data problem skips it with a note."""
        res = []
        for v in variables or self.variables:
            try:
                res.append(fn(v, self.frames[v]))
            except InputError as exc:
                if isinstance(exc, ConfigError):
                    raise
                self.out.notes.append(f"zones {label} skipped for '{v}': {exc.detail}")
        return res

    @staticmethod
    def cat(results, attr):
        parts = [getattr(r, attr) if attr else r for r in results]
        parts = [p for p in parts if p is not None and len(p)]
        return pd.concat(parts, ignore_index=True) if parts else None

    def put(self, name, table) -> None:
        if table is not None:
            self.out.tables[name] = table

    # one method per analysis ------------------------------------------------------------------
    def summary(self) -> None:
        ctx = self.ctx
        res = self.per_variable(
            "summary", lambda v, d: zones_summary(d, v, ctx.scheme, scheme_name=ctx.scheme_name, **self.kw)
        )
        self.put("zones_summary", self.cat(res, None))
        tabs, notes = haken_by_zone(ctx.get(HakenOutcome), ctx.scheme, ctx.indices, **self.kw, seed=self.seed)
        self.out.tables.update(tabs)
        self.out.notes.extend(f"zones: {n}" for n in notes)

    def dagum(self) -> None:
        sch, sname = self.ctx.scheme, self.ctx.scheme_name
        res = self.per_variable("Dagum Gini", lambda v, d: dagum_decomposition(d, v, sch, scheme_name=sname, **self.kw))
        self.put("dagum_gini", self.cat(res, "gini"))
        self.put("dagum_pairs", self.cat(res, "pairs"))
        res = self.per_variable("Theil", lambda v, d: theil_decomposition(d, v, sch, scheme_name=sname, **self.kw))
        self.put("theil", self.cat(res, "theil"))
        self.put("theil_groups", self.cat(res, "groups"))

    def clusters(self) -> None:
        cfg, ctx = self.cfg, self.ctx
        if self.graph is None and [m for m in cfg["cluster_methods"] if m != "kmeans"]:
            self.out.notes.append("zones clusters skipped: no boundaries (ctx.geometry is None)")
            return
        methods = list(cfg["cluster_methods"])
        n = len(self.graph.unique_ids) if self.graph is not None else 0
        slow = [m for m in methods if m in SPOPT_METHODS]
        if slow and n > SPOPT_MAX_REGIONS:
            methods = [m for m in methods if m not in SPOPT_METHODS]
            self.out.notes.append(
                f"zones clusters: {', '.join(slow)} skipped: {n} regions > {SPOPT_MAX_REGIONS} (their spopt "
                "heuristics grow faster than N log N; docs/performance.md); "
                + (f"{', '.join(methods)} ran" if methods else "no clustering ran")
            )
            if not methods:
                return
        res = self.per_variable(
            "clustering",
            lambda v, d: cluster_regions(
                d,
                v,
                ctx.geometry,
                graph=self.graph,
                groups=ctx.scheme,
                k=cfg["clusters"],
                methods=methods,
                min_region_size=cfg["min_region_size"],
                seed=self.seed,
                scheme_name=ctx.scheme_name,
                **self.kw,
            ),
        )
        self.put("clusters", self.cat(res, "clusters"))
        self.put("clusters_vs_zones", self.cat(res, "comparison"))

    def markov(self) -> None:
        mode = self.cfg["markov_classes"]
        if self.graph is None:
            self.out.notes.append(
                "zones spatial and LISA Markov skipped: no boundaries (ctx.geometry is None); classical chain only"
            )

        def mk(v, d):
            cc = _GRADE if _GRADE in d.columns else None
            return markov_chains(
                d,
                v,
                self.graph,
                classes=self.cfg["classes"],
                class_column=cc,
                class_mode=mode,
                seed=self.seed,
                **self.kw,
            )

        res = self.per_variable("Markov", mk)
        self.put("markov_transitions", self.cat(res, "transitions"))
        self.put("markov_classes", self.cat(res, "classes"))
        self.put("spatial_markov", self.cat(res, "spatial"))
        hint = ' (set [zones] markov_classes = "both" or "relative")' if mode == "pooled" else ""
        for r in res:
            self.out.notes.extend(
                f"zones Markov: {n}{hint if 'track calendar time' in n else ''}"
                for n in r.notes
                if not n.startswith("no spatial graph")
            )
        trend = self.cat(res, "trend")
        self.out.info["markov"] = {"classes": mode, "trend": [] if trend is None else trend.to_dict("records")}

    def density(self) -> None:
        res = self.per_variable(
            "density",
            lambda v, d: kernel_density(
                d, v, self.ctx.scheme, scheme_name=self.ctx.scheme_name, bounds=_unit_bounds(d[v]), **self.kw
            ),
        )
        self.put("density", self.cat(res, "density"))
        self.put("density_curves", self.cat(res, "curves"))

    def convergence(self, mapped: list) -> None:
        cfg, graph = self.cfg, self.graph
        if cfg["spatial_lag"] and graph is None:
            self.out.notes.append("zones spatial-lag convergence skipped: no boundaries")
        shift = cfg["convergence_shift"]
        res = self.per_variable(
            "convergence",
            lambda v, d: convergence(
                d,
                v,
                self.ctx.scheme,
                graph=graph,
                spatial_lag=cfg["spatial_lag"] and graph is not None,
                index_shift=shift if v in mapped else None,
                scheme_name=self.ctx.scheme_name,
                **self.kw,
            ),
        )
        self.put("convergence", self.cat(res, "table"))
        mapped = [v for v in self.variables if v in mapped] if shift else []
        self.out.info["convergence_shift"] = {
            "shift": shift,
            "mapped": mapped,
            "as_stored": [v for v in self.variables if v not in mapped],
            "rule": "beta convergence takes logarithms of shift + (1 - 2 shift) x for indices in [0, 1] "
            "(subsystem and dimension indices, Haken q1, q2 and a normalized h); other "
            "variables as stored",
        }

    def obstacles(self) -> None:
        ctx = self.ctx
        iw = ctx.get(IndicatorWeights)
        wt, norm = (iw.table, iw.normalized) if iw is not None else (None, None)
        if not isinstance(wt, pd.DataFrame) or not isinstance(norm, pd.DataFrame):
            self.out.notes.append(
                "zones obstacles skipped: no indicator weights / normalized indicators "
                "(the study gives its indices or variables directly)"
            )
            return
        res = obstacle_degree(norm, wt, **self.kw)
        self.put("obstacles", res.table)
        self.out.notes.extend(f"zones obstacles: {n}" for n in res.notes)


def _names_in(allowed):
    def check(value, label, where):
        values = [value] if isinstance(value, str) else value
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ConfigError(f"{label}: unknown {bad}; use any of {list(allowed)}", source=where)
        return list(values)

    return check


def _zone_variables(value, label, where):
    values = [] if value == "auto" else ([value] if isinstance(value, str) else value)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{label} must be a list of variable names, not {value!r}", source=where)
    return list(values)


@dataclass(frozen=True)
class ZonesSpec(StageSpec):
    """``[zones]``: the zone analyses on the region scheme."""

    table = "zones"
    analyses: list = key(list(ANALYSES), kind="str|list", check=_names_in(ANALYSES), doc="analyses to run")
    variables: list = key(
        [], kind="str|list", check=_zone_variables, doc="variables (empty: the subsystem indices and h)"
    )
    clusters: int = key(8, minimum=2, doc="number of clusters")
    cluster_methods: list = key(list(METHODS), kind="str|list", check=_names_in(METHODS), doc="clustering methods")
    min_region_size: int = key(3, minimum=1, doc="max-p: fewest regions per cluster")
    classes: int = key(5, minimum=2, doc="Markov quantile classes (when the variable has no grades)")
    markov_classes: str = key("both", choices=CLASS_MODES, doc="pooled | relative | both")
    spatial_lag: bool = key(False, doc="spatial-lag beta convergence")
    convergence_shift: float = key(
        0.002,
        minimum=0,
        check=lambda v, lab, w: _shift_ok(v, lab, w),
        doc="beta convergence of an index in [0, 1] on s + (1 - 2 s) x",
    )

    def check_study(self, facts: StudyFacts, where: str = "config") -> None:
        known = set(facts.variables) | set(_HAKEN_COLUMNS)
        bad = [v for v in self.variables if v not in known]
        if bad:
            raise ConfigError(
                f"[zones] variables: {bad} are not panel, index or Haken columns "
                f"(available: {', '.join(map(str, sorted(known, key=str)))})",
                source=where,
            )
        n = len(facts.regions)
        if "clusters" in self.analyses and (self.clusters > n or self.min_region_size > n):
            raise ConfigError(
                f"[zones] clusters and min_region_size must not exceed the number of regions ({n})", source=where
            )


def _shift_ok(value, label, where):
    if not 0 <= value < 0.5:
        raise ConfigError(
            f"{label} = {value!r} must be a number in [0, 0.5), e.g. 0.002 (0: values as stored)", source=where
        )
    return float(value)


class ZonesStage(Analysis):
    """Zone analyses on the run's region scheme (``[zones]``, optional).

    Config keys (defaults in :attr:`config_keys`): ``analyses`` (any of
    ``summary, dagum, clusters, markov, density, convergence, obstacles``),
    ``variables`` (empty = the subsystem indices plus Haken's ``h`` when
    published), ``clusters`` (k), ``cluster_methods``, ``min_region_size``
    (max-p floor), ``classes`` (Markov quantile classes when no grades),
    ``markov_classes`` (``"pooled"``, ``"relative"`` or ``"both"``),
    ``spatial_lag`` (spatial-lag beta convergence) and
    ``convergence_shift`` (``s``: beta convergence of an index in [0, 1]
    takes logarithms of ``s + (1 - 2 s) x``; 0 = values as stored).

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
    spec = ZonesSpec
    config_keys = ZonesSpec.defaults()
    uses = (HakenOutcome, IndicatorWeights)
    tables = (
        "zones_summary",
        "zones_haken_fits",
        "zones_turning_points",
        "dagum_gini",
        "dagum_pairs",
        "theil",
        "theil_groups",
        "clusters",
        "clusters_vs_zones",
        "markov_classes",
        "markov_transitions",
        "spatial_markov",
        "density",
        "density_curves",
        "convergence",
        "obstacles",
    )

    def report_sections(self, view) -> list:
        """The zones section of the report."""
        from .report import zones_sections

        return zones_sections(view)

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Run the configured zone analyses; see the class docstring."""
        cfg = dict(ZonesSpec.coerce(cfg, ctx))
        haken = _haken_table(ctx)
        variables = cfg["variables"] or _default_variables(ctx, haken)
        if not variables:
            raise ConfigError(
                "[zones] variables: no subsystem index to analyse; name panel columns in `variables`", source="config"
            )
        frames, origin = _gather(ctx, variables, haken)
        ids = sorted({r for f in frames.values() for r in f[ctx.region].unique()})
        seed = int(ctx.rng("zones").integers(0, 2**31 - 1))
        needs_graph = {"clusters", "markov"} & set(cfg["analyses"]) or cfg["spatial_lag"]
        graph, ginfo = (None, None)
        if needs_graph and ctx.geometry is not None:
            graph, ginfo = _spatial_graph(ctx, ids)
        r = _Run(ctx, cfg, frames, variables, graph, ids, seed)
        r.out.info.update(
            variables=variables, variable_sources=origin, scheme=ctx.scheme_name, analyses=cfg["analyses"], seed=seed
        )
        if ginfo is not None:
            r.out.info["graph"] = ginfo
            r.out.notes.extend(_link_notes(ctx, ginfo))
        for a in ctx.progress(cfg["analyses"], total=len(cfg["analyses"]), desc="zones"):
            if a == "convergence":
                r.convergence(index_variables(frames, origin, haken))
            else:
                getattr(r, a)()
        return r.out


def _link_notes(ctx: StageContext, ginfo: dict) -> list[str]:
    """One note per island link added to the contiguity graph."""
    has_crs = getattr(ctx.geometry, "crs", None) is not None
    notes = []
    for link in ginfo["links"]:
        d = f"{link['distance'] / 1000:.1f} km" if has_crs else f"{link['distance']:.4g} layer units"
        notes.append(f"zones: island '{link['region']}' linked to '{link['neighbor']}' (boundary distance {d})")
    return notes


#: The instance registered under the ``nqpspatial.analyses`` entry-point group.
zones_stage = ZonesStage()
