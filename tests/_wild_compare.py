"""One comparison of two wild-year bootstrap results, shared by the tests against frozen references."""

from __future__ import annotations

import numpy as np


def assert_same_bootstrap(a, b, tol: float, ratio_tol: dict) -> None:
    """Equal counts, columns, p-values and verdict share; draws and intervals within ``tol`` (relative and
    absolute), the ratio's within ``ratio_tol`` (``assert_allclose`` keywords: it amplifies rounding)."""
    assert a.B == b.B and a.weights == b.weights
    assert a.n_distinct == b.n_distinct and a.n_invalid == b.n_invalid
    assert list(a.draws.columns) == list(b.draws.columns)
    coef = [c for c in a.draws.columns if c != "ratio"]
    close = {"rtol": tol, "atol": tol}
    np.testing.assert_allclose(a.draws[coef].to_numpy(), b.draws[coef].to_numpy(), equal_nan=True, **close)
    np.testing.assert_allclose(a.draws["ratio"], b.draws["ratio"], equal_nan=True, **ratio_tol)
    assert list(a.intervals["term"]) == list(b.intervals["term"])
    num = ["ci_low", "ci_high", "std_err"]
    ia, ib = a.intervals.set_index("term")[num], b.intervals.set_index("term")[num]
    np.testing.assert_allclose(ia.drop(index="ratio").to_numpy(), ib.drop(index="ratio").to_numpy(), **close)
    np.testing.assert_allclose(ia.loc["ratio"].to_numpy(), ib.loc["ratio"].to_numpy(), **ratio_tol)
    assert list(a.pvalues.index) == list(b.pvalues.index)
    # p-values count |t*| >= |t|: equal unless a resample ties at rounding level
    np.testing.assert_array_equal(a.pvalues.to_numpy(), b.pvalues.to_numpy())
    assert a.verdict_share == b.verdict_share
