"""The co-evolution table computed once per distinct potential equals the region-by-region computation
of 0.1.0 (kept below as the reference), for pooled and region-effect fits and a plugin strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpspatial.haken import HakenModel, simulate_panel
from nqpspatial.haken.coevolution import CoevolutionStrategy, _checked, _domain, coevolution
from nqpspatial.haken.model import ShortPanelWarning
from nqpspatial.registry import registered

TRUE = dict(gamma1=-0.1, a=0.35, gamma2=0.6, b=0.35)


def _reference_rows(panel, potentials, strat, dom):
    """The 0.1.0 loop: one DataFrame per region (groupby without sorting)."""
    parts = []
    for r, g in panel.groupby("region", sort=False):
        pot = potentials[r]
        q1 = g["q1"].to_numpy(float)
        h = _checked(strat, strat(q1, pot, domain=dom), q1, dom)
        V = pot(q1) if pot.valid else np.full(len(q1), np.nan)
        d = pot.distance(q1) if pot.has_stable_point and pot.valid else np.full(len(q1), np.nan)
        parts.append(
            pd.DataFrame(
                {
                    "region": g["region"].to_numpy(),
                    "year": g["year"].to_numpy(),
                    "q1": q1,
                    "q2": g["q2"].to_numpy(float),
                    "V": np.asarray(V, float),
                    "d": np.asarray(d, float),
                    "h": h,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _panel_and_potentials(effects):
    rng = np.random.default_rng(3)
    eff = (rng.normal(0, 0.003, 31), rng.normal(0, 0.003, 31)) if effects == "region" else None
    df = simulate_panel(**TRUE, n_periods=8, q1_start=(0.3, 0.6), region_effects=eff, seed=rng)
    if effects == "region":
        with pytest.warns(ShortPanelWarning, match="Nickell"):
            res = HakenModel(df, "q1", "q2", effects=effects).fit()
    else:
        res = HakenModel(df, "q1", "q2", effects=effects).fit()
    panel = df[["region", "year", "q1", "q2"]].sample(frac=1.0, random_state=2)  # rows not sorted by region
    return panel, res.potentials()


@pytest.mark.parametrize("effects", ["none", "region"])
@pytest.mark.parametrize("strategy", ["potential", "potential-normalized", "distance", "distance-normalized"])
def test_batched_table_equals_the_region_by_region_reference(effects, strategy):
    panel, pots = _panel_and_potentials(effects)
    if strategy.startswith("distance") and not all(p.has_stable_point for p in pots.values()):
        pytest.skip("no stable point")
    got = coevolution(panel, pots, strategy=strategy).table
    ref = _reference_rows(panel, pots, got_strategy(strategy), _domain("unit", panel))
    pd.testing.assert_frame_equal(got[list(ref.columns)], ref, check_exact=True)


def got_strategy(name):
    from nqpspatial.haken.coevolution import STRATEGIES

    return STRATEGIES[name]


class _RegionRank(CoevolutionStrategy):
    """A plugin whose h depends on all values it is given (rank within the call): called per region."""

    name = "region-rank"
    normalized = True
    description = "rank of q1 within the region, scaled to [0, 1]"

    def __call__(self, q1_values, potential, *, domain=(0.0, 1.0)):
        q = np.asarray(q1_values, float)
        return np.argsort(np.argsort(q)) / max(len(q) - 1, 1)


def test_plugin_strategy_is_called_region_by_region():
    panel, pots = _panel_and_potentials("none")
    strat = _RegionRank()
    with registered("coevolution", "region-rank", strat):
        got = coevolution(panel, pots, strategy="region-rank").table
    ref = _reference_rows(panel, pots, strat, _domain("unit", panel))
    pd.testing.assert_frame_equal(got[list(ref.columns)], ref, check_exact=True)
