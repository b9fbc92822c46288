"""Weight sensitivity: the vectorised chain against a slow reference loop (one HakenModel per draw)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nqpspatial.demo import load_demo
from nqpspatial.errors import InputError
from nqpspatial.haken import identify
from nqpspatial.robustness import _chain, draw_weights, weight_sensitivity
from nqpspatial.weighting import compute_weights


@pytest.fixture(scope="module")
def demo_small():
    """The demo study cut to 12 regions x 8 years (keeps the slow reference quick)."""
    d = load_demo()
    regions = list(pd.unique(d["panel"]["region"]))[:12]
    panel = d["panel"][d["panel"]["region"].isin(regions) & (d["panel"]["year"] <= 2021)].reset_index(drop=True)
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1, 1: 1, -1: -1}))
    res = compute_weights(panel, ind, method="critic")
    return res.normalized, res.weights, panel, ind


def _reference(normalized, weights, W, *, h_order, strategy="auto", domain="unit", **opts):
    """Slow loop: indices from the weights, identify() per draw, h from HakenResults.coevolution."""
    subs = list(dict.fromkeys(weights["subsystem"]))
    inds = list(W.columns)
    sub_of = dict(zip(weights["indicator"], weights["subsystem"]))
    params, hs, grades = [], [], []
    for d in range(len(W)):
        w = W.iloc[d]
        idx = normalized[["region", "year"]].copy()
        for s in subs:
            cols = [c for c in inds if sub_of[c] == s]
            idx[s] = normalized[cols].to_numpy() @ w[cols].to_numpy()
        ident = identify(idx, subs, bootstrap=0, **opts)
        params.append(ident.table.set_index(["q1", "q2"]))
        fit = ident.results(*h_order)
        co = fit.coevolution(strategy, domain=domain).table
        hs.append(co.set_index(["region", "year"])["h"])
        grades.append(co.set_index(["region", "year"])["grade_class"])
    return params, hs, grades


OPTION_SETS = [
    dict(),
    dict(se="hc1", intercept=True),
    dict(se="cluster", window=(2015, 2021)),
    dict(effects="region", jackknife=True),
]


@pytest.mark.parametrize("opts", OPTION_SETS, ids=["default", "hc1-intercept", "cluster-window", "fe-jackknife"])
def test_vectorised_chain_equals_reference_loop(demo_small, opts):
    normalized, weights, _, _ = demo_small
    kw = dict(draws=9, concentration=5.0, seed=7, chunk_size=4)
    res = weight_sensitivity(normalized, weights, h_order=("NQP", "NTU"), **opts, **kw)
    W = draw_weights(weights, draws=9, concentration=5.0, seed=7, chunk_size=4)
    params, hs, grades = _reference(normalized, weights, W, h_order=("NQP", "NTU"), **opts)
    dr = res.draws.set_index(["draw", "q1", "q2"])
    for d, ref in enumerate(params):
        for (a, b), row in ref.iterrows():
            ours = dr.loc[(d, a, b)]
            for term in ("gamma1", "a", "gamma2", "b", "ratio"):
                assert ours[term] == pytest.approx(row[term], rel=1e-8, abs=1e-10), (d, a, b, term)
            assert ours["p_gamma2"] == pytest.approx(row["p_gamma2"], rel=1e-6, abs=1e-300)
            assert bool(ours["adiabatic"]) == bool(row["adiabatic"])
            assert bool(ours["chosen"]) == bool(row["chosen"])
    # h, grades and rank statistics of every draw
    reg = res.regions.set_index(["region", "year"])
    base_h = reg["h_baseline"]
    H = pd.concat(hs, axis=1)
    G = pd.concat(grades, axis=1).astype(float)
    assert np.allclose(reg["h_mean"], H.loc[reg.index].mean(axis=1), rtol=1e-9, atol=1e-12)
    change = (G.loc[reg.index].to_numpy() != reg["grade_baseline"].astype(float).to_numpy()[:, None]).mean(axis=1)
    assert np.allclose(reg["grade_change_share"], change)
    rk = res.rank_draws.set_index(["draw", "year"])
    for d, h in enumerate(hs):
        for y, g in h.groupby(level="year"):
            b = base_h.loc[g.index]
            assert rk.loc[(d, y), "spearman"] == pytest.approx(stats.spearmanr(b, g).statistic, abs=1e-12)
            assert rk.loc[(d, y), "kendall"] == pytest.approx(stats.kendalltau(b, g).statistic, abs=1e-12)


def test_baseline_draws_reproduce_the_haken_stage_quantities(demo_small):
    """With the chosen weights (concentration -> infinity) every draw equals the baseline fit."""
    normalized, weights, _, _ = demo_small
    res = weight_sensitivity(normalized, weights, draws=5, concentration=1e12, seed=1)
    idx = normalized[["region", "year"]].copy()
    for s in ("NQP", "NTU"):
        w = weights[weights["subsystem"] == s]
        idx[s] = normalized[w["indicator"]].to_numpy() @ w["weight"].to_numpy()
    ident = identify(idx, ["NQP", "NTU"], bootstrap=0)
    co = ident.chosen_results.coevolution("auto").table.set_index(["region", "year"])
    reg = res.regions.set_index(["region", "year"]).loc[co.index]
    assert np.allclose(reg["h_baseline"], co["h"], atol=1e-12)
    assert (reg["grade_baseline"].astype(int) == co["grade_class"].astype(int)).all()
    t = res.table
    row = t[(t["statistic"] == "gamma2") & (t["q1"] == "NQP") & (t["source"] == "dirichlet")].iloc[0]
    assert row["baseline"] == pytest.approx(ident.table.set_index("q1").at["NQP", "gamma2"], rel=1e-10)
    assert row["mean"] == pytest.approx(row["baseline"], rel=1e-6)
    assert np.allclose(res.rank_draws["spearman"], 1.0) and np.allclose(res.rank_draws["kendall"], 1.0)
    assert (res.regions["grade_change_share"] == 0).all()


def test_dirichlet_draws_have_the_documented_mean_and_variance(demo_small):
    _, weights, _, _ = demo_small
    c = 50.0
    W = draw_weights(weights, draws=4000, concentration=c, seed=3)
    w0 = weights.set_index("indicator")["weight"].loc[W.columns].to_numpy()
    # E[w] = w0, Var(w) = w0 (1 - w0) / (c + 1) (Dirichlet moments)
    assert np.allclose(W.mean().to_numpy(), w0, atol=4 * np.sqrt(w0 * (1 - w0) / (c + 1) / 4000))
    assert np.allclose(W.var().to_numpy(), w0 * (1 - w0) / (c + 1), rtol=0.15)
    sums = W.T.groupby(weights.set_index("indicator")["subsystem"].loc[W.columns].to_numpy()).sum().T
    assert np.allclose(sums, 1.0)
    U = draw_weights(weights, draws=4000, concentration="uniform", seed=3)
    k = (weights["subsystem"] == "NQP").sum()
    # flat Dirichlet: every weight has mean 1/k
    assert np.allclose(U[weights.loc[weights["subsystem"] == "NQP", "indicator"]].mean(), 1 / k, atol=0.01)


def test_alternative_methods_side_by_side(demo_small):
    normalized, weights, panel, indicators = demo_small
    alt = {}
    for m in ("entropy", "equal"):
        r = compute_weights(panel, indicators, method=m)
        alt[m] = (r.normalized, r.weights)
    res = weight_sensitivity(normalized, weights, draws=0, alternatives=alt, seed=0)
    t = res.table
    for m, (norm, w) in alt.items():
        idx = norm[["region", "year"]].copy()
        for s in ("NQP", "NTU"):
            ws = w[w["subsystem"] == s]
            idx[s] = norm[ws["indicator"]].to_numpy() @ ws["weight"].to_numpy()
        ref = identify(idx, ["NQP", "NTU"], bootstrap=0).table.set_index(["q1", "q2"])
        got = t[(t["source"] == m) & (t["statistic"] == "gamma2")].set_index(["q1", "q2"])["mean"]
        assert np.allclose(got.loc[ref.index], ref["gamma2"], rtol=1e-9)
        assert f"h_{m}" in res.regions and f"grade_{m}" in res.regions and f"rank_{m}" in res.regions


def test_alternative_method_rows_are_matched_by_region_and_year(demo_small):
    normalized, weights, panel, indicators = demo_small
    r = compute_weights(panel, indicators, method="entropy")
    same = weight_sensitivity(normalized, weights, draws=0, alternatives={"entropy": (r.normalized, r.weights)}, seed=0)
    shuffled = r.normalized.sample(frac=1.0, random_state=1)
    got = weight_sensitivity(normalized, weights, draws=0, alternatives={"entropy": (shuffled, r.weights)}, seed=0)
    pd.testing.assert_frame_equal(got.table, same.table)
    with pytest.raises(InputError, match="lacks region-years"):
        weight_sensitivity(
            normalized, weights, draws=0, alternatives={"entropy": (shuffled.iloc[1:], r.weights)}, seed=0
        )


def test_inversion_count_equals_brute_force():
    rng = np.random.default_rng(0)
    for n in (2, 3, 7, 31, 100):
        y = np.argsort(rng.random((20, n)), axis=1)
        brute = np.array([sum(int(r[i] > r[j]) for i in range(n) for j in range(i + 1, n)) for r in y])
        assert np.array_equal(_chain.inversions(y), brute)


def test_batched_potential_equals_potential():
    from nqpspatial.haken import Potential

    rng = np.random.default_rng(2)
    g1, a, g2, b = rng.normal(0, 0.3, (4, 200))
    k1, k2 = rng.normal(0, 0.05, (2, 200))
    k1[:50] = 0.0
    k2[:50] = 0.0
    bp = _chain.BatchPotential(g1, a, g2, b, k1, k2)
    dmax = bp.max_distance(0.0, 1.0)
    vmin, vmax = bp.extremes(0.0, 1.0)
    for i in range(200):
        p = Potential(g1[i], a[i], g2[i], b[i], k1=k1[i], k2=k2[i])
        assert bp.valid[i] == p.valid
        if not p.valid:
            continue
        lo, hi = p.extremes(0.0, 1.0)
        assert vmin[i] == pytest.approx(lo, abs=1e-12) and vmax[i] == pytest.approx(hi, abs=1e-12)
        assert bp.has_stable[i] == p.has_stable_point
        if p.has_stable_point:
            assert bp.q_star[i] == pytest.approx(p.stable_point[0], abs=1e-9)
            assert bp.V_star[i] == pytest.approx(p.stable_point[1], abs=1e-12)
            assert dmax[i] == pytest.approx(p.max_distance(0.0, 1.0), rel=1e-9)


def test_same_seed_same_numbers_and_bad_input(demo_small):
    normalized, weights, _, _ = demo_small
    a = weight_sensitivity(normalized, weights, draws=30, seed=5)
    b = weight_sensitivity(normalized, weights, draws=30, seed=5)
    c = weight_sensitivity(normalized, weights, draws=30, seed=6)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not a.draws[["gamma1"]].equals(c.draws[["gamma1"]])
    before = normalized.copy()
    weight_sensitivity(normalized, weights, draws=3, seed=5)
    pd.testing.assert_frame_equal(normalized, before)
    with pytest.raises(InputError, match="concentration"):
        weight_sensitivity(normalized, weights, draws=3, concentration=-1)
    with pytest.raises(InputError, match="draws"):
        weight_sensitivity(normalized, weights, draws=-3)
    bad = weights.assign(weight=weights["weight"] * 2)
    with pytest.raises(InputError, match="sum to"):
        weight_sensitivity(normalized, bad, draws=3)


def test_inversion_count_on_distinct_values_and_kendall_against_scipy():
    rng = np.random.default_rng(1)
    # distinct values that are not 0..N-1 are counted through their ranks
    y = rng.permutation(1000)[:37][None, :] * 3 - 50
    brute = sum(int(y[0, i] > y[0, j]) for i in range(37) for j in range(i + 1, 37))
    assert _chain.inversions(y)[0] == brute
    assert np.array_equal(_chain.inversions(np.zeros((3, 0), int)), np.zeros(3, int))
    # Kendall's tau of the draws against the baseline equals scipy's, including sizes around powers of two
    for n in (2, 3, 63, 64, 65, 1000, 4097):
        base = rng.random(n)
        score = base[None, :] + rng.normal(0, 0.05, (4, n))
        _, kt, _ = _chain.rank_correlations(base, score)
        ref = [stats.kendalltau(base, row).statistic for row in score]
        assert np.allclose(kt, ref, rtol=0, atol=1e-12), n


def _rank_correlations_two_sorts(base_score, score):
    """The rank correlations as computed before the single sort (frozen reference)."""
    D, N = score.shape
    rb = _chain.rank_desc(base_score)
    r = _chain.rank_desc(score)
    rbc = rb - rb.mean()
    rc = r - r.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        sp = (rc @ rbc) / np.sqrt((rc * rc).sum(axis=1) * (rbc @ rbc))
    order = np.argsort(-base_score, kind="stable")
    inv = _chain.inversions(np.argsort(-score[:, order], axis=1, kind="stable"))
    kt = 1.0 - 4.0 * inv / (N * (N - 1)) if N > 1 else np.full(D, np.nan)
    return sp, kt, r


@pytest.mark.parametrize("n", [1, 2, 5, 64, 1000])
def test_rank_correlations_single_sort_equals_two_sorts(n):
    """Ranks, Spearman and Kendall from one sort per row = the two-sort code, bit for bit (ties, NaN, base ties)."""
    rng = np.random.default_rng(n)
    base = rng.random(n)
    base[: n // 4] = base[0]  # ties in the baseline
    score = base[None, :] + rng.normal(0, 0.05, (6, n))
    if n > 2:
        score[1, :3] = 0.5  # ties in a draw
        score[2, 1] = np.nan  # a non-finite value
        score[3] = np.round(score[3], 1)  # many ties
    got = _chain.rank_correlations(base, score)
    ref = _rank_correlations_two_sorts(base, score)
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(g, r)


def test_folded_chunks_give_the_same_bits_whatever_the_group(demo_small, monkeypatch):
    """The per-region-year accumulators folded a group of chunks at a time: every table equal, bit for bit.

    Groups of two chunks (the smallest) against one group holding every chunk, which adds the accumulators
    in chunk order exactly as ``sum`` over the collected chunks did before the fold.
    """
    from nqpspatial.robustness import sensitivity

    normalized, weights, _, _ = demo_small
    kw = dict(draws=41, seed=3, chunk_size=4)
    monkeypatch.setattr(sensitivity, "FOLD_CELLS", 10**12)
    whole = weight_sensitivity(normalized, weights, **kw)
    monkeypatch.setattr(sensitivity, "FOLD_CELLS", 1)
    groups = weight_sensitivity(normalized, weights, **kw)
    for name in ("table", "regions", "draws", "rank_draws", "weights"):
        a, b = getattr(whole, name), getattr(groups, name)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    # the fold is sum() over the chunks in order: ((0 + a0) + a1) + ...
    p_sum = sum(np.array([0.1, -0.0]) * k for k in (1.0, 3.0, 7.0))
    folded = 0
    for k in (1.0, 3.0, 7.0):
        folded = folded + np.array([0.1, -0.0]) * k
    np.testing.assert_array_equal(folded, p_sum)
