"""The optional ``[spatial_haken]`` pipeline stage.

Config (defaults)::

    [spatial_haken]
    models = ["slx", "sar"]     # slx, sar, sem, sdm, or any installed nqpspatial.models plugin
    weights = ["queen"]         # specifications as in [spatial]
    effects = "none"            # "none" | "region" (region fixed effects)
    correction = "none"         # "none" | "jackknife" (with region effects)
    effects_draws = 1000
    split_by_zone = false
    order = ["NQP", "NTU"]      # optional; default: every ordering
    alpha = 0.05
    min_ratio = 1.0
    reading = "system"          # "system" | "local": the reading behind the verdict, chosen, h, report
    regimes = false             # SLX/SAR coefficients by group of the region scheme, Chow-type tests
    regime_rho = "common"       # "common" | "separate" (one rho per group)

Tables: ``spatial_haken_estimates``, ``spatial_haken_effects``,
``spatial_haken_marginal_effects``, ``spatial_haken_diagnostics``,
``spatial_haken_identification`` (one row per reading),
``spatial_haken_potential`` (one row per reading) and
``spatial_haken_steady_states``; with ``regimes = true`` also
``spatial_haken_regimes`` and ``spatial_haken_regime_tests``.
Publishes ``{"spatial_haken": {(model, weights, q1, q2): SpatialHakenResults}}``; the effect draws
run on the configured backend (``[run] workers`` / ``scheduler``).
"""

from __future__ import annotations

import itertools
import warnings

import pandas as pd

from nqpspatial import registry
from nqpspatial.backends import backend_from_config
from nqpspatial.errors import ConfigError, PluginError
from nqpspatial.results import Results
from nqpspatial.stage import Analysis, StageContext, StageOutput

from .models import ShortPanelWarning, identification_table, lm_diagnostics

__all__ = ["SpatialHakenStage", "stage"]


def _haken_ordering(obj):
    """The (q1, q2) ordering chosen by the aspatial Haken stage, if it published one."""
    if obj is None:
        return None
    for attr in ("order", "chosen_order", "ordering"):
        val = obj.get(attr) if isinstance(obj, dict) else getattr(obj, attr, None)
        if isinstance(val, (tuple, list)) and len(val) == 2 and all(isinstance(v, str) for v in val):
            return tuple(val)
    tab = None
    for attr in ("identification", "table"):
        val = obj.get(attr) if isinstance(obj, dict) else getattr(obj, attr, None)
        if isinstance(val, pd.DataFrame):
            tab = val
            break
    if tab is not None and {"q1", "q2", "chosen"} <= set(tab.columns):
        ch = tab[tab["chosen"].astype(bool)]
        if len(ch) == 1:
            return str(ch["q1"].iloc[0]), str(ch["q2"].iloc[0])
    return None


def _published_weights(ctx: StageContext) -> dict:
    pub = ctx.results.get("spatial_weights") or {}
    if isinstance(pub, dict) and isinstance(pub.get("weights"), dict):
        pub = pub["weights"]
    return pub if isinstance(pub, dict) else {}


def _table(res, name: str):
    """A results table by attribute name, or None when the model does not produce it."""
    val = getattr(res, name, None)
    return val if isinstance(val, pd.DataFrame) else None


def _stack(results, name: str) -> pd.DataFrame:
    tabs = [t for t in (_table(r, name) for r in results) if t is not None]
    return pd.concat(tabs, ignore_index=True) if tabs else pd.DataFrame()


#: Options the stage passes to a model plugin's ``fit``, with the value that means "not used".
_OPTIONS = {"effects": "none", "correction": "none", "split": None, "draws": None, "alpha": None,
            "min_ratio": None, "weights_name": None, "reading": "system", "backend": None}


def _fit_plugin(name, plugin, data, q1, q2, graph, *, ctx, rng, cfg, split, weights_name, backend=None):
    """Fit one ``nqpspatial.models`` plugin, passing the options its ``fit`` accepts.

    A plugin that does not take an option the config asks for (e.g. region
    effects) is a config error naming the plugin and the key.
    """
    options = {"effects": cfg["effects"], "correction": cfg["correction"], "split": split,
               "draws": int(cfg["effects_draws"]), "alpha": cfg["alpha"], "min_ratio": cfg["min_ratio"],
               "weights_name": weights_name, "reading": cfg["reading"], "backend": backend}
    kw = {}
    for key, value in options.items():
        if registry.accepts_keyword(plugin.fit, key):
            kw[key] = value
        elif _OPTIONS[key] is not None and value != _OPTIONS[key]:
            what = "split_by_zone" if key == "split" else key
            raise ConfigError(f"[spatial_haken] {what}: {registry.origin('models', name)} does not "
                              f"support it; remove '{name}' from models or leave {what} at its default.",
                              "config")
    res = plugin.fit(data, q1, q2, graph, region=ctx.region, year=ctx.year, rng=rng, **kw)
    if not isinstance(res, Results) or _table(res, "estimates") is None:
        raise PluginError(f"{registry.origin('models', name)} breaks the models contract: fit() must return "
                          "a nqpspatial.results.Results with an 'estimates' table (see docs/plugins.md).")
    return res


def _check_regimes(cfg, ctx) -> None:
    from .regimes import REGIME_RHO

    if not isinstance(cfg["regimes"], bool):
        raise ConfigError(f"[spatial_haken] regimes = {cfg['regimes']!r}: use true or false", "config")
    if cfg["regime_rho"] not in REGIME_RHO:
        raise ConfigError(f"[spatial_haken] regime_rho = {cfg['regime_rho']!r} is not valid; use one of "
                          f"{', '.join(repr(r) for r in REGIME_RHO)}", "config")
    if cfg["regimes"] and ctx.scheme is None:
        raise ConfigError("[spatial_haken] regimes = true needs a region scheme ([regions] scheme)", "config")


def _regime_tables(idx, graphs, orderings, models, ctx, cfg, notes) -> dict:
    """``spatial_haken_regimes`` and ``spatial_haken_regime_tests`` for the SLX and SAR models."""
    from .regimes import REGIME_MODELS, fit_regimes

    fitted = [m for m in models if m in REGIME_MODELS]
    other = [m for m in models if m not in REGIME_MODELS]
    if other:
        notes.append(f"regimes are estimated for {', '.join(REGIME_MODELS)} only; not for {', '.join(other)}")
    res = [fit_regimes(idx, a, b, g, ctx.scheme, model=m, region=ctx.region, year=ctx.year, effects=cfg["effects"],
                       regime_rho=cfg["regime_rho"], weights_name=w, alpha=cfg["alpha"], min_ratio=cfg["min_ratio"])
           for w, g in graphs.items() for m in fitted for a, b in orderings]
    if not res:
        return {}
    return {"spatial_haken_regimes": pd.concat([r.table for r in res], ignore_index=True),
            "spatial_haken_regime_tests": pd.concat([r.tests for r in res], ignore_index=True)}


class SpatialHakenStage(Analysis):
    """Spatial-lag Haken variants with effects, diagnostics and identification."""

    name = "spatial_haken"
    optional = True
    order = 80
    requires = ("pair",)
    config_keys = {"models": ["slx", "sar"], "weights": ["queen"], "effects": "none",
                   "correction": "none", "effects_draws": 1000, "split_by_zone": False,
                   "order": None, "alpha": 0.05, "min_ratio": 1.0, "reading": "system",
                   "regimes": False, "regime_rho": "common"}

    def _graphs(self, ctx: StageContext, specs, ids):
        published = _published_weights(ctx)
        out = {}
        for spec in specs:
            found = None
            for slug, sw in published.items():
                if getattr(sw, "spec", None) == spec or slug == spec:
                    found = sw
                    break
            if found is None:
                from nqpspatial.plugins.weights import build_weights

                try:
                    found = build_weights(spec, ids, geometry=ctx.geometry, panel=ctx.panel,
                                          scheme=ctx.scheme, region=ctx.region, year=ctx.year,
                                          base_dir=ctx.base_dir)
                except ConfigError as exc:  # the builder names [spatial]; the key is ours
                    raise ConfigError(exc.detail, "config [spatial_haken] weights") from None
            out[getattr(found, "slug", spec)] = found.graph
        return out

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        """Fit every requested model x weights x ordering; see the module doc."""
        notes, warns = [], []
        if ctx.geometry is None and not _published_weights(ctx):
            return StageOutput(notes=["spatial_haken skipped: no boundaries (geometry) to build "
                                      "spatial weights from"], info={"skipped": "no geometry"})
        models = _check_config(ctx, cfg)
        idx = ctx.indices
        orderings = _orderings(ctx, cfg, notes)
        ids = list(pd.unique(idx[ctx.region]))
        graphs = self._graphs(ctx, list(cfg["weights"]), ids)
        split = ctx.scheme if cfg["split_by_zone"] else None
        rng = ctx.rng(self.name)
        results = {}
        plugins = {m: registry.get("models", m) for m in models}
        jobs = [(m, w, o) for w in graphs for m in models for o in orderings]
        with backend_from_config(ctx.config) as be:
            for m, wname, (a, b) in ctx.progress(jobs, total=len(jobs), desc="spatial Haken"):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ShortPanelWarning)
                    res = _fit_plugin(m, plugins[m], idx, a, b, graphs[wname], ctx=ctx, rng=rng, cfg=cfg,
                                      split=split, weights_name=wname, backend=be)
                short = [str(w.message) for w in caught if issubclass(w.category, ShortPanelWarning)]
                if short and not warns:
                    warns.append(short[0])
                results[(m, wname, a, b)] = res
        diag = [lm_diagnostics(idx, a, b, g, region=ctx.region, year=ctx.year, weights_name=wname,
                               effects=cfg["effects"]) for wname, g in graphs.items() for a, b in orderings]
        res_list = list(results.values())
        logdet = set()
        for r in res_list:
            q1_info = (getattr(r, "info", None) or {}).get("q1", {})
            if isinstance(q1_info, dict):
                logdet.add(str(q1_info.get("logdet", "none (OLS)")))
        info = {"models": models, "weights": list(graphs), "orderings": [list(o) for o in orderings],
                "effects": cfg["effects"], "correction": cfg["correction"],
                "effects_draws": int(cfg["effects_draws"]), "split_by_zone": bool(split is not None),
                "reading": cfg["reading"],
                "logdet": sorted(logdet),
                "plugins": {m: registry.origin("models", m) for m in models}}
        for r in res_list:
            notes.extend(n for n in (getattr(r, "notes", None) or []) if n not in notes)
        tables = _stage_tables(res_list, diag)
        tables.update(_regime_tables(idx, graphs, orderings, models, ctx, cfg, notes) if cfg["regimes"] else {})
        return StageOutput(tables=tables, info=info, notes=notes, warnings=warns,
                           publish={"spatial_haken": results})


def _check_config(ctx: StageContext, cfg: dict) -> list:
    """The requested models, after checking every ``[spatial_haken]`` key (ConfigError naming the key)."""
    models = list(cfg["models"])
    known = registry.names("models")
    bad = [m for m in models if m not in known]
    if bad or not models:
        raise ConfigError(f"[spatial_haken] models: unknown {bad}; choose from "
                          f"{', '.join(known)} (the installed nqpspatial.models plugins)", "config")
    for key, allowed in (("effects", ("none", "region")), ("correction", ("none", "jackknife")),
                         ("reading", ("system", "local"))):
        if cfg[key] not in allowed:
            raise ConfigError(f"[spatial_haken] {key} = {cfg[key]!r} is not valid; use one of "
                              f"{', '.join(repr(a) for a in allowed)}", "config")
    draws = cfg["effects_draws"]
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2:
        raise ConfigError(f"[spatial_haken] effects_draws = {draws!r} must be a whole number "
                          ">= 2 (e.g. 1000)", "config")
    if cfg["split_by_zone"] and ctx.scheme is None:
        raise ConfigError("[spatial_haken] split_by_zone = true needs a region scheme "
                          "([regions] scheme)", "config")
    _check_regimes(cfg, ctx)
    alpha = cfg.get("alpha")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                              or not 0 < alpha < 1):
        raise ConfigError(f"[spatial_haken] alpha = {alpha!r} must be a number strictly between 0 and 1 "
                          "(e.g. 0.05)", "config")
    if not isinstance(cfg["weights"], (list, tuple)) or not cfg["weights"]:
        raise ConfigError(f"[spatial_haken] weights = {cfg['weights']!r} must be a non-empty list of weights "
                          "specifications, e.g. [\"queen\"]", "config")
    if cfg.get("order") is not None and not isinstance(cfg["order"], (list, tuple, str)):
        raise ConfigError(f"[spatial_haken] order = {cfg['order']!r} must name two subsystems, e.g. "
                          "[\"NQP\", \"NTU\"]", "config")
    return models


def _orderings(ctx: StageContext, cfg: dict, notes: list) -> list:
    """``[spatial_haken] order`` or every ordering of the subsystems (with a note)."""
    subsystems = list(ctx.subsystems)
    order = list(cfg.get("order") or [])
    if order:
        if len(order) != 2 or any(o not in subsystems for o in order):
            raise ConfigError(f"[spatial_haken] order must name two subsystems of "
                              f"{subsystems}, got {order}", "config")
        return [tuple(order)]
    # identification on every ordering, as in the aspatial model
    chosen = _haken_ordering(ctx.results.get("haken"))
    notes.append(f"every ordering is fitted; the Haken stage chose {chosen[0]} -> {chosen[1]}"
                 if chosen is not None else "every ordering is fitted")
    return list(itertools.permutations(subsystems, 2))


def _stage_tables(res_list: list, diag: list) -> dict:
    """The stage's tables from the fitted results (a table only when some model produces it)."""
    tables = {
        "spatial_haken_estimates": _stack(res_list, "estimates"),
        "spatial_haken_effects": _stack(res_list, "effects"),
        "spatial_haken_diagnostics": pd.concat(diag + [_table(r, "diagnostics") for r in res_list],
                                               ignore_index=True),
    }
    for name, attr in (("spatial_haken_marginal_effects", "marginal_effects"),
                       ("spatial_haken_potential", "potential_readings"),
                       ("spatial_haken_steady_states", "steady_states")):
        if any(_table(r, attr) is not None for r in res_list):
            tables[name] = _stack(res_list, attr)
    with_ident = [r for r in res_list if isinstance(_table(r, "identification"), pd.DataFrame)
                  and len(_table(r, "identification"))]
    if with_ident:
        tables["spatial_haken_identification"] = identification_table(with_ident)
    return tables


#: The stage instance registered under ``nqpspatial.analyses``.
stage = SpatialHakenStage()
