"""The conformance kit (nqpspatial.testing) and the single contract module (nqpspatial.contracts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpspatial import contracts, registry
from nqpspatial.stage import StageOutput
from nqpspatial.testing import check_plugin, parametrize_with_checks, yield_checks

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _first_party():
    out = []
    for kind in registry.KINDS:
        for name, info in registry.available(kind).items():
            if getattr(info, "package", None) == "nqpspatial":
                out.append((kind, registry.get(kind, name)))
    return out


@parametrize_with_checks(_first_party())
def test_first_party_plugin_passes_every_check(plugin, check):
    check(plugin)


def test_every_kind_has_named_checks():
    for kind in contracts.CONTRACTS:
        names = [c.name for c in yield_checks(kind)]
        assert names[0] == "check_required_attributes"
        assert len(names) == len(set(names)) >= 4
        assert all(n.startswith("check_") for n in names)


def test_registry_checks_what_the_contract_module_requires():
    class NoTable:
        name = "lee"
        bivariate = True

        def compute(self, values, graph, **kw):
            return pd.DataFrame()

    assert registry.contract_problems("statistics", NoTable()) == ["missing attribute 'table'"]
    assert registry.contract_problems("statistics", NoTable()) == contracts.structural_problems("statistics", NoTable())


class _BadRing:
    """Breaks two parts of the weights contract: an unknown input in `needs`, and a dense array returned."""

    name = "badring"
    params = {"step": 1}
    needs = frozenset({"weather"})

    def build(self, ids, **kw):
        return np.eye(len(ids))


def test_check_plugin_reports_every_failure():
    with pytest.raises(AssertionError) as exc:
        check_plugin("weights", _BadRing())
    msg = str(exc.value)
    assert "checks failed for weights plugin 'badring'" in msg
    assert "check_weights_declarations" in msg and "check_weights_build_returns_graph" in msg
    res = check_plugin("weights", _BadRing(), on_fail=None)
    assert {r.status for r in res} == {"passed", "failed"}
    res = check_plugin(
        "weights", _BadRing(), on_fail=None, expected_failed_checks={"check_weights_declarations": "known"}
    )
    assert [r.status for r in res if r.check == "check_weights_declarations"] == ["xfail"]


def test_missing_attributes_stop_the_behavioural_checks():
    class Empty:
        pass

    res = check_plugin("models", Empty(), on_fail=None)
    assert [r.check for r in res] == ["check_required_attributes", "check_name"]
    assert "missing attribute 'name'" in res[0].message


class _Scheme:
    """A documented scheme without ``example_regions``: load(None) gives what it knows."""

    name = "north-south"
    _groups = {"n1": "north", "n2": "north", "s1": "south", "s2": "south"}

    def load(self, regions):
        from nqpspatial.errors import InputError

        regions = list(self._groups) if regions is None else list(regions)
        unknown = [r for r in regions if r not in self._groups]
        if unknown:
            raise InputError(f"regions {unknown} are in no group of north-south; add them")
        return pd.Series([self._groups[r] for r in regions], index=regions, name="group")


def test_scheme_needs_only_the_documented_contract():
    assert all(r.status == "passed" for r in check_plugin("schemes", _Scheme()))


def test_scheme_raising_a_bare_error_fails_with_the_fix():
    class KeyErr(_Scheme):
        def load(self, regions):
            if regions is None:
                return super().load(None)
            return pd.Series([self._groups[r] for r in regions], index=list(regions))

    res = {r.check: r for r in check_plugin("schemes", KeyErr(), on_fail=None)}
    assert res["check_scheme_unknown_region"].status == "failed"
    assert "InputError" in res["check_scheme_unknown_region"].message


def test_statistic_table_colliding_with_a_first_party_table_fails():
    import nqpspatial.plugins.statistics as S

    class Lee(S.StatisticPlugin):
        name = "lee"
        table = "moran_global"
        bivariate = False

        def compute(self, values, graph, *, rng, permutations=999, alpha=0.05, fdr=False, y=None):
            return pd.DataFrame({"year": list(values.columns), "L": 0.0})

    res = {r.check: r for r in check_plugin("statistics", Lee(), on_fail=None)}
    assert res["check_statistic_table_name"].status == "failed"
    assert "already written by statistics plugin 'moran'" in res["check_statistic_table_name"].message


class _Stage:
    name = "toy"
    config_keys = {}
    optional = True
    order = 150

    def __init__(self, tables):
        self._tables = tables

    def run(self, ctx, cfg):
        return StageOutput(tables={k: pd.DataFrame({"year": [2010]}) for k in self._tables})


@pytest.mark.parametrize(
    "table, why", [("Bad Name!", "is not valid"), ("moran_global", "already written"), ("x" * 40, "is not valid")]
)
def test_analysis_table_names_are_checked(table, why):
    res = {r.check: r for r in check_plugin("analyses", _Stage([table]), on_fail=None)}
    assert res["check_analysis_output"].status == "failed"
    assert why in res["check_analysis_output"].message


def test_model_without_estimates_fails():
    from nqpspatial.results import Results, Summary

    class NoEstimates(Results):
        def __init__(self):
            self._freeze()

        def summary(self):
            return Summary("x", {}, {}, ())

    class Model:
        name = "dyn_lag"

        def fit(self, data, q1, q2, graph, *, region, year, rng):
            return NoEstimates()

    res = {r.check: r for r in check_plugin("models", Model(), on_fail=None)}
    assert res["check_model_fit_output"].status == "failed"
    assert "no 'estimates' DataFrame" in res["check_model_fit_output"].message
    assert res["check_model_summary"].status == "passed"


def _doc_table(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| kind (group `nqpspatial.<kind>`)"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[start:end])


@pytest.mark.parametrize("page", ["plugins.md", "architecture.md"])
def test_docs_contract_tables_are_the_contract_module(page):
    assert _doc_table(DOCS / page) == contracts.contract_table()


def test_make_context_region_ids_are_unique_on_large_lattices():
    """side >= 11 used to repeat ids ('r1' '11' and 'r11' '1' both gave 'r111'); small lattices keep r00..r99."""
    from nqpspatial.testing import make_context

    small = make_context(side=3, periods=3)
    assert list(small.geometry.index)[:3] == ["r00", "r01", "r02"]
    ctx = make_context(side=12, periods=3)
    ids = list(ctx.geometry.index)
    assert len(ids) == 144 and len(set(ids)) == 144 and ids[0] == "r0000" and ids[-1] == "r1111"
    assert ctx.panel["region"].nunique() == 144
