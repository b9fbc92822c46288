"""TOPSIS aggregation ([weighting] aggregation = "topsis") against pymcdm's TOPSIS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.topsis import topsis
from nqpspatial.weighting import compute_weights

pymcdm = pytest.importorskip("pymcdm")
from pymcdm.methods import TOPSIS  # noqa: E402

from conftest import small_panel  # noqa: E402

# pymcdm warns about dominant alternatives (harmless for TOPSIS closeness)
pytestmark = pytest.mark.filterwarnings("ignore:Alternatives with indices:UserWarning")


def _identity(x, cost=False):
    return np.asarray(x, dtype=float)


def _demo():
    from nqpspatial.demo import load_demo

    d = load_demo()
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    return d["panel"], ind


def _random_panel(seed=3, n=23, years=range(2001, 2009)):
    rng = np.random.default_rng(seed)
    rows = [{"region": f"r{i}", "year": y} for i in range(n) for y in years]
    panel = pd.DataFrame(rows)
    names = []
    for s, k in (("A", 5), ("B", 4)):
        for j in range(k):
            name = f"{s}{j}"
            panel[name] = rng.lognormal(0, 1, len(panel)) * (1 + 0.1 * panel["year"].sub(2000))
            names.append((name, s, "d1" if j < 2 else "d2", 1 if j % 3 else -1))
    ind = pd.DataFrame(names, columns=["indicator", "subsystem", "dimension", "direction"])
    return panel, ind


def test_kernel_equals_pymcdm_on_a_random_matrix():
    rng = np.random.default_rng(0)
    X = rng.lognormal(size=(40, 6))
    types = np.array([1, -1, 1, 1, -1, 1])
    w = rng.dirichlet(np.ones(6))
    ref = TOPSIS()(X, w, types)  # pymcdm's default: min-max normalization, cost columns reversed
    R = (X - X.min(0)) / (X.max(0) - X.min(0))
    R[:, types < 0] = 1 - R[:, types < 0]
    np.testing.assert_allclose(topsis(R, w), ref, rtol=0, atol=1e-12)
    c, dp, dm = topsis(R, w, distances=True)
    np.testing.assert_allclose(c, dm / (dp + dm), rtol=0, atol=1e-15)


@pytest.mark.parametrize("case", ["demo", "random"])
@pytest.mark.parametrize("method", ["critic", "entropy"])
def test_indices_equal_pymcdm_topsis(case, method):
    """Subsystem and dimension indices: pymcdm TOPSIS on the raw indicators (its min-max, cost reversed)."""
    panel, ind = _demo() if case == "demo" else _random_panel()
    res = compute_weights(panel, ind, method=method, aggregation="topsis")
    w = res.weights.set_index("indicator")
    idx = res.indices
    for s in ind["subsystem"].unique():
        cols = ind.loc[ind["subsystem"] == s, "indicator"].tolist()
        types = np.sign(w.loc[cols, "direction"].to_numpy())
        if method == "critic":  # unshifted min-max: pymcdm normalizes the raw panel itself
            ref = TOPSIS()(panel[cols].to_numpy(float), w.loc[cols, "weight"].to_numpy(), types)
        else:  # shifted values: give pymcdm our normalized matrix unchanged
            ref = TOPSIS(_identity)(
                res.normalized[cols].to_numpy(), w.loc[cols, "weight"].to_numpy(), np.ones(len(cols))
            )
        np.testing.assert_allclose(idx[s].to_numpy(), ref, rtol=0, atol=1e-12)
        for d in ind.loc[ind["subsystem"] == s, "dimension"].unique():
            dc = ind.loc[(ind["subsystem"] == s) & (ind["dimension"] == d), "indicator"].tolist()
            if len(dc) < 2:
                continue
            ref = TOPSIS(_identity)(
                res.normalized[dc].to_numpy(), w.loc[dc, "weight_in_dimension"].to_numpy(), np.ones(len(dc))
            )
            np.testing.assert_allclose(idx[f"{s}.{d}"].to_numpy(), ref, rtol=0, atol=1e-12)
    assert res.options["aggregation"] == "topsis"
    # the weights themselves do not depend on the aggregation
    base = compute_weights(panel, ind, method=method)
    pd.testing.assert_frame_equal(base.weights.drop(columns="note"), res.weights.drop(columns="note"))


def test_by_year_ideal_is_pymcdm_per_year():
    panel, ind = _random_panel(seed=5)
    res = compute_weights(panel, ind, method="entropy", aggregation="topsis", topsis_ideal="by-year")
    w = res.weights.set_index("indicator")
    cols = ind.loc[ind["subsystem"] == "B", "indicator"].tolist()
    for y, rows in res.normalized.groupby("year").groups.items():
        ref = TOPSIS(_identity)(
            res.normalized.loc[rows, cols].to_numpy(), w.loc[cols, "weight"].to_numpy(), np.ones(len(cols))
        )
        np.testing.assert_allclose(res.indices.loc[rows, "B"].to_numpy(), ref, rtol=0, atol=1e-12)
    pooled = compute_weights(panel, ind, method="entropy", aggregation="topsis")
    assert not np.allclose(pooled.indices["B"], res.indices["B"])


def test_sum_is_still_the_default():
    panel, ind = _random_panel()
    res = compute_weights(panel, ind)
    cols = ind.loc[ind["subsystem"] == "A", "indicator"].tolist()
    w = res.weights.set_index("indicator").loc[cols, "weight"].to_numpy()
    np.testing.assert_allclose(res.indices["A"], res.normalized[cols].to_numpy() @ w, rtol=0, atol=1e-15)
    assert res.options["aggregation"] == "sum" and res.options["topsis_ideal"] is None


def test_bad_input_is_refused():
    panel, ind = _random_panel()
    with pytest.raises(InputError, match="aggregation"):
        compute_weights(panel, ind, aggregation="product")
    with pytest.raises(InputError, match="topsis_ideal"):
        compute_weights(panel, ind, aggregation="topsis", topsis_ideal="yearly")
    with pytest.raises(InputError, match="single row"):
        topsis(np.eye(3), [1, 1, 1], groups=[1, 2, 2])
    with pytest.raises(InputError, match="same weighted values"):
        topsis(np.ones((4, 2)), [0.5, 0.5])
    with pytest.raises(InputError, match=">= 0"):
        topsis(np.eye(2), [-1, 2])


def test_pipeline_reads_the_config(study):
    from nqpspatial.pipeline import run

    study.write(extra='[weighting]\nmethod = "entropy"\naggregation = "topsis"\ntopsis_ideal = "by-year"\n')
    res = run(study.config, out=study.out, quiet=True, report=False)
    idx = res.tables["indices"]
    assert idx["A"].between(0, 1).all()
    w = res.tables["indicator_weights"].set_index("indicator")
    panel, ind = small_panel()
    ind = ind.assign(direction=ind["direction"].map({"+": 1, "-": -1}))
    norm = compute_weights(panel, ind, method="entropy").normalized
    for y, rows in norm.groupby("year").groups.items():
        ref = TOPSIS(_identity)(
            norm.loc[rows, ["a1", "a2"]].to_numpy(), w.loc[["a1", "a2"], "weight"].to_numpy(), np.ones(2)
        )
        np.testing.assert_allclose(idx.loc[rows, "A"].to_numpy(), ref, rtol=0, atol=1e-12)
