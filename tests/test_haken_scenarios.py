"""Scenarios: no shock = plain forward iteration; shocks scale q1's growth."""

import numpy as np
import pandas as pd
import pytest

from nqpspatial.errors import InputError
from nqpspatial.haken import HakenModel, scenarios, simulate_panel
from nqpspatial.haken.model import ShortPanelWarning


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


def _scalar_projection(res, periods, specs):
    """The 0.1.0 projection, one region and one step at a time (reference of the batched one)."""
    panel = res.fitted_panel
    systems = res.systems()
    last = panel.sort_values("year").groupby("region", sort=False).tail(1).set_index("region")
    regions = list(pd.unique(panel["region"]))
    rows = []
    for name, scale in specs:
        for r in regions:
            s = float(scale.get(r, 1.0))
            q1, q2, y0 = float(last.at[r, "q1"]), float(last.at[r, "q2"]), int(last.at[r, "year"])
            rows.append((name, r, y0, 0, q1, q2, s))
            for k in range(1, periods + 1):
                n1, n2 = systems[r].step(q1, q2)
                n1 = float(n1)
                if s != 1.0:
                    n1 = n1 + (s - 1.0) * (n1 - q1)
                q1, q2 = n1, float(n2)
                rows.append((name, r, y0 + k, k, q1, q2, s))
    return pd.DataFrame(rows, columns=["scenario", "region", "year", "step", "q1", "q2", "q1_growth_scale"])


@pytest.mark.parametrize("integer_ids", [False, True])
def test_batched_projection_equals_the_scalar_reference(integer_ids):
    """Region effects (one system per region), a shock on some regions, string or integer region ids."""
    rng = np.random.default_rng(4)
    eff = (rng.normal(0, 0.003, 31), rng.normal(0, 0.003, 31))
    df = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_periods=12, q1_start=(0.3, 0.6), region_effects=eff, seed=rng)
    if integer_ids:
        df["region"] = df["region"].str[1:].astype(int) * 7
    with pytest.warns(ShortPanelWarning, match="Nickell"):
        res = HakenModel(df, "q1", "q2", effects="region").fit(bootstrap=0)
    picked = list(pd.unique(df["region"]))[3:9]
    out = scenarios(res, 3, [{"name": "push", "regions": picked, "q1_growth": 1.7}]).table
    ref = _scalar_projection(res, 3, [("baseline", {}), ("push", {r: 1.7 for r in picked})])
    pd.testing.assert_frame_equal(out[list(ref.columns)], ref, check_exact=True)
