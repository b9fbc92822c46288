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


def make_context(
    side: int = 4,
    periods: int = 8,
    seed: int = 0,
    geometry: bool = True,
    scheme: bool = True,
    haken: bool = False,
    config: dict | None = None,
):
    """A small synthetic :class:`~nqpspatial.stage.StageContext`, built through the run's own types.

    The context holds what the core provides before the analyses: the
    resolved config (typed specs), the indicator weights
    (:class:`~nqpspatial.artifacts.IndicatorWeights`) and, with boundaries,
    the spatial weights (:class:`~nqpspatial.artifacts.SpatialWeightsSet`,
    every specification the config names, queen contiguity by default);
    with ``haken=True`` also what the first-party Haken stage provides (:class:`~nqpspatial.artifacts.HakenOutcome`).

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
    haken : bool
        Run the first-party Haken stage on the context (bootstrap 0) and
        provide its outcome.
    config : dict, optional
        Tables of the config (resolved with the installed analyses' specs).

    Returns
    -------
    nqpspatial.stage.StageContext
    """
    from ..stage import StageContext

    n = side * side
    w = len(str(side - 1))  # r00 .. r99 up to side 10; zero-padded (unique) above
    ids = [f"r{i:0{w}d}{j:0{w}d}" for i in range(side) for j in range(side)]
    q1, q2 = _simulate(n, periods, seed)
    years = list(range(2010, 2010 + periods))
    idx = pd.DataFrame(
        {"region": np.repeat(ids, periods), "year": np.tile(years, n), "A": q1.T.reshape(-1), "B": q2.T.reshape(-1)}
    )
    panel = idx.rename(columns={"A": "a", "B": "b"})
    normalized = panel.copy()
    for c in ("a", "b"):
        normalized[c] = (panel[c] - panel[c].min()) / (panel[c].max() - panel[c].min())
    weights = pd.DataFrame(
        {
            "subsystem": ["A", "B"],
            "dimension": ["", ""],
            "indicator": ["a", "b"],
            "direction": [1, 1],
            "weight": [1.0, 1.0],
            "method": ["critic", "critic"],
        }
    )
    indicators = pd.DataFrame(
        {
            "indicator": ["a", "b"],
            "subsystem": ["A", "B"],
            "dimension": ["", ""],
            "direction": [1, 1],
            "label": ["", ""],
            "unit": ["", ""],
            "weight": [np.nan, np.nan],
        }
    )
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
    from dataclasses import replace

    from .. import registry
    from ..artifacts import IndicatorWeights
    from ..config import resolve_config, stage_spec

    raw = {
        "name": "contract check",
        "data": {"panel": "synthetic", "indices": True},
        "run": {"seed": seed},
        **(config or {}),
    }
    if haken:
        raw.setdefault("haken", {}).setdefault("bootstrap", 0)
    cfg = resolve_config(raw, {a.name: stage_spec(a) for a in registry.load_all("analyses").values()})
    ctx = StageContext(
        config=cfg,
        panel=panel,
        subsystems=["A", "B"],
        indices=idx,
        indicators=indicators,
        geometry=geo,
        scheme=sch,
        scheme_name="halves" if scheme else None,
        seed=seed,
    )
    ctx.provide(IndicatorWeights(table=weights, normalized=normalized))
    if geo is not None:
        from .._prepare import _weights_specs, weights_set

        # the core weights step: every specification the config names ([spatial] weights, queen by default)
        ws, _ = weights_set(
            _weights_specs(cfg),
            ids,
            idx.merge(panel, on=["region", "year"]),
            cfg.get("spatial"),
            geometry=geo,
            scheme=sch,
        )
        if ws is not None:  # stages run by hand may ask for more specifications: build them on demand
            ctx.provide(replace(ws, complete=False))
    if haken:
        out = registry.get("analyses", "haken").run(ctx, cfg["haken"])
        for art in out.artifacts:
            ctx.provide(art)
    return ctx
