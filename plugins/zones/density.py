"""Distribution dynamics: Gaussian kernel density of a variable by period and group.

The density of each period's cross-section (all regions, and each group of
the scheme) is a Gaussian kernel density (equal to
:class:`scipy.stats.gaussian_kde`, evaluated directly) using Silverman's
rule of thumb, ``h = (3 n / 4)^(-1/5) s`` with ``s`` the sample
standard deviation (Silverman 1986, eq. 3.28 with the normal reference; this
is SciPy's ``bw_method="silverman"`` in one dimension).  Each curve is
evaluated on one grid per variable, shared by all periods and groups, so
that curves can be overlaid.

A variable bounded to an interval (an index in [0, 1]) gets a density with
*reflection* at both bounds (Schuster 1985; Silverman 1986, section 2.10):
each observation's kernel is reflected about both ends again and again, which
folds the mass that would spill past a bound back into the interval, so the
density integrates to one on it and has no spurious drop at the bounds.  The
grid then spans exactly the interval.

References: Silverman, B. W. (1986). *Density Estimation for Statistics and
Data Analysis*. London: Chapman & Hall.  Schuster, E. F. (1985). Incorporating
support constraints into nonparametric estimators of densities.
*Communications in Statistics - Theory and Methods* 14(5): 1123-1136.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from nqpspatial.errors import InputError
from nqpspatial.results import Results, Summary

from ._common import check_grouped

__all__ = [
    "kernel_density",
    "DensityResults",
    "count_modes",
    "silverman_bandwidth",
    "gaussian_density",
    "reflected_density",
]

#: local maxima lower than this fraction of the highest peak are not counted as modes
MODE_FLOOR = 0.01


def count_modes(density: np.ndarray, floor: float = MODE_FLOOR) -> int:
    """Number of local maxima of a density sampled on a grid.

    A grid point is a mode when it is higher than its left neighbour and not
    lower than its right one (plateaus count once) and its height is at
    least ``floor`` times the highest peak (to ignore numerical ripples in
    the tails).

    Parameters
    ----------
    density : array_like
        Density values on an increasing grid.
    floor : float, default 0.01
        Relative height below which local maxima are ignored.

    Returns
    -------
    int
    """
    f = np.asarray(density, dtype=float)
    if f.size < 3 or not np.isfinite(f).all() or f.max() <= 0:
        return 0
    d = np.diff(f)
    # sign changes + to - (skipping flat runs)
    s = np.sign(d)
    nz = s[s != 0]
    idx = np.flatnonzero(s != 0)
    peaks = 0
    for a in range(len(nz) - 1):
        if nz[a] > 0 and nz[a + 1] < 0:
            i = idx[a + 1]
            if f[i] >= floor * f.max():
                peaks += 1
    if len(nz) and nz[-1] > 0 and f[-1] >= floor * f.max():  # peak at the right edge
        peaks += 1
    if len(nz) and nz[0] < 0 and f[0] >= floor * f.max():  # peak at the left edge
        peaks += 1
    return peaks


def silverman_bandwidth(y) -> float:
    """Silverman's (1986) normal-reference bandwidth ``(3 n / 4)^(-1/5) s`` (s: sample sd).

    This is the bandwidth of ``scipy.stats.gaussian_kde(y, bw_method="silverman")``
    in one dimension.
    """
    y = np.asarray(y, dtype=float)
    return float((3.0 * y.size / 4.0) ** (-0.2) * y.std(ddof=1))


def gaussian_density(y, grid, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``y`` evaluated on ``grid``.

    ``f(x) = (1 / n) sum_i phi((x - y_i) / h) / h``; equal to
    ``scipy.stats.gaussian_kde`` with the same bandwidth (a test checks it),
    without its per-call linear-algebra overhead in one dimension.

    The grid is evaluated :data:`_GRID_ROWS` points at a time in two reused buffers (the same
    operations on each element and the same row sums as on the whole grid x observations matrix, so
    the same bits, ``tests/test_zones_density_fast.py``), which keeps the work in cache: 4-5 times
    faster on 28,000 reflected county values.
    """
    y = np.asarray(y, dtype=float)
    g = np.asarray(grid, dtype=float).ravel()
    out = np.empty(g.size)
    rows = min(_GRID_ROWS, max(g.size, 1))
    z_buf, t_buf = np.empty((rows, y.size)), np.empty((rows, y.size))
    # observations in runs of _FAR_CHUNK: a run whose every value lies more than _FAR_Z bandwidths from a grid
    # block contributes exact zeros there (exp(-0.5 z^2) underflows to 0.0), written without being computed
    edges = np.arange(0, y.size + _FAR_CHUNK, _FAR_CHUNK).clip(max=y.size)
    lo_run = np.array([y[a:b].min() if b > a else np.inf for a, b in zip(edges[:-1], edges[1:])])
    hi_run = np.array([y[a:b].max() if b > a else -np.inf for a, b in zip(edges[:-1], edges[1:])])
    reach = _FAR_Z * bandwidth
    for a in range(0, g.size, rows):
        gb = g[a : a + rows]
        z, t = z_buf[: gb.size], t_buf[: gb.size]
        near = ~((lo_run - gb.max() > reach) | (gb.min() - hi_run > reach)) if gb.size else np.ones(0, bool)
        for near_run, c0, c1 in _runs(near, edges):
            if not near_run:
                t[:, c0:c1] = 0.0
                continue
            zc, tc = z[:, c0:c1], t[:, c0:c1]
            np.subtract(gb[:, None], y[None, c0:c1], out=zc)
            zc /= bandwidth
            np.multiply(-0.5, zc, out=tc)
            tc *= zc
            np.exp(tc, out=tc)
        out[a : a + rows] = t.sum(axis=1)
    return out / (y.size * bandwidth * np.sqrt(2.0 * np.pi))


def _runs(flags: np.ndarray, edges: np.ndarray):
    """Maximal runs of equal ``flags`` as ``(flag, start, stop)`` over the observation positions ``edges``."""
    if flags.size == 0:
        return
    cut = np.flatnonzero(flags[1:] != flags[:-1]) + 1
    starts = np.r_[0, cut]
    stops = np.r_[cut, flags.size]
    for s0, s1 in zip(starts, stops):
        yield bool(flags[s0]), int(edges[s0]), int(edges[s1])


#: Observations per run of the far-run test of :func:`gaussian_density`, and the distance (in bandwidths)
#: beyond which a kernel is exactly 0.0 in double precision (exp(-0.5 * 40^2) = exp(-800) underflows).
_FAR_CHUNK = 512
_FAR_Z = 40.0


#: Grid points per block of :func:`gaussian_density`.
_GRID_ROWS = 8


def reflected_density(y, grid, bandwidth: float, lower: float = 0.0, upper: float = 1.0) -> np.ndarray:
    """Gaussian kernel density of ``y`` on ``[lower, upper]`` with reflection at both bounds.

    ``f(x) = (1/n) sum_i sum_k [phi_h(x - y_i - 2kL) + phi_h(x + y_i - 2 lower - 2kL)]``
    with ``L = upper - lower``: the images of every observation reflected
    about both bounds, repeatedly (the sum over ``k`` is cut where the
    kernels are below 1e-20 of their peak).  The images tile the real line,
    so the density integrates to exactly one on ``[lower, upper]``.

    Parameters
    ----------
    y : array_like
        Observations inside ``[lower, upper]``.
    grid : array_like
        Points of ``[lower, upper]`` to evaluate at.
    bandwidth : float
        Kernel standard deviation ``h``.
    lower, upper : float
        The bounds.
    """
    y = np.asarray(y, dtype=float)
    length = float(upper - lower)
    kmax = int(np.ceil((length + 10.0 * bandwidth) / (2.0 * length))) + 1
    shifts = 2.0 * length * np.arange(-kmax, kmax + 1)
    images = np.concatenate([y[None, :] + shifts[:, None], (2.0 * lower - y)[None, :] + shifts[:, None]]).ravel()
    return gaussian_density(images, grid, bandwidth) * (images.size / y.size)


def _half_max_width(x: np.ndarray, f: np.ndarray) -> float:
    i = int(np.argmax(f))
    half = f[i] / 2
    lo = i
    while lo > 0 and f[lo - 1] >= half:
        lo -= 1
    hi = i
    while hi < len(f) - 1 and f[hi + 1] >= half:
        hi += 1
    return float(x[hi] - x[lo])


class DensityResults(Results):
    """Kernel density summaries and curves (immutable).

    Attributes
    ----------
    density : pandas.DataFrame
        ``density.csv``: ``variable, year, level, group, n, bandwidth, mean,
        sd, location, peak, width_half_max, modes, note``.  ``location`` is
        the grid point of the highest peak, ``peak`` its height,
        ``width_half_max`` the width of the main peak at half its height,
        ``modes`` the number of local maxima (see :func:`count_modes`).  A
        group with fewer than two distinct values has empty statistics and
        a ``note``.
    curves : pandas.DataFrame
        ``density_curves.csv``: ``variable, year, level, group, x, density``.
    """

    def __init__(self, density, curves):
        self.density = density
        self.curves = curves
        self._freeze()

    def summary(self) -> Summary:
        """National density summaries per variable and year."""
        nat = self.density.query("level == 'national'").drop(columns=["level", "group", "note"])
        return Summary(title="Kernel density (Gaussian, Silverman bandwidth)", tables={"national": nat})


def kernel_density(
    data: pd.DataFrame,
    variables: str | Iterable[str],
    groups: pd.Series | None = None,
    *,
    grid_size: int = 200,
    region: str = "region",
    year: str = "year",
    scheme_name: str | None = None,
    bounds: tuple[float, float] | None = None,
) -> DensityResults:
    """Gaussian kernel density of each variable by period, nationally and per group.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per region and year.
    variables : str or iterable of str
        Columns to describe (values as stored).
    groups : pandas.Series, optional
        Region id -> group; adds one curve per group and period.
    grid_size : int, default 200
        Number of grid points; the grid spans the variable's pooled range
        widened by three of the largest bandwidths on each side.
    region, year : str
        Column names.
    scheme_name : str, optional
        Unused in the tables (the group names carry the scheme); accepted for
        symmetry with the other analyses.
    bounds : (float, float), optional
        The interval the variables are bounded to (e.g. ``(0, 1)`` for
        indices): densities with reflection at both bounds (see
        :func:`reflected_density`) on a grid spanning exactly the interval,
        and the note "reflected at the bounds".  Values outside it are an
        error.

    Returns
    -------
    DensityResults

    Raises
    ------
    InputError
        Missing columns or cells, or a region without group.
    """
    variables, frame, grp = check_grouped(data, variables, groups, region, year, scheme_name, groups_optional=True)
    if grp is not None:
        frame["__group"] = grp.reindex(frame[region]).to_numpy()
    rows, curves = [], []
    for v in variables:
        cells = []
        for t, sub in frame.groupby(year, sort=True):
            cells.append((t, "national", "all", sub[v].to_numpy(dtype=float)))
            if groups is not None:
                for gname, gsub in sub.groupby("__group", sort=True):
                    cells.append((t, "group", gname, gsub[v].to_numpy(dtype=float)))
        bws = [silverman_bandwidth(y) if np.unique(y).size >= 2 else None for _, _, _, y in cells]
        valid = [b for b in bws if b is not None]
        allv = frame[v].to_numpy(dtype=float)
        pad = 3 * max(valid) if valid else 0.0
        grid = np.linspace(allv.min() - pad, allv.max() + pad, int(grid_size))
        if bounds is not None:
            lo, hi = float(bounds[0]), float(bounds[1])
            if not lo < hi or allv.min() < lo or allv.max() > hi:
                raise InputError(
                    f"kernel density of '{v}': values span [{allv.min():.6g}, {allv.max():.6g}], "
                    f"outside bounds = ({lo:g}, {hi:g}). Fix: give bounds that hold every value, "
                    "or none."
                )
            grid = np.linspace(lo, hi, int(grid_size))
        for (t, level, gname, y), bw in zip(cells, bws):
            base = {"variable": v, "year": t, "level": level, "group": gname, "n": y.size}
            if bw is None:
                rows.append({**base, "mean": float(y.mean()), "note": "fewer than two distinct values: no density"})
                continue
            f = gaussian_density(y, grid, bw) if bounds is None else reflected_density(y, grid, bw, *bounds)
            i = int(np.argmax(f))
            rows.append(
                {
                    **base,
                    "bandwidth": float(bw),
                    "mean": float(y.mean()),
                    "sd": float(y.std(ddof=1)),
                    "location": float(grid[i]),
                    "peak": float(f[i]),
                    "width_half_max": _half_max_width(grid, f),
                    "modes": count_modes(f),
                    "note": "" if bounds is None else f"reflected at the bounds {bounds[0]:g} and {bounds[1]:g}",
                }
            )
            curves.append(pd.DataFrame({**base, "x": grid, "density": f}).drop(columns="n"))
    cols = [
        "variable",
        "year",
        "level",
        "group",
        "n",
        "bandwidth",
        "mean",
        "sd",
        "location",
        "peak",
        "width_half_max",
        "modes",
        "note",
    ]
    density = pd.DataFrame(rows).reindex(columns=cols)
    density["modes"] = density["modes"].astype("Int64")
    curve_cols = ["variable", "year", "level", "group", "x", "density"]
    curves_df = pd.concat(curves, ignore_index=True)[curve_cols] if curves else pd.DataFrame(columns=curve_cols)
    return DensityResults(density, curves_df)
