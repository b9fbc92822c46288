"""Haken verdict, potential and co-evolution level for the spatial variants.

The aspatial package ``nqpspatial.haken`` owns these rules.  This module
uses its ``adiabatic_verdict`` and ``Potential`` (imported lazily) and
falls back to a private implementation of the same rules (methods note,
section 3): the adiabatic verdict gamma2 > 0, |gamma2| > min_ratio |gamma1|
and gamma2 significant at alpha; the potential
V(q1) = g1 q1^2 / 2 + a b q1^4 / (4 g2) and its stationary points.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pandas as pd

from nqpspatial.errors import ModelError

__all__ = ["verdict", "potential", "potential_value", "coevolution"]


def _aspatial(name: str):
    """A function of ``nqpspatial.haken`` when the aspatial package provides it."""
    try:
        mod = importlib.import_module("nqpspatial.haken")
    except ImportError:  # pragma: no cover
        return None
    return getattr(mod, name, None)


def verdict(gamma1: float, gamma2: float, p_gamma2: float, *, alpha: float = 0.05,
            min_ratio: float = 1.0) -> tuple[bool, str]:
    """Adiabatic-elimination verdict of one ordering.

    Parameters
    ----------
    gamma1, gamma2 : float
        Damping coefficients of the order-parameter and servo equations.
    p_gamma2 : float
        p-value of gamma2.
    alpha : float
        Significance level.
    min_ratio : float
        Required |gamma2| / |gamma1|.

    Returns
    -------
    (bool, str)
        Whether the approximation holds, and the reason in words.
    """
    shared = _aspatial("adiabatic_verdict")
    if shared is not None:
        _, holds, reason = shared(gamma1, gamma2, p_gamma2, alpha=alpha, min_ratio=min_ratio)
        return bool(holds), reason
    reasons = []
    if not gamma2 > 0:
        reasons.append(f"gamma2 = {gamma2:.4g} is not positive")
    if not abs(gamma2) > min_ratio * abs(gamma1):
        reasons.append(f"|gamma2| = {abs(gamma2):.4g} is not above {min_ratio:g} x |gamma1| = "
                       f"{min_ratio * abs(gamma1):.4g}")
    if not p_gamma2 < alpha:
        reasons.append(f"gamma2 is not significant at {alpha:g} (p = {p_gamma2:.3g})")
    if reasons:
        return False, "; ".join(reasons)
    return True, (f"gamma2 > 0, |gamma2|/|gamma1| = {abs(gamma2) / max(abs(gamma1), 1e-300):.3g} "
                  f"> {min_ratio:g}, gamma2 significant (p = {p_gamma2:.3g})")


def potential_value(q1, g1: float, a: float, g2: float, b: float):
    """V(q1) = g1 q1^2 / 2 + a b q1^4 / (4 g2)."""
    q1 = np.asarray(q1, dtype=float)
    return 0.5 * g1 * q1 ** 2 + a * b / (4.0 * g2) * q1 ** 4


def potential(g1: float, a: float, g2: float, b: float) -> dict:
    """Stationary points and stability case of the adiabatic potential.

    Returns
    -------
    dict
        ``case`` (text), ``q1_star`` and ``V_star`` (NaN when no stable
        non-zero point exists), ``map_stable`` (whether the annual map's
        fixed point is stable: -1 < g1 < 0 for the reduced map and
        0 < g2 < 2 for the servo equation; None when there is no such point).
    """
    Potential = _aspatial("Potential")
    if Potential is not None:
        pot = Potential(g1, a, g2, b)
        sp_ = pot.stable_point
        return {"case": pot.case_label,
                "q1_star": math.nan if sp_ is None else float(sp_[0]),
                "V_star": math.nan if sp_ is None else float(sp_[1]),
                "map_stable": pot.map_stable}
    if not g2 > 0:
        return {"case": "gamma2 <= 0: adiabatic elimination does not apply", "q1_star": math.nan,
                "V_star": math.nan, "map_stable": None}
    ab = a * b
    if ab == 0:
        return {"case": "a b = 0: quadratic potential, q1 = 0 only", "q1_star": math.nan,
                "V_star": math.nan, "map_stable": None}
    if g1 < 0 and ab > 0:
        qs = math.sqrt(-g1 * g2 / ab)
        return {"case": "g1 < 0, ab > 0: q1 = 0 unstable, stable minima at +-q1*", "q1_star": qs,
                "V_star": float(potential_value(qs, g1, a, g2, b)),
                "map_stable": bool(-1 < g1 < 0 and 0 < g2 < 2)}
    if g1 > 0 and ab > 0:
        return {"case": "g1 > 0, ab > 0: only q1 = 0, stable", "q1_star": math.nan,
                "V_star": math.nan, "map_stable": None}
    if g1 < 0 and ab < 0:
        return {"case": "g1 < 0, ab < 0: no stable point (potential unbounded below)",
                "q1_star": math.nan, "V_star": math.nan, "map_stable": None}
    return {"case": "g1 >= 0, ab < 0: q1 = 0 stable, +-q1* unstable", "q1_star": math.nan,
            "V_star": math.nan, "map_stable": None}


def coevolution(q1: pd.Series, g1: float, a: float, g2: float, b: float) -> pd.DataFrame:
    """Co-evolution level h per region-year from the fitted potential.

    With a stable point: ``d`` is the distance of (q1, V) from (q1*, V*) and
    ``h = 1 - d / max(d)`` (strategy ``"distance_normalized"``).  Without one:
    ``h = (max V - V) / (max V - min V)`` (``"potential_normalized"``).
    """
    V = potential_value(q1.to_numpy(), g1, a, g2, b)
    pot = potential(g1, a, g2, b)
    out = pd.DataFrame({"V": V}, index=q1.index)
    if np.isfinite(pot["q1_star"]):
        d = np.sqrt((q1.to_numpy() - pot["q1_star"]) ** 2 + (V - pot["V_star"]) ** 2)
        dmax = d.max()
        if not dmax > 0:
            raise ModelError("every state sits on the stable point; h is undefined")
        out["d"] = d
        out["h"] = 1.0 - d / dmax
        out["strategy"] = "distance_normalized"
    else:
        rng = V.max() - V.min()
        if not rng > 0:
            raise ModelError("the potential is constant over the panel; h is undefined")
        out["d"] = np.nan
        out["h"] = (V.max() - V) / rng
        out["strategy"] = "potential_normalized"
    return out
