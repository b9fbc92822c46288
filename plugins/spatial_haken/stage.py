"""The optional ``[spatial_haken]`` pipeline stage.

Config (defaults)::

    [spatial_haken]
    models = ["slx", "sar"]     # any of slx, sar, sem, sdm
    weights = ["queen"]         # specifications as in [spatial]
    effects = "none"            # "none" | "region" (region fixed effects)
    correction = "none"         # "none" | "jackknife" (with region effects)
    effects_draws = 1000
    split_by_zone = false
    order = ["NQP", "NTU"]      # optional; default: every ordering
    alpha = 0.05
    min_ratio = 1.0

Tables: ``spatial_haken_estimates``, ``spatial_haken_effects``,
``spatial_haken_diagnostics``, ``spatial_haken_identification``.
Publishes ``{"spatial_haken": {(model, weights, q1, q2): SpatialHakenResults}}``.
"""

from __future__ import annotations

import itertools
import warnings

import pandas as pd

from nqpspatial.errors import ConfigError
from nqpspatial.stage import Analysis, StageContext, StageOutput

from .models import (MODELS, ShortPanelWarning, SpatialHakenModel, identification_table,
                     lm_diagnostics)

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


class SpatialHakenStage(Analysis):
    """Spatial-lag Haken variants with effects, diagnostics and identification."""

    name = "spatial_haken"
    optional = True
    order = 80
    requires = ("pair",)
    config_keys = {"models": ["slx", "sar"], "weights": ["queen"], "effects": "none",
                   "correction": "none", "effects_draws": 1000, "split_by_zone": False,
                   "order": None, "alpha": 0.05, "min_ratio": 1.0}

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
        models = list(cfg["models"])
        bad = [m for m in models if m not in MODELS]
        if bad or not models:
            raise ConfigError(f"[spatial_haken] models: unknown {bad}; choose from "
                              f"{', '.join(MODELS)}", "config")
        for key, allowed in (("effects", ("none", "region")), ("correction", ("none", "jackknife"))):
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
        idx = ctx.indices
        subsystems = list(ctx.subsystems)
        order = list(cfg.get("order") or [])
        if order:
            if len(order) != 2 or any(o not in subsystems for o in order):
                raise ConfigError(f"[spatial_haken] order must name two subsystems of "
                                  f"{subsystems}, got {order}", "config")
            orderings = [tuple(order)]
        else:
            # identification on every ordering, as in the aspatial model
            orderings = list(itertools.permutations(subsystems, 2))
            chosen = _haken_ordering(ctx.results.get("haken"))
            if chosen is not None:
                notes.append(f"every ordering is fitted; the Haken stage chose {chosen[0]} -> "
                             f"{chosen[1]}")
            else:
                notes.append("every ordering is fitted")
        ids = list(pd.unique(idx[ctx.region]))
        graphs = self._graphs(ctx, list(cfg["weights"]), ids)
        split = ctx.scheme if cfg["split_by_zone"] else None
        rng = ctx.rng(self.name)
        results, diag = {}, []
        short_warned = False
        jobs = [(m, w, o) for w in graphs for m in models for o in orderings]
        for m, wname, (a, b) in ctx.progress(jobs, total=len(jobs), desc="spatial Haken"):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ShortPanelWarning)
                mod = SpatialHakenModel(idx, a, b, graphs[wname], model=m, region=ctx.region,
                                        year=ctx.year, effects=cfg["effects"],
                                        correction=cfg["correction"], split=split,
                                        weights_name=wname)
                res = mod.fit(draws=int(cfg["effects_draws"]), seed=rng, alpha=cfg["alpha"],
                              min_ratio=cfg["min_ratio"])
            for w in caught:
                if issubclass(w.category, ShortPanelWarning) and not short_warned:
                    warns.append(str(w.message))
                    short_warned = True
            results[(m, wname, a, b)] = res
        for wname, g in graphs.items():
            for a, b in orderings:
                diag.append(lm_diagnostics(idx, a, b, g, region=ctx.region, year=ctx.year,
                                           weights_name=wname, effects=cfg["effects"]))
        res_list = list(results.values())
        tables = {
            "spatial_haken_estimates": pd.concat([r.estimates for r in res_list],
                                                 ignore_index=True),
            "spatial_haken_effects": pd.concat([r.effects for r in res_list], ignore_index=True),
            "spatial_haken_diagnostics": pd.concat(diag + [r.diagnostics for r in res_list],
                                                   ignore_index=True),
            "spatial_haken_identification": identification_table(res_list),
        }
        info = {"models": models, "weights": list(graphs), "orderings": [list(o) for o in orderings],
                "effects": cfg["effects"], "correction": cfg["correction"],
                "effects_draws": int(cfg["effects_draws"]), "split_by_zone": bool(split is not None),
                "logdet": sorted({r.info["q1"].get("logdet", "none (OLS)") for r in res_list})}
        for r in res_list:
            notes.extend(n for n in r.notes if n not in notes)
        return StageOutput(tables=tables, info=info, notes=notes, warnings=warns,
                           publish={"spatial_haken": results})


#: The stage instance registered under ``nqpspatial.analyses``.
stage = SpatialHakenStage()
