"""Simulated inference of a spatial Haken fit, chunked through :mod:`nqpspatial.backends`.

LeSage & Pace (2009, sec. 2.7) simulate the effects by drawing the
coefficients from their asymptotic normal distribution.  Each chunk of
:data:`EFFECT_CHUNK` draws takes its random numbers from its own Generator
(chunk i: the i-th child of the fit's :class:`numpy.random.SeedSequence`),
so the draws, and everything computed from them, are the same on every
backend and with any number of workers.  Per draw a chunk computes

* the term-wise direct, indirect and total effects (and the within/across
  split of the indirect effect);
* the average marginal effects of q1(t) and q2(t) on q1(t+1) and q2(t+1)
  through every term (:func:`marginal_effects`);
* the stable point of both readings: the local one from the direct effects
  and, when the uniform state is defined, the system one from the total
  effects with the intercepts ``c / (1 - rho)``
  (:func:`nqpspatial.haken.potential.stable_points`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqpspatial.backends import _one_thread, plan_chunks, run_chunks, seed_sequence
from nqpspatial.errors import ModelError
from nqpspatial.haken.model import haken_params
from nqpspatial.haken.potential import stable_points

from ._linalg import SpatialFilter

__all__ = [
    "EFFECT_CHUNK",
    "EquationDraws",
    "effect_draws",
    "effects_from",
    "marginal_effects",
    "equation_stats",
    "draw_quantities",
    "ME_TERMS",
    "TERMS",
]

#: Draws per chunk (fixed, so the draws never depend on the backend or worker count).
EFFECT_CHUNK = 250
TERMS = {"q1": ("q1", "q1q2"), "q2": ("q2", "q1sq")}
#: (equation, wrt) -> [(term, weight vector, factor)]: d term / d wrt = factor * weight vector.
ME_TERMS = {
    ("q1", "q1"): [("q1", "ones", 1.0), ("q1q2", "q2", 1.0)],
    ("q1", "q2"): [("q1q2", "q1", 1.0)],
    ("q2", "q1"): [("q1sq", "q1", 2.0)],
    ("q2", "q2"): [("q2", "ones", 1.0)],
}


@dataclass
class EquationDraws:
    """What a chunk needs of one fitted equation (picklable).

    Attributes
    ----------
    mean, cov : numpy.ndarray
        Estimates and their asymptotic covariance.
    spatial_idx : list of int
        Positions of rho (SAR, SDM) among the coefficients.
    bounds : tuple of float or None
        Stationary interval of rho (draws outside are redrawn).
    filt : SpatialFilter
        The filter ``I - rho W`` (an empty filter for SLX and SEM).
    slx_ws : list
        The SLX weights matrices.
    beta_idx, theta_idx : dict
        Positions of each Haken term's beta and thetas.
    const_idx : int or None
        Position of the constant.
    const_value : float
        Fixed constant when there is no estimated one (the mean year intercept with year effects).
    """

    mean: np.ndarray
    cov: np.ndarray
    spatial_idx: list
    bounds: tuple | None
    filt: SpatialFilter
    slx_ws: list
    beta_idx: dict
    theta_idx: dict
    const_idx: int | None
    const_value: float = 0.0


def _draw(e: EquationDraws, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draws from N(mean, cov), redrawing those whose spatial parameters leave the bounds."""
    cov = 0.5 * (e.cov + e.cov.T)
    out = rng.multivariate_normal(e.mean, cov, size=size, method="eigh")
    if e.spatial_idx:
        lo, hi = e.bounds
        for _ in range(100):
            bad = np.any((out[:, e.spatial_idx] <= lo) | (out[:, e.spatial_idx] >= hi), axis=1)
            if not bad.any():
                break
            out[bad] = rng.multivariate_normal(e.mean, cov, size=int(bad.sum()), method="eigh")
        else:  # pragma: no cover
            raise ModelError(
                "the spatial parameter's sampling distribution lies mostly outside "
                "the stationary interval; effects cannot be simulated"
            )
    return out


def effects_from(params: np.ndarray, e: EquationDraws, st: dict, term: str) -> dict:
    """Direct, indirect and total effects (and the within/across split) of one term, per row of ``params``."""
    b = params[:, e.beta_idx[term]]
    th = [params[:, i] for i in e.theta_idx[term]]
    d, t, w = st["d"], st["t"], st["w"]
    direct = b * d[:, 0] + sum(x * d[:, j + 1] for j, x in enumerate(th))
    total = b * t[:, 0] + sum(x * t[:, j + 1] for j, x in enumerate(th))
    within = b * w[:, 0] + sum(x * w[:, j + 1] for j, x in enumerate(th))
    return {
        "direct": direct,
        "indirect": total - direct,
        "total": total,
        "indirect_within": within - direct,
        "indirect_across": total - within,
    }


def marginal_effects(params: np.ndarray, e: EquationDraws, stats: dict, eq: str) -> dict:
    """Average marginal effects of one equation, per row of ``params``.

    ``stats`` maps ``"ones"``, ``"q1"``, ``"q2"`` to
    :meth:`SpatialFilter.effect_stats` with the weight vectors 1 and the
    region means of q1 and q2 over the sample's starting states.  The
    derivative of ``q_e(t+1)`` with respect to ``q_v(t)`` in region j sums
    every term's impact: e.g. ``d q1' / d q1 = A^-1 [(b_q1 I + t_q1 W) +
    (b_q1q2 I + t_q1q2 W) D(q2)]``.  Averaged over the sample (linear in the
    state, so at the region means) its mean diagonal is the direct, its mean
    row sum the total effect.

    Returns
    -------
    dict
        ``(eq, wrt) -> {"direct", "indirect", "total"}`` arrays.
    """
    out = {}
    for (e_, wrt), parts in ME_TERMS.items():
        if e_ != eq:
            continue
        acc = {"direct": 0.0, "total": 0.0}
        for term, xname, factor in parts:
            eff = effects_from(params, e, stats[xname], term)
            acc["direct"] = acc["direct"] + factor * eff["direct"]
            acc["total"] = acc["total"] + factor * eff["total"]
        acc["indirect"] = acc["total"] - acc["direct"]
        out[(eq, wrt)] = acc
    return out


def equation_stats(e: EquationDraws, rhos: np.ndarray, groups, xbar: dict) -> dict:
    """Filter statistics for the effects (``"ones"``, with ``groups``) and the weighted ones (``"q1"``, ``"q2"``)."""
    return e.filt.effect_stats_many(rhos, e.slx_ws, groups, xbar)


def draw_quantities(params: dict, eqs: dict, stats: dict, uniform: bool) -> dict:
    """Every simulated quantity for a set of parameter rows (one row: the point estimates).

    Parameters
    ----------
    params : dict
        ``{"q1": (D, k1) array, "q2": (D, k2) array}``.
    eqs : dict
        ``{"q1": EquationDraws, "q2": EquationDraws}``.
    stats : dict
        Per equation, the output of :func:`equation_stats` for these rows.
    uniform : bool
        Whether the uniform (system) state is defined.

    Returns
    -------
    dict
        Keys ``("effect", eq, term, kind)``, ``("me", eq, wrt, kind)``,
        ``("local", field)`` and ``("system", field)``: ``gamma1``, ``a``,
        ``gamma2``, ``b`` from the direct (local) or total (system) effects,
        ``k1``, ``k2`` (``c / (1 - rho)`` for a uniform system state, else 0)
        and, for the local reading and a uniform system state, the fields of
        :func:`~nqpspatial.haken.potential.stable_points`.
    """
    out = {}
    eff = {}
    for eq in ("q1", "q2"):
        P, e, st = params[eq], eqs[eq], stats[eq]
        for term in TERMS[eq]:
            eff[term] = effects_from(P, e, st["ones"], term)
            for kind, v in eff[term].items():
                out[("effect", eq, term, kind)] = v
        for key, vals in marginal_effects(P, e, st, eq).items():
            for kind, v in vals.items():
                out[("me", *key, kind)] = v
    zero = np.zeros(len(params["q1"]))
    k = [zero, zero]
    if uniform:
        k = []
        for eq in ("q1", "q2"):
            P, e = params[eq], eqs[eq]
            c = P[:, e.const_idx] if e.const_idx is not None else zero + e.const_value
            rho = P[:, e.spatial_idx].sum(axis=1) if e.spatial_idx else zero
            k.append(c / (1.0 - rho))
    readings = {"local": ("direct", zero, zero, True), "system": ("total", k[0], k[1], uniform)}
    for name, (kind, k1, k2, with_point) in readings.items():
        hp = haken_params(eff["q1"][kind], eff["q1q2"][kind], eff["q2"][kind], eff["q1sq"][kind])
        fields = {**hp, "k1": k1, "k2": k2}
        if with_point:
            fields.update(stable_points(hp["gamma1"], hp["a"], hp["gamma2"], hp["b"], k1, k2))
        for f, v in fields.items():
            out[(name, f)] = np.asarray(v)
    return out


def _chunk(payload, task) -> dict:
    """One chunk: draw both equations' coefficients with the chunk's Generator, compute every quantity."""
    eqs, groups, xbar, uniform = payload
    rng = task.rng()
    params, stats = {}, {}
    for eq in ("q1", "q2"):
        e = eqs[eq]
        P = _draw(e, task.size, rng)
        params[eq] = P
        stats[eq] = equation_stats(e, P[:, e.spatial_idx], groups, xbar)
    return draw_quantities(params, eqs, stats, uniform)


def _prepare_series(eqs: dict, groups, xbar: dict, tasks) -> None:
    """Each equation's series tables built once for every chunk's draws (:meth:`SpatialFilter.prepare_series`).

    The chunks' coefficient draws are made here exactly as :func:`_chunk` makes them (the same Generator,
    q1 then q2); a chunk then finds its table built and cuts it to its degree.
    """
    spatial = {eq: e for eq, e in eqs.items() if e.spatial_idx and isinstance(e.filt, SpatialFilter)}
    if not spatial:
        return
    with _one_thread():
        rhos = {eq: [] for eq in eqs}
        for task in tasks:
            rng = task.rng()
            for eq in ("q1", "q2"):
                e = eqs[eq]
                rhos[eq].append(_draw(e, task.size, rng)[:, e.spatial_idx])
        for eq, e in spatial.items():
            e.filt.prepare_series(rhos[eq], e.slx_ws, groups, xbar)


def effect_draws(
    eqs: dict,
    groups,
    xbar: dict,
    uniform: bool,
    draws: int,
    *,
    seed,
    backend=None,
    progress=None,
    chunk_size: int = EFFECT_CHUNK,
) -> dict:
    """Simulated quantities of ``draws`` coefficient draws, chunked through :mod:`nqpspatial.backends`.

    Parameters
    ----------
    eqs : dict
        ``{"q1": EquationDraws, "q2": EquationDraws}``.
    groups : array of int codes or None
        Zone of each region (within/across split of the indirect effects).
    xbar : dict
        ``{"q1": ..., "q2": ...}`` region means of the starting states
        (marginal effects).
    uniform : bool
        Whether the system reading's uniform state is defined.
    draws : int
    seed : int, SeedSequence or numpy.random.Generator
        See :func:`nqpspatial.backends.seed_sequence`.
    backend : backend object, optional
        Default in-process; the result does not depend on it.
    progress : callable, optional
    chunk_size : int

    Returns
    -------
    dict
        As :func:`draw_quantities`, arrays of length ``draws`` in draw order.
    """
    ss = seed_sequence(seed)
    _prepare_series(eqs, groups, xbar, plan_chunks(int(draws), ss, chunk_size))
    parts = run_chunks(
        _chunk,
        (eqs, groups, xbar, uniform),
        int(draws),
        seed=ss,
        chunk_size=chunk_size,
        backend=backend,
        progress=progress,
    )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
