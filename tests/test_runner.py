"""The stage runner: ordering by declared artifacts, isolation of failing stages, output validation."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd
import pytest

from nqpspatial.artifacts import Artifact, HakenOutcome, IndicatorWeights
from nqpspatial.errors import NqpDeprecationWarning, NqpWarning, PluginError
from nqpspatial.runner import plan, run_stage
from nqpspatial.stage import StageContext, StageOutput


@dataclass(frozen=True)
class _Gini(Artifact):
    value: float = 0.0


class _Stage:
    config_keys: dict = {}
    optional = False

    def __init__(self, name, *, order=100, consumes=(), uses=(), provides=(), tables=(), run=None):
        self.name, self.order = name, order
        self.consumes, self.uses, self.provides = consumes, uses, provides
        if tables:
            self.tables = tables
        self._run = run or (lambda ctx, cfg: StageOutput())

    def run(self, ctx, cfg):
        return self._run(ctx, cfg)


def _ctx():
    return StageContext(config={}, panel=pd.DataFrame({"region": ["a"], "year": [2000]}))


def test_plan_orders_by_artifacts_then_order():
    a = _Stage("a", order=10, consumes=(_Gini,))
    b = _Stage("b", order=50, provides=(_Gini,))
    c = _Stage("c", order=5)
    assert [s.name for s in plan([a, b, c], core={})] == ["c", "b", "a"]


def test_two_providers_of_one_artifact_are_named():
    with pytest.raises(PluginError, match="stages 'b' and 'c' both provide _Gini"):
        plan([_Stage("b", provides=(_Gini,)), _Stage("c", provides=(_Gini,))], core={})


def test_a_cycle_is_named():
    @dataclass(frozen=True)
    class Other(Artifact):
        pass

    with pytest.raises(PluginError, match="dependency cycle.*'x' reads y"):
        plan(
            [_Stage("x", consumes=(_Gini,), provides=(Other,)), _Stage("y", consumes=(Other,), provides=(_Gini,))],
            core={},
        )


def test_a_stage_cannot_provide_a_core_artifact():
    with pytest.raises(PluginError, match="which the core provides"):
        plan([_Stage("w", provides=(IndicatorWeights,))], core={IndicatorWeights: "weighting"})


def test_missing_artifact_skips_with_the_providers_note():
    st = _Stage("zones_gini", consumes=(HakenOutcome,))
    out, rec = run_stage(
        st,
        _ctx(),
        {},
        taken={},
        why_missing={HakenOutcome: "stage 'haken'", ("note", HakenOutcome): "no ordering passed the adiabatic verdict"},
    )
    assert out is None and rec.status == "skipped"
    assert rec.notes == [
        "needs HakenOutcome, which stage 'haken' did not provide: no ordering passed the adiabatic verdict"
    ]


def test_an_exception_fails_the_stage_only():
    def boom(ctx, cfg):
        raise ZeroDivisionError("division by zero in the Gini")

    origin = {"name": "gini", "package": "nqp-gini", "version": "0.1", "entry_point": "gini = g:stage"}
    out, rec = run_stage(_Stage("gini", run=boom), _ctx(), {}, taken={}, origin=origin)
    assert out is None and rec.status == "failed"
    assert rec.error == "ZeroDivisionError: division by zero in the Gini"
    assert rec.as_dict()["plugin"] == origin and "Traceback" in rec.traceback


@pytest.mark.parametrize(
    "tables, taken, why",
    [
        ({"Bad Name!": pd.DataFrame({"year": [1]})}, {}, "is not valid"),
        ({"moran_global": pd.DataFrame({"year": [1]})}, {"moran_global": "stage 'spatial'"}, "already written"),
        ({"gini": pd.DataFrame([[1, 2]], columns=["a", "a"])}, {}, "repeats columns"),
        ({"gini": [1, 2]}, {}, "not a pandas DataFrame"),
    ],
)
def test_output_that_breaks_the_contract_fails(tables, taken, why):
    out, rec = run_stage(_Stage("gini", run=lambda c, g: StageOutput(tables=tables)), _ctx(), {}, taken=taken)
    assert out is None and rec.status == "failed" and why in rec.error


def test_undeclared_tables_and_artifacts_fail():
    st = _Stage("gini", tables=("gini",), run=lambda c, g: StageOutput(tables={"gini2": pd.DataFrame()}))
    assert "does not declare in `tables`" in run_stage(st, _ctx(), {}, taken={})[1].error
    st = _Stage("gini", run=lambda c, g: StageOutput(artifacts=[_Gini(0.3)]))
    assert "does not declare in `provides`" in run_stage(st, _ctx(), {}, taken={})[1].error
    st = _Stage("gini", provides=(_Gini,), run=lambda c, g: StageOutput(artifacts=[_Gini(0.3)]))
    out, rec = run_stage(st, _ctx(), {}, taken={})
    assert rec.status == "ok" and out.artifacts == [_Gini(0.3)]


def test_our_warnings_are_recorded_and_others_pass_through():
    def warn(ctx, cfg):
        warnings.warn("ours", NqpWarning)
        warnings.warn("theirs", RuntimeWarning)
        return StageOutput()

    with pytest.warns(RuntimeWarning, match="theirs"):
        _, rec = run_stage(_Stage("w", run=warn), _ctx(), {}, taken={})
    assert rec.warnings == ["ours"]


def test_legacy_results_view_warns_and_is_read_only():
    ctx = _ctx()
    ctx.provide(IndicatorWeights(table=pd.DataFrame({"weight": [1.0]}), normalized=None))
    with pytest.warns(NqpDeprecationWarning, match=r"ctx.get\(nqpspatial.artifacts.IndicatorWeights\)"):
        w = ctx.results["weights"]
    assert list(w["weight"]) == [1.0]
    assert ctx.results.get("haken") is None
    with pytest.raises(TypeError, match="read-only"):
        ctx.results["haken"] = 1
    with pytest.raises(TypeError, match="must be an instance"):
        ctx.provide({"value": 1})


def test_a_stage_that_warns_then_raises_fails_once():
    """Re-emitting a third-party warning while warnings were still being recorded looped forever."""

    def warn_then_raise(ctx, cfg):
        warnings.warn("theirs", RuntimeWarning)
        warnings.warn("ours", NqpWarning)
        raise ValueError("then a bug")

    with pytest.warns(RuntimeWarning, match="theirs"):
        out, rec = run_stage(_Stage("w", run=warn_then_raise), _ctx(), {}, taken={})
    assert out is None and rec.status == "failed" and rec.warnings == ["ours"]
