"""Scenarios: no shock = plain forward iteration; shocks scale q1's growth."""

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.haken import HakenModel, scenarios, simulate_panel


@pytest.fixture(scope="module")
def fit():
    df = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_periods=8, q1_start=(0.3, 0.6), seed=9)
    return HakenModel(df, "q1", "q2").fit(bootstrap=0), df


def test_no_shock_equals_plain_iteration(fit):
    res, df = fit
    out = scenarios(res, 4).table
    base = out[out["scenario"] == "baseline"]
    systems = res.systems()
    for r, g in base.groupby("region"):
        last = df[df["region"] == r].iloc[-1]
        p1, p2 = systems[r].iterate(last["q1"], last["q2"], 4)
        assert np.array_equal(g["q1"].to_numpy(), p1) and np.array_equal(g["q2"].to_numpy(), p2)
        # and the model equations written out independently
        p = res.params
        q1, q2 = last["q1"], last["q2"]
        for k in range(1, 5):
            q1, q2 = (1 - p["gamma1"]) * q1 - p["a"] * q1 * q2, (1 - p["gamma2"]) * q2 + p["b"] * q1**2
            assert g["q1"].iloc[k] == pytest.approx(q1, abs=1e-14)
    assert base["year"].max() == 2021 + 4


def test_shock_scales_growth_of_selected_regions(fit):
    res, _ = fit
    shocks = [{"name": "boost", "regions": ["R01", "R02"], "q1_growth": 2.0}]
    out = scenarios(res, 1, shocks).table.set_index(["scenario", "region", "step"])
    for r in ("R01", "R02"):
        g0 = out.loc[("baseline", r, 1), "q1"] - out.loc[("baseline", r, 0), "q1"]
        g1 = out.loc[("boost", r, 1), "q1"] - out.loc[("boost", r, 0), "q1"]
        assert g1 == pytest.approx(2 * g0, rel=1e-12)
    assert out.loc[("boost", "R03", 1), "q1"] == out.loc[("baseline", "R03", 1), "q1"]


def test_group_shock_and_errors(fit):
    res, _ = fit
    groups = pd.Series({f"R{i + 1:02d}": ("E" if i < 5 else "W") for i in range(31)})
    out = scenarios(res, 2, [{"group": "E", "q1_growth": 0.5}], groups=groups).table
    assert set(out["scenario"]) == {"baseline", "shock1"}
    with pytest.raises(InputError, match="unknown region"):
        scenarios(res, 2, [{"regions": ["XX"], "q1_growth": 1.1}])
    with pytest.raises(InputError, match="either regions"):
        scenarios(res, 2, [{"q1_growth": 1.1}])
