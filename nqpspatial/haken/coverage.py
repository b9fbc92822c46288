"""What the Monte Carlo study of inference (docs/inference.md) found, for the fits' notes.

:data:`COVERAGE` holds the smallest coverage of nominal 95 % intervals over
gamma1, a, gamma2, b and |gamma2|/|gamma1| under common year shocks (year-shock
sd equal to the idiosyncratic sd), 31 regions, by inference option and panel
length, as written by ``python benchmarks/mc_inference.py``.
"""

from __future__ import annotations

__all__ = ["COVERAGE", "COVERAGE_TARGET", "coverage_note", "option_name", "coverage_from_summary"]

#: The coverage the default must keep under common shocks where any option can.
COVERAGE_TARGET = 0.90

#: (option, periods) -> smallest coverage under common shocks (filled from the study).
COVERAGE: dict = {
    ("classical", 10): 0.491,
    ("classical", 20): 0.455,
    ("cluster", 10): 0.414,
    ("cluster", 20): 0.38,
    ("driscoll-kraay", 10): 0.853,
    ("driscoll-kraay", 20): 0.88,
    ("driscoll-kraay-bw0", 10): 0.912,
    ("driscoll-kraay-bw0", 20): 0.92,
    ("hc1", 10): 0.49,
    ("hc1", 20): 0.449,
    ("region-bootstrap", 10): 0.379,
    ("region-bootstrap", 20): 0.34,
    ("twoway", 10): 0.916,
    ("twoway", 20): 0.919,
    ("wild-year", 10): 0.914,
    ("wild-year", 20): 0.925,
}


def option_name(se: str, scheme, bandwidth=None):
    """The study's name of an inference option: the bootstrap scheme when one runs, else ``se``.

    None for a Driscoll-Kraay bandwidth other than the rule or 0 (not studied).
    """
    if scheme == "wild-year":
        return "wild-year"
    if scheme == "region":
        return "region-bootstrap"
    if se == "driscoll-kraay" and bandwidth is not None:
        return "driscoll-kraay-bw0" if bandwidth == 0 else None
    return se


def coverage_from_summary(summary) -> dict:
    """:data:`COVERAGE` from ``benchmarks/results/mc_inference.csv`` (a DataFrame).

    The smallest coverage over the five quantities in the common-shock
    cells with the true gamma2, by option and number of periods.
    """
    cells = summary[(summary["errors"] == "common") & (summary["gamma2_true"] != 0)]
    return {(str(r.option), int(r.periods)): round(float(r.min_coverage), 3) for r in cells.itertuples()}


def coverage_note(se: str, scheme, effects: str, periods: int, bandwidth=None) -> str:
    """Plain note when the study found this option below 90 % coverage under common shocks.

    Parameters
    ----------
    se : str
        The ``se`` option.
    scheme : str or None
        Bootstrap scheme when a bootstrap runs (it gives the intervals), else None.
    effects : str
        The fit's effects (the study fits ``effects = "none"``).
    periods : int
        Panel length; the study's 10-period results apply below 20 periods.
    bandwidth : int, optional
        Driscoll-Kraay bandwidth when given explicitly.

    Returns
    -------
    str
        Empty when the option reaches the target at this length or was not studied.
    """
    if effects != "none" or not COVERAGE:
        return ""
    length = 10 if periods < 20 else 20
    name = option_name(se, scheme, bandwidth)
    cov = COVERAGE.get((name, length))
    if cov is None or cov >= COVERAGE_TARGET:
        return ""
    ranked = sorted(((v, o) for (o, t), v in COVERAGE.items() if t == length), reverse=True)
    best, _ = ranked[0]
    if best < COVERAGE_TARGET:
        return (
            f"no inference option reaches {COVERAGE_TARGET:.0%} coverage of nominal 95 % intervals under "
            f"common year shocks at {length} periods in the Monte Carlo study (best {best:.0%}; this one "
            f"{cov:.0%}): read p-values and intervals as optimistic (docs/inference.md)"
        )
    good = ", ".join(f"{_SPELLING.get(o, o)} ({v:.0%})" for v, o in ranked if v >= COVERAGE_TARGET)
    return (
        f"{name} intervals covered only {cov:.0%} (nominal 95 %) under common year shocks at {length} "
        f"periods in the Monte Carlo study; {good} reach {COVERAGE_TARGET:.0%} (docs/inference.md)"
    )


#: How the notes spell the study's options as configuration.
_SPELLING = {
    "wild-year": 'bootstrap_scheme = "wild-year" (the default)',
    "twoway": 'se = "twoway"',
    "driscoll-kraay-bw0": 'se = "driscoll-kraay" with bandwidth = 0',
    "driscoll-kraay": 'se = "driscoll-kraay"',
    "region-bootstrap": 'bootstrap_scheme = "region"',
}
