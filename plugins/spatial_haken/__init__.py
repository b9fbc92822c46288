"""Spatial-lag Haken variants (SLX, SAR, SEM, SDM) with effects, diagnostics and a zone split.

Public API
----------
SpatialHakenModel, SpatialHakenResults, SpatialPotential
    statsmodels-style model (``SpatialHakenModel(...).fit()``) and its results.
    ``SpatialHakenModel`` subclasses :class:`nqpspatial.haken.HakenModel` (shared data
    preparation) and ``SpatialHakenResults`` subclasses
    :class:`nqpspatial.haken.HakenResultsBase` (shared potential, verdict,
    identification row and co-evolution strategies); ``SpatialPotential`` is the
    :class:`nqpspatial.haken.Potential` of one reading: the system reading (total effects,
    the uniform state of the spatial system; default) or the local one (direct effects).
dynamics, readings
    The estimated spatial map (steady states, uniform state, its stability over the modes
    of W) and the two readings of its dynamics (issue 14).
slx, sar, sem, sdm
    ``nqpspatial.models`` plugin objects with ``fit(data, q1, q2, graph, ...)``.
identification_table, lm_diagnostics
    Stacked identification rows with the chosen ordering; LM tests and Moran's I
    on the aspatial residuals.
simulate_panel
    Panels simulated from a variant.
ShortPanelWarning
    Warning for region effects with fewer than 20 periods (the aspatial model's class).
"""

from __future__ import annotations

from .models import (
    MODELS,
    ShortPanelWarning,
    SpatialHakenModel,
    SpatialHakenPlugin,
    SpatialHakenResults,
    SpatialPotential,
    identification_table,
    lm_diagnostics,
    sar,
    sdm,
    sem,
    slx,
)
from .simulate import simulate_panel

__all__ = [
    "MODELS",
    "ShortPanelWarning",
    "SpatialHakenModel",
    "SpatialHakenPlugin",
    "SpatialHakenResults",
    "SpatialPotential",
    "identification_table",
    "lm_diagnostics",
    "sar",
    "sdm",
    "sem",
    "slx",
    "simulate_panel",
]
