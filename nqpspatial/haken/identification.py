"""Order-parameter identification over every ordering of the subsystems."""

from __future__ import annotations

import itertools
from types import MappingProxyType

import pandas as pd

from ..errors import InputError
from ..results import Results, Summary
from .model import HakenModel, as_rng
from .results import IDENTIFICATION_COLUMNS

__all__ = ["identify", "IdentificationResults"]


class IdentificationResults(Results):
    """Fits of every ordering and the chosen order parameter.

    Attributes
    ----------
    table : pandas.DataFrame
        ``haken_identification.csv``: the documented columns
        (:data:`~nqpspatial.haken.results.IDENTIFICATION_COLUMNS`) followed
        by ``ratio_ci_low, ratio_ci_high, verdict_share, case``.
    chosen : tuple of str or None
        ``(q1, q2)`` of the chosen ordering; None when ``order="auto"`` and
        no ordering passes.
    mode : str
        "auto" or "fixed".
    verdict : str
        Plain-language verdict.
    orderings : tuple of tuple
    """

    def __init__(self, table, fits, chosen, mode, verdict):
        self.table = table
        self._fits = MappingProxyType(dict(fits))
        self.orderings = tuple(fits)
        self.chosen = chosen
        self.mode = mode
        self.verdict = verdict
        self._freeze()

    def results(self, q1: str, q2: str):
        """The :class:`HakenResults` of the ordering (q1, q2)."""
        try:
            return self._fits[(q1, q2)]
        except KeyError:
            raise InputError(f"ordering ({q1!r}, {q2!r}) was not fitted; fitted: {list(self._fits)}") from None

    @property
    def chosen_results(self):
        """Results of the chosen ordering, or None."""
        return None if self.chosen is None else self._fits[self.chosen]

    def info(self) -> dict:
        """JSON-serialisable facts for run.json."""
        return {
            "mode": self.mode,
            "chosen": list(self.chosen) if self.chosen else None,
            "verdict": self.verdict,
            "orderings": [
                {
                    "q1": r.q1,
                    "q2": r.q2,
                    "adiabatic": bool(r.adiabatic),
                    "ratio": float(r.ratio),
                    "reason": r.reason,
                    "inference": getattr(r, "se_method", None),
                    "inference_note": getattr(r, "inference_note", None) or None,
                }
                for r in self._fits.values()
            ],
        }

    def summary(self) -> Summary:
        """Verdict and the identification table."""
        cols = ["q1", "q2", "gamma1", "a", "gamma2", "b", "p_gamma2", "ratio", "adiabatic", "chosen"]
        return Summary(
            "Order-parameter identification",
            {"order": self.mode, "verdict": self.verdict},
            {"orderings": self.table[cols]},
            tuple(f"{r} -> {q}: {t}" for r, q, t in zip(self.table["q1"], self.table["q2"], self.table["reason"])),
        )


def identify(
    data: pd.DataFrame,
    subsystems,
    *,
    order="auto",
    region="region",
    year="year",
    intercept=False,
    effects="none",
    se="classical",
    window=None,
    bootstrap=999,
    seed=None,
    alpha=0.05,
    min_ratio=1.0,
    jackknife=False,
    legacy_stable_point=False,
    progress=None,
    backend=None,
    bootstrap_scheme="wild-year",
    bandwidth=None,
    correction="none",
) -> IdentificationResults:
    """Fit every ordered pair of subsystems and choose the order parameter.

    Parameters
    ----------
    data : pandas.DataFrame
        Region-year table with one column per subsystem index.
    subsystems : sequence of str
        At least two subsystem columns; every ordered pair is fitted.
    order : "auto" or (str, str)
        "auto" picks the passing ordering with the largest
        |gamma2|/|gamma1|; a fixed ``[q1, q2]`` is always honoured (even
        when it fails the verdict, which the table then says).
    region, year, intercept, effects, se, window, bandwidth
        As in :class:`~nqpspatial.haken.HakenModel` (pooled fits).
    bootstrap, seed, alpha, min_ratio, jackknife, legacy_stable_point, bootstrap_scheme, correction
        As in :meth:`HakenModel.fit`.  Each ordering gets its own child
        Generator spawned from ``seed``.
    progress : callable, optional
        ``progress(iterable, total=, desc=)`` wrapper.
    backend : backend object, optional
        Execution backend of the bootstrap chunks (see
        :meth:`HakenModel.fit`); the results do not depend on it.

    Returns
    -------
    IdentificationResults
    """
    subs = [str(s) for s in subsystems]
    if len(subs) < 2 or len(set(subs)) != len(subs):
        raise InputError(f"identification needs at least two distinct subsystems, got {subs}")
    pairs = list(itertools.permutations(subs, 2))
    mode = "auto"
    if not (isinstance(order, str) and order == "auto"):
        if isinstance(order, str) or len(order) != 2 or tuple(map(str, order)) not in pairs:
            raise InputError(
                f"order = {order!r}: use 'auto' or a list of two subsystems such as "
                f"{list(pairs[0])} (subsystems: {subs})"
            )
        mode = "fixed"
        order = tuple(map(str, order))
    rng = as_rng(seed)
    children = rng.spawn(len(pairs))
    it = zip(pairs, children)
    if progress is not None:
        it = progress(it, total=len(pairs), desc="Haken orderings")
    fits = {}
    for (a, b), child in it:
        fits[(a, b)] = HakenModel(
            data,
            a,
            b,
            region=region,
            year=year,
            intercept=intercept,
            effects=effects,
            se=se,
            window=window,
            bandwidth=bandwidth,
        ).fit(
            bootstrap=bootstrap,
            seed=child,
            alpha=alpha,
            min_ratio=min_ratio,
            jackknife=jackknife,
            legacy_stable_point=legacy_stable_point,
            backend=backend,
            bootstrap_scheme=bootstrap_scheme,
            correction=correction,
        )
    passing = [p for p, r in fits.items() if r.adiabatic]
    if mode == "fixed":
        chosen = order
        r = fits[order]
        verdict = (
            f"fixed order: {order[0]} is used as the order parameter; the adiabatic verdict "
            f"{'holds' if r.adiabatic else 'does NOT hold'} ({r.reason})"
        )
    elif passing:
        chosen = max(passing, key=lambda p: fits[p].ratio)
        verdict = (
            f"{chosen[0]} is the order parameter (slow variable) and {chosen[1]} the servo "
            f"variable: {fits[chosen].reason}"
        )
        if len(passing) > 1:
            verdict += f"; {len(passing)} orderings pass, the largest |gamma2|/|gamma1| was chosen"
    else:
        chosen = None
        verdict = (
            "no ordering satisfies the adiabatic condition (gamma2 > 0, |gamma2| > "
            f"{min_ratio:g} |gamma1|, gamma2 significant at {alpha:g}): no order parameter is "
            "identified, so the potential, stable point and co-evolution level are not computed"
        )
    rows = [r.identification_row(chosen=(p == chosen)) for p, r in fits.items()]
    table = pd.concat(rows, ignore_index=True)
    extra = [c for c in table.columns if c not in IDENTIFICATION_COLUMNS]
    table = table[IDENTIFICATION_COLUMNS + extra]
    return IdentificationResults(table, fits, chosen, mode, verdict)
