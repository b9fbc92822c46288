"""Scenarios: iterate the fitted Haken system forward with optional shocks.

Each region starts from its last observed ``(q1, q2)`` and follows its fitted
annual map (region-specific with region effects or per-unit fits).  A shock
scales the growth of q1 for chosen regions (or a whole group):

.. math::

    q_1(t+1) = f_1(q_1, q_2) + (s - 1)\\,[f_1(q_1, q_2) - q_1(t)]

so the change ``q1(t+1) - q1(t)`` is ``s`` times the fitted change; ``s = 1``
(no shock) gives exactly the plain forward iteration.  q2 follows its own
fitted equation.  V, d, h and the grade of each projected year use the same
potential and normalization as the observed panel (grades are left empty for
q1 outside the normalization domain).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError, ModelError
from ..results import Results, Summary
from .coevolution import coevolution

__all__ = ["scenarios", "ScenarioResults", "validate_shocks"]


def validate_shocks(shocks, regions, groups=None, key="shocks"):
    """Check shock specifications; return a list of ``(name, {region: scale})``.

    Each shock is a mapping with ``q1_growth`` (scale s >= 0), and either
    ``regions`` (list of region ids) or ``group`` (a group of ``groups``);
    ``name`` is optional.

    Raises
    ------
    InputError
        Naming the shock and the fix.
    """
    out = []
    regions = list(regions)
    for i, sh in enumerate(shocks or []):
        if not isinstance(sh, dict):
            raise InputError(f"{key}[{i}] must be a table with q1_growth and regions or group")
        unknown = set(sh) - {"name", "regions", "group", "q1_growth"}
        if unknown:
            raise InputError(f"{key}[{i}]: unknown key(s) {sorted(unknown)}; allowed: name, regions, group, q1_growth")
        name = str(sh.get("name", f"shock{i + 1}"))
        if "q1_growth" not in sh:
            raise InputError(f"{key}[{i}] ({name}): give q1_growth, the factor scaling q1's growth (e.g. 1.2)")
        try:
            s = float(sh["q1_growth"])
        except (TypeError, ValueError):
            raise InputError(f"{key}[{i}] ({name}): q1_growth must be a number") from None
        if not np.isfinite(s) or s < 0:
            raise InputError(f"{key}[{i}] ({name}): q1_growth = {s} must be a finite number >= 0")
        if ("regions" in sh) == ("group" in sh):
            raise InputError(f'{key}[{i}] ({name}): give either regions = [...] or group = "..."')
        if "regions" in sh:
            sel = list(sh["regions"]) if not isinstance(sh["regions"], str) else [sh["regions"]]
            bad = [r for r in sel if r not in regions]
            if bad:
                # ids may be numeric in the panel but strings in TOML
                lookup = {str(r): r for r in regions}
                fixed = [lookup.get(str(r)) for r in sel]
                if any(f is None for f in fixed):
                    raise InputError(
                        f"{key}[{i}] ({name}): unknown region(s) "
                        f"{[r for r, f in zip(sel, fixed) if f is None]}; use ids of the panel"
                    )
                sel = fixed
        else:
            if groups is None:
                raise InputError(
                    f"{key}[{i}] ({name}): group = {sh['group']!r} needs a region scheme ([regions] scheme)"
                )
            gm = pd.Series(groups) if not isinstance(groups, pd.Series) else groups
            sel = [r for r in regions if r in gm.index and gm[r] == sh["group"]]
            if not sel:
                raise InputError(
                    f"{key}[{i}] ({name}): group {sh['group']!r} has no region; groups: {sorted(set(gm.astype(str)))}"
                )
        if name == "baseline" or name in [n for n, _ in out]:
            raise InputError(f"{key}[{i}]: scenario name {name!r} is reserved or repeated; pick another")
        out.append((name, {r: s for r in sel}))
    return out


class ScenarioResults(Results):
    """Projected paths.

    Attributes
    ----------
    table : pandas.DataFrame
        ``scenario, region, year, step, q1, q2, V, d, h, grade, strategy,
        q1_growth_scale`` (step 0 is the last observed year).
    strategy : str
    periods : int
    """

    def __init__(self, table, strategy, periods, undefined=None):
        self.table = table
        self.strategy = strategy
        self.periods = periods
        self.undefined = undefined  # why d and h (and V without a valid potential) are empty, else None
        self._freeze()

    def summary(self) -> Summary:
        """Mean projected q1, q2 and h by scenario and year."""
        t = self.table.groupby(["scenario", "year"], as_index=False)[["q1", "q2", "h"]].mean()
        notes = (
            (f"d and h are undefined{'' if self.table['V'].notna().any() else ' (V too)'}: {self.undefined}",)
            if self.undefined
            else ()
        )
        return Summary(
            "Haken scenarios",
            {"periods": self.periods, "h strategy": self.strategy},
            {"mean by scenario and year": t},
            notes,
        )


def scenarios(
    results,
    periods: int,
    shocks=None,
    *,
    groups=None,
    strategy="auto",
    domain="unit",
    grades=None,
    labels=None,
    labels_zh=None,
) -> ScenarioResults:
    """Project every region ``periods`` steps ahead under each scenario.

    Parameters
    ----------
    results : HakenResults or HakenByResults
        A fitted model of the chosen ordering.
    periods : int
        Number of steps (>= 1).
    shocks : list of dict, optional
        See :func:`validate_shocks`; a "baseline" scenario without shocks is
        always included.
    groups : pandas.Series or mapping, optional
        Region -> group, for shocks given by group.
    strategy, domain, grades, labels, labels_zh
        As in :func:`nqpspatial.haken.coevolution.coevolution`.

    Returns
    -------
    ScenarioResults
    """
    if int(periods) != periods or periods < 1:
        raise InputError(f"periods = {periods!r} must be a positive integer")
    periods = int(periods)
    panel = results.fitted_panel
    systems = results.systems()
    last = panel.sort_values("year").groupby("region", sort=False).tail(1).set_index("region")
    regions = list(pd.unique(panel["region"]))
    years = np.sort(panel["year"].unique())
    step_y = int(np.min(np.diff(years))) if len(years) > 1 else 1
    specs = [("baseline", {})] + validate_shocks(shocks, regions, groups)
    # every region's path at once: the map's step is elementwise, so the regions that share a system
    # (all of them for a pooled fit) step together; rows ordered scenario, region, step as before
    last = last.loc[regions]
    q1_0 = last["q1"].to_numpy(float)
    q2_0 = last["q2"].to_numpy(float)
    y0 = last["year"].to_numpy().astype(np.int64)
    groups_by_system: dict = {}
    for i, r in enumerate(regions):
        groups_by_system.setdefault(id(systems[r]), (systems[r], []))[1].append(i)
    members = [(sys_, np.asarray(idx)) for sys_, idx in groups_by_system.values()]
    n_reg, n_steps = len(regions), periods + 1
    frames = []
    for name, scale in specs:
        s_arr = np.array([float(scale.get(r, 1.0)) for r in regions])
        Q1 = np.empty((n_reg, n_steps))
        Q2 = np.empty((n_reg, n_steps))
        Q1[:, 0], Q2[:, 0] = q1_0, q2_0
        for sys_, idx in members:
            q1, q2, sc = q1_0[idx], q2_0[idx], s_arr[idx]
            shocked = sc != 1.0
            for k in range(1, n_steps):
                n1, n2 = sys_.step(q1, q2)
                n1 = np.asarray(n1, float)
                n1 = np.where(shocked, n1 + (sc - 1.0) * (n1 - q1), n1)
                q1, q2 = n1, np.asarray(n2, float)
                Q1[idx, k], Q2[idx, k] = q1, q2
        steps = np.arange(n_steps)
        frames.append(
            pd.DataFrame(
                {
                    "scenario": name,
                    "region": np.repeat(pd.Series(regions).to_numpy(), n_steps),
                    "year": (y0[:, None] + steps[None, :] * step_y).ravel(),
                    "step": np.tile(steps, n_reg),
                    "q1": Q1.ravel(),
                    "q2": Q2.ravel(),
                    "q1_growth_scale": np.repeat(s_arr, n_steps),
                }
            )
        )
    proj = pd.concat(frames, ignore_index=True)
    parts = []
    strat_name = None
    undefined = None
    for name, g in proj.groupby("scenario", sort=False):
        out = g.reset_index(drop=True)
        try:
            co = coevolution(
                g[["region", "year", "q1", "q2"]].reset_index(drop=True),
                results.potentials(),
                strategy=strategy,
                domain=domain,
                grades=grades,
                labels=labels,
                labels_zh=labels_zh,
            )
        except ModelError as exc:
            # q1 and q2 can still be projected; d, h and grades are undefined for this strategy, and V
            # too unless the potential itself is valid (e.g. "distance" without a stable point)
            for c in ("V", "d", "h"):
                out[c] = np.nan
            try:
                out["V"] = (
                    coevolution(
                        g[["region", "year", "q1", "q2"]].reset_index(drop=True),
                        results.potentials(),
                        strategy="potential",
                        domain=domain,
                        grades=grades,
                    )
                    .table["V"]
                    .to_numpy()
                )
            except ModelError:
                pass
            for c in ("grade", "grade_zh", "strategy"):
                out[c] = None
            out["in_domain"] = False
            strat_name = None
            undefined = str(exc)
            parts.append(out)
            continue
        t = co.table
        strat_name = co.strategy
        for c in ("V", "d", "h", "grade", "grade_zh", "in_domain", "strategy"):
            out[c] = t[c].to_numpy()
        parts.append(out)
    table = pd.concat(parts, ignore_index=True)
    table = table[
        [
            "scenario",
            "region",
            "year",
            "step",
            "q1",
            "q2",
            "V",
            "d",
            "h",
            "grade",
            "strategy",
            "q1_growth_scale",
            "grade_zh",
            "in_domain",
        ]
    ]
    return ScenarioResults(table, strat_name, periods, undefined=undefined)
