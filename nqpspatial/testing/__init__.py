"""The conformance kit for plugin authors (shaped like scikit-learn's ``check_estimator``).

Every plugin kind has a set of named checks; each exercises the plugin on a
small synthetic study (a 4 x 4 lattice of square regions over eight periods,
two subsystems following the discrete Haken system) and checks what a run
of ``nqpspatial`` will demand of it, using the same validation the pipeline
applies (:func:`nqpspatial.contracts.output_problems`).  A plugin passes the
kit exactly when a run with it can succeed.

In your package's tests, either run everything at once::

    from nqpspatial.testing import check_plugin

    def test_contract():
        check_plugin("weights", my_builder)   # reports every failing check

or get one pytest item per check::

    from nqpspatial.testing import parametrize_with_checks

    @parametrize_with_checks([("weights", my_builder), ("analyses", my_stage)])
    def test_contract(plugin, check):
        check(plugin)

The contracts themselves are written in :mod:`nqpspatial.contracts`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..contracts import CONTRACTS, output_problems, table_name_problems
from ._context import make_context
from ._spatial import STATISTICS_CHECKS, WEIGHTS_CHECKS

__all__ = [
    "Check",
    "CheckResult",
    "yield_checks",
    "check_plugin",
    "parametrize_with_checks",
    "make_context",
    "reserved_tables",
    "check_analysis",
    "check_scheme",
    "check_coevolution",
    "check_model",
    "check_weights",
    "check_statistic",
]

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIREMENTS = {"pair", "indices", "geometry", "haken", "scheme"}


@dataclass(frozen=True)
class Check:
    """One named conformance check of a plugin kind.

    Attributes
    ----------
    kind : str
        The plugin kind.
    name : str
        The check's name (``check_<what>``), usable with ``pytest -k``.
    func : callable
        ``func(obj)`` raises :class:`AssertionError` when the plugin breaks
        this part of the contract.
    """

    kind: str
    name: str
    func: Callable[[Any], None]

    def __call__(self, obj) -> None:
        self.func(obj)

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``status`` is ``passed``, ``failed`` or ``xfail`` (an expected failure)."""

    check: str
    status: str
    message: str = ""


# --------------------------------------------------------------------------
# reserved table names
# --------------------------------------------------------------------------


def reserved_tables(exclude: tuple[str, str] | None = None) -> dict[str, str]:
    """Table names (or patterns such as ``weights_*``) that installed plugins write, -> their owner.

    Statistics plugins reserve their ``table`` (written by the ``spatial``
    stage); analyses reserve the names in their optional ``tables``
    declaration.

    Parameters
    ----------
    exclude : (kind, name), optional
        A plugin whose own names are left out (the one being checked).

    Returns
    -------
    dict
    """
    from .. import registry

    out: dict[str, str] = {}
    for kind, attr in (("statistics", "table"), ("analyses", "tables")):
        for name in registry.names(kind):
            if exclude == (kind, name):
                continue
            try:
                obj = registry.get(kind, name)
            except Exception:  # noqa: BLE001 - a broken plugin is reported by its own checks
                continue
            names = getattr(obj, attr, ()) or ()
            # the spatial stage writes the statistics plugins' tables
            owner = "stage 'spatial'" if kind == "statistics" else f"stage '{name}'"
            for t in [names] if isinstance(names, str) else names:
                out[str(t)] = owner
    return out


def _table_problems(names: Iterable[str], owner: str, exclude) -> list[str]:
    taken = reserved_tables(exclude=exclude)
    probs = []
    for t in names:
        probs += table_name_problems(t, owner=owner, taken=taken)
    return probs


# --------------------------------------------------------------------------
# checks of every kind
# --------------------------------------------------------------------------


def _who(obj) -> str:
    return f"plugin {getattr(obj, 'name', obj)!r}"


def _structural(kind: str) -> Callable[[Any], None]:
    def check_required_attributes(obj) -> None:
        problems = CONTRACTS[kind].structural_problems(obj)
        assert not problems, f"{_who(obj)} breaks the {kind} contract: {'; '.join(problems)}"

    check_required_attributes.__doc__ = f"The attributes the {kind} contract requires, with their types."
    return check_required_attributes


def check_name(obj) -> None:
    """``name`` is a non-empty string."""
    assert isinstance(getattr(obj, "name", None), str) and obj.name, "name must be a non-empty string"


# schemes ------------------------------------------------------------------


def check_scheme_load_all(obj) -> None:
    """``load(None)`` returns every region the scheme knows, each in one group."""
    series = obj.load(None)
    assert isinstance(series, pd.Series), "load(None) must return a pandas Series region -> group"
    assert len(series) >= 2, "load(None) must return every region the scheme knows (at least two)"
    assert series.index.is_unique, "every region must appear once"
    assert series.notna().all(), "every region must belong to a group"


def check_scheme_load_order(obj) -> None:
    """``load(regions)`` returns a Series indexed by exactly ``regions``, in that order."""
    known = list(obj.load(None).index)
    asked = known[::-1]
    series = obj.load(asked)
    assert isinstance(series, pd.Series), "load(regions) must return a pandas Series region -> group"
    assert list(series.index) == asked, "load(regions) must return the given regions, in the given order"
    assert series.notna().all(), "every region must belong to a group"


def check_scheme_unknown_region(obj) -> None:
    """An id the scheme cannot place raises InputError naming it (a scheme may also accept any id)."""
    from ..errors import InputError

    bogus = "__no_such_region__"
    try:
        series = obj.load(list(obj.load(None).index[:1]) + [bogus])
    except InputError as exc:
        assert bogus in str(exc), "the InputError must name the unknown region id"
        return
    except Exception as exc:  # noqa: BLE001 - anything else ends a run as an internal error
        raise AssertionError(
            f"load() raised {type(exc).__name__} for an unknown region id; raise "
            "nqpspatial.errors.InputError naming it, so that the user sees the fix"
        ) from None
    assert isinstance(series, pd.Series) and series.notna().all(), (
        "load() must place every region it accepts in a group"
    )


# coevolution ----------------------------------------------------------------

_CASES = [(-0.2, 0.5, 0.8, 0.4), (0.2, 0.5, 0.8, 0.4), (-0.2, -0.5, 0.8, 0.4), (0.2, -0.5, 0.8, 0.4)]


def _potentials():
    from ..haken.potential import Potential

    return [Potential.from_params(gamma1=g1, a=a, gamma2=g2, b=b) for g1, a, g2, b in _CASES]


def check_coevolution_supported_cases(obj) -> None:
    """Supported cases give finite values of the input's shape (in [0, 1] when ``normalized``)."""
    q1 = np.linspace(0.05, 0.95, 12)
    for pot in _potentials():
        if not obj.supports(pot.case):
            continue
        h = np.asarray(obj(q1, pot), dtype=float)
        assert h.shape == q1.shape, f"strategy returned shape {h.shape} for input {q1.shape}"
        assert np.isfinite(h).all(), f"non-finite values in case {pot.case}"
        if getattr(obj, "normalized", False):
            assert ((h >= 0) & (h <= 1)).all(), f"normalized strategy left [0, 1] in case {pot.case}"


def check_coevolution_unsupported_cases(obj) -> None:
    """Unsupported cases raise ModelError instead of returning numbers."""
    from ..errors import ModelError

    q1 = np.linspace(0.05, 0.95, 12)
    for pot in _potentials():
        if obj.supports(pot.case):
            continue
        try:
            obj(q1, pot)
        except ModelError:
            continue
        raise AssertionError(f"unsupported case {pot.case} must raise ModelError, not return values")


# models -----------------------------------------------------------------------


def _fit_model(obj):
    ctx = make_context()
    from libpysal.graph import Graph

    graph = Graph.build_contiguity(ctx.geometry, rook=False).transform("r")
    return obj.fit(ctx.indices, "A", "B", graph, region="region", year="year", rng=np.random.default_rng(0))


def check_model_fit_output(obj) -> None:
    """``fit`` returns a Results object with a non-empty ``estimates`` table (what the stage writes)."""
    probs = output_problems("models", _fit_model(obj))
    assert not probs, f"{_who(obj)}: {'; '.join(probs)}"


def check_model_summary(obj) -> None:
    """The results render ``summary()`` as text."""
    text = _fit_model(obj).summary().as_text()
    assert isinstance(text, str) and text, "summary() must render text"


# analyses -----------------------------------------------------------------------


def _jsonable(obj: Any, what: str) -> None:
    try:
        json.dumps(obj, default=lambda o: (_ for _ in ()).throw(TypeError(type(o).__name__)))
    except TypeError as exc:
        raise AssertionError(f"{what} must be JSON-serialisable: {exc}") from None


def check_analysis_declarations(obj) -> None:
    """Name, config keys, requirements, artifacts, ``optional``, ``order`` and ``tables`` are well formed."""
    from collections.abc import Mapping

    from ..artifacts import Artifact

    assert _SNAKE.match(obj.name), f"name {obj.name!r} must be lower_snake_case"
    assert isinstance(obj.config_keys, Mapping), "config_keys must be a mapping of key -> default"
    _jsonable(dict(obj.config_keys), "config_keys defaults")
    for k in obj.config_keys:
        assert _SNAKE.match(k), f"config key {k!r} must be lower_snake_case"
    req = set(getattr(obj, "requires", ()))
    assert req <= _REQUIREMENTS, f"unknown requirements {req - _REQUIREMENTS}; allowed {_REQUIREMENTS}"
    for attr in ("consumes", "uses", "provides"):
        for t in getattr(obj, attr, ()) or ():
            assert isinstance(t, type) and issubclass(t, Artifact), (
                f"{attr} must list artifact types (subclasses of nqpspatial.artifacts.Artifact), got {t!r}"
            )
    assert isinstance(getattr(obj, "optional", False), bool), "optional must be a bool"
    order = getattr(obj, "order", 100)
    assert isinstance(order, int) and not isinstance(order, bool), "order must be an int"
    probs = _table_problems(
        [t for t in getattr(obj, "tables", ()) or () if "*" not in t], f"stage '{obj.name}'", ("analyses", obj.name)
    )
    assert not probs, probs[0]


def _run_analysis(obj, ctx=None):
    from ..artifacts import HakenOutcome
    from ..runner import legacy_consumes

    needs = set(legacy_consumes(obj)) | set(getattr(obj, "uses", ()) or ())
    ctx = ctx if ctx is not None else make_context(haken=HakenOutcome in needs)
    from ..config import stage_spec

    before_panel, before_idx = ctx.panel.copy(), ctx.indices.copy()
    cfg = ctx.config.get(obj.name) if isinstance(ctx.config, dict) else None
    cfg = cfg if cfg is not None else stage_spec(obj).from_table(None)
    out = obj.run(ctx, cfg)
    return ctx, before_panel, before_idx, out


def check_analysis_output(obj, ctx=None) -> None:
    """``run`` returns a StageOutput with tidy tables under valid names no other stage or plugin writes."""
    _, _, _, out = _run_analysis(obj, ctx)
    probs = output_problems("analyses", out)
    assert not probs, f"stage '{obj.name}': {probs[0]}"
    probs = _table_problems(out.tables, f"stage '{obj.name}'", ("analyses", obj.name))
    assert not probs, f"stage '{obj.name}': {probs[0]}"
    declared = getattr(obj, "tables", None)
    if declared:
        extra = [t for t in out.tables if not any(fnmatch.fnmatchcase(t, d) for d in declared)]
        assert not extra, f"stage '{obj.name}' wrote tables it does not declare in `tables`: {extra}"
    _jsonable(out.info, "StageOutput.info")


def check_analysis_does_not_mutate_context(obj, ctx=None) -> None:
    """The context's panel and indices are unchanged after ``run``."""
    ctx, before_panel, before_idx, _ = _run_analysis(obj, ctx)
    pd.testing.assert_frame_equal(ctx.panel, before_panel, obj="the context's panel (must not be mutated)")
    pd.testing.assert_frame_equal(ctx.indices, before_idx, obj="the context's indices (must not be mutated)")


_KIND_CHECKS: dict[str, tuple[Callable[[Any], None], ...]] = {
    "weights": WEIGHTS_CHECKS,
    "statistics": STATISTICS_CHECKS,
    "models": (check_model_fit_output, check_model_summary),
    "schemes": (check_scheme_load_all, check_scheme_load_order, check_scheme_unknown_region),
    "coevolution": (check_coevolution_supported_cases, check_coevolution_unsupported_cases),
    "analyses": (check_analysis_declarations, check_analysis_output, check_analysis_does_not_mutate_context),
}


def yield_checks(kind: str) -> Iterator[Check]:
    """The named checks of one plugin kind, in order.

    Parameters
    ----------
    kind : str
        One of ``weights``, ``statistics``, ``models``, ``schemes``,
        ``coevolution``, ``analyses``.

    Yields
    ------
    Check
    """
    if kind not in CONTRACTS:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(CONTRACTS)}")
    yield Check(kind, "check_required_attributes", _structural(kind))
    yield Check(kind, "check_name", check_name)
    for fn in _KIND_CHECKS[kind]:
        yield Check(kind, fn.__name__, fn)


def check_plugin(
    kind: str, obj, *, expected_failed_checks: dict[str, str] | None = None, on_fail: str | None = "raise"
) -> list[CheckResult]:
    """Run every check of a kind on a plugin and report every failure.

    Parameters
    ----------
    kind : str
        The plugin kind.
    obj : object
        The plugin object (what its entry point loads).
    expected_failed_checks : dict of str to str, optional
        Check name -> reason, for checks known to fail (reported ``xfail``).
    on_fail : {"raise", None}
        ``"raise"``: raise one AssertionError listing every failed check;
        None: only return the results.

    Returns
    -------
    list of CheckResult

    Raises
    ------
    AssertionError
        One or more checks failed (with ``on_fail="raise"``); the message
        lists each failed check and why.
    """
    expected = dict(expected_failed_checks or {})
    results = []
    structural_ok = True
    for check in yield_checks(kind):
        if not structural_ok and check.name not in ("check_required_attributes", "check_name"):
            continue  # the behavioural checks need the attributes
        try:
            check(obj)
        except Exception as exc:  # noqa: BLE001 - any exception is a failed check
            msg = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            status = "xfail" if check.name in expected else "failed"
            results.append(CheckResult(check.name, status, msg))
            if check.name == "check_required_attributes":
                structural_ok = False
        else:
            results.append(CheckResult(check.name, "passed"))
    failed = [r for r in results if r.status == "failed"]
    if failed and on_fail == "raise":
        lines = "\n".join(f"- {r.check}: {r.message}" for r in failed)
        raise AssertionError(
            f"{len(failed)} of {len(results)} checks failed for {kind} plugin {getattr(obj, 'name', obj)!r}:\n{lines}"
        )
    return results


def parametrize_with_checks(plugins, *, expected_failed_checks: Callable[[Any], dict] | None = None):
    """A pytest parametrization with one item per plugin and check.

    Parameters
    ----------
    plugins : list of (kind, object)
        The plugins to check.
    expected_failed_checks : callable, optional
        ``f(obj) -> {check name: reason}``; those checks are marked xfail.

    Returns
    -------
    pytest.MarkDecorator
        Parametrizes the arguments ``plugin`` and ``check``.
    """
    import pytest

    params = []
    for kind, obj in plugins:
        xfail = expected_failed_checks(obj) if expected_failed_checks else {}
        for check in yield_checks(kind):
            marks = [pytest.mark.xfail(reason=xfail[check.name])] if check.name in xfail else []
            params.append(pytest.param(obj, check, marks=marks, id=f"{kind}:{getattr(obj, 'name', obj)}-{check.name}"))
    return pytest.mark.parametrize("plugin, check", params)


def _kind_runner(kind: str) -> Callable[[Any], None]:
    def run(obj, ctx=None) -> None:
        check_plugin(kind, obj)

    run.__doc__ = f"Run every check of the ``{kind}`` kind on ``obj`` (see :func:`check_plugin`)."
    return run


def check_analysis(obj, ctx=None) -> None:
    """Run every check of the ``analyses`` kind on ``obj``; with ``ctx``, run the stage on that context.

    Parameters
    ----------
    obj : object
        The analysis.
    ctx : nqpspatial.stage.StageContext, optional
        The context to run it on (default: :func:`make_context`).
    """
    if ctx is None:
        check_plugin("analyses", obj)
        return
    _structural("analyses")(obj)
    check_analysis_declarations(obj)
    check_analysis_output(obj, ctx)
    check_analysis_does_not_mutate_context(obj, ctx)


check_scheme = _kind_runner("schemes")
check_coevolution = _kind_runner("coevolution")
check_model = _kind_runner("models")
check_weights = _kind_runner("weights")
check_statistic = _kind_runner("statistics")
