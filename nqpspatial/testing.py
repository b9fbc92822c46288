"""Conformance checks for plugin authors (like scikit-learn's ``check_estimator``).

Call :func:`check_plugin` in your plugin's test suite::

    from nqpspatial.testing import check_plugin
    from my_package import my_weights_builder

    def test_contract():
        check_plugin("weights", my_weights_builder)

Each check exercises the plugin on a small synthetic study (a 4 x 4 lattice
of square regions over eight periods, two subsystems that follow the
discrete Haken system) and raises :class:`AssertionError` with a message
that says which part of the contract is broken.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from .registry import KINDS, contract_problems

__all__ = ["check_plugin", "make_context", "check_analysis", "check_scheme", "check_coevolution",
           "check_model", "check_weights", "check_statistic"]

_TABLE_NAME = re.compile(r"^[a-z0-9_]+$")
_REQUIREMENTS = {"pair", "geometry", "haken", "scheme"}


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
    from .stage import StageContext

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


def _jsonable(obj: Any, what: str) -> None:
    try:
        json.dumps(obj, default=lambda o: (_ for _ in ()).throw(TypeError(type(o).__name__)))
    except TypeError as exc:
        raise AssertionError(f"{what} must be JSON-serialisable: {exc}") from None


def check_analysis(obj, ctx=None) -> None:
    """Check an ``analyses`` plugin (a pipeline stage).

    Verifies the attributes, runs the stage with its default config on a
    synthetic context, and checks the output: table names, tidy tables,
    JSON-serialisable info, and that the context's inputs were not mutated.
    """
    assert re.match(r"^[a-z][a-z0-9_]*$", obj.name), f"name {obj.name!r} must be lower_snake_case"
    from collections.abc import Mapping

    assert isinstance(obj.config_keys, Mapping), "config_keys must be a mapping of key -> default"
    _jsonable(dict(obj.config_keys), "config_keys defaults")
    for k in obj.config_keys:
        assert re.match(r"^[a-z][a-z0-9_]*$", k), f"config key {k!r} must be lower_snake_case"
    req = set(getattr(obj, "requires", ()))
    assert req <= _REQUIREMENTS, f"unknown requirements {req - _REQUIREMENTS}; allowed {_REQUIREMENTS}"
    assert isinstance(getattr(obj, "optional", False), bool), "optional must be a bool"
    assert isinstance(getattr(obj, "order", 100), int), "order must be an int"
    from .stage import StageOutput

    ctx = ctx if ctx is not None else make_context()
    before_panel, before_idx = ctx.panel.copy(), ctx.indices.copy()
    cfg = {"enabled": True, **copy.deepcopy(dict(obj.config_keys))}
    out = obj.run(ctx, cfg)
    assert isinstance(out, StageOutput), f"run() must return a StageOutput, got {type(out).__name__}"
    for name, tab in out.tables.items():
        assert _TABLE_NAME.match(name), f"table name {name!r} must use a-z, 0-9 and _ only"
        assert isinstance(tab, pd.DataFrame), f"table {name!r} must be a DataFrame"
        assert not isinstance(tab.columns, pd.MultiIndex), f"table {name!r} must have flat columns (tidy)"
        assert all(isinstance(c, str) for c in tab.columns), f"table {name!r} column names must be strings"
    _jsonable(out.info, "StageOutput.info")
    pd.testing.assert_frame_equal(ctx.panel, before_panel, obj="the context's panel (must not be mutated)")
    pd.testing.assert_frame_equal(ctx.indices, before_idx, obj="the context's indices (must not be mutated)")


def check_scheme(obj) -> None:
    """Check a ``schemes`` plugin: ``load(regions)`` maps every region to one group."""
    assert isinstance(obj.name, str) and obj.name, "name must be a non-empty string"
    regions = getattr(obj, "example_regions", None)
    series = obj.load(regions) if regions is not None else obj.load(None)
    assert isinstance(series, pd.Series), "load() must return a pandas Series region -> group"
    assert series.index.is_unique, "every region must appear once"
    assert series.notna().all(), "every region must belong to a group"
    if regions is not None:
        assert list(series.index) == list(regions), "load(regions) must return the regions in the given order"


def check_coevolution(obj) -> None:
    """Check a ``coevolution`` strategy on the four stability cases.

    Supported cases must give finite values of the input's shape (in [0, 1]
    when ``normalized``); unsupported cases must raise ModelError.
    """
    from .errors import ModelError

    assert isinstance(obj.name, str) and obj.name, "name must be a non-empty string"
    try:
        from .haken.potential import Potential
    except ImportError as exc:  # pragma: no cover
        raise AssertionError(f"the Haken potential is needed to check strategies: {exc}") from None
    q1 = np.linspace(0.05, 0.95, 12)
    cases = [(-0.2, 0.5, 0.8, 0.4), (0.2, 0.5, 0.8, 0.4), (-0.2, -0.5, 0.8, 0.4), (0.2, -0.5, 0.8, 0.4)]
    for g1, a, g2, b in cases:
        pot = Potential.from_params(gamma1=g1, a=a, gamma2=g2, b=b)
        if obj.supports(pot.case):
            h = np.asarray(obj(q1, pot), dtype=float)
            assert h.shape == q1.shape, f"strategy returned shape {h.shape} for input {q1.shape}"
            assert np.isfinite(h).all(), f"non-finite values in case {pot.case}"
            if getattr(obj, "normalized", False):
                assert ((h >= 0) & (h <= 1)).all(), f"normalized strategy left [0, 1] in case {pot.case}"
        else:
            try:
                obj(q1, pot)
            except ModelError:
                continue
            raise AssertionError(f"unsupported case {pot.case} must raise ModelError, not return values")


def check_model(obj) -> None:
    """Check a ``models`` plugin: ``fit`` on the synthetic study returns results with ``summary()``."""
    from .results import Results

    ctx = make_context()
    graph = None
    try:
        from libpysal.graph import Graph

        graph = Graph.build_contiguity(ctx.geometry, rook=False).transform("r")
    except ImportError:  # pragma: no cover
        pass
    res = obj.fit(ctx.indices, "A", "B", graph, region="region", year="year", rng=np.random.default_rng(0))
    assert isinstance(res, Results), "fit() must return a nqpspatial.results.Results"
    text = res.summary().as_text()
    assert isinstance(text, str) and text, "summary() must render text"


def check_weights(obj) -> None:
    """Check a ``weights`` plugin (delegates to the spatial contract checks)."""
    from . import _contracts_spatial

    _contracts_spatial.check_weights_plugin(obj)


def check_statistic(obj) -> None:
    """Check a ``statistics`` plugin (delegates to the spatial contract checks)."""
    from . import _contracts_spatial

    _contracts_spatial.check_statistic_plugin(obj)


_CHECKS = {"analyses": check_analysis, "schemes": check_scheme, "coevolution": check_coevolution,
           "models": check_model, "weights": check_weights, "statistics": check_statistic}


def check_plugin(kind: str, obj) -> None:
    """Check a plugin object against the contract of its kind.

    Parameters
    ----------
    kind : str
        One of ``weights``, ``statistics``, ``models``, ``schemes``,
        ``coevolution``, ``analyses``.
    obj : object
        The plugin object (what its entry point loads).

    Raises
    ------
    AssertionError
        The first broken part of the contract, explained.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    problems = contract_problems(kind, obj)
    assert not problems, f"{kind} plugin breaks the contract: {'; '.join(problems)}"
    _CHECKS[kind](obj)
