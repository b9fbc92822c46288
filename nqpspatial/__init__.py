"""nqpspatial: spatial co-evolution analysis of two regional subsystems.

The user-level objects are reachable from here (``nqpspatial.HakenModel``,
``nqpspatial.build_weights``, ``nqpspatial.dagum_decomposition``, ...), so
that no user types ``.plugins.``.  Importing the package is light: it loads
no plugin, no geopandas and no esda; each name imports its module on first
use.
"""

from __future__ import annotations

import importlib

from ._version import __version__

_LAZY = {
    "run": ("nqpspatial.pipeline", "run"),
    "validate": ("nqpspatial.pipeline", "validate"),
    "RunResult": ("nqpspatial.pipeline", "RunResult"),
    "load_panel": ("nqpspatial.panel", "load_panel"),
    "read_indicators": ("nqpspatial.panel", "read_indicators"),
    "PanelData": ("nqpspatial.panel", "PanelData"),
    "compute_weights": ("nqpspatial.weighting", "compute_weights"),
    "normalize": ("nqpspatial.weighting", "normalize"),
    "HakenModel": ("nqpspatial.haken", "HakenModel"),
    "identify": ("nqpspatial.haken", "identify"),
    "Potential": ("nqpspatial.haken", "Potential"),
    "coupling_coordination": ("nqpspatial.haken", "coupling_coordination"),
    "break_tests": ("nqpspatial.haken", "break_tests"),
    "scenarios": ("nqpspatial.haken", "scenarios"),
    "simulate_panel": ("nqpspatial.haken", "simulate_panel"),
    # spatial weights and statistics
    "build_weights": ("nqpspatial.spatial", "build_weights"),
    "SpatialWeights": ("nqpspatial.spatial", "SpatialWeights"),
    "parse_spec": ("nqpspatial.spatial", "parse_spec"),
    "moran": ("nqpspatial.plugins.statistics", "moran"),
    "geary": ("nqpspatial.plugins.statistics", "geary"),
    "getis_ord": ("nqpspatial.plugins.statistics", "getis_ord"),
    "moran_bivariate": ("nqpspatial.plugins.statistics", "moran_bivariate"),
    "lisa": ("nqpspatial.plugins.statistics", "lisa"),
    "gistar": ("nqpspatial.plugins.statistics", "gistar"),
    # spatial Haken models
    "SpatialHakenModel": ("nqpspatial.plugins.spatial_haken", "SpatialHakenModel"),
    # zones
    "zones_summary": ("nqpspatial.plugins.zones", "zones_summary"),
    "dagum_decomposition": ("nqpspatial.plugins.zones", "dagum_decomposition"),
    "theil_decomposition": ("nqpspatial.plugins.zones", "theil_decomposition"),
    "markov_chains": ("nqpspatial.plugins.zones", "markov_chains"),
    "kernel_density": ("nqpspatial.plugins.zones", "kernel_density"),
    "convergence": ("nqpspatial.plugins.zones", "convergence"),
    "obstacle_degree": ("nqpspatial.plugins.zones", "obstacle_degree"),
    "cluster_regions": ("nqpspatial.plugins.zones", "cluster_regions"),
    # robustness
    "weight_sensitivity": ("nqpspatial.robustness", "weight_sensitivity"),
    "draw_weights": ("nqpspatial.robustness", "draw_weights"),
    "robustness_table": ("nqpspatial.robustness", "robustness_table"),
    # errors and warnings
    "InputError": ("nqpspatial.errors", "InputError"),
    "ConfigError": ("nqpspatial.errors", "ConfigError"),
    "ModelError": ("nqpspatial.errors", "ModelError"),
    "PluginError": ("nqpspatial.errors", "PluginError"),
    "NqpWarning": ("nqpspatial.errors", "NqpWarning"),
}

__all__ = ["__version__", *_LAZY]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name):  # pragma: no cover - thin lazy loader
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'nqpspatial' has no attribute {name!r}")
    module, attr = target
    return getattr(importlib.import_module(module), attr)
