"""The small synthetic study the conformance checks run plugins on."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_context"]


def _simulate(n: int, periods: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g1, a, g2, b = -0.05, 0.10, 0.60, 0.30
    q1 = np.empty((periods, n))
    q2 = np.empty((periods, n))
    q1[0] = rng.uniform(0.15, 0.45, n)
    q2[0] = rng.uniform(0.05, 0.20, n)
    for t in range(periods - 1):
        q1[t + 1] = (1 - g1) * q1[t] - a * q1[t] * q2[t] + rng.normal(0, 0.005, n)
        q2[t + 1] = (1 - g2) * q2[t] + b * q1[t] ** 2 + rng.normal(0, 0.005, n)
    return np.clip(q1, 0, 1), np.clip(q2, 0, 1)


def make_context(side: int = 4, periods: int = 8, seed: int = 0, geometry: bool = True, scheme: bool = True):
    """A small synthetic :class:`~nqpspatial.stage.StageContext` for contract checks.

    Parameters
    ----------
    side : int
        The lattice has ``side * side`` square regions named ``r00``...
    periods : int
        Number of annual periods starting in 2010.
    seed : int
        Seed of the simulation.
    geometry : bool
        Attach a GeoDataFrame of the lattice (needs geopandas).
    scheme : bool
        Attach a two-group scheme (west/east halves of the lattice).

    Returns
    -------
    nqpspatial.stage.StageContext
    """
    from ..stage import StageContext

    n = side * side
    ids = [f"r{i}{j}" for i in range(side) for j in range(side)]
    q1, q2 = _simulate(n, periods, seed)
    years = list(range(2010, 2010 + periods))
    idx = pd.DataFrame({"region": np.repeat(ids, periods), "year": np.tile(years, n),
                        "A": q1.T.reshape(-1), "B": q2.T.reshape(-1)})
    panel = idx.rename(columns={"A": "a", "B": "b"})
    normalized = panel.copy()
    for c in ("a", "b"):
        normalized[c] = (panel[c] - panel[c].min()) / (panel[c].max() - panel[c].min())
    weights = pd.DataFrame({"subsystem": ["A", "B"], "dimension": ["", ""], "indicator": ["a", "b"],
                            "direction": [1, 1], "weight": [1.0, 1.0], "method": ["critic", "critic"]})
    indicators = pd.DataFrame({"indicator": ["a", "b"], "subsystem": ["A", "B"], "dimension": ["", ""],
                               "direction": [1, 1], "label": ["", ""], "unit": ["", ""], "weight": [np.nan, np.nan]})
    geo = None
    if geometry:
        import geopandas as gpd
        from shapely.geometry import box

        # one-degree squares near the equator (EPSG:4326), so distances are about 111 km
        polys = [box(j, i, j + 1, i + 1) for i in range(side) for j in range(side)]
        geo = gpd.GeoDataFrame({"region": ids}, geometry=polys, crs="EPSG:4326").set_index("region")
    sch = None
    if scheme:
        sch = pd.Series(["west" if int(r[2]) < side / 2 else "east" for r in ids], index=ids, name="group")
    config = {"name": "contract check", "run": {"seed": seed}}
    ctx = StageContext(config=config, panel=panel, subsystems=["A", "B"], indices=idx, indicators=indicators,
                       geometry=geo, scheme=sch, scheme_name="halves" if scheme else None, seed=seed)
    ctx.results["weights"] = weights
    ctx.results["normalized"] = normalized
    return ctx
