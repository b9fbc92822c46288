"""One working plugin of every kind, written against docs/plugins.md only."""

import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import sparse

from nqpspatial import HakenModel


class Ring:
    """Weights: each region linked to the region `step` places after it in sorted id order."""

    name = "ring"
    params = {"step": 1}
    needs = frozenset()

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", step=1):
        ids = list(ids)
        n = len(ids)
        order = np.argsort(np.argsort([str(r) for r in ids]))
        by_rank = np.argsort(order)
        j = by_rank[(order + step) % n]
        mat = sparse.csr_array((np.ones(n), (np.arange(n), j)), shape=(n, n))
        return Graph.from_sparse(mat, ids=np.array(ids, dtype=object))


class LagCorrelation:
    """Statistics: the correlation of a variable with its spatial lag, per period."""

    name = "lag_correlation"
    table = "lag_correlation"
    bivariate = False

    def compute(self, values, graph, *, rng, permutations, alpha, fdr, y=None):
        values = values.loc[list(graph.unique_ids)]
        W = graph.sparse
        rows = []
        for year in values.columns:
            x = values[year].to_numpy(float)
            lag = W @ x
            r = float(np.corrcoef(x, lag)[0, 1]) if x.std() > 0 and lag.std() > 0 else float("nan")
            rows.append({"year": year, "r": r})
        return pd.DataFrame(rows)


class PooledHaken:
    """Models: the aspatial Haken model, ignoring the graph (a baseline beside the spatial models)."""

    name = "pooled_haken"

    def fit(self, data, q1, q2, graph, *, region, year, rng):
        return HakenModel(data, q1, q2, region=region, year=year).fit(bootstrap=0)


class Constant:
    """Co-evolution: h = 0.5 everywhere (a toy strategy)."""

    name = "example_const"
    normalized = True

    def supports(self, case):
        return True

    def __call__(self, q1, potential):
        return np.full(np.shape(q1), 0.5)


ring = Ring()
lag_correlation = LagCorrelation()
pooled_haken = PooledHaken()
constant = Constant()
