"""Haken synergetics model: estimation, order parameter, potential, co-evolution, stages."""

from __future__ import annotations

from .coevolution import (STRATEGIES, CoevolutionResults, CoevolutionStrategy, coevolution,
                          get_strategy, resolve_strategy)
from .grades import DEFAULT_EDGES, DEFAULT_LABELS, DEFAULT_LABELS_ZH, grade
from .identification import IdentificationResults, identify
from .model import HakenModel, ShortPanelWarning
from .potential import CASE_LABELS, LegacyStablePointWarning, Potential
from .results import BootstrapResults, HakenByResults, HakenResults, adiabatic_verdict
from .simulate import simulate_panel
from .system import HakenSystem
