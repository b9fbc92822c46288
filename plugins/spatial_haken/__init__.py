"""Spatial-lag Haken variants (SLX, SAR, SEM, SDM) with effects, diagnostics and a zone split.

Public API
----------
SpatialHakenModel, SpatialHakenResults
    statsmodels-style model (``SpatialHakenModel(...).fit()``) and its results.
slx, sar, sem, sdm
    ``nqpspatial.models`` plugin objects with ``fit(data, q1, q2, graph, ...)``.
identification_table, lm_diagnostics
    Stacked identification rows with the chosen ordering; LM tests and Moran's I
    on the aspatial residuals.
simulate_panel
    Panels simulated from a variant.
ShortPanelWarning
    Warning for region effects with fewer than 20 periods.
"""

from __future__ import annotations

from .models import (MODELS, ShortPanelWarning, SpatialHakenModel, SpatialHakenPlugin,
                     SpatialHakenResults, identification_table, lm_diagnostics, sar, sdm, sem,
                     slx)
from .simulate import simulate_panel

__all__ = ["MODELS", "ShortPanelWarning", "SpatialHakenModel", "SpatialHakenPlugin",
           "SpatialHakenResults", "identification_table", "lm_diagnostics", "sar", "sdm", "sem",
           "slx", "simulate_panel"]
