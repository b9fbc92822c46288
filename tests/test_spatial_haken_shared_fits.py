"""Equation fits shared within the spatial Haken stage (``shared_fits``): same numbers, fewer estimations."""

from __future__ import annotations

import libpysal
import numpy as np
import pandas as pd
from libpysal.graph import Graph

from nqpspatial.plugins.spatial_haken import SpatialHakenModel, models, simulate_panel
from nqpspatial.plugins.spatial_haken.models import shared_fits
from nqpspatial.plugins.spatial_haken.selection import selection_table

GRAPH = Graph.from_W(libpysal.weights.lat2W(6, 6, rook=False))
SPLIT = pd.Series(np.where(np.arange(36) % 6 < 3, "west", "east"), index=range(36))
TRUTH = {
    "q1": {"q1": 0.75, "q1q2": -0.2, "theta_q1": 0.1, "theta_q1q2": 0.02, "rho": 0.3},
    "q2": {"q2": 0.3, "q1sq": 0.25, "theta_q2": 0.05, "theta_q1sq": 0.03, "rho": 0.25},
}


def _panel():
    return simulate_panel("sdm", GRAPH, TRUTH, periods=12, sigma=0.01, seed=4)


def _fits(df):
    sar = SpatialHakenModel(df, "q1", "q2", GRAPH, model="sar", split=SPLIT).fit(draws=30, seed=1)
    sdm = SpatialHakenModel(df, "q1", "q2", GRAPH, model="sdm", split=SPLIT).fit(draws=30, seed=1)
    return sar, sdm


def _count_fit_lag(monkeypatch):
    calls = []
    orig = models.fit_lag

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    monkeypatch.setattr(models, "fit_lag", counting)
    return calls


def test_shared_fits_give_the_same_tables_with_fewer_estimations(monkeypatch):
    """The SDM's diagnostics refit the SAR restriction: shared, it is the SAR model's fit; every table is equal."""
    df = _panel()
    calls = _count_fit_lag(monkeypatch)
    alone = _fits(df)
    n_alone = len(calls)
    calls.clear()
    with shared_fits():
        shared = _fits(df)
    assert len(calls) == n_alone - 2  # the SAR restriction of both SDM equations
    for a, b in zip(alone, shared):
        for name in ("estimates", "effects", "diagnostics", "steady_states", "potential_readings"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    with shared_fits():  # nested: the outer context's fits
        _fits(df)
        n = len(calls)
        with shared_fits():
            _fits(df)
        assert len(calls) == n


def test_shared_fit_records_are_copies():
    """A caller changing its fit record (model selection rescales SLX's log-likelihood) does not change another's."""
    df = simulate_panel("slx", GRAPH, {"q1": {"q1": 0.8, "q1q2": -0.2}, "q2": {"q2": 0.3, "q1sq": 0.2}}, seed=2)
    with shared_fits():
        mod = SpatialHakenModel(df, "q1", "q2", GRAPH, model="slx", effects="two-way")
        before = mod._fit_equation("q1", "slx").fit.loglik
        selection_table(df, "q1", "q2", GRAPH, region="region", year="year", effects="two-way", weights_name="W")
        after = mod._fit_equation("q1", "slx").fit.loglik
    assert after == before
