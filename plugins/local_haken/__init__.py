"""Geographically weighted Haken model (GW-Haken) and its pipeline stage ``[local_haken]``.

Public API
----------
GWHakenModel, GWHakenResults, NonstationarityResults
    ``GWHakenModel(data, q1, q2, geometry=gdf).fit()`` -> local gamma1, a,
    gamma2, b per region with region-clustered local standard errors, the
    da Silva & Fotheringham (2016) adjusted significance, local R^2, the
    local verdict, potential, case, stable point and annual-map stability;
    ``results.nonstationarity_test(99, seed=1)`` permutes whole regions.
simulate_gw_panel, longitude_gradient
    Panels with a gamma1 that varies over space.
local_parameter_map, local_category_map, local_haken_figures
    Maps of the local parameters, verdicts and stability cases (in
    :mod:`.maps`; imported on use).
"""

from __future__ import annotations

from .model import GWHakenModel, GWHakenResults, NonstationarityResults
from .simulate import longitude_gradient, simulate_gw_panel

__all__ = ["GWHakenModel", "GWHakenResults", "NonstationarityResults", "simulate_gw_panel", "longitude_gradient"]
