"""Stability reading of a spatial Haken fit as a flat record.

The rules (potential, stationary points, stability case, annual-map
stability) belong to :class:`nqpspatial.haken.Potential`; this module only
flattens one potential into the columns the spatial results report.
"""

from __future__ import annotations

import math

from nqpspatial.haken import Potential

__all__ = ["potential", "potential_record"]


def potential_record(pot: Potential) -> dict:
    """``case`` (its label), ``q1_star``, ``V_star`` (NaN without a stable point), ``map_stable``."""
    star = pot.stable_point
    return {
        "case": pot.case_label,
        "q1_star": math.nan if star is None else float(star[0]),
        "V_star": math.nan if star is None else float(star[1]),
        "map_stable": pot.map_stable,
    }


def potential(g1: float, a: float, g2: float, b: float) -> dict:
    """Stationary point and stability case of the potential of (g1, a, g2, b).

    Returns
    -------
    dict
        See :func:`potential_record` (computed by
        :class:`nqpspatial.haken.Potential` without intercepts).
    """
    return potential_record(Potential(g1, a, g2, b))
