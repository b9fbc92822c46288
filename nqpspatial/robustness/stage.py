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
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .. import registry
from ..artifacts import (
    HakenOutcome,
    IndicatorWeights,
    RobustnessOutcome,
    SensitivityOutcome,
    SpatialHakenOutcome,
    SpatialWeightsSet,
)
from ..backends import BACKENDS, backend_from_config
from ..errors import ConfigError, InputError
from ..specs import StageSpec, key
from ..stage import Analysis, StageContext, StageOutput

__all__ = [
    "SensitivityStage",
    "RobustnessStage",
    "sensitivity_stage",
    "robustness_stage",
    "SENSITIVITY_CONFIG",
    "ROBUSTNESS_CONFIG",
    "sensitivity_figure",
]


def _report_sections(self, view) -> list:
    """The robustness section of the report, one function shared by the sensitivity and robustness stages
    (the report builds a shared function once)."""
    from .report import robustness_sections

    return robustness_sections(view)


def _concentration_ok(value, label, where):
    from .sensitivity import _concentration

    try:
        _concentration(value)
    except InputError:
        raise ConfigError(
            f'{label} = {value!r}: give a number > 0 (e.g. 100), or 0 / "uniform" for uniform weights', source=where
        ) from None
    return value


def _methods_ok(value, label, where):
    from ..weighting import METHODS

    if not isinstance(value, list) or any(x not in METHODS or x == "fixed" for x in value):
        raise ConfigError(f"{label} = {value!r}: give a list of critic, entropy, equal, critic-entropy", source=where)
    return value


@dataclass(frozen=True)
class SensitivitySpec(StageSpec):
    """``[sensitivity]``: weight draws around the indicator weights."""

    table = "sensitivity"
    draws: int = key(1000, minimum=1, doc="Dirichlet draws of the indicator weights")
    concentration: Any = key(
        100.0, kind="any", check=_concentration_ok, doc='Dirichlet concentration c (alpha = c w0); 0 or "uniform": flat'
    )
    methods: list = key(
        ["critic", "entropy", "equal", "critic-entropy"], check=_methods_ok, doc="alternative weighting methods"
    )
    backend: str = key("auto", choices=BACKENDS, doc="auto | inprocess | processes | dask")
    chunk_size: int = key(0, minimum=0, doc="draws per chunk; 0 = automatic")

    def check_study(self, facts, where: str = "config") -> None:
        from ..resources import check_memory

        check_memory(self.draws, _SENSITIVITY_BYTES_PER_DRAW, key="[sensitivity] draws")


def _rolling_ok(value, label, where):
    if value in (1, 2):
        raise ConfigError(f"{label} = {value!r}: give a window length of at least 3 periods, or 0", source=where)
    return value


def _model_names(value, label, where):
    known = registry.names("models")
    unknown = [m for m in value if m not in known]
    if unknown:
        raise ConfigError(
            f"{label} = {value!r}: unknown model(s) {unknown}; available: {', '.join(known)}", source=where
        )
    return value


def _weights_list(value, label, where):
    from ..spatial import check_specs

    return check_specs(value, label, where) if value else []


@dataclass(frozen=True)
class RobustnessSpec(StageSpec):
    """``[robustness]``: the identification verdict under variants of the model and the sample."""

    table = "robustness"
    spatial_weights_keys = ("weights",)
    rolling_window: int = key(5, minimum=0, check=_rolling_ok, doc="periods per rolling window (0: none)")
    subperiods: list = key([], doc="[[first, last], ...]; [] = the two halves")
    zones: bool = key(True, doc="one variant per group of the region scheme")
    specifications: bool = key(True, doc="no intercept / intercept / region effects with the analytic correction")
    weights: list = key(["queen"], check=_weights_list, doc="weights of the spatial variants ([] = none)")
    models: list = key(["slx", "sar"], check=_model_names, doc="models plugins of the spatial variants")
    spatial_draws: int = key(200, minimum=2, doc="effect draws per spatial fit")
    bootstrap: int = key(0, minimum=0, doc="cluster-bootstrap resamples per aspatial fit")


def _haken_options(ctx: StageContext) -> dict:
    """The ``[haken]`` options the Haken stage used (its resolved spec; defaults when it did not run)."""
    from ..haken.stage import HakenSpec, haken_options

    h = ctx.get(HakenOutcome)
    spec = h.spec if h is not None and h.spec else (ctx.config.get("haken") or HakenSpec.from_table(None))
    return haken_options(spec)


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
    """The ordering the Haken stage chose (None when none passed the verdict)."""
    h = ctx.get(HakenOutcome)
    return h.order if h is not None else None


#: Memory kept per weight draw (weights, estimates, verdicts and ranks of a provincial panel, with room).
_SENSITIVITY_BYTES_PER_DRAW = 16_384


#: Keys of ``[sensitivity]`` and ``[robustness]`` with their defaults (from the specs).
SENSITIVITY_CONFIG = MappingProxyType(SensitivitySpec.defaults())
ROBUSTNESS_CONFIG = MappingProxyType(RobustnessSpec.defaults())


class SensitivityStage(Analysis):
    """Weight sensitivity of the Haken chain (optional ``[sensitivity]`` table).

    Reads ``ctx.results["normalized"]`` and ``ctx.results["weights"]``, the
    ``[haken]`` options and the ordering the Haken stage chose; alternative
    weighting methods are recomputed from ``ctx.panel`` with the
    ``[weighting]`` options.  Randomness: the run seed and the stage name.
    """

    name = "sensitivity"
    requires = ("pair", "indices")
    consumes = (IndicatorWeights,)
    uses = (HakenOutcome,)
    provides = (SensitivityOutcome,)
    tables = ("sensitivity_summary", "sensitivity_regions")

    report_sections = _report_sections

    optional = True
    order = 90
    spec = SensitivitySpec
    config_keys = SensitivitySpec.defaults()

    def _alternatives(self, ctx, methods, out):
        from ..weighting import compute_weights

        w = dict(ctx.config.get("weighting") or {})
        alt = {}
        for m in methods:
            try:
                res = compute_weights(
                    ctx.panel,
                    ctx.indicators,
                    region=ctx.region,
                    year=ctx.year,
                    method=m,
                    normalization=w.get("normalization", "pooled"),
                    critic_conflict=w.get("critic_conflict", "signed"),
                    critic_cost=w.get("critic_cost", "reverse-first"),
                    levels=int(w.get("levels", 1)),
                    zero_variance=w.get("zero_variance", "error"),
                    shift=w.get("shift"),
                    aggregation=w.get("aggregation", "sum"),
                    topsis_ideal=w.get("topsis_ideal", "pooled"),
                )
            except InputError as exc:
                out.notes.append(f"method {m} left out: {exc.detail if hasattr(exc, 'detail') else exc}")
                continue
            norm = res.normalized.rename(columns={ctx.region: "region", ctx.year: "year"})
            alt[m] = (norm, res.weights)
        return alt

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        from .sensitivity import weight_sensitivity

        c = SensitivitySpec.coerce(cfg, ctx)
        out = StageOutput()
        iw = ctx.get(IndicatorWeights)
        normalized, weights = (iw.normalized, iw.table) if iw is not None else (None, None)
        if normalized is None or weights is None:
            out.status = "skipped"
            out.notes.append(
                "weight sensitivity needs indicator weights: the study gives its indices directly "
                "([data] indices = true), so there is nothing to perturb"
            )
            return out
        if (ctx.config.get("weighting") or {}).get("aggregation", "sum") != "sum":
            out.status = "skipped"
            out.notes.append(
                "weight sensitivity rebuilds the indices as weighted sums of the normalized "
                'indicators; with [weighting] aggregation = "topsis" that would not reproduce the '
                "run's indices, so it is not run"
            )
            return out
        o = _haken_options(ctx)
        if o["by"] != "none":
            out.notes.append(f"[haken] by = {o['by']!r}: the sensitivity analysis uses pooled fits")
        norm = normalized.rename(columns={ctx.region: "region", ctx.year: "year"})
        alt = (
            self._alternatives(ctx, list(c["methods"]), out)
            if ctx.panel is not None and ctx.indicators is not None
            else {}
        )
        seed = np.random.SeedSequence([int(ctx.seed), *[ord(ch) for ch in self.name]])
        t0 = time.perf_counter()
        with backend_from_config(ctx.config, c["backend"]) as be:
            res = weight_sensitivity(
                norm,
                weights,
                subsystems=list(ctx.subsystems),
                draws=int(c["draws"]),
                concentration=c["concentration"],
                seed=seed,
                order=o["order"],
                h_order=_haken_order(ctx),
                alpha=o["alpha"],
                min_ratio=o["min_ratio"],
                intercept=o["intercept"],
                effects=o["effects"],
                se=o["se"],
                window=o["window"],
                jackknife=o["jackknife"],
                coevolution=o["coevolution"],
                correction=o["correction"],
                bandwidth=o["bandwidth"],
                h_domain=o["h_domain"],
                grades=o["grades"],
                alternatives=alt,
                backend=be,
                chunk_size=int(c["chunk_size"]) or None,
                progress=ctx.progress,
            )
            backend = repr(be)
        seconds = time.perf_counter() - t0
        regions = res.regions.rename(columns={"region": ctx.region, "year": ctx.year})
        out.tables["sensitivity_summary"] = res.table
        out.tables["sensitivity_regions"] = regions
        out.notes.extend(res.notes)
        facts = res.summary().facts
        hp = res.options["h_pair"]
        info = {
            "draws": res.options["draws"],
            "concentration": res.options["concentration_label"],
            "methods": res.options["methods"],
            "backend": backend,
            "chunk_size": res.options["chunk_size"],
            "seconds": round(seconds, 3),
            "h_ordering": hp,
        }
        t = res.table
        if hp:
            v = t[
                (t["statistic"] == "adiabatic") & (t["source"] == "dirichlet") & (t["q1"] == hp[0]) & (t["q2"] == hp[1])
            ]
            info["verdict_share"] = float(v["share"].iloc[0])
            rk = t[(t["kind"] == "rank") & (t["source"] == "dirichlet") & t["year"].isna()]
            for _, r in rk.iterrows():
                info[f"{r['statistic']}_mean"] = None if pd.isna(r["mean"]) else float(r["mean"])
            gc = regions["grade_change_share"]
            info["grade_change_share_mean"] = None if gc.isna().all() else float(gc.mean())
            out.notes.append(
                f"weight sensitivity ({res.options['draws']} draws, concentration "
                f"{res.options['concentration_label']}): {hp[0]} passes the order-parameter verdict "
                f"in {100 * info['verdict_share']:.1f}% of the draws"
            )
        info["facts"] = {k: (v if isinstance(v, (str, int)) else float(v)) for k, v in facts.items()}
        out.info = info
        out.artifacts.append(SensitivityOutcome(results=res))
        return out


def sensitivity_figure(
    res,
    *,
    ratio_label: str = "|gamma2| / |gamma1| over weight draws",
    rank_label: str = "Spearman vs baseline ranking of h",
):
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

    histogram(
        axes[0],
        {
            f"{a} -> {b}": g["ratio"].replace([np.inf, -np.inf], np.nan).dropna()
            for (a, b), g in d.groupby(["q1", "q2"], sort=False)
        },
    )
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
    """The spatial variants' reading: the spatial Haken stage's (``[spatial_haken] reading``), else "system"."""
    sh = ctx.get(SpatialHakenOutcome)
    return sh.reading if sh is not None else "system"


class RobustnessStage(Analysis):
    """Robustness table of the identification verdict (optional ``[robustness]`` table).

    Spatial variants use the weights the spatial stage published (else the
    ``nqpspatial.weights`` plugins) and the ``nqpspatial.models`` plugins.
    """

    name = "robustness"
    requires = ("pair", "indices")
    uses = (HakenOutcome, SpatialWeightsSet, SpatialHakenOutcome)
    provides = (RobustnessOutcome,)
    tables = ("robustness",)

    report_sections = _report_sections

    optional = True
    order = 95
    spec = RobustnessSpec
    config_keys = RobustnessSpec.defaults()

    def _graphs(self, ctx, specs, ids, out):
        """The core's weights of the requested specifications (built once, before the stages)."""
        ws = ctx.spatial_weights(specs)
        graphs = {}
        for spec in specs:
            sw = ws.get(spec) if ws is not None else None
            if sw is None:
                out.notes.append(f"weights {spec!r} skipped: not built (no boundaries)")
                continue
            graphs[sw.slug] = sw.graph
        return graphs

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:
        from .table import robustness_table

        c = RobustnessSpec.coerce(cfg, ctx)
        out = StageOutput()
        o = _haken_options(ctx)
        data = _indices(ctx)
        ids = list(pd.unique(data["region"]))
        graphs = self._graphs(ctx, list(c["weights"]), ids, out) if c["weights"] and c["models"] else {}
        scheme = ctx.scheme if c["zones"] else None
        if c["zones"] and ctx.scheme is None:
            out.notes.append("no region scheme: zone variants skipped")
        order = _haken_order(ctx) or (o["order"] if o["order"] != "auto" else None)
        res = robustness_table(
            data,
            list(ctx.subsystems),
            order=order,
            intercept=o["intercept"],
            effects=o["effects"],
            se=o["se"],
            alpha=o["alpha"],
            min_ratio=o["min_ratio"],
            rolling_window=c["rolling_window"],
            subperiods=c["subperiods"] or None,
            scheme=scheme,
            specifications=c["specifications"],
            graphs=graphs,
            models=list(c["models"]),
            spatial_draws=max(2, c["spatial_draws"]),
            bootstrap=c["bootstrap"],
            seed=ctx.rng(self.name),
            correction=o["correction"],
            bootstrap_scheme=o["bootstrap_scheme"],
            bandwidth=o["bandwidth"],
            spatial_reading=_spatial_reading(ctx),
        )
        out.tables["robustness"] = res.table.rename(columns={"region": ctx.region})
        out.notes.extend(res.notes)
        kinds = list(pd.unique(res.table["kind"]))
        shares = {k: res.verdict_share(k) for k in kinds}
        out.info = {
            "variants": int(res.table["variant"].nunique()),
            "order": list(res.order) if res.order else None,
            "weights": list(graphs),
            "models": list(c["models"]) if graphs else [],
            "verdict_share": {k: (None if np.isnan(v) else float(v)) for k, v in shares.items()},
        }
        if res.order:
            out.notes.append(
                f"{res.order[0]} passes the verdict in "
                + ", ".join(f"{100 * v:.0f}% of the {k} variants" for k, v in shares.items() if not np.isnan(v))
            )
        out.artifacts.append(RobustnessOutcome(results=res))
        return out


#: Instances registered under the ``nqpspatial.analyses`` entry-point group.
sensitivity_stage = SensitivityStage()
robustness_stage = RobustnessStage()
