"""The optional ``[spatial_haken]`` pipeline stage.

Config (defaults)::

    [spatial_haken]
    models = ["slx", "sar"]     # slx, sar, sem, sdm, or any installed nqpspatial.models plugin
    weights = ["queen"]         # specifications as in [spatial]
    effects = "none"            # "none" | "region" | "year" | "two-way" (fixed effects)
    correction = "none"         # "none" | "jackknife" (with region effects)
    se = "ml"                   # "ml" | "driscoll-kraay" | "twoway" (sandwich of region-year scores)
    bandwidth = -1              # Driscoll-Kraay bandwidth; -1: floor(4 (T'/100)^(2/9))
    bootstrap_scheme = "none"   # "none" | "wild-year" (SLX only)
    bootstrap = 999             # wild-year resamples
    model_selection = true      # fit SLX, SAR, SEM, SDM and write model_selection.csv
    effects_draws = 1000
    split_by_zone = false
    order = ["NQP", "NTU"]      # optional; default: every ordering
    alpha = 0.05
    min_ratio = 1.0
    reading = "system"          # "system" | "local": the reading behind the verdict, chosen, h, report
    regimes = false             # SLX/SAR coefficients by group of the region scheme, Chow-type tests
    regime_rho = "common"       # "common" | "separate" (one rho per group)

Tables: ``model_selection`` (with ``model_selection = true``), ``spatial_haken_estimates``,
``spatial_haken_effects``,
``spatial_haken_marginal_effects``, ``spatial_haken_diagnostics``,
``spatial_haken_identification`` (one row per reading),
``spatial_haken_potential`` (one row per reading) and
``spatial_haken_steady_states``; with ``regimes = true`` also
``spatial_haken_regimes`` and ``spatial_haken_regime_tests``; with ``bootstrap_scheme = "wild-year"``
``spatial_haken_bootstrap`` (SLX).
Provides :class:`~nqpspatial.artifacts.SpatialHakenOutcome` (the fits by model, weights and
ordering); the effect draws run on the configured backend (``[run] workers`` / ``scheduler``).
The weights are the core's (:class:`~nqpspatial.artifacts.SpatialWeightsSet`: the specifications of
``weights`` are built once, with ``[spatial] islands`` and ``transform``).  A model plugin that
raises or breaks its contract marks the stage ``failed`` with its name; the other models' rows are
kept, and the stage adds the identifying columns ``model, weights, q1, q2`` to every row.
"""

from __future__ import annotations

import itertools
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nqpspatial import registry
from nqpspatial._util import closest
from nqpspatial.artifacts import HakenOutcome, SpatialHakenOutcome, SpatialWeightsSet
from nqpspatial.backends import backend_from_config
from nqpspatial.contracts import output_problems
from nqpspatial.errors import ConfigError, InputError
from nqpspatial.runner import plugin_failure
from nqpspatial.spatial import NO_WEIGHTS, check_specs
from nqpspatial.specs import StageSpec, StudyFacts, key
from nqpspatial.stage import Analysis, StageContext, StageOutput

from .models import ShortPanelWarning, identification_table, lm_diagnostics, shared_fits

__all__ = ["SpatialHakenStage", "stage"]


def _table(res, name: str):
    """A results table by attribute name, or None when the model does not produce it."""
    val = getattr(res, name, None)
    return val if isinstance(val, pd.DataFrame) else None


def _stack(results: dict, name: str) -> pd.DataFrame:
    """One table of every fit, with the identifying columns ``model, weights, q1, q2`` set by the stage."""
    tabs = []
    for (m, w, a, b), res in results.items():
        t = _table(res, name)
        if t is None:
            continue
        t = t.copy()
        for col, val in zip(("model", "weights", "q1", "q2"), (m, w, a, b)):
            t[col] = val
        tabs.append(
            t[["model", "weights", "q1", "q2"] + [c for c in t.columns if c not in ("model", "weights", "q1", "q2")]]
        )
    return pd.concat(tabs, ignore_index=True) if tabs else pd.DataFrame()


#: Options the stage passes to a model plugin's ``fit``, with the value that means "not used".
_OPTIONS = {
    "effects": "none",
    "correction": "none",
    "split": None,
    "draws": None,
    "alpha": None,
    "min_ratio": None,
    "weights_name": None,
    "reading": "system",
    "backend": None,
    "se": "ml",
    "bandwidth": None,
}


def _fit_plugin(plugin, data, q1, q2, graph, *, ctx, rng, cfg, split, weights_name, backend=None):
    """Fit one ``nqpspatial.models`` plugin, passing the options its ``fit`` accepts (read at load)."""
    options = {
        "effects": cfg["effects"],
        "correction": cfg["correction"],
        "split": split,
        "draws": int(cfg["effects_draws"]),
        "alpha": cfg["alpha"],
        "min_ratio": cfg["min_ratio"],
        "weights_name": weights_name,
        "reading": cfg["reading"],
        "backend": backend,
        "se": cfg["se"],
        "bandwidth": None if int(cfg["bandwidth"]) < 0 else int(cfg["bandwidth"]),
    }
    accepted = registry.keywords("models", plugin)
    kw = {k: v for k, v in options.items() if k in accepted}
    return plugin.fit(data, q1, q2, graph, region=ctx.region, year=ctx.year, rng=rng, **kw)


def _unsupported(cfg) -> list[tuple[str, str]]:
    """(model, key) pairs where the config asks a model plugin for an option its ``fit`` does not take."""
    asked = {
        "effects": cfg["effects"] != "none",
        "correction": cfg["correction"] != "none",
        "split": cfg["split_by_zone"],
        "reading": cfg["reading"] != "system",
        "se": cfg["se"] != "ml",
    }
    out = []
    for name in cfg["models"]:
        accepted = registry.keywords("models", registry.get("models", name))
        out += [(name, "split_by_zone" if k == "split" else k) for k, on in asked.items() if on and k not in accepted]
    return out


def _regime_tables(idx, graphs, orderings, models, ctx, cfg, notes) -> dict:
    """``spatial_haken_regimes`` and ``spatial_haken_regime_tests`` for the SLX and SAR models."""
    from .regimes import REGIME_MODELS, fit_regimes

    fitted = [m for m in models if m in REGIME_MODELS]
    other = [m for m in models if m not in REGIME_MODELS]
    if other:
        notes.append(f"regimes are estimated for {', '.join(REGIME_MODELS)} only; not for {', '.join(other)}")
    res = [
        fit_regimes(
            idx,
            a,
            b,
            g,
            ctx.scheme,
            model=m,
            region=ctx.region,
            year=ctx.year,
            effects=cfg["effects"],
            regime_rho=cfg["regime_rho"],
            weights_name=w,
            alpha=cfg["alpha"],
            min_ratio=cfg["min_ratio"],
        )
        for w, g in graphs.items()
        for m in fitted
        for a, b in orderings
    ]
    if not res:
        return {}
    return {
        "spatial_haken_regimes": pd.concat([r.table for r in res], ignore_index=True),
        "spatial_haken_regime_tests": pd.concat([r.tests for r in res], ignore_index=True),
    }


def _models(value, label, where):
    values = [value] if isinstance(value, str) else value
    known = registry.names("models")
    bad = [m for m in values if m not in known]
    if bad or not values:
        hint = closest(bad[0], known, cutoff=0.0) if bad else []
        raise ConfigError(
            f"{label}: unknown {bad}"
            + (f" (did you mean '{hint[0]}'?)" if hint else "")
            + f"; choose from {', '.join(known)} (the installed nqpspatial.models plugins)",
            source=where,
        )
    for m in values:
        registry.get("models", m)  # a plugin that fails to load is refused here (exit 2)
    return list(values)


def _order(value, label, where):
    if isinstance(value, str) or not (
        isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(f'{label} = {value!r} must name two subsystems, e.g. ["NQP", "NTU"]', source=where)
    return list(value)


def _regime_rho(value, label, where):
    from .regimes import REGIME_RHO

    if value not in REGIME_RHO:
        raise ConfigError(
            f"{label} = {value!r} is not valid; use one of {', '.join(repr(r) for r in REGIME_RHO)}", source=where
        )
    return value


@dataclass(frozen=True)
class SpatialHakenSpec(StageSpec):
    """``[spatial_haken]``: spatial-lag Haken models on the core's spatial weights."""

    table = "spatial_haken"
    spatial_weights_keys = ("weights",)
    models: list = key(["slx", "sar"], kind="str|list", check=_models, doc="models plugins to fit")
    weights: list = key(
        ["queen"],
        kind="str|list",
        check=lambda v, lab, w: check_specs(v, lab, w),
        doc="weights specifications (as in [spatial])",
    )
    effects: str = key(
        "none",
        choices=("none", "region", "year", "two-way"),
        doc="fixed effects: region, year (Lee & Yu 2010 transformation; W rows must sum to 1) or both",
    )
    correction: str = key("none", choices=("none", "jackknife"), doc="short-panel correction with region effects")
    effects_draws: int = key(1000, minimum=2, doc="parameter draws of the effects' intervals")
    split_by_zone: bool = key(False, doc="within-zone / across-zone split of the lag (needs [regions] scheme)")
    order: Any = key(None, kind="any", check=_order, doc="the ordering [q1, q2] (default: every ordering)")
    alpha: float = key(0.05, minimum=0, maximum=1, exclusive=True, doc="significance level of the verdict")
    min_ratio: float = key(1.0, minimum=0, exclusive=True, doc="|gamma2| / |gamma1| the verdict needs")
    reading: str = key(
        "system",
        choices=("system", "local"),
        doc="the reading behind the verdict, chosen, h, robustness and the report",
    )
    regimes: bool = key(False, doc="SLX/SAR coefficients by group of the region scheme, with Chow-type tests")
    regime_rho: str = key("common", check=_regime_rho, doc="common: one rho; separate: one per group")
    se: str = key(
        "ml",
        choices=("ml", "driscoll-kraay", "twoway"),
        doc="covariance: ml (information matrix) or a sandwich of region-year scores (Driscoll-Kraay, two-way)",
    )
    bandwidth: int = key(-1, minimum=-1, doc="Driscoll-Kraay bandwidth; -1: floor(4 (T'/100)^(2/9))")
    bootstrap_scheme: str = key(
        "none", choices=("none", "wild-year"), doc="wild-year: restricted wild bootstrap, one multiplier per year (SLX)"
    )
    bootstrap: int = key(999, minimum=0, doc="resamples of the wild-year bootstrap")
    model_selection: bool = key(True, doc="fit SLX, SAR, SEM and SDM and write model_selection.csv")

    def check_study(self, facts: StudyFacts, where: str = "config") -> None:
        if self.order is not None and any(o not in facts.subsystems for o in self.order):
            raise ConfigError(
                f"[spatial_haken] order must name two subsystems of {list(facts.subsystems)}, got {self.order}",
                source=where,
            )
        for flag in ("split_by_zone", "regimes"):
            if getattr(self, flag) and not facts.scheme:
                raise ConfigError(
                    f"[spatial_haken] {flag} = true needs a region scheme ([regions] scheme)", source=where
                )
        if self.regimes and self.effects in ("year", "two-way"):
            raise ConfigError(
                f'[spatial_haken] regimes = true with effects = "{self.effects}": the regime models take '
                'effects = "none" or "region"; set one of those or regimes = false',
                source=where,
            )
        if self.bandwidth >= 0 and self.se != "driscoll-kraay":
            raise ConfigError(
                f'[spatial_haken] bandwidth = {self.bandwidth} is used only with se = "driscoll-kraay" '
                f'(se = "{self.se}"); remove bandwidth or set se = "driscoll-kraay"',
                source=where,
            )
        n_tr = len(facts.periods) - 1
        if self.se == "driscoll-kraay" and self.bandwidth >= n_tr > 0:
            raise ConfigError(
                f"[spatial_haken] bandwidth = {self.bandwidth} must be below the {n_tr} transition "
                "years of the panel; lower it or use -1 for the rule floor(4 (T'/100)^(2/9))",
                source=where,
            )
        if self.bootstrap_scheme == "wild-year":
            ml = [m for m in self.models if m != "slx"]
            if ml or self.split_by_zone:
                raise ConfigError(
                    '[spatial_haken] bootstrap_scheme = "wild-year" covers SLX without split_by_zone only '
                    "(re-estimating the ML models on every resample is not benchmarked at county scale); "
                    + (f'models lists {", ".join(ml)}: set models = ["slx"]' if ml else "set split_by_zone = false")
                    + ' or bootstrap_scheme = "none"',
                    source=where,
                )
        for name, what in _unsupported(self):
            raise ConfigError(
                f"[spatial_haken] {what}: {registry.origin('models', name)} does not support it; "
                f"remove '{name}' from models or leave {what} at its default.",
                source=where,
            )


class SpatialHakenStage(Analysis):
    """Spatial-lag Haken variants with effects, diagnostics and identification."""

    name = "spatial_haken"
    optional = True
    order = 80
    requires = ("pair", "indices")
    spec = SpatialHakenSpec
    config_keys = SpatialHakenSpec.defaults()
    consumes = (SpatialWeightsSet,)
    uses = (HakenOutcome,)
    provides = (SpatialHakenOutcome,)

    def report_sections(self, view) -> list:
        """The spatial Haken section of the report."""
        from .report import spatial_haken_sections

        return spatial_haken_sections(view)

    tables = (
        "model_selection",
        "spatial_haken_estimates",
        "spatial_haken_effects",
        "spatial_haken_marginal_effects",
        "spatial_haken_diagnostics",
        "spatial_haken_identification",
        "spatial_haken_potential",
        "spatial_haken_steady_states",
        "spatial_haken_regimes",
        "spatial_haken_regime_tests",
        "spatial_haken_bootstrap",
    )

    def run(self, ctx: StageContext, cfg: SpatialHakenSpec) -> StageOutput:
        """Fit every requested model x weights x ordering; see the module doc.

        The stage's fits share their equation estimates (:func:`~.models.shared_fits`): an equation that two
        models fit alike (the SDM's diagnostic restrictions and the listed SAR and SLX) is estimated once.
        """
        with shared_fits():
            return self._run(ctx, cfg)

    def _run(self, ctx: StageContext, cfg: SpatialHakenSpec) -> StageOutput:
        cfg = SpatialHakenSpec.coerce(cfg, ctx)
        notes, warns = [], []
        ws = ctx.spatial_weights(cfg.weights)
        if ws is None:
            return StageOutput(notes=[NO_WEIGHTS], status="skipped")
        graphs = {ws.get(s).slug: ws.get(s).graph for s in cfg.weights if ws.get(s) is not None}
        notes += [f"weights {s} not built (no boundaries)" for s in cfg.weights if ws.get(s) is None]
        if not graphs:
            return StageOutput(notes=notes + [NO_WEIGHTS], status="skipped")
        idx = ctx.indices
        orderings = _orderings(ctx, cfg, notes)
        split = ctx.scheme if cfg.split_by_zone else None
        out = StageOutput(notes=notes, warnings=warns)
        results = _fit_all(ctx, cfg, idx, graphs, orderings, split, out)
        selection = None
        if cfg.model_selection:
            selection = _model_selection(ctx, cfg, idx, graphs, orderings, out)
            if selection is not None:
                results.update(_fit_preferred(ctx, cfg, idx, graphs, selection, results, split, out))
        diag = [
            lm_diagnostics(idx, a, b, g, region=ctx.region, year=ctx.year, weights_name=wname, effects=cfg.effects)
            for wname, g in graphs.items()
            for a, b in orderings
        ]
        out.tables = _stage_tables(results, diag)
        if selection is not None:
            out.tables["model_selection"] = selection
        if cfg.bootstrap_scheme == "wild-year" and int(cfg.bootstrap) > 0:
            _wild_year(ctx, cfg, results, out)
        if cfg.regimes:
            out.tables.update(_regime_tables(idx, graphs, orderings, cfg.models, ctx, cfg, out.notes))
        logdet = {
            str((getattr(r, "info", None) or {}).get("q1", {}).get("logdet", "none (OLS)"))
            for r in results.values()
            if isinstance((getattr(r, "info", None) or {}).get("q1", {}), dict)
        }
        out.info = {
            "models": list(cfg.models),
            "weights": list(graphs),
            "orderings": [list(o) for o in orderings],
            "effects": cfg.effects,
            "correction": cfg.correction,
            "effects_draws": int(cfg.effects_draws),
            "split_by_zone": bool(split is not None),
            "reading": cfg.reading,
            "se": cfg.se,
            "bootstrap_scheme": cfg.bootstrap_scheme,
            "inference": _inference_info(results),
            "model_selection": bool(selection is not None),
            "logdet": sorted(logdet),
            "plugins": {m: registry.origin("models", m) for m in cfg.models},
        }
        for r in results.values():
            out.notes.extend(n for n in (getattr(r, "notes", None) or []) if n not in out.notes)
        if selection is not None:
            _verdict_disagreement(ctx, cfg, selection, out)
        if cfg.effects in ("none", "region"):
            _common_shock_note(ctx, cfg, idx, orderings, out)
        out.artifacts.append(SpatialHakenOutcome(results=dict(results), reading=cfg.reading, order=_chosen(ctx)))
        return out


def _fit_all(ctx, cfg, idx, graphs, orderings, split, out) -> dict:
    """Every model x weights x ordering; a model plugin that raises or breaks its contract fails alone."""
    rng = ctx.rng("spatial_haken")
    results, failed = {}, {}
    plugins = {m: registry.get("models", m) for m in cfg.models}
    jobs = [(m, w, o) for w in graphs for m in cfg.models for o in orderings]
    with backend_from_config(ctx.config) as be:
        for m, wname, (a, b) in ctx.progress(jobs, total=len(jobs), desc="spatial Haken"):
            if m in failed:
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ShortPanelWarning)
                try:
                    res = _fit_plugin(
                        plugins[m],
                        idx,
                        a,
                        b,
                        graphs[wname],
                        ctx=ctx,
                        rng=rng,
                        cfg=cfg,
                        split=split,
                        weights_name=wname,
                        backend=be,
                    )
                except (InputError, ConfigError):
                    raise
                except Exception as exc:  # noqa: BLE001 - one model's failure must not take the stage down
                    failed[m] = plugin_failure("models", m, exc, traceback.format_exc())
                    continue
            probs = output_problems("models", res)
            if probs:
                failed[m] = plugin_failure("models", m, "breaks the models contract: " + "; ".join(probs))
                continue
            short = [str(w.message) for w in caught if issubclass(w.category, ShortPanelWarning)]
            if short and not out.warnings:
                out.warnings.append(short[0])
            results[(m, wname, a, b)] = res
    out.failures.extend(failed.values())
    return {k: v for k, v in results.items() if k[0] not in failed}


def _chosen(ctx) -> tuple[str, str] | None:
    h = ctx.get(HakenOutcome)
    return h.order if h is not None else None


def _orderings(ctx: StageContext, cfg: dict, notes: list) -> list:
    """``[spatial_haken] order`` or every ordering of the subsystems (with a note)."""
    subsystems = list(ctx.subsystems)
    if cfg["order"]:  # checked against the subsystems by the spec
        return [tuple(cfg["order"])]
    # identification on every ordering, as in the aspatial model
    chosen = _chosen(ctx)
    notes.append(
        f"every ordering is fitted; the Haken stage chose {chosen[0]} -> {chosen[1]}"
        if chosen is not None
        else "every ordering is fitted"
    )
    return list(itertools.permutations(subsystems, 2))


def _stage_tables(results: dict, diag: list) -> dict:
    """The stage's tables from the fitted results (a table only when some model produces it)."""
    res_list = list(results.values())
    diag_parts = diag + [
        _stack({k: r}, "diagnostics") for k, r in results.items() if _table(r, "diagnostics") is not None
    ]
    tables = {
        "spatial_haken_estimates": _stack(results, "estimates"),
        "spatial_haken_effects": _stack(results, "effects"),
        "spatial_haken_diagnostics": pd.concat(diag_parts, ignore_index=True),
    }
    for name, attr in (
        ("spatial_haken_marginal_effects", "marginal_effects"),
        ("spatial_haken_potential", "potential_readings"),
        ("spatial_haken_steady_states", "steady_states"),
    ):
        if any(_table(r, attr) is not None for r in res_list):
            tables[name] = _stack(results, attr)
    with_ident = [
        r
        for r in res_list
        if isinstance(_table(r, "identification"), pd.DataFrame) and len(_table(r, "identification"))
    ]
    if with_ident:
        tables["spatial_haken_identification"] = identification_table(with_ident)
    return tables


def _inference_info(results: dict) -> dict:
    """Each fit's covariance method (run.json): ``"model/weights/q1->q2" -> description``."""
    from ._robust import se_label

    out = {}
    for (m, w, a, b), r in results.items():
        info = getattr(r, "info", None) or {}
        q1 = info.get("q1", {}) if isinstance(info, dict) else {}
        if isinstance(q1, dict) and "se" in q1:
            out[f"{m}/{w}/{a}->{b}"] = se_label(q1["se"], q1.get("bandwidth"))
    return out


def _model_selection(ctx, cfg, idx, graphs, orderings, out):
    """``model_selection.csv`` for every weights specification and ordering (None when it cannot run)."""
    from .selection import selection_table

    parts = []
    try:
        for wname, g in graphs.items():
            for a, b in orderings:
                parts.append(
                    selection_table(
                        idx,
                        a,
                        b,
                        g,
                        region=ctx.region,
                        year=ctx.year,
                        effects=cfg.effects,
                        weights_name=wname,
                        alpha=cfg.alpha,
                    )
                )
    except ConfigError as exc:
        out.notes.append(f"model selection not run: {exc}")
        return None
    return pd.concat(parts, ignore_index=True)


def _system_pick(selection: pd.DataFrame, wname: str, pair) -> str | None:
    rows = selection[
        (selection["scope"] == "system")
        & (selection["weights"] == wname)
        & (selection["q1"] == pair[0])
        & (selection["q2"] == pair[1])
    ]
    return str(rows["preferred"].iloc[0]) if len(rows) else None


def _fit_preferred(ctx, cfg, idx, graphs, selection, results, split, out) -> dict:
    """Fit the preferred models that ``models`` does not list (their verdicts are compared and reported)."""
    wanted = sorted(
        {
            (str(r["preferred"]), str(r["weights"]))
            for _, r in selection[selection["scope"] == "system"].iterrows()
            if str(r["preferred"]) not in cfg.models
        }
    )
    if not wanted:
        return {}
    extra_cfg = cfg.replace(models=sorted({m for m, _ in wanted}))
    extra = {}
    for m, wname in wanted:
        sub = _fit_all(
            ctx, extra_cfg, idx, {wname: graphs[wname]}, _orderings_of(results, selection, wname), split, out
        )
        extra.update({k: v for k, v in sub.items() if k[0] == m})
        out.notes.append(
            f"model selection prefers {m.upper()} under {wname}; it is fitted in addition to models "
            f"({', '.join(cfg.models)}) so that its verdict can be compared"
        )
    return extra


def _orderings_of(results, selection, wname) -> list:
    sub = selection[(selection["weights"] == wname) & (selection["scope"] == "system")]
    return list(dict.fromkeys(zip(sub["q1"], sub["q2"])))


def _aspatial_pair(ctx):
    """The aspatial verdict's ordering (None when no ordering passes), or ``False`` without a Haken stage."""
    h = ctx.get(HakenOutcome)
    if h is None or h.identification is None:
        return False
    chosen = h.identification.chosen
    if chosen is None:
        return None
    get = getattr(h.identification, "results", None)
    fit = get(*chosen) if callable(get) else None
    return tuple(chosen) if fit is None or bool(getattr(fit, "adiabatic", False)) else None


def _verdict_text(pair) -> str:
    if pair is None:
        return "no ordering passes the adiabatic verdict"
    return f"{pair[0]} is the order parameter ({pair[0]} -> {pair[1]})"


def common_shock_test(
    data: pd.DataFrame, q1: str, q2: str, *, region="region", year="year", effects="none", graph=None
):
    """F tests for common year shocks in the Haken equations (year dummies added to the pooled design).

    Each equation (``q1(t+1)`` on ``q1, q1 q2``; ``q2(t+1)`` on ``q2, q1^2``;
    with their spatial lags ``W x`` when ``graph`` is given, the SLX design;
    region means removed when ``effects = "region"``) is fitted by OLS with
    and without year dummies: ``F = ((SSR_0 - SSR_1) / (T' - 1)) / (SSR_1 /
    df)`` with ``T'`` transition years (the nested-model F test, Greene 2018,
    ch. 5). A rejection says that the regions share year shocks, under which
    the spatial models' intervals without year effects undercover
    (docs/inference.md, "Spatial models: coverage study"). Omitted
    time-varying terms common to all regions (a misspecified model on
    converging paths) also show up as year effects; year effects absorb them
    too.

    Returns
    -------
    pandas.DataFrame
        ``equation, statistic, df1, df2, p``.
    """
    from scipy import stats

    d = data.sort_values([region, year], kind="stable")
    nxt = d.groupby(region, sort=False)[[q1, q2]].shift(-1)
    ok = nxt.notna().all(axis=1).to_numpy()
    x1, x2 = d[q1].to_numpy(float)[ok], d[q2].to_numpy(float)[ok]
    yrs = d[year].to_numpy()[ok]
    regs = d[region].to_numpy()[ok]
    rows = []
    n_fe = len(np.unique(regs)) if effects == "region" else 0
    D = pd.get_dummies(pd.Series(yrs)).to_numpy(float)[:, 1:]
    if effects == "region":
        D = _within(D, regs)
    terms = {q1: [x1, x1 * x2], q2: [x2, x1 * x1]}
    if graph is not None:
        terms = {k: v + [_spatial_lag(graph, regs, yrs, t) for t in v] for k, v in terms.items()}
    for name, y, X in (
        (q1, nxt[q1].to_numpy(float)[ok], np.column_stack(terms[q1])),
        (q2, nxt[q2].to_numpy(float)[ok], np.column_stack(terms[q2])),
    ):
        if effects == "region":
            X, y = _within(X, regs), _within(y[:, None], regs)[:, 0]
        else:
            X = np.column_stack([X, np.ones(len(y))])
        full = np.column_stack([X, D])
        ssr0, ssr1 = _ssr(X, y), _ssr(full, y)
        df1 = D.shape[1]
        df2 = len(y) - np.linalg.matrix_rank(full) - n_fe
        F = ((ssr0 - ssr1) / df1) / (ssr1 / df2) if df1 > 0 and df2 > 0 and ssr1 > 0 else np.nan
        p = float(stats.f.sf(F, df1, df2)) if np.isfinite(F) else np.nan
        rows.append({"equation": name, "statistic": float(F), "df1": int(df1), "df2": int(df2), "p": p})
    return pd.DataFrame(rows)


def _spatial_lag(graph, regs, yrs, values) -> np.ndarray:
    """``W x`` within each year, for long-form values in the order of ``regs``/``yrs``."""
    ids = list(graph.unique_ids)
    W = graph.sparse
    frame = pd.DataFrame({"r": regs, "t": yrs, "v": values})
    wide = frame.pivot(index="r", columns="t", values="v").reindex(ids)
    lag = pd.DataFrame(W @ wide.to_numpy(float), index=wide.index, columns=wide.columns)
    return lag.stack().reindex(pd.MultiIndex.from_arrays([regs, yrs])).to_numpy(float)


def _within(X, groups):
    X = np.asarray(X, float)
    frame = pd.DataFrame(X)
    return X - frame.groupby(groups).transform("mean").to_numpy()


def _ssr(X, y) -> float:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    e = y - X @ beta
    return float(e @ e)


def _common_shock_note(ctx, cfg, idx, orderings, out) -> None:
    """A note (and run.json facts) when the data show common year shocks and the models have no year effects."""
    alpha = float(((ctx.config or {}).get("haken") or {}).get("alpha", 0.05))
    if not orderings:
        return
    a, b = orderings[0]
    ws = ctx.spatial_weights(cfg.weights[:1])
    sw = ws.get(cfg.weights[0]) if ws is not None else None
    graph = sw.graph if sw is not None else None
    tab = common_shock_test(idx, a, b, region=ctx.region, year=ctx.year, effects=cfg.effects, graph=graph)
    rejects = tab[tab["p"] < alpha]
    out.info["common_shocks"] = {
        "q1": a,
        "q2": b,
        "tests": tab.to_dict(orient="records"),
        "rejects": bool(len(rejects)),
    }
    if len(rejects):
        shown = "; ".join(f"{r.equation} equation F = {r.statistic:.3g}, p = {r.p:.2g}" for r in rejects.itertuples())
        out.notes.append(
            f"the regions share common year shocks ({shown}): without year effects the spatial models' "
            "intervals cover far below their nominal level under such shocks (docs/inference.md, 'Spatial "
            'models: coverage study\'); set [spatial_haken] effects = "year" (or "two-way") for inference'
        )


def _verdict_disagreement(ctx, cfg, selection, out) -> None:
    """Compare the preferred model's verdict (configured reading) with the aspatial one; say so plainly."""
    aspatial = _aspatial_pair(ctx)
    if aspatial is False:
        return
    ident = out.tables.get("spatial_haken_identification")
    if ident is None or not len(ident):
        return
    ref = aspatial if aspatial is not None else tuple(_chosen(ctx) or ())
    found = []
    for wname in dict.fromkeys(selection["weights"]):
        sub = selection[(selection["weights"] == wname) & (selection["scope"] == "system")]
        if not len(sub):
            continue
        pick = sub[(sub["q1"] == ref[0]) & (sub["q2"] == ref[1])] if len(ref) == 2 else sub.iloc[:0]
        model = str((pick if len(pick) else sub)["preferred"].iloc[0])
        rows = ident[(ident["model"] == model) & (ident["weights"] == wname)]
        if "reading" in rows.columns:
            rows = rows[rows["reading"] == cfg.reading]
        if not len(rows):
            continue
        ch = rows[rows["chosen"].astype(bool)]
        spatial = (str(ch["q1"].iloc[0]), str(ch["q2"].iloc[0])) if len(ch) else None
        if spatial == aspatial:
            continue
        found.append(
            {
                "weights": wname,
                "model": model,
                "reading": cfg.reading,
                "aspatial": _verdict_text(aspatial),
                "spatial": _verdict_text(spatial),
            }
        )
        out.notes.append(
            f"the aspatial and the spatial verdicts disagree: aspatial model: {_verdict_text(aspatial)}; "
            f"{model.upper()} (preferred by model selection, {wname}, {cfg.reading} reading): {_verdict_text(spatial)}"
        )
    out.info["verdict_disagreement"] = found


def _wild_year(ctx, cfg, results, out) -> None:
    """The wild-year bootstrap of every SLX fit (``spatial_haken_bootstrap``)."""
    from .wild import slx_wild_year

    rng = ctx.rng("spatial_haken_wild")
    parts = []
    with backend_from_config(ctx.config) as be:
        for (m, w, a, b), r in results.items():
            if m != "slx":
                continue
            boot = slx_wild_year(r, int(cfg.bootstrap), seed=rng, alpha=cfg.alpha, min_ratio=cfg.min_ratio, backend=be)
            parts.append(boot.table.assign(model=m, weights=w, q1=a, q2=b))
            out.notes.append(f"slx/{w} {a} -> {b}: {boot.method}")
    if parts:
        tab = pd.concat(parts, ignore_index=True)
        out.tables["spatial_haken_bootstrap"] = tab[
            ["model", "weights", "q1", "q2"] + [c for c in tab.columns if c not in ("model", "weights", "q1", "q2")]
        ]


#: The stage instance registered under ``nqpspatial.analyses``.
stage = SpatialHakenStage()
