"""nqpspatial: spatial co-evolution analysis of two regional subsystems.

Importing the package is light: it loads no plugin, no geopandas and no
esda.  Submodules are imported on first use.
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
    "InputError": ("nqpspatial.errors", "InputError"),
    "ConfigError": ("nqpspatial.errors", "ConfigError"),
    "ModelError": ("nqpspatial.errors", "ModelError"),
    "PluginError": ("nqpspatial.errors", "PluginError"),
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
