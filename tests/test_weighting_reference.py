"""Weights against published examples and against pymcdm."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nqpspatial import normalize
from nqpspatial.weighting import compute_weights, critic_weights, entropy_weights

pymcdm_weights = pytest.importorskip("pymcdm.weights")


def _panel(X, names, regions=None, year=2000):
    X = np.asarray(X, float)
    df = pd.DataFrame(X, columns=names)
    df.insert(0, "year", year)
    df.insert(0, "region", regions if regions is not None else [f"r{i}" for i in range(len(X))])
    return df


def _indicators(names, directions, subsystem="S", dimension=""):
    return pd.DataFrame(
        {"indicator": names, "subsystem": subsystem, "dimension": dimension, "direction": directions, "weight": np.nan}
    )


# Tus & Aytac Adali (2019), Opsearch 56: 528-538: 5 alternatives x 6 criteria, criterion 1 a cost.
TUS_X = [[5000, 3, 3, 4, 3, 2], [680, 5, 3, 2, 2, 1], [2000, 3, 2, 3, 4, 3], [600, 4, 3, 1, 2, 2], [800, 2, 4, 3, 3, 4]]
TUS_NAMES = [f"c{j}" for j in range(1, 7)]
TUS_DIRS = [-1, 1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    "critic_cost, conflict, expected, atol",
    [
        # every column normalized as benefit (pyrepo-mcda convention), 1 - r: the paper's Table,
        # as quoted in /work/shared/reference/methods.md section 2 (3 decimals)
        ("benefit-all", "signed", [0.157, 0.249, 0.168, 0.121, 0.154, 0.151], 0.5e-3),
        # cost column reversed first, 1 - r: methods.md section 2 (4 decimals)
        ("reverse-first", "signed", [0.1841, 0.2130, 0.1422, 0.1583, 0.1684, 0.1340], 0.5e-4),
        # every column as benefit, 1 - |r|: methods.md section 2 (4 decimals)
        ("benefit-all", "absolute", [0.2117, 0.1290, 0.2053, 0.1518, 0.1420, 0.1602], 0.5e-4),
    ],
)
def test_critic_tus_aytac_adali_2019(critic_cost, conflict, expected, atol):
    res = compute_weights(
        _panel(TUS_X, TUS_NAMES),
        _indicators(TUS_NAMES, TUS_DIRS),
        method="critic",
        critic_cost=critic_cost,
        critic_conflict=conflict,
    )
    w = res.weights
    assert w["indicator"].tolist() == TUS_NAMES
    np.testing.assert_allclose(w["weight"].to_numpy(), expected, rtol=0, atol=atol)


# R package mathmodels example (reproduced independently, methods.md section 2):
# x1 = (3, 5, 2, 7) benefit, x2 = (10, 20, 15, 25) cost.
MM_PANEL = pd.DataFrame(
    {"region": ["a", "b", "c", "d"], "year": 2020, "x1": [3.0, 5.0, 2.0, 7.0], "x2": [10.0, 20.0, 15.0, 25.0]}
)
MM_IND = _indicators(["x1", "x2"], [1, -1])


def test_critic_mathmodels_example():
    res = compute_weights(MM_PANEL, MM_IND, method="critic")
    # mathmodels, CRITIC reverse-first, signed r (7 significant digits printed)
    np.testing.assert_allclose(res.weights["weight"], [0.5075187, 0.4924813], atol=5e-8)
    # scores 100 * R w (R: min-max, cost reversed, no shift)
    np.testing.assert_allclose(100 * res.indices["S"], [59.39851, 46.86716, 32.83209, 50.75187], atol=5e-6)
    assert res.options["shift"] == 0.0


def test_entropy_mathmodels_example_shift_0002():
    res = compute_weights(MM_PANEL, MM_IND, method="entropy")  # default shift 0.002
    # mathmodels entropy on r' = 0.002 + 0.996 r
    np.testing.assert_allclose(res.weights["weight"], [0.5452618, 0.4547382], atol=5e-8)
    # scores 100 * R' w, with R' the shifted values
    np.testing.assert_allclose(100 * res.indices["S"], [56.35354, 47.88215, 30.39461, 54.50808], atol=5e-6)
    assert res.options["shift"] == 0.002
    assert res.options["entropy_shift"] == 0.002
    # the explicit shift gives the same numbers
    res2 = compute_weights(MM_PANEL, MM_IND, method="entropy", shift=0.002)
    np.testing.assert_allclose(res2.indices["S"], res.indices["S"], rtol=1e-14)


def _random_matrix(seed, n=40, k=5):
    rng = np.random.default_rng(seed)
    # mixed scales and some correlation between columns
    base = rng.normal(size=(n, k)) @ rng.normal(size=(k, k))
    return base * rng.uniform(0.1, 1000, size=k) + rng.uniform(-50, 50, size=k)


def _pymcdm_critic(X):
    with warnings.catch_warnings():
        # pymcdm warns only on zero-variance columns, which these matrices do not have
        warnings.filterwarnings("error", module="pymcdm")
        return pymcdm_weights.critic_weights(np.asarray(X, float))


@pytest.mark.parametrize("seed", range(6))
def test_critic_matches_pymcdm_benefit_all(seed):
    # pymcdm.weights.critic_weights min-max normalizes every column as a benefit (it takes no
    # criteria types) and uses the signed Pearson conflict 1 - r: our "benefit-all" + "signed".
    X = _random_matrix(seed)
    names = [f"x{j}" for j in range(X.shape[1])]
    dirs = [1, -1, 1, -1, -1]
    res = compute_weights(
        _panel(X, names), _indicators(names, dirs), method="critic", critic_cost="benefit-all", critic_conflict="signed"
    )
    np.testing.assert_allclose(res.weights["weight"], _pymcdm_critic(X), rtol=1e-10)


@pytest.mark.parametrize("seed", range(6, 10))
def test_critic_matches_pymcdm_all_benefit_reverse_first(seed):
    # with only benefit columns the two cost conventions coincide, so reverse-first = pymcdm
    X = _random_matrix(seed, n=31 * 3)
    names = [f"x{j}" for j in range(X.shape[1])]
    panel = _panel(X, names, regions=[f"r{i % 31}" for i in range(len(X))])
    panel["year"] = np.repeat([2014, 2015, 2016], 31)
    res = compute_weights(panel, _indicators(names, [1] * 5), method="critic")
    np.testing.assert_allclose(res.weights["weight"], _pymcdm_critic(X), rtol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_critic_weights_function_matches_pymcdm_on_its_normalization(seed):
    X = _random_matrix(seed, n=25, k=4)
    names = list("abcd")
    R = normalize(pd.DataFrame(X, columns=names), dict.fromkeys(names, 1))
    np.testing.assert_allclose(critic_weights(R).to_numpy(), _pymcdm_critic(X), rtol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_entropy_matches_pymcdm(seed):
    # pymcdm.weights.entropy_weights applies sum normalization p = r / sum r to its input and
    # the same 1 - e rule; fed our shifted min-max values it must give our weights.
    X = _random_matrix(seed, n=30, k=4)
    names = list("abcd")
    dirs = [1, -1, 1, 1]
    res = compute_weights(_panel(X, names), _indicators(names, dirs), method="entropy")
    R = normalize(pd.DataFrame(X, columns=names), dict(zip(names, dirs)), shift=0.002)
    expected = pymcdm_weights.entropy_weights(R.to_numpy())
    np.testing.assert_allclose(res.weights["weight"], expected, rtol=1e-10)
    np.testing.assert_allclose(entropy_weights(R).to_numpy(), expected, rtol=1e-10)


def test_critic_entropy_is_mean_of_parts_with_documented_shifts():
    X = _random_matrix(3, n=20, k=4)
    names = list("abcd")
    dirs = dict(zip(names, [1, -1, 1, -1]))
    df = pd.DataFrame(X, columns=names)
    res = compute_weights(_panel(X, names), _indicators(names, list(dirs.values())), method="critic-entropy")
    w_c = _pymcdm_critic(np.where(np.array(list(dirs.values())) > 0, X, -X))  # reverse-first
    w_e = pymcdm_weights.entropy_weights(normalize(df, dirs, shift=0.002).to_numpy())
    expected = (w_c + w_e) / 2
    np.testing.assert_allclose(res.weights["weight"], expected / expected.sum(), rtol=1e-10)
    np.testing.assert_allclose(res.weights["weight_critic"], w_c, rtol=1e-10)
    np.testing.assert_allclose(res.weights["weight_entropy"], w_e, rtol=1e-10)
    # indices use unshifted values
    R = normalize(df, dirs)
    np.testing.assert_allclose(res.indices["S"], R.to_numpy() @ res.weights["weight"].to_numpy(), rtol=1e-12)
    assert res.options["shift"] == 0.0
