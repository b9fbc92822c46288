"""Simulate panels from the spatial Haken variants (for tests, examples and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from nqpspatial.errors import InputError

from ._panel import _row_standardize, graph_to_sparse, split_weights

__all__ = ["simulate_panel"]


def _year_effects(year_effects, periods: int) -> dict:
    """``{"q1": (periods - 1,), "q2": ...}`` year intercepts (zeros without ``year_effects``)."""
    taus = {eq: np.zeros(periods - 1) for eq in ("q1", "q2")}
    if year_effects is not None:
        for eq in ("q1", "q2"):
            v = np.asarray(year_effects[eq], dtype=float)
            if v.shape != (periods - 1,):
                raise InputError(f"year_effects[{eq!r}] must have periods - 1 = {periods - 1} values, got {v.shape}")
            taus[eq] = v
    return taus


def simulate_panel(
    model: str,
    graph,
    params: dict,
    *,
    periods: int = 20,
    sigma: float = 0.01,
    seed=0,
    q0=None,
    split=None,
    year_effects=None,
) -> pd.DataFrame:
    """Simulate a region-year panel from a spatial Haken variant.

    Parameters
    ----------
    model : {"slx", "sar", "sem", "sdm"}
        Data-generating variant.
    graph : libpysal.graph.Graph
        Weights (row-standardized here).
    params : dict
        ``{"q1": {...}, "q2": {...}}`` with the coefficients by term name:
        ``q1``, ``q1q2`` (q1 equation), ``q2``, ``q1sq`` (q2 equation),
        ``theta_<term>``, ``rho``, ``lambda`` (suffixed ``_within`` /
        ``_across`` with ``split``).
    periods : int
        Number of periods T.
    sigma : float
        Standard deviation of the innovations.
    seed : int or numpy.random.Generator
        Randomness source.
    q0 : tuple of arrays, optional
        Initial values of (q1, q2); default uniform on [0.3, 0.6] and [0.4, 0.7].
    split : pandas.Series, optional
        Region -> group, to simulate zone-split spatial coefficients.
    year_effects : dict, optional
        ``{"q1": array, "q2": array}`` of ``periods - 1`` year intercepts ``tau_t``, added to every
        region's equation of the transition into period ``t + 1`` (inside the spatial filter for SAR and
        SDM: ``y = A^-1 (X b + tau_t 1 + e)``; SEM: ``y = X b + tau_t 1 + A^-1 e``).

    Returns
    -------
    pandas.DataFrame
        region, year (1..T), q1, q2.
    """
    if model not in ("slx", "sar", "sem", "sdm"):
        raise InputError(f"unknown model {model!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ids = np.asarray(graph.unique_ids)
    W = _row_standardize(graph_to_sparse(graph, ids))
    N = len(ids)
    if split is None:
        Ws, suf = [W], [""]
    else:
        g = pd.factorize(pd.Series(split).reindex(ids).to_numpy())[0]
        Ws, suf = list(split_weights(W, g)), ["_within", "_across"]
    if q0 is None:
        q1 = rng.uniform(0.3, 0.6, N)
        q2 = rng.uniform(0.4, 0.7, N)
    else:
        q1, q2 = (np.asarray(v, dtype=float).copy() for v in q0)
    I = sp.identity(N, format="csc")
    lus = {}
    for eq in ("q1", "q2"):
        p = params[eq]
        key = "rho" if model in ("sar", "sdm") else "lambda" if model == "sem" else None
        if key:
            A = I.copy()
            for Wj, s in zip(Ws, suf):
                A = A - p.get(f"{key}{s}", 0.0) * Wj
            lus[eq] = spla.splu(sp.csc_array(A))
    Q1, Q2 = [q1], [q2]
    taus = _year_effects(year_effects, periods)
    for step in range(periods - 1):
        terms = {"q1": {"q1": q1, "q1q2": q1 * q2}, "q2": {"q2": q2, "q1sq": q1**2}}
        new = {}
        for eq in ("q1", "q2"):
            p = params[eq]
            mean = sum(p.get(t, 0.0) * x for t, x in terms[eq].items()) + p.get("const", 0.0) + taus[eq][step]
            if model in ("slx", "sdm"):
                for t, x in terms[eq].items():
                    for Wj, s in zip(Ws, suf):
                        mean = mean + p.get(f"theta_{t}{s}", 0.0) * np.asarray(Wj @ x)
            e = sigma * rng.standard_normal(N)
            if model in ("sar", "sdm"):
                new[eq] = lus[eq].solve(mean + e)
            elif model == "sem":
                new[eq] = mean + lus[eq].solve(e)
            else:
                new[eq] = mean + e
        q1, q2 = new["q1"], new["q2"]
        Q1.append(q1)
        Q2.append(q2)
    T = len(Q1)
    return pd.DataFrame(
        {
            "region": np.tile(ids, T),
            "year": np.repeat(np.arange(1, T + 1), N),
            "q1": np.concatenate(Q1),
            "q2": np.concatenate(Q2),
        }
    )
