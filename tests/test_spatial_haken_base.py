"""The spatial Haken models share the aspatial model's classes and rules.

References: the aspatial package itself (``nqpspatial.haken``): its data
preparation (``HakenModel``), its co-evolution strategies
(``nqpspatial.haken.coevolution.coevolution``) applied to a
:class:`~nqpspatial.haken.Potential` built independently from the spatial
effects table (gamma1 = 1 - effect(q1), a = -effect(q1q2), gamma2 =
1 - effect(q2), b = effect(q1sq); LeSage & Pace 2009 total effects for the
system reading, direct effects for the local one).
"""

from __future__ import annotations

import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

from nqpspatial.errors import InputError, ModelError
from nqpspatial.haken import HakenModel, HakenResultsBase, Potential
from nqpspatial.haken import simulate_panel as simulate_aspatial
from nqpspatial.haken.coevolution import STRATEGIES, coevolution
from nqpspatial.haken.results import IDENTIFICATION_COLUMNS
from nqpspatial.plugins.spatial_haken import (
    ShortPanelWarning,
    SpatialHakenModel,
    SpatialHakenResults,
    sar,
    simulate_panel,
    slx,
)

GRAPH = Graph.from_W(libpysal.weights.lat2W(5, 5, rook=True))  # 25 regions, ids 0..24
# SAR data-generating values in the ordered case (g1 < 0, ab > 0) as in tests/test_spatial_haken.py
SAR = {"q1": {"q1": 0.88, "q1q2": -0.16, "rho": 0.2}, "q2": {"q2": 0.425, "q1sq": 0.85, "rho": 0.15}}


@pytest.fixture(scope="module", params=["system", "local"])
def sar_fit(request):
    df = simulate_panel("sar", GRAPH, SAR, periods=8, sigma=0.03, seed=21)
    return df, sar.fit(df, "q1", "q2", GRAPH, draws=100, seed=5, reading=request.param)


def _aspatial_panel(gamma1, a, gamma2, b, seed):
    """A 25 x 8 panel from the aspatial map, with the lattice's integer region ids."""
    df = simulate_aspatial(gamma1, a, gamma2, b, n_regions=25, n_periods=8, seed=seed)
    return df.assign(region=df["region"].str[1:].astype(int) - 1)


def _direct_potential(res, kind=None) -> Potential:
    """Potential of the reading's effects (total: system, direct: local), read from the effects table
    (independent of the results' rows); no intercepts (the fits have none)."""
    kind = kind or {"system": "total", "local": "direct"}[res.reading]
    eff = res.effects
    d = eff[eff["effect"] == kind].set_index("term")["estimate"]
    return Potential(1 - d["q1"], -d["q1q2"], 1 - d["q2"], d["q1sq"])


def test_spatial_model_is_a_haken_model(sar_fit):
    df, _ = sar_fit
    mod = SpatialHakenModel(df, "q1", "q2", GRAPH, model="slx")
    assert isinstance(mod, HakenModel)
    # the data preparation is the aspatial model's
    pd.testing.assert_frame_equal(mod.panel, HakenModel(df, "q1", "q2").panel)
    assert mod.periods == 8 and mod.effects == "none" and not mod.intercept
    # ... with the same validation and messages
    bad = df.copy()
    bad.loc[7, "q2"] = np.nan
    with pytest.raises(InputError) as core:
        HakenModel(bad, "q1", "q2")
    with pytest.raises(InputError) as spatial:
        SpatialHakenModel(bad, "q1", "q2", GRAPH)
    assert str(spatial.value) == str(core.value) and "row 7" in str(spatial.value)
    # a window, as in the aspatial model; the weights alignment follows it
    win = SpatialHakenModel(df, "q1", "q2", GRAPH, model="slx", window=(2, 7))
    assert sorted(win.panel["year"].unique()) == list(range(2, 8))
    assert win.aligned.Q1.shape == (6, 25)
    # one short-panel warning class for both models
    import nqpspatial.haken as haken

    assert ShortPanelWarning is haken.ShortPanelWarning


def test_spatial_results_share_the_haken_base(sar_fit):
    _, res = sar_fit
    assert isinstance(res, SpatialHakenResults) and isinstance(res, HakenResultsBase)
    ref = _direct_potential(res)
    pot = res.potential
    assert isinstance(pot, Potential)
    assert pot.case == ref.case
    assert pot.stable_point == pytest.approx(ref.stable_point, rel=1e-12)
    assert pot(0.3) == pytest.approx(ref(0.3), rel=1e-12)
    tab = res.potential()  # the one-row table (unchanged public form)
    assert tab["q1_star"].iloc[0] == pytest.approx(ref.stable_point[0], rel=1e-12)
    assert set(res.potentials()) == set(GRAPH.unique_ids)
    row = res.identification_row(chosen=True)
    assert list(row.columns[: len(IDENTIFICATION_COLUMNS)]) == IDENTIFICATION_COLUMNS
    assert bool(row["chosen"].iloc[0]) and row["case"].iloc[0] == ref.case
    ident = res.identification.iloc[0]  # the chosen reading comes first
    assert ident["reading"] == res.reading
    for col in ("gamma1", "a", "gamma2", "b", "se_gamma2", "p_gamma2", "ratio", "reason"):
        assert row[col].iloc[0] == ident[col]
    lo, hi = row["ratio_ci_low"].iloc[0], row["ratio_ci_high"].iloc[0]
    assert lo <= row["ratio"].iloc[0] <= hi and 0 <= row["verdict_share"].iloc[0] <= 1
    text = res.summary().as_text()
    assert "stability case" in text and "adiabatic verdict" in text


@pytest.mark.parametrize("strategy", ["auto", *STRATEGIES])
def test_spatial_coevolution_equals_core_strategies(sar_fit, strategy):
    df, res = sar_fit
    ref_pot = _direct_potential(res)
    assert ref_pot.has_stable_point  # so every strategy applies
    panel = df[["region", "year", "q1", "q2"]].sort_values(["region", "year"]).reset_index(drop=True)
    edges = [0.0, 0.4, 0.7, 1.0]
    labels = ["low", "mid", "high"]
    expected = coevolution(
        panel,
        {r: ref_pot for r in panel["region"].unique()},
        strategy=strategy,
        grades=edges,
        labels=labels,
        labels_zh=labels,
        names=("q1", "q2"),
    )
    got = res.coevolution(strategy, grades=edges, labels=labels, labels_zh=labels)
    assert got.strategy == expected.strategy and got.reason == expected.reason
    g = got.table.sort_values(["region", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(g, expected.table, check_exact=False, rtol=1e-12, atol=1e-14)
    assert len(got) == len(df) and got["h"].equals(got.table["h"])


def test_spatial_coevolution_unsupported_case_raises():
    # case 3 of the methods note (gamma1 < 0, a b < 0): no stable point exists
    df = _aspatial_panel(-0.1, -0.3, 0.6, 0.35, seed=3)
    res = slx.fit(df, "q1", "q2", GRAPH, draws=50, seed=1)
    assert _direct_potential(res).case == 3 and res.potential.case == 3
    for name in ("distance", "distance-normalized"):
        with pytest.raises(ModelError, match="stable point"):
            res.coevolution(name)
    auto = res.coevolution()
    assert auto.strategy == "potential-normalized" and "no stable point" in auto.reason
    assert np.isnan(auto.table["d"]).all()


def test_spatial_coevolution_undefined_potential_raises():
    # gamma2 < 0: the servo variable is not damped, no potential (case 0)
    df = _aspatial_panel(0.1, 0.3, -0.05, 0.2, seed=4)
    res = slx.fit(df, "q1", "q2", GRAPH, draws=50, seed=1)
    assert res.haken_params["gamma2"] < 0 and res.potential.case == 0
    for name in ("auto", *STRATEGIES):
        with pytest.raises(ModelError, match="undefined"):
            res.coevolution(name)
