"""Every first-party stage reads only the artifacts it declares (consumes or uses)."""

from __future__ import annotations

import pytest

from nqpspatial import registry
from nqpspatial.config import stage_spec
from nqpspatial.runner import legacy_consumes
from nqpspatial.testing import make_context

FIRST_PARTY = sorted(
    n for n, info in registry.available("analyses").items() if getattr(info, "package", None) == "nqpspatial"
)
_SMALL = {
    "sensitivity": {"draws": 20, "methods": ["equal"]},
    "robustness": {"weights": [], "rolling_window": 0},
    "spatial": {"permutations": 9},
    "spatial_haken": {"effects_draws": 20, "models": ["slx"]},
    "local_haken": {"permutations": 0},
    "network": {"permutations": 9},
}


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_stage_reads_only_declared_artifacts(name):
    stage = registry.get("analyses", name)
    ctx = make_context(haken=True, config={name: _SMALL.get(name, {})})
    ctx.accessed.clear()
    stage.run(ctx, ctx.config.get(name) or stage_spec(stage).from_table(None))
    declared = set(legacy_consumes(stage)) | set(getattr(stage, "uses", ()) or ())
    undeclared = {k.__name__ for k in ctx.accessed - declared}
    assert not undeclared, f"stage '{name}' reads {undeclared} without declaring them in consumes or uses"


def test_make_context_holds_what_the_core_provides():
    from nqpspatial.artifacts import HakenOutcome, IndicatorWeights, SpatialWeightsSet

    ctx = make_context(haken=True)
    assert ctx.get(IndicatorWeights).table is not None and ctx.get(SpatialWeightsSet).first is not None
    assert ctx.get(HakenOutcome).order in (("A", "B"), ("B", "A"))
