"""Co-evolution level h: named strategies with one contract.

Contract of a strategy (what the plugin registry relies on)
-----------------------------------------------------------
A strategy is a module-level object with

``name`` : str
    Its registry name (``coevolution = "<name>"`` in the config).
``normalized`` : bool
    True when h lies in [0, 1] with higher = better for q1 inside the
    normalization domain; only such strategies are graded.
``description`` : str
    One line: what h is and which stability cases it supports.
``supports(case_or_potential) -> bool``
    Whether h is defined.  Given an int case (1-4, 0 = undefined) it
    answers for the no-intercept model; given a
    :class:`~nqpspatial.haken.potential.Potential` it answers exactly
    (e.g. whether a stable point exists).
``__call__(q1_values, potential, *, domain=(0.0, 1.0)) -> numpy.ndarray``
    h for the given q1 values.  Raises :class:`nqpspatial.errors.ModelError`
    when the potential is not supported (never returns a number then).
    ``domain`` is the q1 interval used by normalized forms.

Strategies: ``potential`` (V itself, lower = more ordered), ``distance``
(distance of (q1, V) from the stable point, smaller = closer),
``potential-normalized`` and ``distance-normalized`` (their [0, 1] forms,
higher = better).  ``"auto"`` resolves to distance-normalized when every
region's potential has a stable point, else potential-normalized.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd

from ..errors import InputError, ModelError
from ..results import Results, Summary
from .grades import grade, validate_edges

__all__ = [
    "CoevolutionStrategy",
    "STRATEGIES",
    "get_strategy",
    "is_strategy",
    "resolve_strategy",
    "coevolution",
    "CoevolutionResults",
    "POTENTIAL",
    "DISTANCE",
    "POTENTIAL_NORMALIZED",
    "DISTANCE_NORMALIZED",
]


class CoevolutionStrategy:
    """Base class implementing the strategy contract (see the module doc)."""

    name: str = ""
    normalized: bool = False
    needs_stable_point: bool = False
    description: str = ""

    def supports(self, case_or_potential) -> bool:
        """Whether h is defined for this stability case or potential."""
        if isinstance(case_or_potential, (int, np.integer)):
            case = int(case_or_potential)
            if case not in (1, 2, 3, 4):
                return False
            return case != 3 if self.needs_stable_point else True
        pot = case_or_potential
        if not pot.valid:
            return False
        return pot.has_stable_point if self.needs_stable_point else True

    def _check(self, potential):
        if not potential.valid:
            raise ModelError(
                f"strategy {self.name!r}: the potential is undefined (gamma2 = "
                f"{potential.gamma2:.4g} <= 0), so no co-evolution level can be computed"
            )
        if self.needs_stable_point and not potential.has_stable_point:
            raise ModelError(
                f"strategy {self.name!r} needs a stable point, but none exists (case "
                f"{potential.case}: {potential.case_label}); use 'potential' or "
                "'potential-normalized' (or coevolution = 'auto')"
            )

    def __call__(self, q1_values, potential, *, domain=(0.0, 1.0)) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<coevolution strategy {self.name!r}>"


class _Potential(CoevolutionStrategy):
    name = "potential"
    normalized = False
    description = "h = V(q1); lower = more ordered. Cases 1-4 (any valid potential)."

    def __call__(self, q1_values, potential, *, domain=(0.0, 1.0)):
        self._check(potential)
        return np.asarray(potential(np.asarray(q1_values, float)), float)


class _Distance(CoevolutionStrategy):
    name = "distance"
    normalized = False
    needs_stable_point = True
    description = (
        "h = d = sqrt((q1 - q1*)^2 + (V - V*)^2); smaller = closer to the stable point. "
        "Cases with a stable point (1, 2, 4 without intercept); not case 3."
    )

    def __call__(self, q1_values, potential, *, domain=(0.0, 1.0)):
        self._check(potential)
        return np.asarray(potential.distance(np.asarray(q1_values, float)), float)


class _PotentialNormalized(CoevolutionStrategy):
    name = "potential-normalized"
    normalized = True
    description = (
        "h = (V_max - V) / (V_max - V_min) with V's exact extremes over the q1 domain; in "
        "[0, 1], higher = more ordered. Cases 1-4."
    )

    def __call__(self, q1_values, potential, *, domain=(0.0, 1.0)):
        self._check(potential)
        lo, hi = domain
        vmin, vmax = potential.extremes(lo, hi)
        if not vmax > vmin:
            raise ModelError("strategy 'potential-normalized': V is constant over the domain")
        v = potential(np.asarray(q1_values, float))
        return np.asarray((vmax - v) / (vmax - vmin), float)


class _DistanceNormalized(CoevolutionStrategy):
    name = "distance-normalized"
    normalized = True
    needs_stable_point = True
    description = (
        "h = 1 - d / d_max with d_max the exact maximum distance over the q1 domain; in "
        "[0, 1], higher = closer to the stable point. Cases with a stable point."
    )

    def __call__(self, q1_values, potential, *, domain=(0.0, 1.0)):
        self._check(potential)
        lo, hi = domain
        dmax = potential.max_distance(lo, hi)
        if not dmax > 0:
            raise ModelError("strategy 'distance-normalized': zero maximum distance over the domain")
        d = potential.distance(np.asarray(q1_values, float))
        return np.asarray(1.0 - d / dmax, float)


POTENTIAL = _Potential()
DISTANCE = _Distance()
POTENTIAL_NORMALIZED = _PotentialNormalized()
DISTANCE_NORMALIZED = _DistanceNormalized()

#: Registry of the built-in strategies (read-only).
STRATEGIES = MappingProxyType({s.name: s for s in (POTENTIAL, DISTANCE, POTENTIAL_NORMALIZED, DISTANCE_NORMALIZED)})


def is_strategy(name) -> bool:
    """Whether ``name`` is a built-in strategy or an installed (or in-process) ``nqpspatial.coevolution`` plugin."""
    from .. import registry

    return isinstance(name, str) and (name in STRATEGIES or name in registry.available("coevolution"))


def get_strategy(name: str) -> CoevolutionStrategy:
    """Look up a strategy by name: a built-in one, else a ``nqpspatial.coevolution`` plugin.

    Raises
    ------
    InputError
        For an unknown name (the message lists the valid ones).
    PluginError
        A plugin of that name fails to load or breaks its contract.
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    from .. import registry

    if is_strategy(name):
        return registry.get("coevolution", name)
    raise InputError(
        f"unknown co-evolution strategy {name!r}; use 'auto' or one of "
        f"{registry.names('coevolution') or list(STRATEGIES)}"
    )


def resolve_strategy(name: str, potentials) -> tuple[CoevolutionStrategy, str]:
    """Resolve ``name`` (possibly "auto") for a set of potentials.

    Returns
    -------
    tuple
        ``(strategy, reason)``; the reason records why "auto" chose it.
    """
    pots = list(potentials)
    if name == "auto":
        if pots and all(p.has_stable_point for p in pots):
            return DISTANCE_NORMALIZED, "auto: a stable point exists, so h = normalized distance"
        return POTENTIAL_NORMALIZED, "auto: no stable point exists, so h = normalized potential"
    return get_strategy(name), f"configured: {name}"


def _domain(domain, panel):
    if isinstance(domain, str):
        if domain == "unit":
            return (0.0, 1.0)
        if domain == "panel":
            return (float(panel["q1"].min()), float(panel["q1"].max()))
        raise InputError(f"domain={domain!r}: use 'unit', 'panel' or a pair (low, high)")
    lo, hi = (float(x) for x in domain)
    if not hi > lo:
        raise InputError(f"domain={domain!r}: the upper bound must exceed the lower")
    return lo, hi


class CoevolutionResults(Results):
    """Co-evolution level per region-year.

    Attributes
    ----------
    table : pandas.DataFrame
        ``region, year, q1, q2, V, d, h, grade, strategy`` plus
        ``grade_class``, ``grade_zh``, ``in_domain`` (q1 and q2 hold the
        values of the chosen ordering; d is NaN without a stable point;
        grades only for normalized strategies).
    strategy : str
    reason : str
        Why the strategy was chosen.
    domain : tuple of float
    names : tuple of str
        Names of q1 and q2.
    """

    def __init__(self, table, strategy, reason, domain, names):
        self.table = table
        self.strategy = strategy
        self.reason = reason
        self.domain = domain
        self.names = names
        self._freeze()

    def __len__(self) -> int:
        """Number of region-years."""
        return len(self.table)

    def __getitem__(self, key):
        """Column(s) of :attr:`table` (a copy), e.g. ``res["h"]``."""
        return self.table[key]

    def summary(self) -> Summary:
        """Summary: strategy and h by year."""
        t = self.table
        by_year = t.groupby("year", as_index=False)[["q1", "q2", "V", "h"]].mean()
        return Summary(
            "Co-evolution level h",
            {
                "q1": self.names[0],
                "q2": self.names[1],
                "strategy": self.strategy,
                "choice": self.reason,
                "domain": f"[{self.domain[0]:g}, {self.domain[1]:g}]",
            },
            {"mean by year": by_year},
        )


def _checked(strat, h, q1, domain=(0.0, 1.0)) -> np.ndarray:
    """A strategy's output as the contract demands: finite, the input's shape, and in [0, 1] when normalized
    for every q1 inside the domain (outside it a normalized level may leave [0, 1]: the domain, not the
    strategy, is then at fault)."""
    from ..errors import PluginError

    arr = np.asarray(h, dtype=float)
    if arr.shape != q1.shape:
        raise PluginError(
            f"co-evolution strategy '{strat.name}' returned shape {arr.shape} for {q1.shape} values "
            "(contract: one h per q1)"
        )
    if not np.isfinite(arr).all():
        raise PluginError(
            f"co-evolution strategy '{strat.name}' returned non-finite values (contract: finite h, "
            "or ModelError for an unsupported case)"
        )
    lo, hi = domain
    inside = (q1 >= lo) & (q1 <= hi)
    eps = 1e-9
    if getattr(strat, "normalized", False) and ((arr[inside] < -eps) | (arr[inside] > 1 + eps)).any():
        raise PluginError(f"co-evolution strategy '{strat.name}' is normalized but returned values outside [0, 1]")
    return arr


def coevolution(
    panel: pd.DataFrame,
    potentials: dict,
    *,
    strategy="auto",
    domain="unit",
    grades=None,
    labels=None,
    labels_zh=None,
    names=("q1", "q2"),
) -> CoevolutionResults:
    """Co-evolution level h of every region-year.

    Parameters
    ----------
    panel : pandas.DataFrame
        Columns ``region, year, q1, q2`` (values of the chosen ordering).
    potentials : dict
        Region -> :class:`~nqpspatial.haken.potential.Potential`.
    strategy : str, default "auto"
        A name in :data:`STRATEGIES`, a ``nqpspatial.coevolution`` plugin
        name, or "auto".
    domain : "unit", "panel" or (float, float)
        q1 interval of the normalized forms: [0, 1] (default: indices are
        min-max normalized), the observed q1 range, or explicit bounds.
    grades, labels, labels_zh
        Bin edges and labels (see :func:`nqpspatial.haken.grades.grade`).
    names : tuple of str
        Names of q1 and q2 (recorded).

    Returns
    -------
    CoevolutionResults

    Raises
    ------
    ModelError
        When the strategy does not support a region's potential.
    """
    strat, reason = resolve_strategy(strategy, {id(p): p for p in potentials.values()}.values())
    dom = _domain(domain, panel)
    edges, lab, labzh = validate_edges(grades, labels, labels_zh)
    missing = sorted(set(panel["region"]) - set(potentials), key=str)
    if missing:
        raise InputError(f"no fitted potential for regions {missing[:10]}")
    from ..registry import keywords

    # plugins may leave out the optional domain keyword (read once, when the strategy is loaded)
    kw = {"domain": dom} if "domain" in keywords("coevolution", strat) else {}
    # rows grouped by region in order of first appearance (as ``groupby(sort=False)``), each region's rows
    # in their order; the built-in strategies are elementwise, so they run once per distinct potential
    # (one call for a pooled fit) instead of once per region; a plugin is called region by region
    codes, uniques = pd.factorize(panel["region"], sort=False)
    order = np.argsort(codes, kind="stable")
    codes_o = codes[order]
    bounds = np.flatnonzero(np.r_[True, codes_o[1:] != codes_o[:-1], True])
    q1_all = panel["q1"].to_numpy(float)[order]
    h_all = np.empty(len(order))
    V_all = np.full(len(order), np.nan)
    d_all = np.full(len(order), np.nan)
    segments: dict = {}
    for k in range(len(bounds) - 1):
        pot = potentials[uniques[codes_o[bounds[k]]]]
        segments.setdefault(id(pot), (pot, []))[1].append(slice(bounds[k], bounds[k + 1]))
    elementwise = strat in STRATEGIES.values()
    for pot, slices in segments.values():
        rows = np.concatenate([np.arange(sl.start, sl.stop) for sl in slices])
        calls = [rows] if elementwise else [np.arange(sl.start, sl.stop) for sl in slices]
        for idx in calls:
            q1 = q1_all[idx]
            h_all[idx] = _checked(strat, strat(q1, pot, **kw), q1, dom)
        q1 = q1_all[rows]
        if pot.valid:
            V_all[rows] = np.asarray(pot(q1), float)
            if pot.has_stable_point:
                d_all[rows] = np.asarray(pot.distance(q1), float)
    tab = pd.DataFrame(
        {
            "region": panel["region"].to_numpy()[order],
            "year": panel["year"].to_numpy()[order],
            "q1": q1_all,
            "q2": panel["q2"].to_numpy(float)[order],
            "V": V_all,
            "d": d_all,
            "h": h_all,
        }
    )
    tab["in_domain"] = (tab["q1"] >= dom[0]) & (tab["q1"] <= dom[1])
    if strat.normalized:
        g = grade(tab["h"].where(tab["in_domain"]), edges, lab, labzh, out_of_range="na")
        tab["grade"] = g["grade"].to_numpy()
        tab["grade_class"] = g["grade_class"].to_numpy()
        tab["grade_zh"] = g["grade_zh"].to_numpy()
    else:
        tab["grade"] = pd.NA
        tab["grade_class"] = pd.array([pd.NA] * len(tab), dtype="Int64")
        tab["grade_zh"] = pd.NA
    tab["strategy"] = strat.name
    tab = tab[
        ["region", "year", "q1", "q2", "V", "d", "h", "grade", "strategy", "grade_class", "grade_zh", "in_domain"]
    ]
    return CoevolutionResults(tab, strat.name, reason, dom, tuple(names))
