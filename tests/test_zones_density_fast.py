"""The blocked Gaussian density against the frozen whole-matrix evaluation: the same bits."""

from __future__ import annotations

import numpy as np
import pytest
from _density_reference import gaussian_density_reference

from nqpspatial.plugins.zones.density import gaussian_density, reflected_density, silverman_bandwidth


@pytest.mark.parametrize("n", [1, 7, 300, 28480])
@pytest.mark.parametrize("grid_size", [1, 5, 8, 9, 200, 203])
def test_gaussian_density_equals_reference_bitwise(n, grid_size):
    rng = np.random.default_rng(n + grid_size)
    y = rng.beta(2.0, 5.0, size=n)
    grid = np.linspace(-0.1, 1.1, grid_size)
    for h in (0.01, silverman_bandwidth(y) if n > 1 else 0.1, np.float64(0.3)):
        np.testing.assert_array_equal(gaussian_density(y, grid, h), gaussian_density_reference(y, grid, h))


def _reflected_reference(y, grid, h):
    """The reflected density as the frozen whole-matrix density of every image (lower 0, upper 1)."""
    length = 1.0
    kmax = int(np.ceil((length + 10.0 * h) / (2.0 * length))) + 1
    shifts = 2.0 * length * np.arange(-kmax, kmax + 1)
    images = np.concatenate([y[None, :] + shifts[:, None], (-y)[None, :] + shifts[:, None]]).ravel()
    return gaussian_density_reference(images, grid, h) * (images.size / y.size)


def test_reflected_density_equals_reference_bitwise():
    y = np.random.default_rng(5).uniform(size=2848)
    grid = np.linspace(0.0, 1.0, 200)
    h = silverman_bandwidth(y)
    np.testing.assert_array_equal(reflected_density(y, grid, h), _reflected_reference(y, grid, h))


@pytest.mark.parametrize("h", [0.005, 0.02, 0.3])
def test_far_runs_skipped_with_the_same_bits(h):
    """Reflected images in shift blocks: runs far from a grid block are zeros without exp, the same bits."""
    y = np.random.default_rng(9).beta(2.0, 5.0, size=2848)
    grid = np.linspace(0.0, 1.0, 200)
    np.testing.assert_array_equal(reflected_density(y, grid, h), _reflected_reference(y, grid, h))
    # and on sorted observations, where most runs are far from most grid blocks
    ys = np.sort(y)
    np.testing.assert_array_equal(gaussian_density(ys, grid, h), gaussian_density_reference(ys, grid, h))


def test_empty_grid():
    assert gaussian_density(np.arange(3.0), np.array([]), 0.5).shape == (0,)
