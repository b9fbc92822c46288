"""Frozen copy of ``nqpspatial.plugins.zones.density.gaussian_density`` before the blocked evaluation (issue 19).

The reference for ``tests/test_zones_density_fast.py``.  Do not edit.
"""

from __future__ import annotations

import numpy as np


def gaussian_density_reference(y, grid, bandwidth: float) -> np.ndarray:
    """The whole grid x observations matrix at once."""
    y = np.asarray(y, dtype=float)
    z = (np.asarray(grid, dtype=float)[:, None] - y[None, :]) / bandwidth
    return np.exp(-0.5 * z * z).sum(axis=1) / (y.size * bandwidth * np.sqrt(2.0 * np.pi))
