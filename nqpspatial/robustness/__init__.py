"""Robustness at scale: weight sensitivity and the robustness table.

Public API
----------
:func:`weight_sensitivity` -> :class:`SensitivityResults`
    Monte Carlo (Dirichlet) perturbation of the indicator weights pushed
    through indices, Haken identification, potential, h and grades,
    vectorised over draws; alternative weighting methods side by side.
:func:`draw_weights`
    The perturbed weight vectors themselves (same seed, same draws).
:func:`robustness_table` -> :class:`RobustnessResults`, :func:`plot_robustness`
    The identification verdict across sub-periods, rolling windows, zones,
    specifications and weights matrices.
:class:`SensitivityStage`, :class:`RobustnessStage`
    The optional ``[sensitivity]`` and ``[robustness]`` pipeline stages
    (instances ``sensitivity_stage``, ``robustness_stage`` in :mod:`.stage`).

See docs/robustness.md.
"""

from __future__ import annotations

from .sensitivity import SensitivityResults, draw_weights, weight_sensitivity
from .stage import RobustnessStage, SensitivityStage, robustness_stage, sensitivity_stage
from .table import RobustnessResults, plot_robustness, robustness_table

__all__ = [
    "weight_sensitivity",
    "draw_weights",
    "SensitivityResults",
    "robustness_table",
    "RobustnessResults",
    "plot_robustness",
    "SensitivityStage",
    "RobustnessStage",
    "sensitivity_stage",
    "robustness_stage",
]
