"""Pipeline stages of the Haken model (``[haken]``) and of scenarios (``[scenarios]``).

``HakenStage`` writes ``haken_identification``, ``haken_estimates``,
``haken_potential``, ``coevolution``, ``coupling_coordination``, ``stages``
and ``stages_tests``, and provides a
:class:`~nqpspatial.artifacts.HakenOutcome` (none when no ordering passes,
in which case only ``haken_identification`` is written, the run still
succeeds and the stages that consume the outcome are skipped with the
reason).
``ScenarioStage`` (optional) writes ``scenarios``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from types import MappingProxyType

import numpy as np
import pandas as pd

from ..artifacts import HakenOutcome, SpatialWeightsSet
from ..backends import backend_from_config
from ..errors import ConfigError, InputError, ModelError
from ..specs import DeprecatedKey, spec_from_keys
from ..stage import Analysis, StageContext, StageOutput
from .coevolution import is_strategy
from .coupling import coupling_coordination
from .grades import DEFAULT_EDGES, validate_edges
from .identification import identify
from .model import BOOTSTRAP_SCHEMES, BY, CORRECTIONS, EFFECTS, REGION_EFFECTS, SE_TYPES, HakenModel, ShortPanelWarning
from .potential import LegacyStablePointWarning
from .results import ESTIMATE_COLUMNS, POTENTIAL_COLUMNS
from .scenarios import scenarios, validate_shocks
from .stages import break_tests, trajectories

__all__ = [
    "HakenStage",
    "ScenarioStage",
    "HakenSpec",
    "HakenAnalysisResults",
    "HAKEN_CONFIG",
    "SCENARIO_CONFIG",
    "validate_haken_config",
    "haken_options",
]

#: Keys of the ``[haken]`` table and their defaults.
HAKEN_CONFIG = MappingProxyType(
    {
        "order": "auto",  # "auto" or [q1, q2]
        "coevolution": "auto",  # auto | potential | distance | potential-normalized | distance-normalized
        "bootstrap": 999,  # bootstrap resamples (0: none)
        "bootstrap_scheme": "wild-year",  # wild-year | region (docs/inference.md)
        "se": "classical",  # classical | hc1 | cluster | driscoll-kraay | twoway
        "bandwidth": None,  # Driscoll-Kraay Bartlett bandwidth; None = floor(4 (T/100)^(2/9))
        "alpha": 0.05,
        "min_ratio": 1.0,
        "intercept": False,
        "effects": "none",  # none | region | year | two-way
        "window": [],  # [first, last]; [] = all years
        "by": "none",  # none | region | group
        "grades": list(DEFAULT_EDGES),  # bin edges of the [0, 1] grades
        "break_year": None,  # Chow test year; None = sup-F search only
        "correction": "none",  # none | jackknife | analytic (region or two-way effects)
        "legacy_stable_point": False,  # warned legacy sqrt(|g1 g2/(ab)|)
        "h_domain": "unit",  # unit | panel: q1 interval of normalized h
        "grade_labels": [],  # [] = default English labels
        "grade_labels_zh": [],  # [] = default Chinese labels
        "trim": 0.15,  # sup-F trimming
        "break_bootstrap": 999,  # sup-F bootstrap resamples
        "coupling_weights": [0.5, 0.5],  # weights of T = a U1 + b U2
        "regimes": False,  # parameters by group of the region scheme, with Chow-type tests
        "lag_band": [0.9, 1.1],  # U2/U1 in this band: synchronous; below: U2 lagging; above: U1 lagging
    }
)

#: Keys of the optional ``[scenarios]`` table.
SCENARIO_CONFIG = MappingProxyType({"periods": 5, "shocks": []})


def _err(key, value, fix, table="haken"):
    return ConfigError(f"[{table}] {key} = {value!r}: {fix}", source="config")


def _check_inference(c: dict) -> None:
    """``se``, ``bootstrap_scheme`` and ``bandwidth`` of a ``[haken]`` table."""
    if c["se"] not in SE_TYPES:
        raise _err("se", c["se"], f"use one of {list(SE_TYPES)}")
    if c["bootstrap_scheme"] not in BOOTSTRAP_SCHEMES:
        raise _err("bootstrap_scheme", c["bootstrap_scheme"], f"use one of {list(BOOTSTRAP_SCHEMES)}")
    bw = c["bandwidth"]
    if bw is not None and (isinstance(bw, bool) or not isinstance(bw, int) or bw < 0):
        raise _err(
            "bandwidth",
            bw,
            'give a whole number >= 0 (Bartlett bandwidth of se = "driscoll-kraay"), '
            "or leave it out for the rule floor(4 (T/100)^(2/9))",
        )


def _check_correction(c: dict) -> None:
    """``correction`` and ``jackknife`` (its alias) of a ``[haken]`` table; sets ``correction``."""
    if c["correction"] not in CORRECTIONS:
        raise _err("correction", c["correction"], f"use one of {list(CORRECTIONS)}")
    if c["jackknife"] and c["correction"] not in ("none", "jackknife"):
        raise _err(
            "jackknife",
            True,
            f'correction = "{c["correction"]}" is set too: choose one correction '
            '(jackknife = true is correction = "jackknife")',
        )
    if c["jackknife"]:
        c["correction"] = "jackknife"
    if c["correction"] == "analytic" and c["effects"] not in REGION_EFFECTS:
        raise _err(
            "correction",
            "analytic",
            'it corrects the bias of region fixed effects: set effects = "region" or "two-way", or correction = "none"',
        )


def validate_haken_config(cfg: dict, subsystems=None) -> dict:
    """Validate a resolved ``[haken]`` table.

    Returns
    -------
    dict
        Normalized options.

    Raises
    ------
    ConfigError
        Naming the key and the fix.
    """
    c = {**HAKEN_CONFIG, "jackknife": False, **{k: v for k, v in (cfg or {}).items() if k != "enabled"}}
    subs = [str(s) for s in subsystems] if subsystems is not None else None
    order = _checked_order(c["order"], subs)
    if c["coevolution"] != "auto" and not is_strategy(c["coevolution"]):
        from .. import registry

        raise _err("coevolution", c["coevolution"], f'use "auto" or one of {registry.names("coevolution")}')
    _check_resamples(c)
    _check_inference(c)
    _check_numbers(c)
    _check_effects(c)
    window = _checked_window(c["window"])
    by_ = c["break_year"]
    if by_ is not None and (isinstance(by_, bool) or not isinstance(by_, int)):
        raise _err("break_year", by_, "give a year such as 2020 (or leave it out for the sup-F search only)")
    try:
        edges, labels, labels_zh = validate_edges(
            c["grades"], c["grade_labels"] or None, c["grade_labels_zh"] or None, key="[haken] grades"
        )
    except InputError as exc:
        raise ConfigError(exc.detail, source="config") from None
    if c["h_domain"] not in ("unit", "panel"):
        raise _err("h_domain", c["h_domain"], 'use "unit" ([0, 1]) or "panel" (observed q1 range)')
    cw, lb = _checked_pairs(c)
    return {
        **c,
        "order": order,
        "window": window,
        "grades": edges,
        "grade_labels": labels,
        "grade_labels_zh": labels_zh,
        "coupling_weights": cw,
        "lag_band": lb,
    }


def _checked_order(order, subs):
    """``order``: "auto" or two different subsystems (of the study, when known)."""
    if isinstance(order, str):
        if order != "auto":
            raise _err(
                "order", order, 'use "auto" or a list of two subsystems' + (f", e.g. {subs[:2]}" if subs else "")
            )
        return order
    if (
        not isinstance(order, (list, tuple))
        or len(order) != 2
        or str(order[0]) == str(order[1])
        or (subs is not None and any(str(o) not in subs for o in order))
    ):
        raise _err(
            "order", order, "give two different subsystems" + (f" among {subs}, e.g. {subs[:2]}" if subs else "")
        )
    return [str(o) for o in order]


def _check_resamples(c: dict) -> None:
    """``bootstrap`` and ``break_bootstrap``: whole numbers whose memory fits."""
    for key in ("bootstrap", "break_bootstrap"):
        v = c[key]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise _err(key, v, "give a non-negative whole number of resamples (e.g. 999; 0 = none)")
    from ..resources import check_memory

    # kept per resample: the estimates of both orderings and equations (up to 6 terms) and their sorted copies;
    # the sup-F resamples are chunked and keep one float each
    check_memory(int(c["bootstrap"]), 2 * 2 * 6 * 8 * 3, key="[haken] bootstrap")
    check_memory(int(c["break_bootstrap"]), 8 * 2, key="[haken] break_bootstrap")


def _check_numbers(c: dict) -> None:
    """``alpha``, ``trim``, ``min_ratio`` and the true/false keys."""
    for key, lo, hi in (("alpha", 0.0, 1.0), ("trim", 0.0, 0.5)):
        v = c[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v < hi:
            raise _err(key, v, f"give a number strictly between {lo:g} and {hi:g}")
    v = c["min_ratio"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise _err("min_ratio", v, "give a number >= 0 (default 1)")
    for key in ("intercept", "jackknife", "legacy_stable_point", "regimes"):
        if not isinstance(c[key], bool):
            raise _err(key, c[key], "use true or false")


def _check_effects(c: dict) -> None:
    """``effects`` with ``intercept``, ``correction`` and ``by`` (sets ``correction``)."""
    if c["effects"] not in EFFECTS:
        raise _err("effects", c["effects"], f"use one of {list(EFFECTS)}")
    if c["intercept"] and c["effects"] != "none":
        raise _err(
            "intercept",
            True,
            f'effects = "{c["effects"]}" already contain the intercept; set intercept = false or effects = "none"',
        )
    _check_correction(c)
    if c["by"] not in BY:
        raise _err("by", c["by"], f"use one of {list(BY)}")
    if c["by"] == "region" and c["effects"] in REGION_EFFECTS:
        raise _err("by", "region", 'a fit of one region cannot have region effects; set effects = "none" or "year"')


def _checked_window(w):
    """``window``: None for all years, else ``(first, last)`` with first < last."""
    if w is None or (isinstance(w, (list, tuple)) and len(w) == 0):
        return None
    if (
        isinstance(w, (list, tuple))
        and len(w) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in w)
        and w[0] < w[1]
    ):
        return (int(w[0]), int(w[1]))
    raise _err("window", w, "give [first_year, last_year] with first < last, or [] for all years")


def _checked_pairs(c: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    """``coupling_weights`` (two weights summing to 1) and ``lag_band`` ([low, high] around 1)."""
    cw = c["coupling_weights"]
    if (
        not isinstance(cw, (list, tuple))
        or len(cw) != 2
        or any(isinstance(x, bool) or x < 0 for x in cw)
        or not math.isclose(sum(cw), 1.0)
    ):
        raise _err("coupling_weights", cw, "give two non-negative weights summing to 1, e.g. [0.5, 0.5]")
    lb = c["lag_band"]
    if (
        not isinstance(lb, (list, tuple))
        or len(lb) != 2
        or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in lb)
        or not 0 < lb[0] <= 1 <= lb[1]
    ):
        raise _err("lag_band", lb, "give [low, high] with 0 < low <= 1 <= high, e.g. [0.9, 1.1]")
    return (float(cw[0]), float(cw[1])), (float(lb[0]), float(lb[1]))


def _normalize(values: dict, where: str) -> dict:
    """The ``[haken]`` table checked and normalized (the keys of :data:`HAKEN_CONFIG` and ``enabled``)."""
    c = validate_haken_config(values)
    return {**{k: c[k] for k in HAKEN_CONFIG}, "enabled": values["enabled"]}


def _check_study(spec, facts, where: str) -> None:
    validate_haken_config(dict(spec), facts.subsystems)  # the ordering names the study's subsystems
    by_ = spec["break_year"]
    if by_ is not None and facts.periods and not facts.periods[0] < by_ < facts.periods[-1]:
        raise _err(
            "break_year",
            by_,
            f"give a year from {facts.periods[0] + 1} to {facts.periods[-1] - 1}: the "
            f"data cover {facts.periods[0]}-{facts.periods[-1]} and a break at year t starts the second "
            "regime with the transition t -> t+1",
        )
    if spec["regimes"] and not facts.scheme:
        raise _err("regimes", True, "needs a region scheme ([regions] scheme)")


#: The typed spec of ``[haken]`` (``jackknife = true`` is read as ``correction = "jackknife"`` for one release).
HakenSpec = spec_from_keys(
    "haken",
    HAKEN_CONFIG,
    normalize=_normalize,
    check_study=_check_study,
    kinds={"order": "str|list"},
    deprecated={
        "jackknife": DeprecatedKey(
            "correction",
            lambda v: "jackknife" if v else "none",
            "the split-panel jackknife; see docs/inference.md for what the evidence shows",
        )
    },
)


def haken_options(spec) -> dict:
    """The resolved ``[haken]`` spec as the keyword options of the Haken model (``jackknife`` derived)."""
    o = dict(spec)
    o["jackknife"] = o["correction"] == "jackknife"
    return o


def _outcome(ident, fit, coev, breaks, domain, grading, requested, spec) -> HakenOutcome:
    """The Haken stage's artifact for later stages."""
    return HakenOutcome(
        identification=ident,
        fit=fit,
        coevolution=coev.table if coev is not None else None,
        coevolution_results=coev,
        strategy=coev.strategy if coev is not None else None,
        strategy_reason=coev.reason if coev is not None else None,
        strategy_requested=requested,
        domain=domain,
        grading=grading,
        breaks=breaks,
        spec=dict(spec),
    )


#: The 0.1.0 name of the Haken stage's published object (now the artifact :class:`HakenOutcome`).
HakenAnalysisResults = HakenOutcome


def _indices(ctx: StageContext) -> pd.DataFrame:
    idx = ctx.indices
    if idx is None:
        raise InputError("the Haken stage needs subsystem indices (ctx.indices is empty)")
    rc = ctx.region if ctx.region in idx.columns else "region"
    yc = ctx.year if ctx.year in idx.columns else "year"
    cols = [rc, yc] + [s for s in ctx.subsystems]
    missing = [c for c in cols if c not in idx.columns]
    if missing:
        raise InputError(f"indices table lacks column(s) {missing}")
    out = idx[cols].copy()
    out.columns = ["region", "year"] + [str(s) for s in ctx.subsystems]
    return out


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    return v


def _run_collecting(fn, out: StageOutput):
    """Run fn, turning our own warnings into StageOutput.warnings (others re-emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShortPanelWarning)
        warnings.simplefilter("always", LegacyStablePointWarning)
        value = fn()
    seen = set()
    for w in caught:
        if issubclass(w.category, (ShortPanelWarning, LegacyStablePointWarning)):
            msg = str(w.message)
            if msg not in seen:
                seen.add(msg)
                out.warnings.append(msg)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return value


def _regime_tables(data, q1, q2, scheme, o, out: StageOutput) -> None:
    """``haken_regimes`` and ``haken_regime_tests`` of the chosen ordering (``[haken] regimes = true``)."""
    if not o["regimes"]:
        return
    from .regimes import HakenRegimesModel

    res = HakenRegimesModel(
        data, q1, q2, scheme, intercept=o["intercept"], effects=o["effects"], se=o["se"], window=o["window"]
    ).fit(alpha=o["alpha"], min_ratio=o["min_ratio"])
    out.tables["haken_regimes"] = res.table
    out.tables["haken_regime_tests"] = res.tests
    t = res.tests[(res.tests["kind"] == "all groups") & (res.tests["term"] != "all")]
    differ = t.loc[t["p"] < o["alpha"], "term"].tolist()
    out.notes.append(
        f"regimes ({len(res.groups)} groups): "
        + (
            f"{', '.join(differ)} differ across groups (Chow-type test at {o['alpha']:g})"
            if differ
            else f"no parameter differs across groups at {o['alpha']:g}"
        )
    )


def _fit_tables(fit) -> dict:
    """``haken_estimates``, ``haken_potential`` (documented columns first) and ``haken_marginal_effects``."""
    est = fit.estimates
    pot = fit.potential_table()
    return {
        "haken_estimates": est[ESTIMATE_COLUMNS + [c for c in est.columns if c not in ESTIMATE_COLUMNS]],
        "haken_potential": pot[POTENTIAL_COLUMNS + [c for c in pot.columns if c not in POTENTIAL_COLUMNS]],
        "haken_marginal_effects": fit.marginal_effects(),
    }


def _first_weights(ctx: StageContext, ids):
    """The first ``[spatial] weights`` specification (the core's spatial weights), as (name, ids, sparse W)
    row-standardized as in the spatial Haken models, or (None, reason)."""
    from scipy import sparse

    ws = ctx.get(SpatialWeightsSet)
    sw = ws.first if ws is not None else None
    if sw is None:
        return None, "no spatial weights (no boundaries, or [spatial] weights built none)"
    graph = sw.graph
    gids = list(graph.unique_ids)
    W = sparse.csr_array(graph.sparse)
    rs = np.asarray(W.sum(axis=1)).ravel()
    W = sparse.csr_array(sparse.diags(np.where(rs > 0, 1.0 / np.where(rs > 0, rs, 1.0), 0.0)) @ W)
    return (sw.slug, gids, W), None


def _inference_info(ctx, ident, o, out: StageOutput, be) -> dict:
    """run.json facts of the identification: verdicts, each fit's inference, residual diagnostics."""
    info = {
        "identification": ident.info(),
        "bootstrap_backend": repr(be) if be is not None else None,
        "inference": {f"{q1}->{q2}": ident.results(q1, q2).se_method for q1, q2 in ident.orderings},
    }
    _residual_diagnostics(ctx, ident, o, out, info)
    return info


def _residual_diagnostics(ctx, ident, o, out: StageOutput, info: dict) -> None:
    """``haken_residual_diagnostics`` for every ordering; notes and run.json facts."""
    from .diagnostics import residual_diagnostics

    data_ids = list(pd.unique(ctx.indices[ctx.region if ctx.region in ctx.indices.columns else "region"]))
    try:
        built, why = _first_weights(ctx, data_ids)
        if built is None:
            info["residual_diagnostics"] = f"not written: {why}"
            return
        name, gids, W = built
        if len(gids) < 4:
            info["residual_diagnostics"] = "not written: the spatial tests need at least 4 regions"
            return
        tabs = []
        for q1, q2 in ident.orderings:
            eqs, years = ident.results(q1, q2).residual_blocks(gids)
            tabs.append(residual_diagnostics(eqs, W, years, q1=q1, q2=q2, weights=name))
    except InputError as exc:
        info["residual_diagnostics"] = f"not written: {exc}"
        out.notes.append(f"haken_residual_diagnostics not written: {exc}")
        return
    tab = pd.concat(tabs, ignore_index=True)
    out.tables["haken_residual_diagnostics"] = tab
    pooled = tab[tab["scope"] == "pooled"]
    rejects = pooled[pooled["p"] < o["alpha"]]
    info["residual_diagnostics"] = {
        "weights": name,
        "rejects": bool(len(rejects)),
        "tests_rejecting": [f"{r.q1}->{r.q2} {r.equation} {r.test}" for r in rejects.itertuples()],
    }
    if len(rejects):
        shown = "; ".join(
            f"{r.q1} -> {r.q2}, {r.equation} equation: {r.test} p = {r.p:.2g}" for r in rejects.head(4).itertuples()
        )
        msg = (
            f"the residuals of the aspatial Haken fit are spatially dependent under weights {name!r} "
            f"({shown}{' ...' if len(rejects) > 4 else ''}): aspatial inference ignores cross-regional "
            "dependence. Compare the spatial Haken models ([spatial_haken]) and use dependence-robust "
            'inference (bootstrap_scheme = "wild-year", se = "twoway" or "driscoll-kraay"; '
            "docs/inference.md)"
        )
        info["residual_dependence_note"] = msg
        out.notes.append(msg)


class HakenStage(Analysis):
    """Order parameter, potential, co-evolution level, coupling coordination and stages.

    Reads ``ctx.indices``, ``ctx.subsystems``, ``ctx.scheme`` and
    ``ctx.rng("haken")``; config table ``[haken]`` (keys in
    :data:`HAKEN_CONFIG`).
    """

    name = "haken"
    requires = ("pair", "indices")
    provides = (HakenOutcome,)
    uses = (SpatialWeightsSet,)
    tables = (
        "haken_identification",
        "haken_estimates",
        "haken_potential",
        "haken_marginal_effects",
        "haken_residual_diagnostics",
        "haken_regimes",
        "haken_regime_tests",
        "coevolution",
        "coupling_coordination",
        "stages",
        "stages_tests",
    )
    optional = False
    order = 30
    spec = HakenSpec
    config_keys = HAKEN_CONFIG

    def report_sections(self, view) -> list:
        """The Haken sections of the report: identification and potential, co-evolution, stages."""
        from ..report.sections import haken_sections

        return haken_sections(view)

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        o = haken_options(HakenSpec.coerce(cfg, ctx))
        if o["regimes"] and ctx.scheme is None:
            raise ConfigError(
                "[haken] regimes = true needs a region scheme: set [regions] scheme (a bundled "
                "scheme or a CSV with columns region,group) or set regimes = false",
                source="config",
            )
        data = _indices(ctx)
        out = StageOutput()
        rng = ctx.rng("haken")
        r_ident, r_by, r_break = rng.spawn(3)
        # cluster-bootstrap chunks run on the configured backend ([run] workers / scheduler);
        # the numbers do not depend on it
        with backend_from_config(ctx.config) if o["bootstrap"] else contextlib.nullcontext() as be:
            return self._run(ctx, o, data, out, r_ident, r_by, r_break, be)

    def _run(self, ctx, o, data, out, r_ident, r_by, r_break, be) -> StageOutput:
        ident = _identified(ctx, o, data, out, r_ident, be)
        info = _inference_info(ctx, ident, o, out, be)
        if ident.chosen is None:
            out.notes.append(
                "skipped haken_estimates, haken_potential, coevolution, coupling_coordination "
                "and stages: no ordering satisfies the adiabatic condition"
            )
            info["skipped"] = [
                "haken_estimates",
                "haken_potential",
                "coevolution",
                "coupling_coordination",
                "stages",
            ] + (["haken_regimes"] if o["regimes"] else [])
            out.info = _jsonable(info)
            return out
        q1, q2 = ident.chosen
        _regime_tables(data, q1, q2, ctx.scheme, o, out)
        fit = ident.chosen_results if o["by"] == "none" else _grouped_fit(ctx, o, data, q1, q2, out, r_by, be)
        out.tables.update(_fit_tables(fit))
        grading = (o["grades"], o["grade_labels"], o["grade_labels_zh"])
        coev = _coevolution(fit, o, out)
        _coupling(fit, o, q1, q2, out)
        traj_src = coev.table if coev is not None else fit.fitted_panel.assign(h=np.nan)
        out.tables["stages"] = trajectories(traj_src, ctx.scheme)
        breaks = _breaks(data, q1, q2, o, r_break, out)
        _fit_info(info, (q1, q2), fit, coev, breaks, o, out)
        out.info = _jsonable(info)
        out.artifacts.append(
            _outcome(ident, fit, coev, breaks, coev.domain if coev else (0.0, 1.0), grading, o["coevolution"], o)
        )
        return out


def _identified(ctx, o, data, out, r_ident, be):
    """Both orderings fitted and the adiabatic verdict (identification table and note written)."""
    ident = _run_collecting(
        lambda: identify(
            data,
            [str(s) for s in ctx.subsystems],
            order=o["order"],
            intercept=o["intercept"],
            effects=o["effects"],
            se=o["se"],
            window=o["window"],
            bootstrap=o["bootstrap"],
            seed=r_ident,
            alpha=o["alpha"],
            min_ratio=o["min_ratio"],
            jackknife=False,
            legacy_stable_point=o["legacy_stable_point"],
            progress=ctx.progress,
            backend=be,
            bootstrap_scheme=o["bootstrap_scheme"],
            bandwidth=o["bandwidth"],
            correction=o["correction"],
        ),
        out,
    )
    out.tables["haken_identification"] = ident.table
    out.notes.append(ident.verdict)
    if o["break_year"] is not None:
        years = np.unique(ident.results(*ident.orderings[0]).fitted_panel["year"])
        if not years[0] < o["break_year"] < years[-1]:
            raise _err(
                "break_year",
                o["break_year"],
                f"give a year from {years[0] + 1} to {years[-1] - 1}: the data (window) cover "
                f"{years[0]}-{years[-1]} and a break at year t starts the second regime with the "
                "transition t -> t+1",
            )
    return ident


def _grouped_fit(ctx, o, data, q1, q2, out, r_by, be):
    """The chosen ordering fitted by region or by group (``[haken] by``)."""
    if o["by"] == "group" and ctx.scheme is None:
        raise ConfigError(
            '[haken] by = "group" needs a region scheme: set [regions] scheme (a CSV '
            'with columns region,group) or use by = "none"',
            source="config",
        )
    fit = _run_collecting(
        lambda: HakenModel(
            data,
            q1,
            q2,
            intercept=o["intercept"],
            effects=o["effects"],
            se=o["se"],
            window=o["window"],
            by=o["by"],
            groups=ctx.scheme,
            bandwidth=o["bandwidth"],
        ).fit(
            bootstrap=o["bootstrap"],
            seed=r_by,
            alpha=o["alpha"],
            min_ratio=o["min_ratio"],
            jackknife=False,
            legacy_stable_point=o["legacy_stable_point"],
            backend=be,
            bootstrap_scheme=o["bootstrap_scheme"],
            correction=o["correction"],
        ),
        out,
    )
    out.notes.extend(fit.notes)
    return fit


def _coevolution(fit, o, out):
    """The co-evolution table (None when the strategy is undefined or its plugin failed)."""
    try:
        coev = fit.coevolution(
            o["coevolution"],
            domain=o["h_domain"],
            grades=o["grades"],
            labels=o["grade_labels"],
            labels_zh=o["grade_labels_zh"],
        )
    except ModelError as exc:
        out.warnings.append(f"coevolution.csv not written: {exc}")
        return None
    except (InputError, ConfigError):
        raise
    except Exception as exc:  # noqa: BLE001 - a strategy plugin's failure loses only the h table
        import traceback

        from ..runner import plugin_failure

        out.failures.append(plugin_failure("coevolution", str(o["coevolution"]), exc, traceback.format_exc()))
        return None
    out.tables["coevolution"] = coev.table
    out.notes.append(f"co-evolution level h: {coev.strategy} ({coev.reason})")
    return coev


def _coupling(fit, o, q1, q2, out) -> None:
    """Coupling coordination beside h (U1 = order parameter)."""
    sub = fit.fitted_panel
    try:
        cc = coupling_coordination(
            sub[["q1", "q2"]].to_numpy(float),
            o["coupling_weights"],
            grades=o["grades"],
            labels=o["grade_labels"],
            labels_zh=o["grade_labels_zh"],
            lag_band=o["lag_band"],
        )
    except InputError as exc:
        out.warnings.append(f"coupling_coordination.csv not written: {exc}")
        return
    cc["lagging"] = cc["lag_type"].map({"U1 lagging": q1, "U2 lagging": q2}).fillna("")
    cct = pd.DataFrame(
        {
            "region": sub["region"].to_numpy(),
            "year": sub["year"].to_numpy(),
            "U1": sub["q1"].to_numpy(float),
            "U2": sub["q2"].to_numpy(float),
        }
    )
    cct = pd.concat([cct, cc.reset_index(drop=True)], axis=1)
    first = ["region", "year", "U1", "U2", "C", "C_corrected", "T", "D", "D_corrected", "grade"]
    out.tables["coupling_coordination"] = cct[first + [c for c in cct.columns if c not in first]]


def _breaks(data, q1, q2, o, r_break, out):
    """Chow and sup-F break tests of the chosen ordering (None when the panel is too short)."""
    try:
        breaks = break_tests(
            data,
            q1,
            q2,
            intercept=o["intercept"],
            effects=o["effects"],
            window=o["window"],
            break_year=o["break_year"],
            trim=o["trim"],
            bootstrap=o["break_bootstrap"],
            seed=r_break,
        )
    except InputError as exc:
        out.warnings.append(f"break tests not run: {exc}")
        return None
    out.tables["stages_tests"] = breaks.table()
    out.notes.append(f"sup-F turning point {breaks.turning_point} (bootstrap p = {breaks.p_value:.3g})")
    return breaks


def _fit_info(info: dict, chosen, fit, coev, breaks, o, out) -> None:
    """run.json facts of the chosen fit (ordering, strategy, case, stable point, turning point) and notes."""
    main = fit if o["by"] == "none" else None
    pstar = main.potential if main is not None else None
    q1, q2 = chosen
    info.update(
        {
            "q1": q1,
            "q2": q2,
            "by": o["by"],
            "strategy": coev.strategy if coev else None,
            "strategy_reason": coev.reason if coev else None,
            "case": pstar.case if pstar is not None else None,
            "stable_point": list(pstar.stable_point) if pstar is not None and pstar.stable_point else None,
            "stable_point_exists": (pstar.has_stable_point if pstar is not None else None),
            "map_stable": pstar.map_stable if pstar is not None else None,
            "turning_point": breaks.turning_point if breaks else None,
            "sup_f_p": breaks.p_value if breaks else None,
        }
    )
    no_star = [r for r, p in fit.potentials().items() if not p.has_stable_point]
    info["regions_without_stable_point"] = no_star
    if pstar is not None and not pstar.has_stable_point:
        out.notes.append(f"no stable point exists (case {pstar.case}: {pstar.case_label})")
    elif pstar is None and no_star:
        shown = ", ".join(map(str, no_star[:10])) + (" ..." if len(no_star) > 10 else "")
        out.notes.append(
            f"no stable point exists for {len(no_star)} of {len(fit.potentials())} regions "
            f"(potentials differ by {'region' if o['by'] != 'group' else 'group'}; see "
            f"haken_potential.csv): {shown}"
        )


def _scenario_values(values: dict, where: str) -> dict:
    p = values["periods"]
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise _err("periods", p, "give a positive whole number of periods", table="scenarios")
    if not isinstance(values["shocks"], (list, tuple)):
        raise _err("shocks", values["shocks"], "give a list of tables [[scenarios.shocks]]", table="scenarios")
    return values


def _scenario_study(spec, facts, where: str) -> None:
    try:
        validate_shocks(spec["shocks"], list(facts.regions), facts.groups, key="[scenarios] shocks")
    except InputError as exc:
        raise ConfigError(exc.detail, source=where) from None


#: The typed spec of ``[scenarios]``.
ScenarioSpec = spec_from_keys("scenarios", SCENARIO_CONFIG, normalize=_scenario_values, check_study=_scenario_study)


class ScenarioStage(Analysis):
    """Forward projections of the fitted Haken system (optional ``[scenarios]`` table).

    Keys: ``periods`` (steps ahead, default 5) and ``shocks`` (list of
    tables ``{name, regions = [...] | group = "...", q1_growth = s}``).
    """

    name = "scenarios"
    consumes = (HakenOutcome,)
    optional = True
    order = 35
    config_keys = SCENARIO_CONFIG
    spec = ScenarioSpec
    tables = ("scenarios",)

    def run(self, ctx: StageContext, cfg) -> StageOutput:
        c = dict(ScenarioSpec.coerce(cfg, ctx))
        p = c["periods"]
        out = StageOutput()
        h = ctx.get(HakenOutcome)
        try:
            validate_shocks(
                c["shocks"], list(pd.unique(h.fit.fitted_panel["region"])), ctx.scheme, key="[scenarios] shocks"
            )
        except InputError as exc:
            raise ConfigError(exc.detail, source="config") from None
        edges, labels, labels_zh = h.grading
        # the configured strategy when none could be computed: it fails again here (d, h left
        # empty with the reason) instead of silently switching to another strategy
        strategy = h.strategy or h.strategy_requested
        res = scenarios(
            h.fit,
            p,
            c["shocks"],
            groups=ctx.scheme,
            strategy=strategy,
            domain=h.domain,
            grades=edges,
            labels=labels,
            labels_zh=labels_zh,
        )
        out.tables["scenarios"] = res.table
        n_out = int((~res.table["in_domain"].astype(bool)).sum())
        if res.undefined:
            has_v = bool(res.table["V"].notna().any())
            out.notes.append(
                f"scenarios: q1, q2{' and V' if has_v else ''} projected; {'' if has_v else 'V, '}"
                f"d, h and grades left empty: {res.undefined}"
            )
        elif n_out:
            out.notes.append(
                f"{n_out} projected region-years leave the q1 domain {h.domain}: their grade is left empty"
            )
        out.info = _jsonable(
            {"periods": p, "scenarios": list(pd.unique(res.table["scenario"])), "strategy": res.strategy}
        )
        return out


#: Instances registered under the ``nqpspatial.analyses`` entry-point group.
haken_stage = HakenStage()
scenario_stage = ScenarioStage()
