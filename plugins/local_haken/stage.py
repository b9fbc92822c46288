"""The optional ``[local_haken]`` pipeline stage: geographically weighted Haken (GW-Haken).

Config (defaults)::

    [local_haken]
    kernel = "bisquare"     # bisquare | gaussian
    bandwidth = "auto"      # "auto" (per equation, by criterion) or a number (regions, or km when adaptive = false)
    adaptive = true         # bandwidth as a number of nearest regions
    criterion = "aicc"      # aicc | cv
    search = []             # [min, max] of the bandwidth search; [] = default interval
    permutations = 99       # region permutations of the non-stationarity test (0: no test)
    alpha = 0.05
    order = "auto"          # [q1, q2]; "auto" = the ordering chosen by [haken]

Tables: ``local_haken``, ``local_haken_tests``, ``local_coevolution``.  Publishes
``ctx.results["local_haken"]`` (the :class:`~.model.GWHakenResults`).  The numerics are in
:mod:`.model`; this module only reads the config and the context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from nqpspatial.artifacts import Artifact, HakenOutcome
from nqpspatial.backends import backend_from_config
from nqpspatial.errors import ConfigError, InputError, ModelError
from nqpspatial.specs import spec_from_keys
from nqpspatial.stage import Analysis, StageContext, StageOutput

from ._kernel import KERNELS
from .model import CRITERIA, GWHakenModel

__all__ = [
    "LocalHakenStage",
    "LocalHakenSpec",
    "LocalHakenOutcome",
    "stage",
    "LOCAL_HAKEN_CONFIG",
    "validate_local_config",
]

#: Keys of the ``[local_haken]`` table and their defaults.
LOCAL_HAKEN_CONFIG = MappingProxyType(
    {
        "kernel": "bisquare",
        "bandwidth": "auto",
        "adaptive": True,
        "criterion": "aicc",
        "search": [],
        "permutations": 99,
        "alpha": 0.05,
        "order": "auto",
    }
)


def _err(key, value, fix) -> ConfigError:
    return ConfigError(f"[local_haken] {key} = {value!r}: {fix}", source="config")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate_local_config(cfg: dict, subsystems=None) -> dict:
    """Check a resolved ``[local_haken]`` table; return normalized options.

    Raises
    ------
    ConfigError
        Naming the key and the fix.
    """
    c = {**LOCAL_HAKEN_CONFIG, **{k: v for k, v in (cfg or {}).items() if k != "enabled"}}
    if c["kernel"] not in KERNELS:
        raise _err("kernel", c["kernel"], f"use one of {', '.join(KERNELS)}")
    if not isinstance(c["adaptive"], bool):
        raise _err("adaptive", c["adaptive"], "use true (nearest regions) or false (a distance in km)")
    if c["criterion"] not in CRITERIA:
        raise _err("criterion", c["criterion"], f"use one of {', '.join(CRITERIA)}")
    bw = c["bandwidth"]
    if not (bw == "auto" or (_number(bw) and bw > 0)):
        raise _err("bandwidth", bw, 'give "auto" or a positive number (regions with adaptive = true, km otherwise)')
    if c["adaptive"] and _number(bw) and math.isfinite(bw) and (bw != round(bw) or bw < 2):
        raise _err(
            "bandwidth",
            bw,
            "with adaptive = true the bandwidth is a whole number of nearest regions "
            "(2 or more, the region itself included); set adaptive = false for a distance in km",
        )
    s = c["search"]
    if not (
        isinstance(s, (list, tuple))
        and (len(s) == 0 or (len(s) == 2 and all(_number(x) for x in s) and 0 < s[0] <= s[1]))
    ):
        raise _err("search", s, "give [min, max] with 0 < min <= max, or [] for the default interval")
    p = c["permutations"]
    if isinstance(p, bool) or not isinstance(p, int) or p < 0:
        raise _err("permutations", p, "give a whole number >= 0 (e.g. 99; 0 = no test)")
    a = c["alpha"]
    if not _number(a) or not 0 < a < 1:
        raise _err("alpha", a, "give a number strictly between 0 and 1")
    order = c["order"]
    subs = [str(x) for x in subsystems] if subsystems is not None else None
    if order != "auto" and (
        not isinstance(order, (list, tuple))
        or len(order) != 2
        or (subs is not None and any(str(o) not in subs for o in order))
        or str(order[0]) == str(order[1])
    ):
        raise _err("order", order, f'use "auto" or two different subsystems{f" among {subs}" if subs else ""}')
    return {**c, "search": list(s), "order": order if order == "auto" else list(map(str, order))}


@dataclass(frozen=True)
class LocalHakenOutcome(Artifact):
    """The GW-Haken fit (:class:`~nqpspatial.plugins.local_haken.model.GWHakenResults`)."""

    provided_by: ClassVar[str] = "local_haken"
    results: Any = None


LocalHakenSpec = spec_from_keys(
    "local_haken",
    LOCAL_HAKEN_CONFIG,
    kinds={"order": "str|list", "bandwidth": "any"},
    normalize=lambda values, where: {**validate_local_config(values), "enabled": values["enabled"]},
    check_study=lambda spec, facts, where: validate_local_config(dict(spec), facts.subsystems),
)


def _ordering(ctx: StageContext, order):
    if order != "auto":
        return tuple(order)
    h = ctx.get(HakenOutcome)
    return h.order if h is not None else None


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (np.floating, np.integer)):
        return _jsonable(v.item())
    return v


class LocalHakenStage(Analysis):
    """GW-Haken: local parameters, verdicts, potentials, co-evolution and the non-stationarity test."""

    name = "local_haken"
    requires = ("pair", "indices", "geometry")
    optional = True
    order = 85
    min_periods = 2
    config_keys = LOCAL_HAKEN_CONFIG
    spec = LocalHakenSpec
    uses = (HakenOutcome,)
    provides = (LocalHakenOutcome,)

    def report_sections(self, view) -> list:
        """The GW-Haken section of the report."""
        from .report import local_haken_sections

        return local_haken_sections(view)

    tables = ("local_haken", "local_haken_tests", "local_coevolution")

    def run(self, ctx: StageContext, cfg) -> StageOutput:
        o = dict(LocalHakenSpec.coerce(cfg, ctx))
        o["search"] = tuple(o["search"]) or None
        ordering = _ordering(ctx, o["order"])
        if ordering is None:
            return StageOutput(
                status="skipped",
                notes=[
                    "local_haken skipped: no order parameter was identified by [haken] (or it did not run); set "
                    f"[local_haken] order = [q1, q2], e.g. {list(ctx.subsystems[:2])}"
                ],
            )
        q1, q2 = ordering
        idx = ctx.indices
        rc = ctx.region if ctx.region in idx.columns else "region"
        yc = ctx.year if ctx.year in idx.columns else "year"
        model = GWHakenModel(
            idx[[rc, yc, q1, q2]],
            q1,
            q2,
            geometry=ctx.geometry,
            region=rc,
            year=yc,
            kernel=o["kernel"],
            adaptive=o["adaptive"],
        )
        try:
            res = model.fit(o["bandwidth"], criterion=o["criterion"], search=o["search"], alpha=o["alpha"])
        except InputError as exc:  # a bandwidth or search interval that does not fit the regions
            raise ConfigError(f"[local_haken] bandwidth / search: {exc.detail}", source="config") from None
        out = StageOutput(tables={"local_haken": res.table}, artifacts=[LocalHakenOutcome(results=res)])
        if o["permutations"]:
            with backend_from_config(ctx.config) as be:  # the numbers do not depend on the backend
                test = res.nonstationarity_test(
                    o["permutations"], seed=ctx.rng(self.name), backend=be, progress=ctx.progress
                )
            out.tables["local_haken_tests"] = test.table
            rej = test.table.loc[test.table["reject"], "parameter"].tolist()
            out.notes.append(
                f"non-stationarity ({o['permutations']} region permutations): "
                + (f"rejected for {', '.join(rej)}" if rej else "not rejected for any parameter")
            )
        self._coevolution(ctx, res, out)
        tab = res.table
        out.notes.append(
            f"GW-Haken {q1} -> {q2}: bandwidth {res.bandwidths['q1']:g} (q1 equation), "
            f"{res.bandwidths['q2']:g} (q2 equation); local verdict holds in "
            f"{int(tab['verdict'].sum())} of {len(tab)} regions"
        )
        out.info = {
            "q1": q1,
            "q2": q2,
            "kernel": o["kernel"],
            "adaptive": o["adaptive"],
            "criterion": o["criterion"],
            "bandwidths": {k: _jsonable(v) for k, v in res.bandwidths.items()},
            "enp": {r["equation"]: _jsonable(r["enp"]) for _, r in res.diagnostics.iterrows()},
            "aicc": {r["equation"]: _jsonable(r["aicc"]) for _, r in res.diagnostics.iterrows()},
            "regions_verdict_holds": int(tab["verdict"].sum()),
            "cases": {str(k): int(v) for k, v in tab["case"].value_counts().sort_index().items()},
        }
        return out

    @staticmethod
    def _coevolution(ctx, res, out) -> None:
        h = ctx.get(HakenOutcome)
        strategy = h.strategy_requested if h is not None else "auto"
        edges, labels, labels_zh = h.grading if h is not None else (None,) * 3
        try:
            coev, bad = res.coevolution(strategy, grades=edges, labels=labels or None, labels_zh=labels_zh or None)
        except ModelError as exc:
            out.warnings.append(f"local_coevolution.csv not written: {exc}")
            return
        out.tables["local_coevolution"] = coev.table
        out.notes.append(f"local co-evolution level h: {coev.strategy} ({coev.reason})")
        if bad:
            shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            out.notes.append(f"no supported local potential (V, d, h left empty): {shown}")


#: The stage instance registered under ``nqpspatial.analyses``.
stage = LocalHakenStage()
