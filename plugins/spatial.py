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
``weights_summary``.  The weights themselves are built once by the core
(:class:`~nqpspatial.artifacts.SpatialWeightsSet`, from ``weights``,
``islands`` and ``transform``); this stage computes the statistics on them.
A statistics plugin that raises or breaks its contract marks the stage
``failed`` with its name; the other statistics are kept.
"""

from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nqpspatial import registry
from nqpspatial._util import closest, stream
from nqpspatial.artifacts import HakenOutcome, SpatialWeightsSet
from nqpspatial.backends import backend_from_config
from nqpspatial.contracts import output_problems, table_name_problems
from nqpspatial.errors import ConfigError, InputError
from nqpspatial.report.view import ReportView, Section, escape, preferred_variables, table_html, wide_values
from nqpspatial.runner import plugin_failure
from nqpspatial.spatial import ISLAND_POLICIES, NO_WEIGHTS, TRANSFORMS, canonical_ids, check_specs
from nqpspatial.specs import StageSpec, StudyFacts, key
from nqpspatial.stage import Analysis, StageContext, StageOutput

__all__ = ["SpatialStage", "SpatialSpec", "spatial_stage", "DEFAULT_STATISTICS"]

DEFAULT_STATISTICS = ["moran", "geary", "getis_ord", "lisa", "gistar", "moran_bivariate"]
_HAKEN_COLUMNS = ("q1", "q2", "V", "h")
_SRC = "config [spatial]"


def _haken_table(ctx: StageContext):
    """``region, year, q1, q2, V, h`` of the Haken stage's co-evolution table (None without one)."""
    h = ctx.get(HakenOutcome)
    table = h.coevolution if h is not None else None
    if not isinstance(table, pd.DataFrame):
        return None
    keep = [c for c in _HAKEN_COLUMNS if c in table.columns]
    return table[["region", "year", *keep]].rename(columns={"region": ctx.region, "year": ctx.year})


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
    numeric = [c for c, src in sources.items() if src == "panel" and pd.api.types.is_numeric_dtype(ctx.panel[c])]
    return numeric


def _check_variable(name, sources, key="variables"):
    if name not in sources:
        avail = list(sources)
        hint = closest(name, avail, cutoff=0.0)
        raise ConfigError(
            f"{key}: unknown variable '{name}'"
            + (f" (did you mean '{hint[0]}'?)" if hint else "")
            + f"; available: {', '.join(map(str, avail))}"
            + ("" if all(h in sources for h in _HAKEN_COLUMNS) else " (q1, q2, V and h need a Haken result)"),
            source=_SRC,
        )


def _pairs(value, ctx, sources):
    """The bivariate pairs (checked by the spec); default: the first two subsystems, both ways."""
    if not value:
        subs = [s for s in (ctx.subsystems or []) if s in sources]
        return [(subs[0], subs[1]), (subs[1], subs[0])] if len(subs) >= 2 else []
    return [(a, b) for a, b in value if a in sources and b in sources]


def _takes_backend(plugin) -> bool:
    """Whether a statistics plugin's ``compute`` accepts the optional ``backend`` keyword (read at load)."""
    return "backend" in registry.keywords("statistics", plugin)


def _wide(data, var, ids, r, y):
    sub = data[[r, y, var]]
    vals = pd.to_numeric(sub[var], errors="coerce")
    if vals.isna().any():
        bad = sub.loc[vals.isna(), [r, y]].head(10).to_dict("records")
        raise InputError(
            f"variable '{var}' has missing or non-numeric values at {bad}; fix the panel or "
            "leave the variable out of [spatial] variables",
            source="panel",
        )
    wide = pd.DataFrame({r: sub[r].to_numpy(), y: sub[y].to_numpy(), "v": vals.to_numpy()}).pivot(
        index=r, columns=y, values="v"
    )
    return wide.reindex(list(ids))


def _add_dropped(frame, dropped, years):
    if not dropped or frame.empty or "region" not in frame.columns:
        return frame
    rows = pd.DataFrame(
        {
            "year": np.repeat(np.asarray(years), len(dropped)),
            "region": np.tile(np.asarray(dropped, dtype=object), len(years)),
        }
    )
    if "cluster" in frame.columns:
        rows["cluster"] = "isolated"
    return pd.concat([frame, rows], ignore_index=True)


def _statistics(value, label, where):
    names = registry.names("statistics")
    values = [value] if isinstance(value, str) else value
    for name in values:
        if name not in names:
            hint = closest(name, names, cutoff=0.0)
            raise ConfigError(
                f"{label}: unknown statistic '{name}'"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + f"; available: {', '.join(names)}",
                source=where,
            )
        registry.get("statistics", name)  # a plugin that fails to load is refused here (exit 2)
    return list(values)


def _variables(value, label, where):
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f'{label} must be a list of variable names, e.g. ["NQP", "h"], not {value!r}', source=where)
    return values


def _bivariate(value, label, where):
    out = []
    for item in value:
        if isinstance(item, str) and "~" in item:
            item = item.split("~", 1)
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not all(isinstance(v, str) for v in item):
            raise ConfigError(
                f'{label}: {item!r} is not a pair; write ["x", "y"] (x against the lag of y)', source=where
            )
        out.append(list(item))
    return out


@dataclass(frozen=True)
class SpatialSpec(StageSpec):
    """``[spatial]``: the weights the core builds and the statistics this stage computes on them."""

    table = "spatial"
    spatial_weights_keys = ("weights",)
    weights: list = key(
        ["queen"],
        kind="str|list",
        check=lambda v, lab, w: check_specs(v, lab, w),
        doc='weights specifications, e.g. ["queen", "knn:k=5"]',
    )
    islands: str = key("nearest", choices=ISLAND_POLICIES, doc="regions without neighbours: nearest | keep | drop")
    transform: str = key("r", choices=TRANSFORMS, doc="libpysal transformation (r row-standardized)")
    variables: Any = key(
        None,
        kind="any",
        check=_variables,
        doc="variables (default: the subsystem indices, and h when the Haken stage ran)",
    )
    permutations: int = key(999, minimum=0, doc="permutations of the pseudo p-values (0: none)")
    alpha: float = key(0.05, minimum=0, maximum=1, exclusive=True, doc="significance level of the local clusters")
    fdr: bool = key(False, doc="Benjamini-Hochberg cut-off for the local clusters")
    statistics: list = key(
        list(DEFAULT_STATISTICS), kind="str|list", check=_statistics, doc="statistics plugins to compute"
    )
    bivariate: list = key(
        [], check=_bivariate, doc="pairs [x, y] of the bivariate Moran (default: both subsystem orders)"
    )

    def check_study(self, facts: StudyFacts, where: str = "config") -> None:
        from nqpspatial.resources import check_memory

        # kept per permutation: the permuted statistic (and Geary's linear term) of every period, with a copy
        check_memory(self.permutations, 8 * 4 * max(1, len(facts.periods)), key="[spatial] permutations")
        known = list(facts.variables) + [c for c in _HAKEN_COLUMNS if c not in facts.variables]
        for v in list(self.variables or []) + [x for pair in self.bivariate for x in pair]:
            _check_variable(v, dict.fromkeys(known), key="[spatial] variables")


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
    spec = SpatialSpec
    config_keys = SpatialSpec.defaults()
    consumes = (SpatialWeightsSet,)
    uses = (HakenOutcome,)

    def report_sections(self, view) -> list:
        """The spatial section of the report (weights, Moran's I, LISA maps)."""
        return spatial_sections(view)

    @property
    def tables(self) -> tuple[str, ...]:
        """``weights_summary``, ``weights_<slug>`` and the table of every installed statistics plugin."""
        stats = []
        for name in registry.names("statistics"):
            try:
                stats.append(registry.get("statistics", name).table)
            except Exception:  # noqa: BLE001 - a plugin that fails to load is reported where it is used
                continue
        return ("weights_summary", "weights_*", *dict.fromkeys(stats))

    def run(self, ctx: StageContext, cfg: SpatialSpec) -> StageOutput:
        """Compute every statistic on every weights specification (see the class doc)."""
        cfg = SpatialSpec.coerce(cfg, ctx)
        ws = ctx.spatial_weights(cfg.weights, islands=cfg.islands, transform=cfg.transform)
        if ws is None:
            return StageOutput(notes=[NO_WEIGHTS], status="skipped")
        weights = [ws.get(spec) for spec in cfg.weights if ws.get(spec) is not None]
        notes: list[str] = [f"weights {s} not built (no boundaries)" for s in cfg.weights if ws.get(s) is None]
        if not ws.complete:  # built for this stage by hand (in a run the core's weights step records these)
            notes += [f"weights {w.spec}: {n}" for w in weights for n in w.notes]
        if not weights:
            return StageOutput(notes=notes + [NO_WEIGHTS], status="skipped")
        r, y = ctx.region, ctx.year
        data, sources, has_haken = _data_table(ctx)
        variables = list(cfg.variables or []) or _default_variables(ctx, sources, has_haken)
        missing = [v for v in variables if v not in sources]
        if missing:
            notes.append(f"variables {missing} skipped: they need the Haken stage's co-evolution table")
            variables = [v for v in variables if v in sources]
        plugins = [registry.get("statistics", s) for s in cfg.statistics]
        pairs = _pairs(cfg.bivariate, ctx, sources) if any(p.bivariate for p in plugins) else []
        ids = canonical_ids(ctx.panel[r])
        years = sorted(pd.unique(ctx.panel[y]).tolist())
        tables: dict[str, list] = {f"weights_{sw.slug}": [sw.table] for sw in weights}
        wide = {v: _wide(data, v, ids, r, y) for v in set(variables) | {a for p in pairs for a in p}}
        out = StageOutput(notes=notes)
        _compute_all(ctx, cfg, weights, plugins, variables, pairs, wide, ids, years, tables, out)
        if cfg.fdr:
            out.notes.append(
                f"local clusters use the Benjamini-Hochberg FDR cut-off at alpha = {cfg.alpha} "
                "(per variable, weights and period)"
            )
        out.tables = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
        out.tables["weights_summary"] = pd.DataFrame([sw.summary_row for sw in weights])
        out.info = {
            "weights": [sw.spec for sw in weights],
            "variables": list(variables),
            "bivariate": [list(p) for p in pairs],
            "permutations": cfg.permutations,
            "alpha": cfg.alpha,
            "fdr": cfg.fdr,
            "islands": ws.islands,
            "transform": ws.transform,
            "statistics": list(cfg.statistics),
            "island_ids": {sw.spec: list(map(str, sw.islands)) for sw in weights},
        }
        return out


def _statistic_tasks(weights, plugins, variables, pairs) -> list:
    tasks = [(sw, plug, v) for sw in weights for plug in plugins if not plug.bivariate for v in variables]
    tasks += [(sw, plug, pr) for sw in weights for plug in plugins if plug.bivariate for pr in pairs]
    return tasks


def _compute_all(ctx, cfg, weights, plugins, variables, pairs, wide, ids, years, tables, out) -> None:
    """Every statistic on every weights specification; a plugin that raises or breaks its contract fails
    alone (recorded in ``out.failures``), the others are kept."""
    base_seed = int(ctx.rng("spatial").integers(0, 2**63 - 1))
    perms = cfg.permutations
    failed: dict[str, dict] = {}
    owners = {p.table: p.name for p in plugins}
    nan_periods: set = set()
    # permutation chunks of the statistics that accept a backend run on [run] workers / scheduler;
    # the numbers do not depend on it
    use_backend = bool(perms) and any(_takes_backend(p) for p in plugins)
    with backend_from_config(ctx.config) if use_backend else contextlib.nullcontext() as be:
        for sw, plug, var in ctx.progress(
            _statistic_tasks(weights, plugins, variables, pairs), desc="spatial statistics"
        ):
            if plug.name in failed:
                continue
            problem = _table_problem(plug, owners, ctx)
            if problem:
                failed[plug.name] = plugin_failure("statistics", plug.name, problem)
                continue
            try:
                res = _compute_one(plug, sw, var, wide, perms, cfg, be, base_seed, ids, years)
            except (InputError, ConfigError):
                raise
            except Exception as exc:  # noqa: BLE001 - one plugin's failure must not take the stage down
                failed[plug.name] = plugin_failure("statistics", plug.name, exc, traceback.format_exc())
                continue
            if isinstance(res, str):
                failed[plug.name] = plugin_failure("statistics", plug.name, f"breaks the statistics contract: {res}")
                continue
            for stat_col in ("I", "C", "G"):
                if stat_col in res.columns and "region" not in res.columns and res[stat_col].isna().any():
                    nan_periods.update((res["variable"].iloc[0], yr) for yr in res.loc[res[stat_col].isna(), "year"])
            tables.setdefault(plug.table, []).append(res)
    for name, failure in failed.items():
        tables.pop(next(p.table for p in plugins if p.name == name), None)
        out.failures.append(failure)
    if nan_periods:
        out.notes.append(
            "no spatial statistic for periods where a variable does not vary across regions: "
            + ", ".join(f"{v} {yr}" for v, yr in sorted(nan_periods, key=str))
        )


def _table_problem(plug, owners: dict, ctx) -> str | None:
    """A statistics plugin's table must be a valid name that no other plugin or stage writes."""
    taken = {t: "stage 'spatial'" for t in owners}
    taken.update({t: f"statistics plugin '{n}'" for t, n in owners.items()})
    taken.update({t: "another stage" for t in ctx.tables})
    probs = table_name_problems(plug.table, owner=f"statistics plugin '{plug.name}'", taken=taken)
    if not probs and owners.get(plug.table) not in (None, plug.name):
        probs = [f"table name '{plug.table}' is already written by statistics plugin '{owners[plug.table]}'"]
    return f"breaks the statistics contract: {probs[0]}" if probs else None


def _compute_one(plug, sw, var, wide, perms, cfg, be, base_seed, ids, years):
    """One plugin on one weights specification and variable (or pair): its rows, or a contract problem."""
    keep = list(sw.ids)
    rng = stream(base_seed, plug.name, sw.spec, var)
    extra = {"backend": be} if be is not None and _takes_backend(plug) else {}
    if plug.bivariate:
        xv, yv = var
        res = plug.compute(
            wide[xv].loc[keep],
            sw.graph,
            rng=rng,
            permutations=perms,
            alpha=cfg.alpha,
            fdr=cfg.fdr,
            y=wide[yv].loc[keep],
            **extra,
        )
        label = {"variable": xv, "lag_variable": yv}
    else:
        res = plug.compute(
            wide[var].loc[keep], sw.graph, rng=rng, permutations=perms, alpha=cfg.alpha, fdr=cfg.fdr, **extra
        )
        label = {"variable": var}
    probs = output_problems("statistics", res, name=plug.table, years=years, regions=keep)
    if probs:
        return probs[0]
    kept = set(keep)
    res = _add_dropped(res, [i for i in ids if i not in kept], years)
    head = pd.DataFrame({**label, "weights": sw.spec}, index=res.index)
    res = pd.concat([head, res.reset_index(drop=True)], axis=1)
    res["island_policy"] = sw.island_policy  # recorded in every output (as in weights_summary)
    return res


# --------------------------------------------------------------------------------------------- report
_MAX_MAP_VARS = 4


def _sec_spatial(S: ReportView) -> Section | None:
    mg = S.table("moran_global")
    lisa = S.table("lisa")
    if mg is None and lisa is None:
        return None
    sec = Section("spatial", S.t("s_spatial"))
    ws = S.table("weights_summary")
    if ws is not None:
        sec.blocks.append(table_html(ws, name="weights_summary", lang=S.lang))
    if mg is not None:
        w0 = mg["weights"].iloc[0] if "weights" in mg.columns else None
        if S.opts["figures"]:
            from nqpspatial.report.figures import moran_figure

            sec.blocks.append(S.figure(moran_figure(mg, lang=S.fig_lang), "moran_global", S.t("moran")))
        cols = [c for c in ("variable", "weights", "year", "I", "EI", "z_norm", "p_norm", "p_sim") if c in mg.columns]
        sec.blocks.append(table_html(mg[cols] if cols else mg, name="moran_global", max_rows=40, lang=S.lang))
    if (
        lisa is not None
        and {"region", "cluster"} <= set(lisa.columns)
        or (lisa is not None and {S.region, "cluster"} <= set(lisa.columns))
    ):
        rcol = "region" if "region" in lisa.columns else S.region
        w0 = lisa["weights"].iloc[0] if "weights" in lisa.columns else None
        sub = lisa[lisa["weights"] == w0] if w0 is not None else lisa
        from nqpspatial.report.maps import LISA_COLOURS

        order = ["HH", "LL", "LH", "HL", "ns", "isolated"]
        labels = {"ns": S.ft("ns"), "isolated": S.ft("isolated")}
        for var in preferred_variables(sub, S, _MAX_MAP_VARS):
            vs = sub[sub["variable"] == var]
            have = set(vs["year"])
            years = [y for y in S.years if y in have] or sorted(vs["year"].unique())[-1:]
            if S.opts["figures"] and S.geoms is not None:
                from nqpspatial.report.maps import categorical_map

                vals = wide_values(vs.rename(columns={rcol: "__r"}), "cluster", "__r", "year", years)
                fig = categorical_map(
                    S.geoms,
                    vals,
                    categories=order,
                    colours=LISA_COLOURS,
                    labels=labels,
                    title=f"{S.ft('lisa')}: {S.var_label(var, fig=True)}" + (f" ({w0})" if w0 else ""),
                    legend_title=S.ft("lisa"),
                    lang=S.fig_lang,
                    layout=S.layout,
                )
                sec.blocks.append(S.figure(fig, f"lisa_{var}", f"{S.t('lisa')}: {var}"))
        counts = pd.crosstab([sub["variable"], sub["year"]], sub["cluster"]).reset_index()
        counts.columns = [str(c) for c in counts.columns]
        sec.blocks.append("<h3>" + escape(S.t("lisa")) + "</h3>")
        sec.blocks.append(table_html(counts, name="lisa", max_rows=40, lang=S.lang))
    for name in ("moran_bivariate", "geary", "getis_ord"):
        t = S.table(name)
        if t is not None:
            sec.blocks.append(f"<h3>{escape(name)}</h3>")
            sec.blocks.append(table_html(t, name=name, max_rows=20, lang=S.lang))
    return sec


def spatial_sections(S) -> list:
    """The spatial stage's report section (:class:`nqpspatial.report.view.ReportView` in, sections out)."""
    return [_sec_spatial(S) or Section("spatial", S.t("s_spatial"))]


spatial_stage = SpatialStage()
