"""Markov chains of regional classes: classical, spatial (Rey 2001) and LISA Markov.

States are *pooled* classes, *relative* classes, or both (``class_mode``):

* pooled: quantile classes whose bounds are computed once from all
  region-years (as :class:`giddy.markov.Spatial_Markov` does with
  ``fixed=True``), or given discrete classes such as the Haken co-evolution
  grades.  A class means the same level in every period, so on a trending
  series the classes follow calendar time (every region starts low and ends
  high) and the chain mostly records the trend;
* relative: quantile classes computed anew in each period (giddy's
  ``fixed=False``), so a class is a position in that period's distribution
  (the lowest fifth, ...) and the chain records moves up and down the
  ranking.

A variable is *trending* when the Mann-Kendall test (Kendall's tau between
the period and the cross-sectional mean) rejects "no monotone trend" at the
5 % level; pooled classes of a trending variable get a note.

Everything is computed by nqpspatial (:mod:`._chains`, vectorised NumPy)
with the formulas of PySAL's ``giddy`` 2.3, and checked against giddy to the
last bit (``tests/test_zones_chains.py``; giddy is a test dependency only):

* classical chain: as :class:`giddy.markov.Markov`;
* spatial Markov: as :class:`giddy.markov.Spatial_Markov` (transitions
  conditioned on the class of the spatial lag, with the Bickenbach & Bode
  ``Q`` and ``LR`` homogeneity tests and Rey's per-lag chi-square tests);
* LISA Markov: as :class:`giddy.markov.LISA_Markov` (transitions between the
  local Moran quadrants 1 HH, 2 LH, 3 LL, 4 HL).  giddy's accompanying
  chi-square test of independence of own and neighbours' moves is not
  reported: in giddy 2.3 it builds its chains on the transposed array, so it
  changes with the order of the regions.

Reference: Rey, S. J. (2001). Spatial empirics for economic growth and
convergence. *Geographical Analysis* 33(3): 195-214.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._chains import lisa_quadrants, quantile_classes, spatial_markov, transition_counts, warn_ties
from ._common import SOURCE, check_data, seed_from, wide

__all__ = [
    "markov_chains",
    "MarkovResults",
    "row_standardized_w",
    "mean_trend",
    "relative_labels",
    "QUADRANTS",
    "CLASS_MODES",
]

QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
CLASS_MODES = ("pooled", "relative", "both")
TREND_ALPHA = 0.05


def row_standardized_w(graph, ids):
    """A row-standardized libpysal ``W`` with ``id_order = ids`` from a Graph.

    Parameters
    ----------
    graph : libpysal.graph.Graph
        Spatial graph over exactly the regions ``ids``.
    ids : sequence
        Region ids in the row order of the data.

    Returns
    -------
    libpysal.weights.W

    Raises
    ------
    InputError
        The graph's ids differ from ``ids`` or a region has no neighbour.
    """
    from libpysal.weights import W

    ids = list(ids)
    if sorted(map(str, graph.unique_ids)) != sorted(map(str, ids)):
        raise InputError("the spatial graph's region ids differ from the data's", source=SOURCE)
    adj = graph.adjacency
    adj = adj[adj > 0]
    neighbors = {r: [] for r in ids}
    weights = {r: [] for r in ids}
    for (f, nb), v in adj.items():
        neighbors[f].append(nb)
        weights[f].append(float(v))
    lonely = [r for r in ids if not neighbors[r]]
    if lonely:
        raise InputError(
            f"region(s) {lonely[:10]} have no neighbour; link islands first "
            "(e.g. zones.contiguity_graph links them to their nearest region)",
            source=SOURCE,
        )
    w = W(neighbors, weights, id_order=ids, silence_warnings=True)
    w.transform = "r"
    return w


def _transition_rows(T: np.ndarray, labels: list, **extra) -> list[dict]:
    rows = []
    row_sum = T.sum(axis=1)
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            p = T[i, j] / row_sum[i] if row_sum[i] > 0 else np.nan
            rows.append(
                {
                    **extra,
                    "from": i,
                    "to": j,
                    "from_label": labels[i],
                    "to_label": labels[j],
                    "count": int(T[i, j]),
                    "probability": p,
                }
            )
    return rows


def _bounds_labels(cutoffs, lo, hi) -> list[str]:
    edges = [lo, *list(cutoffs), hi]
    labels = []
    for i in range(len(edges) - 1):
        left = "[" if i == 0 else "("
        labels.append(f"{left}{edges[i]:.6g}, {edges[i + 1]:.6g}]")
    return labels


class MarkovResults(Results):
    """Markov transition tables (immutable).

    Attributes
    ----------
    transitions : pandas.DataFrame
        ``markov_transitions.csv``: ``variable, kind, classes, from, to,
        from_label, to_label, count, probability`` with ``kind``
        ``"classic"`` (classes 0..k-1, lowest first) or ``"lisa"``
        (quadrants 1..4) and ``classes`` ``"pooled"`` or ``"relative"``
        (empty for ``lisa``: the quadrants are the same either way).
    spatial : pandas.DataFrame or None
        ``spatial_markov.csv``: ``variable, classes, row_type, lag_class,
        lag_label, from, to, from_label, to_label, count, probability, test,
        statistic, dof, p_value``.  ``row_type = "transition"`` rows give the
        transitions conditioned on the lag class; ``row_type = "test"`` rows
        give ``Q`` and ``LR`` (Bickenbach-Bode homogeneity), ``chi2`` per lag
        class and ``chi2_total`` (Rey's tests against the pooled matrix).
        None without a graph.
    classes : pandas.DataFrame
        ``markov_classes.csv``: ``variable, classes, year, class, label,
        lower, upper`` of the states; ``year`` is empty for pooled classes
        and gives the period of each set of relative bounds.
    trend : pandas.DataFrame
        ``variable, tau, p_value, trending, first_year, last_year,
        mean_class_first, mean_class_last``: the Mann-Kendall test of the
        cross-sectional mean and the mean pooled class in the first and last
        period, one row per variable with pooled classes.
    notes : tuple of str
    """

    def __init__(self, transitions, spatial, classes, notes, trend=None):
        self.transitions = transitions
        self.spatial = spatial
        self.classes = classes
        self.trend = trend if trend is not None else pd.DataFrame(columns=_TREND_COLUMNS)
        self.notes = tuple(notes)
        self._freeze()

    def summary(self) -> Summary:
        """Classic transition probabilities and the homogeneity tests."""
        tables = {}
        cl = self.transitions.query("kind == 'classic'")
        for (v, mode), sub in cl.groupby(["variable", "classes"], sort=False):
            lab = dict(zip(sub["from"], sub["from_label"]))
            tab = sub.pivot(index="from", columns="to", values="probability").rename(index=lab, columns=lab)
            tables[f"{v}: classic transition probabilities ({mode} classes)"] = tab.rename_axis(
                index="from", columns=None
            ).reset_index()
        if self.spatial is not None:
            tests = self.spatial.query("row_type == 'test'")[
                ["variable", "classes", "test", "lag_class", "statistic", "dof", "p_value"]
            ]
            tables["homogeneity tests"] = tests
        return Summary(title="Markov transitions", tables=tables, notes=self.notes)


_TREND_COLUMNS = [
    "variable",
    "tau",
    "p_value",
    "trending",
    "first_year",
    "last_year",
    "mean_class_first",
    "mean_class_last",
]


def mean_trend(Y: pd.DataFrame, alpha: float = TREND_ALPHA) -> dict:
    """Mann-Kendall test of a monotone trend in the cross-sectional mean.

    Parameters
    ----------
    Y : pandas.DataFrame
        Region x period matrix (columns sorted by period).
    alpha : float, default 0.05
        Level of the two-sided test.

    Returns
    -------
    dict
        ``tau`` (Kendall's tau between the period's position and the mean),
        ``p_value`` (:func:`scipy.stats.kendalltau`: exact for short series
        without ties, else the normal approximation) and ``trending``
        (``p_value < alpha``; False when the test is undefined: a constant
        mean or fewer than three periods).

    References
    ----------
    Mann, H. B. (1945). Nonparametric tests against trend. *Econometrica*
    13(3): 245-259.  Kendall, M. G. (1975). *Rank Correlation Methods*,
    4th ed. London: Griffin.
    """
    from scipy.stats import kendalltau

    mean = Y.to_numpy(dtype=float).mean(axis=0)
    if mean.size < 3 or np.ptp(mean) == 0:
        return {"tau": np.nan, "p_value": np.nan, "trending": False}
    res = kendalltau(np.arange(mean.size), mean)
    tau, p = float(res.statistic), float(res.pvalue)
    return {"tau": tau, "p_value": p, "trending": bool(np.isfinite(p) and p < alpha)}


def relative_labels(k: int) -> list[str]:
    """Labels of ``k`` per-period quantile classes: ``"0-20 %"``, ``"20-40 %"``, ..."""
    return [f"{100 * i / k:.4g}-{100 * (i + 1) / k:.4g} %" for i in range(k)]


def _pooled_states(Y, v, classes, C=None):
    """(n x t) pooled class matrix, labels and class table (quantiles, or discrete classes ``C``)."""
    if C is None:
        y = Y.to_numpy(dtype=float)
        ids, bins, short = quantile_classes(y, int(classes))
        if short:
            warn_ties(int(classes), len(bins))
        k = len(bins)
        labels = _bounds_labels(bins[:-1], y.min(), y.max())
        lower = [y.min(), *bins[:-1]]
        table = pd.DataFrame(
            {
                "variable": v,
                "classes": "pooled",
                "year": None,
                "class": range(k),
                "label": labels[:k],
                "lower": lower[:k],
                "upper": bins[:k],
            }
        )
        return ids, labels[:k], table
    # order discrete classes by the mean of the variable within each class
    pooled = pd.DataFrame({"c": C.to_numpy().ravel(), "y": Y.to_numpy(dtype=float).ravel()})
    means = pooled.groupby("c")["y"].agg(["mean", "min", "max"]).sort_values("mean", kind="mergesort")
    code = {c: i for i, c in enumerate(means.index)}
    ids = np.vectorize(code.get)(C.to_numpy())
    labels = [str(c) for c in means.index]
    table = pd.DataFrame(
        {
            "variable": v,
            "classes": "pooled",
            "year": None,
            "class": range(len(labels)),
            "label": labels,
            "lower": means["min"].to_numpy(),
            "upper": means["max"].to_numpy(),
        }
    )
    return ids.astype(int), labels, table


def _relative_states(Y, v, k):
    """(n x t) per-period quantile classes (mapclassify.Quantiles of each period), labels, class table."""
    y = Y.to_numpy(dtype=float)
    ids = np.empty(y.shape, dtype=int)
    labels = relative_labels(k)
    rows = []
    for j, t in enumerate(Y.columns):
        yb, bins, _ = quantile_classes(y[:, j], k)
        if len(bins) < k or len(np.unique(yb)) < k:
            raise InputError(
                f"relative Markov classes: variable '{v}' has too many equal values in year {t} "
                f"({len(np.unique(y[:, j]))} distinct) to form {k} quantile classes; use fewer classes "
                "or pooled classes only",
                source=SOURCE,
            )
        ids[:, j] = yb
        lower = [y[:, j].min(), *bins[:-1]]
        rows += [
            {
                "variable": v,
                "classes": "relative",
                "year": t,
                "class": c,
                "label": labels[c],
                "lower": lower[c],
                "upper": bins[c],
            }
            for c in range(k)
        ]
    return ids, labels, pd.DataFrame(rows)


def _spatial_rows(sm, labels, lag_labels, **extra) -> list[dict]:
    """Transition and test rows of a :class:`._chains.SpatialMarkov`."""
    rows = []
    for c in range(sm.T.shape[0]):
        rows += _transition_rows(sm.T[c], labels, **extra, row_type="transition", lag_class=c, lag_label=lag_labels[c])
    rows.append(dict(**extra, row_type="test", test="Q", statistic=sm.Q, dof=sm.dof_hom, p_value=sm.Q_p_value))
    rows.append(dict(**extra, row_type="test", test="LR", statistic=sm.LR, dof=sm.dof_hom, p_value=sm.LR_p_value))
    for c, (stat, p, d) in enumerate(sm.chi2):
        rows.append(
            dict(
                **extra,
                row_type="test",
                test="chi2",
                lag_class=c,
                lag_label=lag_labels[c],
                statistic=float(stat),
                dof=int(d),
                p_value=float(p),
            )
        )
    rows.append(
        dict(
            **extra,
            row_type="test",
            test="chi2_total",
            statistic=float(sm.x2),
            dof=int(sm.x2_dof),
            p_value=float(sm.x2_pvalue),
        )
    )
    return rows


def _spatial_markov(y, cid, w, labels, mode, discrete, seed):
    """The spatial Markov chain of one class mode (giddy's ``Spatial_Markov``); returns (rows, notes)."""
    k = len(labels)
    notes = []
    if mode == "pooled" and discrete:
        sm = spatial_markov(cid, w, k=k, discrete=True, rng=np.random.RandomState(int(seed) % (2**32)))
        lag_labels = labels
    elif mode == "pooled":
        sm = spatial_markov(y, w, k=k, m=k, fixed=True)
        lag_labels = _bounds_labels(sm.lag_cutoffs, -np.inf, np.inf)
    else:
        sm = spatial_markov(y, w, k=k, m=k, fixed=False)
        lag_labels = relative_labels(k)
        if sm.lag_ties:
            notes.append(
                f"the spatial lag has too many equal values for {k} relative lag classes in "
                "some period: some lag classes are empty there"
            )
    return _spatial_rows(sm, labels, lag_labels, classes=mode), notes


def _lisa_rows(y, w, **extra) -> list[dict]:
    """LISA Markov transitions (as giddy.markov.LISA_Markov) between quadrants 1..4."""
    T = transition_counts(lisa_quadrants(y, w) - 1, 4)
    rows = _transition_rows(T, [QUADRANTS[q] for q in range(1, 5)], **extra)
    for r in rows:
        r["from"] += 1
        r["to"] += 1
    return rows


def _trend_row(v, Y, pooled_ids) -> dict:
    return {
        "variable": v,
        **mean_trend(Y),
        "first_year": Y.columns[0],
        "last_year": Y.columns[-1],
        "mean_class_first": float(pooled_ids[:, 0].mean()),
        "mean_class_last": float(pooled_ids[:, -1].mean()),
    }


def _trend_note(row: dict, mode: str) -> str:
    hint = (
        "the relative classes follow positions in each year's distribution instead"
        if mode == "both"
        else "relative (per-year quantile) classes follow positions instead"
    )
    return (
        f"pooled classes of '{row['variable']}' track calendar time: its cross-sectional mean has a "
        f"monotone trend (Mann-Kendall tau = {row['tau']:.2f}, p = {row['p_value']:.2g}) and the mean "
        f"pooled class goes from {row['mean_class_first']:.2f} in {row['first_year']} to "
        f"{row['mean_class_last']:.2f} in {row['last_year']}, so the pooled chain mostly records the "
        f"trend; {hint}"
    )


def _check_k(classes, class_column, class_mode) -> None:
    if class_mode not in CLASS_MODES:
        raise InputError(f"class_mode = {class_mode!r}: use one of {list(CLASS_MODES)}", source=SOURCE)
    if class_column is not None and class_mode == "pooled":
        return  # the classes come from class_column
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 2:
        raise InputError(f"classes = {classes!r} must be an integer >= 2", source=SOURCE)


def markov_chains(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    graph=None,
    *,
    classes: int = 5,
    class_column: str | None = None,
    class_mode: str = "pooled",
    lisa: bool = True,
    seed: int | np.random.Generator | None = 0,
    region: str = "region",
    year: str = "year",
) -> MarkovResults:
    """Classical, spatial and LISA Markov chains of each variable.

    Parameters
    ----------
    data : pandas.DataFrame
        Balanced region-year table.
    variables : str or iterable of str
        Variables whose classes move.
    graph : libpysal.graph.Graph, optional
        Spatial graph over the regions with no isolate (e.g. from
        :func:`~nqpspatial.plugins.zones.contiguity_graph`); row-standardized
        here.  Without it only the classical chain is computed.
    classes : int, default 5
        Number of quantile classes (the pooled classes come from
        ``class_column`` instead when it is given).
    class_column : str, optional
        A column of discrete states (e.g. Haken grades) used as the pooled
        classes; the states are ordered by the mean of the variable within
        each state, and the pooled spatial Markov then conditions on the
        modal class of the neighbours (giddy's ``discrete=True``).
    class_mode : {"pooled", "relative", "both"}, default "pooled"
        Pooled classes (bounds from all region-years, or ``class_column``),
        relative classes (``classes`` quantiles of the variable in each
        period, as giddy's ``Spatial_Markov(fixed=False)``, whose spatial lag
        classes are per-period quantiles of the lag too), or both (pooled
        rows first).  The ``classes`` column of every table says which.
    lisa : bool, default True
        Also compute the LISA Markov chain (needs ``graph``).
    seed : int or numpy.random.Generator, default 0
        Seeds the ``numpy.random.RandomState`` that breaks the remaining ties
        of the neighbours' modal class (the draws libpysal makes from NumPy's
        global state after ``numpy.random.seed(seed)``; the global state is
        not touched).
    region, year : str
        Column names.

    Returns
    -------
    MarkovResults
        With a note for each variable whose pooled classes are used on a
        trending series (:func:`mean_trend`).

    Raises
    ------
    InputError
        Bad or unbalanced data, fewer than 2 periods, bad ``classes`` or
        ``class_mode``, a period with too many equal values for relative
        classes, or a graph whose ids differ from the data's or that has an
        isolate.
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    _check_k(classes, class_column, class_mode)
    if class_column is None:
        frame = check_data(data, variables, region, year, balanced=True)
    else:
        frame = _check_with_classes(data, variables, class_column, region, year)
    if frame[year].nunique() < 2:
        raise InputError("Markov chains need at least two periods", source=SOURCE)
    ids = sorted(frame[region].unique())
    w = row_standardized_w(graph, ids) if graph is not None else None
    s = seed_from(seed)
    modes = ("pooled", "relative") if class_mode == "both" else (class_mode,)
    C = None if class_column is None else wide(frame, class_column, region, year).loc[ids]
    t_rows, s_rows, class_tabs, notes, trend = [], [], [], [], []
    for v in variables:
        Y = wide(frame, v, region, year).loc[ids]
        y = Y.to_numpy(dtype=float)
        for mode in modes:
            if mode == "pooled":
                cid, labels, ctab = _pooled_states(Y, v, classes, C)
                trend.append(_trend_row(v, Y, cid))
                if trend[-1]["trending"]:
                    notes.append(_trend_note(trend[-1], class_mode))
            else:
                cid, labels, ctab = _relative_states(Y, v, int(classes))
            class_tabs.append(ctab)
            counts = transition_counts(cid, len(labels))
            t_rows += _transition_rows(counts, labels, variable=v, kind="classic", classes=mode)
            if w is not None:
                rows, sm_notes = _spatial_markov(y, cid, w, labels, mode, C is not None, s)
                s_rows += [{"variable": v, **r} for r in rows]
                notes += [f"'{v}': {n}" for n in sm_notes]
        if w is not None and lisa:
            t_rows += _lisa_rows(y, w, variable=v, kind="lisa", classes=None)
    if w is None:
        notes.append("no spatial graph: spatial and LISA Markov chains skipped")
    return _results(t_rows, s_rows, class_tabs, notes, trend)


def _results(t_rows, s_rows, class_tabs, notes, trend) -> MarkovResults:
    """Assemble the tables with their documented column order and integer columns."""
    tcols = ["variable", "kind", "classes", "from", "to", "from_label", "to_label", "count", "probability"]
    transitions = pd.DataFrame(t_rows).reindex(columns=tcols)
    scols = [
        "variable",
        "classes",
        "row_type",
        "lag_class",
        "lag_label",
        "from",
        "to",
        "from_label",
        "to_label",
        "count",
        "probability",
        "test",
        "statistic",
        "dof",
        "p_value",
    ]
    spatial = pd.DataFrame(s_rows).reindex(columns=scols) if s_rows else None
    if spatial is not None:
        for c in ("lag_class", "from", "to", "count", "dof"):
            spatial[c] = spatial[c].astype("Int64")
    ctab = pd.concat(class_tabs, ignore_index=True).reindex(
        columns=["variable", "classes", "year", "class", "label", "lower", "upper"]
    )
    yrs = pd.to_numeric(ctab["year"], errors="coerce")
    if yrs.notna().sum() == ctab["year"].notna().sum() and yrs.dropna().mod(1).eq(0).all():
        ctab["year"] = yrs.astype("Int64")  # whole-number years stay whole in markov_classes.csv
    trend = pd.DataFrame(trend).reindex(columns=_TREND_COLUMNS)
    return MarkovResults(transitions, spatial, ctab, notes, trend)


def _check_with_classes(data, variables, class_column, region, year):
    frame = check_data(data, variables, region, year, balanced=True)
    if class_column not in data.columns:
        raise InputError(f"class column '{class_column}' is not in the table", source=SOURCE)
    cls = data[[region, year, class_column]]
    if cls[class_column].isna().any():
        r, y = cls.loc[cls[class_column].isna(), [region, year]].iloc[0]
        raise InputError(f"class column '{class_column}' is empty for region '{r}' in year {y}", source=SOURCE)
    return frame.merge(cls, on=[region, year], how="left", validate="one_to_one")
