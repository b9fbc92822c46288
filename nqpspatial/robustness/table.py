"""Robustness table: the identification verdict across samples, specifications and weights matrices.

Each *variant* re-runs the order-parameter identification
(:func:`nqpspatial.haken.identify`, every ordering) on a different sample or
specification; spatial variants fit the spatial Haken models of the
``nqpspatial.models`` plugin kind (looked up through the registry) under
each weights matrix.  One row per variant and ordering.

Kinds of variant
----------------
``baseline``       the ``[haken]`` specification on all years and regions;
``subperiod``      the same on each sub-period (default: the two halves of the years);
``rolling``        the same on every rolling window of ``rolling_window`` years;
``zone``           the same on the regions of each group of the region scheme;
``specification``  no intercept, a common intercept, region fixed effects with the
                   analytic bias correction (Hahn & Kuersteiner 2011; docs/inference.md);
``spatial``        each spatial model (e.g. SLX, SAR) under each weights matrix.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

from .. import registry
from ..errors import InputError, ModelError
from ..results import Results, Summary

__all__ = ["robustness_table", "RobustnessResults", "ROBUSTNESS_COLUMNS", "plot_robustness", "variant_windows"]

#: Leading columns of ``robustness.csv``.
ROBUSTNESS_COLUMNS = [
    "variant",
    "kind",
    "q1",
    "q2",
    "gamma1",
    "a",
    "gamma2",
    "b",
    "ratio",
    "adiabatic",
    "n_obs",
    "p_gamma2",
    "chosen",
    "first_year",
    "last_year",
    "regions",
    "detail",
    "note",
]


class RobustnessResults(Results):
    """Rows of ``robustness.csv`` (immutable).

    Attributes
    ----------
    table : pandas.DataFrame
        Columns :data:`ROBUSTNESS_COLUMNS` (plus ``se``, ``model``, ``weights``
        where they apply).
    order : tuple of str or None
        The baseline ordering (``(q1, q2)``) the figure follows.
    notes : tuple of str
    """

    def __init__(self, table, order, notes):
        self._set("table", table)
        self._set("order", tuple(order) if order else None)
        self._set("notes", tuple(notes))
        self._freeze()

    def verdict_share(self, kind: str | None = None) -> float:
        """Share of variants (of one kind) in which the baseline ordering passes the verdict."""
        t = self.table
        if self.order is None:
            return float("nan")
        m = (t["q1"] == self.order[0]) & (t["q2"] == self.order[1]) & t["gamma2"].notna()
        if kind is not None:
            m &= t["kind"] == kind
        sub = t[m]
        return float(sub["adiabatic"].astype(bool).mean()) if len(sub) else float("nan")

    def summary(self) -> Summary:
        """Verdict share by kind of variant and the table of the baseline ordering."""
        t = self.table
        facts = {
            "variants": int(t["variant"].nunique()),
            "baseline ordering": " -> ".join(self.order) if self.order else "none",
        }
        for k in pd.unique(t["kind"]):
            facts[f"verdict share ({k})"] = self.verdict_share(k)
        if self.order:
            sub = t[(t["q1"] == self.order[0]) & (t["q2"] == self.order[1])]
        else:
            sub = t
        return Summary(
            "Robustness of the order-parameter verdict",
            facts,
            {"variants": sub[["variant", "kind", "gamma1", "a", "gamma2", "b", "ratio", "adiabatic", "n_obs"]]},
            self.notes,
        )


def variant_windows(years, rolling_window: int = 5, subperiods=None):
    """Sub-period and rolling windows of a list of years.

    Parameters
    ----------
    years : sequence of int
    rolling_window : int
        Length (in periods) of the rolling windows (0: none; at least 3).
    subperiods : list of [first, last], optional
        Explicit sub-periods; default the two halves (``ceil(T/2)`` periods
        each, sharing the middle year when ``T`` is odd).

    Returns
    -------
    (subperiods, rolling) : two lists of (first, last)
    """
    ys = sorted({int(y) for y in years})
    T = len(ys)
    if subperiods:
        subs = []
        for w in subperiods:
            if not (isinstance(w, (list, tuple)) and len(w) == 2) or int(w[0]) >= int(w[1]):
                raise InputError(f"subperiods: {w!r} is not [first_year, last_year]", source="config [robustness]")
            subs.append((int(w[0]), int(w[1])))
    else:
        h = -(-T // 2)
        subs = [(ys[0], ys[h - 1]), (ys[T - h], ys[-1])] if h >= 3 else []
    roll = []
    L = int(rolling_window or 0)
    if L:
        if L < 3:
            raise InputError(
                f"rolling_window = {L}: the Haken model needs windows of at least 3 periods",
                source="config [robustness]",
            )
        roll = [(ys[i], ys[i + L - 1]) for i in range(0, T - L + 1)] if L < T else []
    return subs, roll


def _aspatial_rows(
    data,
    subsystems,
    variant,
    kind,
    detail,
    *,
    window=None,
    intercept=False,
    effects="none",
    se="classical",
    jackknife=False,
    alpha=0.05,
    min_ratio=1.0,
    bootstrap=0,
    seed=None,
    correction="none",
    bootstrap_scheme="wild-year",
    bandwidth=None,
):
    """Identification rows of one variant (every ordering).

    Without bootstrap, with no or region effects and no analytic correction the fits use the batched
    estimator of :mod:`nqpspatial.robustness._chain` (equal to :class:`~nqpspatial.haken.HakenModel`,
    tested); otherwise :func:`~nqpspatial.haken.identify` runs.  Both absorb the fixed effects by the
    within transformation (no dummy columns), so every variant costs time and memory linear in the rows.
    """
    base = {"variant": variant, "kind": kind, "detail": detail}
    correction = "jackknife" if jackknife else correction
    if bootstrap or effects not in ("none", "region") or correction == "analytic":
        # the batched chain covers effects none/region without the analytic correction; HakenModel the rest
        return _identify_rows(
            data,
            subsystems,
            base,
            window=window,
            intercept=intercept,
            effects=effects,
            se=se,
            correction=correction,
            alpha=alpha,
            min_ratio=min_ratio,
            bootstrap=bootstrap,
            seed=seed,
            bootstrap_scheme=bootstrap_scheme,
            bandwidth=bandwidth,
        )
    from ..haken.results import adiabatic_verdict
    from . import _chain

    try:
        lay = _chain.PanelLayout(data["region"].to_numpy(), data["year"].to_numpy(), window)
        k = 2 + int(intercept) + (lay.n_regions if effects == "region" else 0)
        if lay.n_tr <= k:
            raise InputError(f"{lay.n_tr} transitions are too few for {k} coefficients per equation")
        if jackknife and lay.n_transition_years < 4:
            raise InputError("the split-panel jackknife needs at least 4 transition years (5 periods)")
        if se == "cluster" and lay.n_regions < 2:
            raise InputError("se='cluster' needs at least two regions")
        vals = {s: pd.to_numeric(data[s]).to_numpy(float)[lay.rows][None, :] for s in subsystems}
    except InputError as exc:
        return [{**base, "note": f"not estimable: {exc.detail if hasattr(exc, 'detail') else exc}"}]
    opts = {
        "alpha": alpha,
        "min_ratio": min_ratio,
        "intercept": intercept,
        "effects": effects,
        "se": se,
        "jackknife": correction == "jackknife",
        "bandwidth": bandwidth,
    }
    rows = []
    for q1, q2 in _chain.orderings(subsystems):
        f = _chain.fit_ordering(vals[q1], vals[q2], lay, opts)
        g1, a, g2, b, p = (float(f[t][0]) for t in ("gamma1", "a", "gamma2", "b", "p_gamma2"))
        ratio, ok, reason = adiabatic_verdict(g1, g2, p, alpha=alpha, min_ratio=min_ratio)
        rows.append(
            {
                **base,
                "q1": q1,
                "q2": q2,
                "gamma1": g1,
                "a": a,
                "gamma2": g2,
                "b": b,
                "ratio": ratio,
                "adiabatic": bool(ok),
                "n_obs": int(lay.n_tr),
                "p_gamma2": p,
                "first_year": int(lay.years.min()),
                "last_year": int(lay.years.max()),
                "regions": int(lay.n_regions),
                "note": reason,
                "se": se,
                "model": "ols",
                "weights": "",
            }
        )
    passing = [r for r in rows if r["adiabatic"]]
    best = max(passing, key=lambda r: r["ratio"]) if passing else None
    for r in rows:
        r["chosen"] = r is best
    return rows


def _identify_rows(
    data,
    subsystems,
    base,
    *,
    window,
    intercept,
    effects,
    se,
    correction,
    alpha,
    min_ratio,
    bootstrap,
    seed,
    bootstrap_scheme="wild-year",
    bandwidth=None,
):
    from ..haken import identify
    from ..haken.model import ShortPanelWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortPanelWarning)  # the baseline run warned already
            ident = identify(
                data,
                subsystems,
                order="auto",
                intercept=intercept,
                effects=effects,
                se=se,
                window=window,
                bootstrap=bootstrap,
                seed=seed,
                alpha=alpha,
                min_ratio=min_ratio,
                correction=correction,
                bootstrap_scheme=bootstrap_scheme,
                bandwidth=bandwidth,
            )
    except (InputError, ModelError) as exc:
        return [{**base, "note": f"not estimable: {exc}"}]
    rows = []
    for _, r in ident.table.iterrows():
        fit = ident.results(r["q1"], r["q2"])
        rows.append(
            {
                **base,
                "q1": r["q1"],
                "q2": r["q2"],
                "gamma1": r["gamma1"],
                "a": r["a"],
                "gamma2": r["gamma2"],
                "b": r["b"],
                "ratio": r["ratio"],
                "adiabatic": bool(r["adiabatic"]),
                "n_obs": int(r["n_obs"]),
                "p_gamma2": r["p_gamma2"],
                "chosen": bool(r["chosen"]),
                "first_year": fit.years[0],
                "last_year": fit.years[1],
                "regions": fit.n_regions,
                "note": r["reason"],
                "se": se,
                "model": "ols",
                "weights": "",
                "verdict_share": r["verdict_share"],
            }
        )
    return rows


def _spatial_rows(
    data, orderings, graph, wname, model_name, *, region, year, alpha, min_ratio, draws, seed, reading="system"
):
    base = {
        "variant": f"{model_name} ({wname})",
        "kind": "spatial",
        "detail": f"model={model_name}; weights={wname}",
        "model": model_name,
        "weights": wname,
    }
    try:
        plugin = registry.get("models", model_name)
    except InputError as exc:
        return [{**base, "note": f"not available: {exc}"}]
    kw = {"reading": reading} if registry.accepts_keyword(plugin.fit, "reading") else {}
    if kw:
        base["reading"] = reading
    rows = []
    for q1, q2 in orderings:
        try:
            res = plugin.fit(
                data,
                q1,
                q2,
                graph,
                region=region,
                year=year,
                seed=seed,
                draws=draws,
                weights_name=wname,
                alpha=alpha,
                min_ratio=min_ratio,
                **kw,
            )
        except (InputError, ModelError) as exc:
            rows.append({**base, "q1": q1, "q2": q2, "note": f"not estimable: {exc}"})
            continue
        ident = res.identification
        if kw and "reading" in ident.columns:  # the row of the chosen reading
            ident = ident[ident["reading"] == reading]
        r = ident.iloc[0]
        yrs = pd.to_numeric(data[year])
        rows.append(
            {
                **base,
                "q1": q1,
                "q2": q2,
                "gamma1": r["gamma1"],
                "a": r["a"],
                "gamma2": r["gamma2"],
                "b": r["b"],
                "ratio": r["ratio"],
                "adiabatic": bool(r["adiabatic"]),
                "n_obs": int(r["n_obs"]),
                "p_gamma2": r["p_gamma2"],
                "first_year": int(yrs.min()),
                "last_year": int(yrs.max()),
                "regions": int(data[region].nunique()),
                "note": r["reason"],
                "se": "ml",
            }
        )
    ok = [r for r in rows if pd.notna(r.get("gamma2")) and r["adiabatic"]]
    for r in rows:
        r["chosen"] = bool(ok) and r is max(ok, key=lambda x: x["ratio"])
    return rows


def robustness_table(
    indices: pd.DataFrame,
    subsystems,
    *,
    region: str = "region",
    year: str = "year",
    order=None,
    intercept: bool = False,
    effects: str = "none",
    se: str = "classical",
    alpha: float = 0.05,
    min_ratio: float = 1.0,
    rolling_window: int = 5,
    subperiods=None,
    scheme=None,
    specifications: bool = True,
    graphs=None,
    models=("slx", "sar"),
    spatial_draws: int = 200,
    bootstrap: int = 0,
    seed=0,
    correction: str = "none",
    bootstrap_scheme: str = "wild-year",
    bandwidth=None,
    spatial_reading: str = "system",
) -> RobustnessResults:
    """Identification verdict and key estimates across samples, specifications and weights.

    Parameters
    ----------
    indices : pandas.DataFrame
        ``region, year`` and one column per subsystem.
    subsystems : sequence of str
    region, year : str
    order : (str, str), optional
        The baseline ordering followed by the figure (default: the
        ordering chosen on the baseline variant).
    intercept, effects, se, alpha, min_ratio, correction, bootstrap_scheme, bandwidth
        The baseline specification (as ``[haken]``).
    rolling_window : int
        Rolling-window length in periods (0: none).
    subperiods : list of [first, last], optional
        Default: the two halves of the years.
    scheme : pandas.Series, optional
        Region -> group; one variant per group.
    specifications : bool
        Add the no-intercept, intercept and region-effects variants; the
        region-effects variant uses the analytic bias correction
        (:data:`~nqpspatial.haken.model.ANALYTIC_TRIM` lags), which removed
        more of the fixed-effects bias than the split-panel jackknife in the
        study of docs/inference.md, and names it.
    graphs : dict of str to libpysal.graph.Graph, optional
        Weights matrices for the spatial variants.
    models : sequence of str
        ``nqpspatial.models`` plugin names (e.g. "slx", "sar").
    spatial_draws : int
        Effect draws of each spatial fit (intervals only; the verdict uses
        the parameters of ``spatial_reading``).
    bootstrap : int
        Cluster-bootstrap resamples of every aspatial fit (0: none).
    seed : int or Generator
    spatial_reading : {"system", "local"}
        The reading of the spatial fits (``[spatial_haken] reading``):
        total effects (system, default) or direct effects (local); a
        ``reading`` column names it.

    Returns
    -------
    RobustnessResults
    """
    subs = [str(s) for s in subsystems]
    data = indices[[region, year, *subs]].rename(columns={region: "region", year: "year"})
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    common = dict(
        alpha=alpha, min_ratio=min_ratio, bootstrap=bootstrap, bootstrap_scheme=bootstrap_scheme, bandwidth=bandwidth
    )
    spec = dict(intercept=intercept, effects=effects, correction=correction)
    rows = _aspatial_rows(
        data, subs, "baseline", "baseline", "the [haken] specification, all years", se=se, seed=rng, **spec, **common
    )
    notes = []
    wins, roll = variant_windows(data["year"], rolling_window, subperiods)
    for a, b in wins:
        rows += _aspatial_rows(
            data,
            subs,
            f"years {a}-{b}",
            "subperiod",
            f"window=[{a}, {b}]",
            window=(a, b),
            se=se,
            seed=rng,
            **spec,
            **common,
        )
    for a, b in roll:
        rows += _aspatial_rows(
            data,
            subs,
            f"rolling {a}-{b}",
            "rolling",
            f"window=[{a}, {b}]",
            window=(a, b),
            se=se,
            seed=rng,
            **spec,
            **common,
        )
    if scheme is not None:
        groups = pd.Series(scheme)
        lab = data["region"].map(groups)
        missing = data.loc[lab.isna(), "region"].unique()
        if len(missing):
            notes.append(f"regions without a group left out of the zone variants: {list(missing)[:10]}")
        for g in sorted(lab.dropna().unique(), key=str):
            sub = data[lab == g]
            zse = se if se not in ("cluster", "twoway") or sub["region"].nunique() > 1 else "classical"
            rows += _aspatial_rows(
                sub,
                subs,
                f"zone {g}",
                "zone",
                f"group={g}; {sub['region'].nunique()} regions",
                se=zse,
                seed=rng,
                **spec,
                **common,
            )
    if specifications:
        rows += _aspatial_rows(
            data, subs, "no intercept", "specification", "intercept=false, effects=none", se=se, seed=rng, **common
        )
        rows += _aspatial_rows(
            data, subs, "intercept", "specification", "intercept=true", intercept=True, se=se, seed=rng, **common
        )
        from ..haken.model import ANALYTIC_TRIM

        rows += _aspatial_rows(
            data,
            subs,
            "region effects, analytic bias correction",
            "specification",
            "effects=region, analytic bias correction for predetermined regressors (Hahn & "
            f"Kuersteiner 2011, {ANALYTIC_TRIM} lags)",
            effects="region",
            correction="analytic",
            se=se,
            seed=rng,
            **common,
        )
    base_rows = [r for r in rows if r["kind"] == "baseline" and r.get("chosen")]
    if order is None and base_rows:
        order = (base_rows[0]["q1"], base_rows[0]["q2"])
    if graphs:
        orderings = [tuple(order)] if order else [(a, b) for a in subs for b in subs if a != b]
        for wname, g in graphs.items():
            for m in models:
                rows += _spatial_rows(
                    data,
                    orderings,
                    g,
                    wname,
                    m,
                    region="region",
                    year="year",
                    alpha=alpha,
                    min_ratio=min_ratio,
                    draws=spatial_draws,
                    seed=rng,
                    reading=spatial_reading,
                )
    table = pd.DataFrame(rows)
    for c in ROBUSTNESS_COLUMNS + ["se", "model", "weights"]:
        if c not in table.columns:
            table[c] = np.nan
    for c in ("n_obs", "first_year", "last_year", "regions"):
        table[c] = pd.array(pd.to_numeric(table[c]).round(), dtype="Int64")
    for c in ("adiabatic", "chosen"):
        table[c] = pd.array([None if pd.isna(v) else bool(v) for v in table[c]], dtype="boolean")
    table = table[ROBUSTNESS_COLUMNS + [c for c in table.columns if c not in ROBUSTNESS_COLUMNS]]
    return RobustnessResults(table.reset_index(drop=True), order, notes)


def plot_robustness(
    results: RobustnessResults,
    path=None,
    *,
    min_ratio: float = 1.0,
    xlabel: str = "|gamma2| / |gamma1|  (filled: adiabatic verdict holds)",
    title: str | None = None,
):
    """Dot plot of |gamma2|/|gamma1| per variant for the baseline ordering (filled: verdict holds).

    Parameters
    ----------
    results : RobustnessResults
    path : str or pathlib.Path, optional
        File to write (format from its suffix); None returns the open figure.
    min_ratio : float
        Threshold line of the verdict.
    xlabel : str
        Axis label.
    title : str, optional
        Default "Robustness of the verdict: q1 -> q2".

    Returns
    -------
    pathlib.Path or str or matplotlib.figure.Figure
        ``path``, or the open figure when ``path`` is None (the caller saves and closes it).
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = results.table
    if results.order:
        t = t[(t["q1"] == results.order[0]) & (t["q2"] == results.order[1])]
    t = t[t["ratio"].notna()].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.28 * max(len(t), 4) + 1.2))
    kinds = list(pd.unique(t["kind"]))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    y = np.arange(len(t))[::-1]
    for i, k in enumerate(kinds):
        m = (t["kind"] == k).to_numpy()
        ok = t["adiabatic"].fillna(False).astype(bool).to_numpy()
        c = colors[i % len(colors)]
        ax.scatter(t["ratio"][m & ok], y[m & ok], color=c, label=k, zorder=3)
        ax.scatter(t["ratio"][m & ~ok], y[m & ~ok], facecolors="none", edgecolors=c, zorder=3)
    ax.axvline(min_ratio, color="grey", ls="--", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(t["variant"], fontsize=7)
    ax.set_xlabel(xlabel)
    if results.order:
        ax.set_title(title or f"Robustness of the verdict: {results.order[0]} -> {results.order[1]}", fontsize=9)
    if (t["ratio"] > 0).all() and len(t) and t["ratio"].max() / max(t["ratio"].min(), 1e-12) > 20:
        ax.set_xscale("log")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
