"""Haken synergetics model of two (or more) regional subsystems.

Public API
----------
Model and inference
    :class:`HakenModel` -> ``fit()`` -> :class:`HakenResults` (or
    :class:`HakenByResults` for per-region/per-group fits);
    :class:`HakenResultsBase` (potential, identification row, co-evolution
    and summary pieces shared with the spatial variants, which subclass
    :class:`HakenModel` and :class:`HakenResultsBase`);
    :func:`identify` -> :class:`IdentificationResults` (every ordering, the
    order parameter); :class:`BootstrapResults`.
Potential and system
    :class:`Potential`, :class:`HakenSystem`, :data:`CASE_LABELS`.
Co-evolution level
    :data:`STRATEGIES`, :func:`get_strategy`, :func:`resolve_strategy`,
    :func:`coevolution`, :class:`CoevolutionStrategy`, :func:`grade`.
Companion analyses
    :func:`coupling_coordination`, :func:`trajectories`,
    :func:`break_tests`, :func:`scenarios`.
Pipeline stages
    :class:`HakenStage`, :class:`ScenarioStage` (in :mod:`.stage`).
Simulation
    :func:`simulate_panel`.
"""

from __future__ import annotations

from .coevolution import (
    STRATEGIES,
    CoevolutionResults,
    CoevolutionStrategy,
    coevolution,
    get_strategy,
    resolve_strategy,
)
from .coupling import coupling_coordination, relative_development
from .grades import DEFAULT_EDGES, DEFAULT_LABELS, DEFAULT_LABELS_ZH, grade
from .identification import IdentificationResults, identify
from .model import HakenModel, ShortPanelWarning
from .potential import CASE_LABELS, LegacyStablePointWarning, Potential
from .results import BootstrapResults, HakenByResults, HakenResults, HakenResultsBase, adiabatic_verdict
from .scenarios import ScenarioResults, scenarios
from .simulate import simulate_panel
from .stage import HakenAnalysisResults, HakenStage, ScenarioStage
from .stages import BreakTestResults, break_tests, trajectories
from .system import HakenSystem

__all__ = [
    "HakenModel",
    "HakenResults",
    "HakenResultsBase",
    "HakenByResults",
    "BootstrapResults",
    "identify",
    "IdentificationResults",
    "adiabatic_verdict",
    "ShortPanelWarning",
    "Potential",
    "CASE_LABELS",
    "LegacyStablePointWarning",
    "HakenSystem",
    "STRATEGIES",
    "CoevolutionStrategy",
    "CoevolutionResults",
    "coevolution",
    "get_strategy",
    "resolve_strategy",
    "grade",
    "DEFAULT_EDGES",
    "DEFAULT_LABELS",
    "DEFAULT_LABELS_ZH",
    "coupling_coordination",
    "relative_development",
    "trajectories",
    "break_tests",
    "BreakTestResults",
    "scenarios",
    "ScenarioResults",
    "simulate_panel",
    "HakenStage",
    "ScenarioStage",
    "HakenAnalysisResults",
]
