"""Markov chains of regional classes: classical, spatial (Rey 2001) and LISA Markov.

States are either pooled quantile classes of a variable (the class bounds
are computed once from all region-years, as :class:`giddy.markov.Spatial_Markov`
does with ``fixed=True``) or given discrete classes such as the Haken
co-evolution grades.  Everything is computed by PySAL's ``giddy``:

* classical chain: :class:`giddy.markov.Markov`;
* spatial Markov: :class:`giddy.markov.Spatial_Markov` (transitions
  conditioned on the class of the spatial lag, with the Bickenbach & Bode
  ``Q`` and ``LR`` homogeneity tests and Rey's per-lag chi-square tests);
* LISA Markov: :class:`giddy.markov.LISA_Markov` (transitions between the
  local Moran quadrants 1 HH, 2 LH, 3 LL, 4 HL).  giddy's accompanying
  chi-square test of independence of own and neighbours' moves is not
  reported: in giddy 2.3 it builds its chains on the transposed array, so it
  changes with the order of the regions.

Reference: Rey, S. J. (2001). Spatial empirics for economic growth and
convergence. *Geographical Analysis* 33(3): 195-214.
"""

from __future__ import annotations

import contextlib
import io
from typing import Iterable

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import SOURCE, check_data, global_numpy_seed, seed_from, wide

__all__ = ["markov_chains", "MarkovResults", "row_standardized_w", "QUADRANTS"]

QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


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
        raise InputError(f"region(s) {lonely[:10]} have no neighbour; link islands first "
                         "(e.g. zones.contiguity_graph links them to their nearest region)",
                         source=SOURCE)
    w = W(neighbors, weights, id_order=ids, silence_warnings=True)
    w.transform = "r"
    return w


def _quiet(fn, *args, **kw):
    """Call a giddy function with stdout captured (some print summaries)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kw)


def _transition_rows(T: np.ndarray, labels: list, **extra) -> list[dict]:
    rows = []
    row_sum = T.sum(axis=1)
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            p = T[i, j] / row_sum[i] if row_sum[i] > 0 else np.nan
            rows.append({**extra, "from": i, "to": j, "from_label": labels[i], "to_label": labels[j],
                         "count": int(T[i, j]), "probability": p})
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
        ``markov_transitions.csv``: ``variable, kind, from, to, from_label,
        to_label, count, probability`` with ``kind`` ``"classic"`` (classes
        0..k-1, lowest first) or ``"lisa"`` (quadrants 1..4).
    spatial : pandas.DataFrame or None
        ``spatial_markov.csv``: ``variable, row_type, lag_class, lag_label,
        from, to, from_label, to_label, count, probability, test, statistic,
        dof, p_value``.  ``row_type = "transition"`` rows give the
        transitions conditioned on the lag class; ``row_type = "test"`` rows
        give ``Q`` and ``LR`` (Bickenbach-Bode homogeneity), ``chi2`` per lag
        class and ``chi2_total`` (Rey's tests against the pooled matrix).
        None without a graph.
    classes : pandas.DataFrame
        ``variable, class, label, lower, upper`` of the states.
    """

    def __init__(self, transitions, spatial, classes, notes):
        self.transitions = transitions
        self.spatial = spatial
        self.classes = classes
        self.notes = tuple(notes)
        self._freeze()

    def summary(self) -> Summary:
        """Classic transition probabilities and the homogeneity tests."""
        tables = {}
        cl = self.transitions.query("kind == 'classic'")
        for v, sub in cl.groupby("variable", sort=False):
            lab = dict(zip(sub["from"], sub["from_label"]))
            tab = sub.pivot(index="from", columns="to", values="probability").rename(
                index=lab, columns=lab)
            tables[f"{v}: classic transition probabilities"] = tab.rename_axis(
                index="from", columns=None).reset_index()
        if self.spatial is not None:
            tests = self.spatial.query("row_type == 'test'")[
                ["variable", "test", "lag_class", "statistic", "dof", "p_value"]]
            tables["homogeneity tests"] = tests
        return Summary(title="Markov transitions", tables=tables, notes=self.notes)


def _states(frame, v, region, year, classes, class_column):
    """(n x t) integer class matrix, labels, class table, discrete flag."""
    Y = wide(frame, v, region, year)
    if class_column is None:
        import mapclassify as mc

        if not (isinstance(classes, (int, np.integer)) and classes >= 2):
            raise InputError(f"classes = {classes!r} must be an integer >= 2", source=SOURCE)
        y = Y.to_numpy(dtype=float)
        q = mc.Quantiles(y.flatten(), k=int(classes))
        ids = q.yb.reshape(y.shape)
        k = len(q.bins)
        labels = _bounds_labels(q.bins[:-1], y.min(), y.max())
        lower = [y.min(), *q.bins[:-1]]
        table = pd.DataFrame({"variable": v, "class": range(k), "label": labels[:k],
                              "lower": lower[:k], "upper": q.bins[:k]})
        return Y, ids, labels[:k], table, False
    C = wide(frame, class_column, region, year)
    # order discrete classes by the mean of the variable within each class
    pooled = pd.DataFrame({"c": C.to_numpy().ravel(), "y": Y.to_numpy(dtype=float).ravel()})
    means = pooled.groupby("c")["y"].agg(["mean", "min", "max"]).sort_values("mean", kind="mergesort")
    code = {c: i for i, c in enumerate(means.index)}
    ids = np.vectorize(code.get)(C.to_numpy())
    labels = [str(c) for c in means.index]
    table = pd.DataFrame({"variable": v, "class": range(len(labels)), "label": labels,
                          "lower": means["min"].to_numpy(), "upper": means["max"].to_numpy()})
    return Y, ids.astype(int), labels, table, True


def markov_chains(data: pd.DataFrame, variables: str | Iterable[str], graph=None, *,
                  classes: int = 5, class_column: str | None = None, lisa: bool = True,
                  seed: int | np.random.Generator | None = 0, region: str = "region",
                  year: str = "year") -> MarkovResults:
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
        Number of pooled quantile classes (ignored with ``class_column``).
    class_column : str, optional
        A column of discrete states (e.g. Haken grades); the states are
        ordered by the mean of the variable within each state, and the
        spatial Markov then conditions on the modal class of the neighbours
        (giddy's ``discrete=True``).
    lisa : bool, default True
        Also compute the LISA Markov chain (needs ``graph``).
    seed : int or numpy.random.Generator, default 0
        Seeds the global NumPy state inside giddy calls (ties of the
        categorical lag are broken at random), restored afterwards.
    region, year : str
        Column names.

    Returns
    -------
    MarkovResults

    Raises
    ------
    InputError
        Bad or unbalanced data, fewer than 2 periods, bad ``classes``, or a
        graph whose ids differ from the data's or that has an isolate.
    """
    from giddy.markov import LISA_Markov, Markov, Spatial_Markov

    variables = [variables] if isinstance(variables, str) else list(variables)
    if class_column is None:
        frame = check_data(data, variables, region, year, balanced=True)
    else:
        frame = _check_with_classes(data, variables, class_column, region, year)
    if frame[year].nunique() < 2:
        raise InputError("Markov chains need at least two periods", source=SOURCE)
    ids = sorted(frame[region].unique())
    w = row_standardized_w(graph, ids) if graph is not None else None
    s = seed_from(seed)
    t_rows, s_rows, class_tabs, notes = [], [], [], []
    for v in variables:
        Y, cid, labels, ctab, discrete = _states(frame, v, region, year, classes, class_column)
        class_tabs.append(ctab)
        k = len(labels)
        mk = Markov(cid, classes=np.arange(k), summary=False)
        t_rows += _transition_rows(mk.transitions, labels, variable=v, kind="classic")
        if w is None:
            continue
        y = Y.loc[ids].to_numpy(dtype=float)
        with global_numpy_seed(s):
            if discrete:
                sm = _quiet(Spatial_Markov, cid, w, discrete=True)
                lag_labels = labels
            else:
                sm = _quiet(Spatial_Markov, y, w, k=k, m=k, fixed=True)
                lag_labels = _bounds_labels(sm.lag_cutoffs, -np.inf, np.inf)
            Q, Qp, LR, LRp, dof = sm.Q, sm.Q_p_value, sm.LR, sm.LR_p_value, sm.dof_hom
            chi = sm.chi2
            x2, x2p, x2dof = sm.x2, sm.x2_pvalue, sm.x2_dof
        for c in range(sm.T.shape[0]):
            for r in _transition_rows(sm.T[c], labels, variable=v, row_type="transition",
                                      lag_class=c, lag_label=lag_labels[c]):
                s_rows.append(r)
        s_rows.append(dict(variable=v, row_type="test", test="Q", statistic=Q, dof=dof, p_value=Qp))
        s_rows.append(dict(variable=v, row_type="test", test="LR", statistic=LR, dof=dof, p_value=LRp))
        for c, (stat, p, d) in enumerate(chi):
            s_rows.append(dict(variable=v, row_type="test", test="chi2", lag_class=c,
                               lag_label=lag_labels[c], statistic=float(stat), dof=int(d),
                               p_value=float(p)))
        s_rows.append(dict(variable=v, row_type="test", test="chi2_total", statistic=float(x2),
                           dof=int(x2dof), p_value=float(x2p)))
        if lisa:
            with global_numpy_seed(s):
                lm = _quiet(LISA_Markov, y, w, permutations=0)
            T = np.asarray(lm.transitions)
            qlab = [QUADRANTS[q] for q in lm.classes]
            for r in _transition_rows(T, qlab, variable=v, kind="lisa"):
                r["from"] = int(lm.classes[r["from"]])
                r["to"] = int(lm.classes[r["to"]])
                t_rows.append(r)
    if w is None:
        notes.append("no spatial graph: spatial and LISA Markov chains skipped")
    transitions = pd.DataFrame(t_rows)
    scols = ["variable", "row_type", "lag_class", "lag_label", "from", "to", "from_label",
             "to_label", "count", "probability", "test", "statistic", "dof", "p_value"]
    spatial = pd.DataFrame(s_rows).reindex(columns=scols) if s_rows else None
    if spatial is not None:
        for c in ("lag_class", "from", "to", "count", "dof"):
            spatial[c] = spatial[c].astype("Int64")
    return MarkovResults(transitions, spatial, pd.concat(class_tabs, ignore_index=True), notes)


def _check_with_classes(data, variables, class_column, region, year):
    frame = check_data(data, variables, region, year, balanced=True)
    if class_column not in data.columns:
        raise InputError(f"class column '{class_column}' is not in the table", source=SOURCE)
    cls = data[[region, year, class_column]]
    if cls[class_column].isna().any():
        r, y = cls.loc[cls[class_column].isna(), [region, year]].iloc[0]
        raise InputError(f"class column '{class_column}' is empty for region '{r}' in year {y}",
                         source=SOURCE)
    return frame.merge(cls, on=[region, year], how="left", validate="one_to_one")
