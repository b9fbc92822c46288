"""Pipeline stages ``[sensitivity]`` (weight sensitivity) and ``[robustness]`` (robustness table).

Both are optional: they run when their table is present in the config.

``[sensitivity]`` writes ``sensitivity_summary`` and ``sensitivity_regions``;
``[robustness]`` writes ``robustness``.  Both publish their results objects,
from which the report stage draws ``figures/sensitivity.*`` and
``figures/robustness.*`` (:func:`sensitivity_figure`,
:func:`nqpspatial.robustness.table.plot_robustness`) in the ``[report]``
formats and shows them in its robustness section (not with ``--no-report``).
Register them under ``nqpspatial.analyses``::

    sensitivity = nqpspatial.robustness.stage:sensitivity_stage
    robustness = nqpspatial.robustness.stage:robustness_stage
"""

from __future__ import annotations

import sys
import time
from types import MappingProxyType

import numpy as np
import pandas as pd

from .. import registry
from ..backends import BACKENDS, backend_from_config
from ..errors import ConfigError, InputError
from ..stage import Analysis, StageContext, StageOutput

__all__ = ["SensitivityStage", "RobustnessStage", "sensitivity_stage", "robustness_stage", "SENSITIVITY_CONFIG",
           "ROBUSTNESS_CONFIG", "sensitivity_figure"]

#: Keys of ``[sensitivity]`` and their defaults.
SENSITIVITY_CONFIG = MappingProxyType({
    "draws": 1000,                 # Dirichlet draws
    "concentration": 100.0,        # Dirichlet concentration c (alpha = c w0); 0 or "uniform": flat
    "methods": ["critic", "entropy", "equal", "critic-entropy"],   # alternative weighting methods
    "backend": "auto",             # auto | inprocess | processes | dask
    "chunk_size": 0,               # draws per chunk; 0 = automatic (250, fewer for large panels)
})

#: Keys of ``[robustness]`` and their defaults.
ROBUSTNESS_CONFIG = MappingProxyType({
    "rolling_window": 5,           # periods per rolling window (0: none)
    "subperiods": [],              # [[first, last], ...]; [] = the two halves
    "zones": True,                 # one variant per group of the region scheme
    "specifications": True,        # no intercept / intercept / region effects + analytic correction
    "weights": ["queen"],          # weights specifications for the spatial variants ([] = none)
    "models": ["slx", "sar"],      # nqpspatial.models plugins
    "spatial_draws": 200,          # effect draws per spatial fit
    "bootstrap": 0,                # cluster-bootstrap resamples per aspatial fit
})


def _err(table, key, value, fix):
    return ConfigError(f"[{table}] {key} = {value!r}: {fix}", source="config")


def _haken_options(ctx: StageContext) -> dict:
    from ..haken.stage import validate_haken_config

    return validate_haken_config(ctx.config.get("haken") or {}, ctx.subsystems)


def _indices(ctx: StageContext) -> pd.DataFrame:
    idx = ctx.indices
    cols = [ctx.region, ctx.year, *ctx.subsystems]
    missing = [c for c in cols if c not in idx.columns]
    if missing:
        raise InputError(f"the indices table lacks column(s) {missing}")
    return idx[cols].rename(columns={ctx.region: "region", ctx.year: "year"})


def _agg():
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _haken_order(ctx):
    h = ctx.results.get("haken")
    order = getattr(h, "order", None)
    if isinstance(order, (tuple, list)) and len(order) == 2:
        return tuple(map(str, order))
    return None


#: Memory kept per weight draw (weights, estimates, verdicts and ranks of a provincial panel, with room).
_SENSITIVITY_BYTES_PER_DRAW = 16_384


class SensitivityStage(Analysis):
    """Weight sensitivity of the Haken chain (optional ``[sensitivity]`` table).

    Reads ``ctx.results["normalized"]`` and ``ctx.results["weights"]``, the
    ``[haken]`` options and the ordering the Haken stage chose; alternative
    weighting methods are recomputed from ``ctx.panel`` with the
    ``[weighting]`` options.  Randomness: the run seed and the stage name.
    """

    name = "sensitivity"
    requires = ("pair",)
    optional = True
    order = 90
    config_keys = SENSITIVITY_CONFIG

    def _config(self, cfg):
        c = {**SENSITIVITY_CONFIG, **{k: v for k, v in (cfg or {}).items() if k != "enabled"}}
        d = c["draws"]
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise _err("sensitivity", "draws", d, "give a whole number >= 1 (default 1000); to leave out the "
                       "weight draws, remove the [sensitivity] table")
        from ..resources import check_memory

        check_memory(d, _SENSITIVITY_BYTES_PER_DRAW, key="[sensitivity] draws")
        from .sensitivity import _concentration

        try:
            _concentration(c["concentration"])
        except InputError:
            raise _err("sensitivity", "concentration", c["concentration"],
                       "give a number > 0 (e.g. 100), or 0 / \"uniform\" for uniform weights") from None
        from ..weighting import METHODS

        m = c["methods"]
        if not isinstance(m, (list, tuple)) or any(x not in METHODS or x == "fixed" for x in m):
            raise _err("sensitivity", "methods", m, "give a list of critic, entropy, equal, critic-entropy")
        if c["backend"] not in BACKENDS:
            raise _err("sensitivity", "backend", c["backend"], f"use one of {', '.join(BACKENDS)}")
        cs = c["chunk_size"]
        if isinstance(cs, bool) or not isinstance(cs, int) or cs < 0:
            raise _err("sensitivity", "chunk_size", cs, "give a whole number (0 = automatic)")
        return c

    def _alternatives(self, ctx, methods, out):
        from ..weighting import compute_weights

        w = dict(ctx.config.get("weighting") or {})
        alt = {}
        for m in methods:
            try:
                res = compute_weights(ctx.panel, ctx.indicators, region=ctx.region, year=ctx.year, method=m,
                                      normalization=w.get("normalization", "pooled"),
                                      critic_conflict=w.get("critic_conflict", "signed"),
                                      critic_cost=w.get("critic_cost", "reverse-first"),
                                      levels=int(w.get("levels", 1)),
                                      zero_variance=w.get("zero_variance", "error"),
                                      shift=w.get("shift") if w.get("_shift_given") else None,
                                      aggregation=w.get("aggregation", "sum"),
                                      topsis_ideal=w.get("topsis_ideal", "pooled"))
            except InputError as exc:
                out.notes.append(f"method {m} left out: {exc.detail if hasattr(exc, 'detail') else exc}")
                continue
            norm = res.normalized.rename(columns={ctx.region: "region", ctx.year: "year"})
            alt[m] = (norm, res.weights)
        return alt

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        from .sensitivity import weight_sensitivity

        c = self._config(cfg)
        out = StageOutput()
        normalized, weights = ctx.results.get("normalized"), ctx.results.get("weights")
        if normalized is None or weights is None:
            out.status = "skipped"
            out.notes.append("weight sensitivity needs indicator weights: the study gives its indices directly "
                             "([data] indices = true), so there is nothing to perturb")
            return out
        if (ctx.config.get("weighting") or {}).get("aggregation", "sum") != "sum":
            out.status = "skipped"
            out.notes.append("weight sensitivity rebuilds the indices as weighted sums of the normalized "
                             "indicators; with [weighting] aggregation = \"topsis\" that would not reproduce the "
                             "run's indices, so it is not run")
            return out
        o = _haken_options(ctx)
        if o["by"] != "none":
            out.notes.append(f"[haken] by = {o['by']!r}: the sensitivity analysis uses pooled fits")
        norm = normalized.rename(columns={ctx.region: "region", ctx.year: "year"})
        alt = self._alternatives(ctx, list(c["methods"]), out) if ctx.panel is not None and \
            ctx.indicators is not None else {}
        seed = np.random.SeedSequence([int(ctx.seed), *[ord(ch) for ch in self.name]])
        t0 = time.perf_counter()
        with backend_from_config(ctx.config, c["backend"]) as be:
            res = weight_sensitivity(
                norm, weights, subsystems=list(ctx.subsystems), draws=int(c["draws"]),
                concentration=c["concentration"], seed=seed, order=o["order"], h_order=_haken_order(ctx),
                alpha=o["alpha"], min_ratio=o["min_ratio"], intercept=o["intercept"], effects=o["effects"],
                se=o["se"], window=o["window"], jackknife=o["jackknife"], coevolution=o["coevolution"],
                correction=o["correction"], bandwidth=o["bandwidth"],
                h_domain=o["h_domain"], grades=o["grades"], alternatives=alt, backend=be,
                chunk_size=int(c["chunk_size"]) or None, progress=ctx.progress)
            backend = repr(be)
        seconds = time.perf_counter() - t0
        regions = res.regions.rename(columns={"region": ctx.region, "year": ctx.year})
        out.tables["sensitivity_summary"] = res.table
        out.tables["sensitivity_regions"] = regions
        out.notes.extend(res.notes)
        facts = res.summary().facts
        hp = res.options["h_pair"]
        info = {"draws": res.options["draws"], "concentration": res.options["concentration_label"],
                "methods": res.options["methods"], "backend": backend, "chunk_size": res.options["chunk_size"],
                "seconds": round(seconds, 3), "h_ordering": hp}
        t = res.table
        if hp:
            v = t[(t["statistic"] == "adiabatic") & (t["source"] == "dirichlet") & (t["q1"] == hp[0])
                  & (t["q2"] == hp[1])]
            info["verdict_share"] = float(v["share"].iloc[0])
            rk = t[(t["kind"] == "rank") & (t["source"] == "dirichlet") & t["year"].isna()]
            for _, r in rk.iterrows():
                info[f"{r['statistic']}_mean"] = None if pd.isna(r["mean"]) else float(r["mean"])
            gc = regions["grade_change_share"]
            info["grade_change_share_mean"] = None if gc.isna().all() else float(gc.mean())
            out.notes.append(f"weight sensitivity ({res.options['draws']} draws, concentration "
                             f"{res.options['concentration_label']}): {hp[0]} passes the order-parameter verdict "
                             f"in {100 * info['verdict_share']:.1f}% of the draws")
        info["facts"] = {k: (v if isinstance(v, (str, int)) else float(v)) for k, v in facts.items()}
        out.info = info
        out.publish = {"sensitivity": res}
        return out


def sensitivity_figure(res, *, ratio_label: str = "|gamma2| / |gamma1| over weight draws",
                       rank_label: str = "Spearman vs baseline ranking of h"):
    """Histogram of the verdict ratio per ordering and boxes of the per-period rank correlations.

    Parameters
    ----------
    res : nqpspatial.robustness.SensitivityResults
        Results with at least one draw.
    ratio_label, rank_label : str
        Axis labels (the report passes them in its language).

    Returns
    -------
    matplotlib.figure.Figure
        The open figure (the caller saves and closes it).
    """
    plt = _agg()
    d = res.draws
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    from ..report.figures import _year_ticks, histogram

    histogram(axes[0], {f"{a} -> {b}": g["ratio"].replace([np.inf, -np.inf], np.nan).dropna()
                        for (a, b), g in d.groupby(["q1", "q2"], sort=False)})
    axes[0].axvline(res.options["min_ratio"], color="grey", ls="--", lw=1)
    axes[0].set_xlabel(ratio_label)
    axes[0].legend(fontsize=7)
    rk = res.rank_draws
    if len(rk):
        years = sorted(rk["year"].unique())
        axes[1].boxplot([rk.loc[rk["year"] == y, "spearman"].dropna() for y in years], showfliers=False)
        _year_ticks(axes[1], list(range(1, len(years) + 1)), years)
        axes[1].set_ylabel(rank_label)
    fig.tight_layout()
    return fig


def _spatial_reading(ctx) -> str:
    """``[spatial_haken] reading`` of the run's config (default "system"): the spatial variants' reading."""
    sh = (ctx.config or {}).get("spatial_haken") or {}
    reading = sh.get("reading", "system") if isinstance(sh, dict) else "system"
    if reading not in ("system", "local"):
        raise _err("spatial_haken", "reading", reading, 'use "system" or "local"')
    return reading


class RobustnessStage(Analysis):
    """Robustness table of the identification verdict (optional ``[robustness]`` table).

    Spatial variants use the weights the spatial stage published (else the
    ``nqpspatial.weights`` plugins) and the ``nqpspatial.models`` plugins.
    """

    name = "robustness"
    requires = ("pair",)
    optional = True
    order = 95
    config_keys = ROBUSTNESS_CONFIG

    def _config(self, cfg):
        c = {**ROBUSTNESS_CONFIG, **{k: v for k, v in (cfg or {}).items() if k != "enabled"}}
        rw = c["rolling_window"]
        if isinstance(rw, bool) or not isinstance(rw, int) or rw < 0 or rw in (1, 2):
            raise _err("robustness", "rolling_window", rw, "give a window length of at least 3 periods, or 0")
        for key in ("zones", "specifications"):
            if not isinstance(c[key], bool):
                raise _err("robustness", key, c[key], "use true or false")
        for key in ("weights", "models"):
            if not isinstance(c[key], (list, tuple)) or not all(isinstance(x, str) for x in c[key]):
                raise _err("robustness", key, c[key], "give a list of names")
        for key in ("spatial_draws", "bootstrap"):
            v = c[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise _err("robustness", key, v, "give a whole number >= 0")
        if c["spatial_draws"] < 2:
            raise _err("robustness", "spatial_draws", c["spatial_draws"], "give a whole number >= 2 (default 200): the spatial "
                       "effects need simulation draws")
        if c["models"]:
            unknown = [m for m in c["models"] if m not in registry.available("models")]
            if unknown:
                raise _err("robustness", "models", c["models"],
                           f"unknown model(s) {unknown}; available: {', '.join(registry.names('models'))}")
        return c

    def _graphs(self, ctx, specs, ids, out):
        published = ctx.results.get("spatial_weights") or {}
        if isinstance(published, dict) and isinstance(published.get("weights"), dict):
            published = published["weights"]
        graphs = {}
        for spec in specs:
            found = None
            for slug, sw in (published.items() if isinstance(published, dict) else []):
                if getattr(sw, "spec", None) == spec or slug == spec:
                    found = sw
                    break
            if found is not None:
                graphs[getattr(found, "slug", spec)] = found.graph
                continue
            if ctx.geometry is None:
                out.notes.append(f"weights {spec!r} skipped: no boundaries and the spatial stage published none")
                continue
            from ..spatial import build_weights

            sp = ctx.config.get("spatial") or {}
            sw = build_weights(spec, ids, geometry=ctx.geometry, panel=ctx.panel, scheme=ctx.scheme,
                               islands=sp.get("islands", "nearest"), transform=sp.get("transform", "r"),
                               region=ctx.region, year=ctx.year, base_dir=ctx.base_dir)
            graphs[sw.slug] = sw.graph
        return graphs

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        from .table import robustness_table

        c = self._config(cfg)
        out = StageOutput()
        o = _haken_options(ctx)
        data = _indices(ctx)
        ids = list(pd.unique(data["region"]))
        graphs = self._graphs(ctx, list(c["weights"]), ids, out) if c["weights"] and c["models"] else {}
        scheme = ctx.scheme if c["zones"] else None
        if c["zones"] and ctx.scheme is None:
            out.notes.append("no region scheme: zone variants skipped")
        order = _haken_order(ctx) or (o["order"] if o["order"] != "auto" else None)
        res = robustness_table(data, list(ctx.subsystems), order=order, intercept=o["intercept"],
                               effects=o["effects"], se=o["se"], alpha=o["alpha"], min_ratio=o["min_ratio"],
                               rolling_window=c["rolling_window"], subperiods=c["subperiods"] or None,
                               scheme=scheme, specifications=c["specifications"], graphs=graphs,
                               models=list(c["models"]), spatial_draws=max(2, c["spatial_draws"]),
                               bootstrap=c["bootstrap"], seed=ctx.rng(self.name), correction=o["correction"],
                               bootstrap_scheme=o["bootstrap_scheme"], bandwidth=o["bandwidth"],
                               spatial_reading=_spatial_reading(ctx))
        out.tables["robustness"] = res.table.rename(columns={"region": ctx.region})
        out.notes.extend(res.notes)
        kinds = list(pd.unique(res.table["kind"]))
        shares = {k: res.verdict_share(k) for k in kinds}
        out.info = {"variants": int(res.table["variant"].nunique()), "order": list(res.order) if res.order else None,
                    "weights": list(graphs), "models": list(c["models"]) if graphs else [],
                    "verdict_share": {k: (None if np.isnan(v) else float(v)) for k, v in shares.items()}}
        if res.order:
            out.notes.append(f"{res.order[0]} passes the verdict in " + ", ".join(
                f"{100 * v:.0f}% of the {k} variants" for k, v in shares.items() if not np.isnan(v)))
        out.publish = {"robustness": res}
        return out


#: Instances registered under the ``nqpspatial.analyses`` entry-point group.
sensitivity_stage = SensitivityStage()
robustness_stage = RobustnessStage()
