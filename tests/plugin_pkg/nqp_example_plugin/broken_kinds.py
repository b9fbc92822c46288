"""One deliberately broken plugin of every kind: the conformance kit catches each, a run reports it failed."""

import numpy as np
import pandas as pd

from nqpspatial.results import Results, Summary
from nqpspatial.stage import Analysis, StageOutput

from .kinds import Constant, LagCorrelation, Ring


class ReversedRing(Ring):
    """Weights: returns its graph over the ids in reverse order (the contract: exactly `ids`, in order)."""

    name = "ring_reversed"

    def build(self, ids, **kw):
        return super().build(list(ids)[::-1], **kw)


class NoYear(LagCorrelation):
    """Statistics: forgets the `year` column."""

    name = "no_year"
    table = "no_year"

    def compute(self, values, graph, **kw):
        return super().compute(values, graph, **kw).drop(columns="year")


class _Empty(Results):
    def __init__(self):
        self._freeze()

    def summary(self):
        return Summary("empty", {}, {}, ())


class NoEstimates:
    """Models: returns results without an estimates table."""

    name = "no_estimates"

    def fit(self, data, q1, q2, graph, *, region, year, rng):
        return _Empty()


class HalfScheme:
    """Schemes: places only the first half of the regions."""

    name = "half-scheme"

    def load(self, regions):
        regions = list(regions) if regions is not None else ["a", "b", "c", "d"]
        half = regions[: len(regions) // 2]
        return pd.Series("first", index=half, name="group")


class NanH(Constant):
    """Co-evolution: returns NaN instead of raising ModelError."""

    name = "nan_h"

    def __call__(self, q1, potential):
        return np.full(np.shape(q1), np.nan)


class BadNameStage(Analysis):
    """Analyses: writes a table whose name is not a valid file name."""

    name = "bad_name_stage"
    config_keys = {}
    optional = True
    order = 160

    def run(self, ctx, cfg):
        return StageOutput(tables={"Bad Name!": pd.DataFrame({"year": [1]})})


class RaisingStage(Analysis):
    """Analyses: raises inside run()."""

    name = "raising_stage"
    config_keys = {}
    optional = True
    order = 170

    def run(self, ctx, cfg):
        raise ZeroDivisionError("a bug in the plugin")


ring_reversed = ReversedRing()
no_year = NoYear()
no_estimates = NoEstimates()
half_scheme = HalfScheme()
nan_h = NanH()
bad_name_stage = BadNameStage()
raising_stage = RaisingStage()
