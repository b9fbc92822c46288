"""Hypothesis property tests of compute_weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nqpspatial.weighting import METHODS, compute_weights

SETTINGS = settings(max_examples=50, deadline=None)


@st.composite
def cases(draw, methods=METHODS, critic_costs=("reverse-first", "benefit-all")):
    n_regions = draw(st.integers(3, 6))
    years = list(range(2010, 2010 + draw(st.integers(1, 3))))
    k = draw(st.integers(1, 5))
    n = n_regions * len(years)
    X = draw(hnp.arrays(np.int64, (n, k), elements=st.integers(0, 30))).astype(float)
    names = [f"v{j}" for j in range(k)]
    panel = pd.DataFrame(X, columns=names)
    panel.insert(0, "year", np.tile(years, n_regions))
    panel.insert(0, "region", np.repeat([f"R{i}" for i in range(n_regions)], len(years)))
    subs = draw(st.lists(st.sampled_from(["A", "B"]), min_size=k, max_size=k))
    dirs = draw(st.lists(st.sampled_from([1, -1]), min_size=k, max_size=k))
    fixed = draw(st.lists(st.floats(0.0, 10.0), min_size=k, max_size=k))
    ind = pd.DataFrame({"indicator": names, "subsystem": subs, "dimension": "", "direction": dirs, "weight": fixed})
    opts = {
        "method": draw(st.sampled_from(methods)),
        "normalization": draw(st.sampled_from(["pooled", "by-year"])),
        "critic_conflict": draw(st.sampled_from(["signed", "absolute"])),
        "critic_cost": draw(st.sampled_from(critic_costs)),
        "shift": draw(st.sampled_from([None, 0.01])),
        "zero_variance": "zero-weight",
    }
    assume(_feasible(panel, ind, opts))
    return panel, ind, opts


def _feasible(panel, ind, opts):
    """Independent check that the case is well defined (no 0/0 weights)."""
    X = panel[ind.indicator].to_numpy()
    live = X.max(axis=0) > X.min(axis=0)
    if opts["normalization"] == "by-year":
        for _, g in panel.groupby("year"):
            Y = g[ind.indicator].to_numpy()
            live &= Y.max(axis=0) > Y.min(axis=0)
    for s in ind.subsystem.unique():
        cols = np.flatnonzero((ind.subsystem == s).to_numpy() & live)
        if cols.size == 0:
            return False
        if opts["method"] == "fixed":
            w = ind.weight.to_numpy()
            if not w[cols].sum() > 0:
                return False
        if opts["method"] in ("critic", "critic-entropy") and cols.size > 1:
            Z = X[:, cols]
            if opts["critic_cost"] == "reverse-first":
                Z = Z * ind.direction.to_numpy()[cols]
            r = np.corrcoef(Z, rowvar=False)
            if opts["critic_conflict"] == "absolute":
                r = np.abs(r)
            if np.all(r > 1 - 1e-9):
                return False
    return True


def _by_key(df):
    return df.sort_values(["region", "year"]).reset_index(drop=True)


@SETTINGS
@given(cases())
def test_weights_non_negative_and_sum_to_one(case):
    panel, ind, opts = case
    res = compute_weights(panel, ind, **opts)
    w = res.weights
    assert (w["weight"] >= 0).all()
    np.testing.assert_allclose(w.groupby("subsystem")["weight"].sum(), 1.0, rtol=1e-12)
    assert set(w["subsystem"]) == set(ind["subsystem"])


@SETTINGS
@given(cases())
def test_indices_in_unit_interval(case):
    panel, ind, opts = case
    res = compute_weights(panel, ind, **opts)
    U = res.indices[list(dict.fromkeys(ind.subsystem))].to_numpy()
    s = res.options["shift"]
    assert U.min() >= s - 1e-12 and U.max() <= 1 - s + 1e-12
    R = res.normalized[ind.indicator.tolist()].to_numpy()
    assert R.min() >= -1e-15 and R.max() <= 1 + 1e-15


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_unchanged_when_rows_shuffled(case, rnd):
    panel, ind, opts = case
    order = list(range(len(panel)))
    rnd.shuffle(order)
    shuffled = panel.iloc[order]
    a = compute_weights(panel, ind, **opts)
    b = compute_weights(shuffled, ind, **opts)
    np.testing.assert_allclose(b.weights["weight"], a.weights["weight"], rtol=1e-9, atol=1e-12)
    # output rows follow the input rows; aligned by key they agree
    assert b.indices["region"].tolist() == shuffled["region"].tolist()
    cols = a.indices.columns[2:]
    np.testing.assert_allclose(_by_key(b.indices)[cols], _by_key(a.indices)[cols], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(cases(), st.data())
def test_unchanged_under_positive_affine_rescaling(case, data):
    panel, ind, opts = case
    j = data.draw(st.integers(0, len(ind) - 1))
    a_ = data.draw(st.floats(0.01, 100.0))
    b_ = data.draw(st.floats(-1000.0, 1000.0))
    col = ind.indicator[j]
    scaled = panel.assign(**{col: a_ * panel[col] + b_})
    a = compute_weights(panel, ind, **opts)
    b = compute_weights(scaled, ind, **opts)
    np.testing.assert_allclose(b.weights["weight"], a.weights["weight"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(b.indices.iloc[:, 2:], a.indices.iloc[:, 2:], rtol=1e-7, atol=1e-10)


@SETTINGS
@given(cases(critic_costs=("reverse-first",)), st.data())
def test_cost_declaration_equals_negated_column(case, data):
    panel, ind, opts = case
    j = data.draw(st.integers(0, len(ind) - 1))
    col = ind.indicator[j]
    as_cost = ind.copy()
    as_cost.loc[j, "direction"] = -1
    assume(_feasible(panel, as_cost, opts))  # the flip may make two columns perfectly correlated
    negated_ind = ind.copy()
    negated_ind.loc[j, "direction"] = 1
    negated = panel.assign(**{col: -panel[col]})
    a = compute_weights(panel, as_cost, **opts)
    b = compute_weights(negated, negated_ind, **opts)
    np.testing.assert_allclose(b.weights["weight"], a.weights["weight"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.indices.iloc[:, 2:], a.indices.iloc[:, 2:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.normalized[col], a.normalized[col], rtol=0, atol=0)
