"""The contract of every plugin kind, written once.

nqpspatial finds its methods through entry-point groups ``nqpspatial.<kind>``
(see :mod:`nqpspatial.registry`).  This module is the single statement of
what an object of each kind must provide:

* a :class:`typing.Protocol` per kind (:class:`WeightsBuilder`,
  :class:`Statistic`, :class:`ModelPlugin`, :class:`Scheme`,
  :class:`CoevolutionStrategy`, :class:`Analysis`), documented like xarray's
  ``BackendEntrypoint``;
* :data:`CONTRACTS`, the machine-readable form the registry checks on load
  (required attributes and their types), the call the pipeline makes and
  the optional keywords it passes only to plugins that accept them (read
  once, when the plugin is loaded);
* :func:`contract_table`, the Markdown table of docs/plugins.md and
  docs/architecture.md (a test keeps both equal to it).

The behavioural checks (what a run demands of a plugin's output) live in
:mod:`nqpspatial.testing` and in :func:`output_problems`, which the pipeline
applies to every plugin's output, so that a plugin passes the conformance
kit exactly when a run with it succeeds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Attribute",
    "Contract",
    "CONTRACTS",
    "WeightsBuilder",
    "Statistic",
    "ModelPlugin",
    "Scheme",
    "CoevolutionStrategy",
    "Analysis",
    "TABLE_NAME",
    "STATISTIC_FORBIDDEN_COLUMNS",
    "MODEL_ID_COLUMNS",
    "contract_table",
    "structural_problems",
    "table_name_problems",
    "output_problems",
]

#: Valid output table names: they become ``tables/<name>.csv`` and a sheet of ``tables.xlsx``.
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
#: Columns a statistics plugin must not return (the spatial stage adds them).
STATISTIC_FORBIDDEN_COLUMNS = ("variable", "weights")
#: Identifying columns the spatial Haken stage adds to every row of a model plugin's tables.
MODEL_ID_COLUMNS = ("model", "weights", "q1", "q2")


# --------------------------------------------------------------------------
# the protocols
# --------------------------------------------------------------------------


@runtime_checkable
class WeightsBuilder(Protocol):
    """A spatial weights builder (group ``nqpspatial.weights``).

    Attributes
    ----------
    name : str
        The name used in a specification, e.g. ``"knn"`` in ``"knn:k=5"``.
    params : Mapping[str, Any]
        Every parameter a specification may set, with its default; any
        other key is refused before building.
    needs : Set[str]
        A subset of ``{"geometry", "panel", "scheme"}``: the inputs
        ``build`` reads; the pipeline refuses the specification when one
        is missing.
    handles_islands : bool, optional
        True when the builder itself decides about regions without
        neighbours (e.g. a k-th-order ring builder): the island policy is
        then not applied to its graph.  Default False.

    Methods
    -------
    build(ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params)
        Return the *raw* (untransformed) :class:`libpysal.graph.Graph`
        over exactly ``ids``, in that order, with finite non-negative
        weights and no self-weights (a region without neighbours is an
        isolate, as libpysal encodes it).  ``geometry`` is a GeoDataFrame
        indexed by region id, ``panel`` the long panel, ``scheme`` a Series
        region id -> group.  Optional keyword: ``base_dir`` (the config's
        folder, for builders that read a file).
    """

    name: str
    params: Mapping[str, Any]
    needs: Set[str]

    def build(self, ids, *, geometry=None, panel=None, scheme=None, region="region", year="year", **params) -> Any: ...


@runtime_checkable
class Statistic(Protocol):
    """A spatial statistic computed for every period (group ``nqpspatial.statistics``).

    Attributes
    ----------
    name : str
        The name used in ``[spatial] statistics``.
    table : str
        The output table its rows go to: a valid table name
        (:data:`TABLE_NAME`) that no other plugin or stage writes.
    bivariate : bool
        Whether ``compute`` needs a second variable ``y``.

    Methods
    -------
    compute(values, graph, *, rng, permutations, alpha, fdr, y=None)
        ``values``: DataFrame, index = region ids (any order; align them to
        ``graph.unique_ids``), columns = periods.  ``graph``: the
        transformed libpysal Graph.  ``rng``: the only source of
        randomness.  ``permutations = 0`` disables permutation inference.
        Returns a DataFrame with a ``year`` column covering every period
        (and ``region`` for a local statistic, one row per region and
        period), without ``variable`` and ``weights`` columns (the stage
        adds them).  Optional keyword: ``backend`` (an execution backend of
        :mod:`nqpspatial.backends`; the numbers must not depend on it).
    """

    name: str
    table: str
    bivariate: bool

    def compute(self, values, graph, *, rng, permutations, alpha, fdr, y=None) -> Any: ...


@runtime_checkable
class ModelPlugin(Protocol):
    """A (spatial) Haken model (group ``nqpspatial.models``), run by ``[spatial_haken] models``.

    Attributes
    ----------
    name : str
        The name used in ``[spatial_haken] models``.

    Methods
    -------
    fit(data, q1, q2, graph, *, region, year, rng, **options)
        ``data``: the long index table (region, year, subsystem columns);
        ``q1``, ``q2``: the ordering; ``graph``: the transformed libpysal
        Graph.  Returns a :class:`nqpspatial.results.Results` with
        ``summary()`` and an ``estimates`` DataFrame (one row per equation
        and term, with ``estimate``); optional tables ``effects``,
        ``marginal_effects``, ``diagnostics``, ``identification``,
        ``potential_readings``, ``steady_states`` and a ``notes`` tuple.  A
        plugin without the ``reading`` keyword is refused only when
        ``[spatial_haken] reading = "local"`` is asked for.  The
        stage adds the identifying columns ``model, weights, q1, q2`` to
        every row.  Optional keywords, passed only when ``fit`` accepts
        them: see ``CONTRACTS["models"].optional_keywords``.
    """

    name: str

    def fit(self, data, q1, q2, graph, *, region, year, rng, **options) -> Any: ...


@runtime_checkable
class Scheme(Protocol):
    """A region scheme (group ``nqpspatial.schemes``), named by ``[regions] scheme``.

    Attributes
    ----------
    name : str
        The scheme's name.
    label_en, label_zh : str, optional
        Titles for the report.

    Methods
    -------
    load(regions)
        ``regions``: the panel's region ids (repeats allowed).  Returns a
        Series indexed by the distinct ids in order of first appearance,
        values = group names, every id in exactly one group; an id the
        scheme does not know raises :class:`~nqpspatial.errors.InputError`
        naming it.  ``load(None)`` returns every region the scheme knows
        (the conformance kit uses it).
    """

    name: str

    def load(self, regions) -> Any: ...


@runtime_checkable
class CoevolutionStrategy(Protocol):
    """A co-evolution level strategy h (group ``nqpspatial.coevolution``).

    Attributes
    ----------
    name : str
        The name used in ``[haken] coevolution``.
    normalized : bool
        True when h lies in [0, 1] (then it is graded).

    Methods
    -------
    supports(case) -> bool
        Whether the strategy is defined for the potential's stability case
        (1-4; 0 = undefined).
    __call__(q1, potential) -> array
        h for the order-parameter values ``q1`` (same shape); an
        unsupported case raises :class:`~nqpspatial.errors.ModelError`.
        Optional keyword: ``domain`` (the q1 range a normalized strategy
        scales over).
    """

    name: str
    normalized: bool

    def supports(self, case: int) -> bool: ...

    def __call__(self, q1, potential) -> Any: ...


@runtime_checkable
class Analysis(Protocol):
    """A pipeline stage (group ``nqpspatial.analyses``).

    Attributes
    ----------
    name : str
        Unique lower_snake_case name; also its TOML table ``[name]``.
    config_keys : Mapping[str, Any]
        Every key of its table with the default (``enabled`` is always
        accepted).  A first-party stage may give a typed ``spec`` instead
        (see :mod:`nqpspatial.specs`).
    requires : tuple of str, optional
        Input prerequisites among ``"pair"`` (two or more subsystems),
        ``"indices"`` (subsystem indices in [0, 1], not ``[data] variables``
        analysed as they are), ``"geometry"`` (boundaries), ``"scheme"`` (a
        region scheme).
    consumes : tuple of artifact types, optional
        Artifacts (:mod:`nqpspatial.artifacts`) the stage needs; the runner
        orders stages by them and skips the stage with a note naming the
        stage that did not provide one.
    uses : tuple of artifact types, optional
        Artifacts read when present (no skip when absent).
    provides : tuple of artifact types, optional
        Artifacts the stage hands to later stages (``StageOutput.artifacts``).
    tables : tuple of str, optional
        The output tables the stage may write (patterns such as
        ``weights_*`` allowed); the names are reserved for it, and the
        conformance kit checks that it writes no other.
    optional : bool, optional
        Run only when its table is in the config.
    order : int, optional
        Breaks ties between stages the declarations leave unordered.
    min_periods : int, optional
        Fewest periods the stage needs (default 3: dynamics need two
        transitions); on a shorter panel (the pipeline accepts two periods)
        the stage is skipped with a note.
    report_sections(view) -> list, optional
        The stage's sections of the report (:mod:`nqpspatial.report`); a
        stage without it gets a generic section listing its tables.

    Methods
    -------
    run(ctx, cfg) -> StageOutput
        Does the work; ``ctx`` is the :class:`~nqpspatial.stage.StageContext`,
        ``cfg`` the stage's resolved table.
    """

    name: str
    config_keys: Mapping[str, Any]

    def run(self, ctx, cfg) -> Any: ...


# --------------------------------------------------------------------------
# machine-readable contracts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """One attribute of a plugin contract.

    Attributes
    ----------
    name : str
        Attribute name.
    type : type, tuple of types or callable
        Required type (``callable`` means "callable").
    text : str
        How docs/plugins.md writes it.
    """

    name: str
    type: Any
    text: str = ""

    def problem(self, obj) -> str | None:
        """What is wrong with ``obj``'s attribute (None when it fits)."""
        if not hasattr(obj, self.name):
            return f"missing attribute '{self.name}'"
        val = getattr(obj, self.name)
        if self.type is callable:
            return None if callable(val) else f"'{self.name}' is not callable"
        if isinstance(val, bool) and self.type in (int, (int,)):
            return f"'{self.name}' should be int, got bool"
        if not isinstance(val, self.type):
            want = self.type.__name__ if isinstance(self.type, type) else " or ".join(t.__name__ for t in self.type)
            return f"'{self.name}' should be {want}, got {type(val).__name__}"
        return None


@dataclass(frozen=True)
class Contract:
    """The machine-readable contract of one plugin kind.

    Attributes
    ----------
    kind : str
        Kind name (entry-point group ``nqpspatial.<kind>``).
    protocol : type
        The :class:`typing.Protocol` documenting it.
    required : tuple of Attribute
        Attributes every plugin must have.
    optional : tuple of Attribute
        Attributes a plugin may have (checked when present).
    method : str
        The call the pipeline makes.
    signature : str
        That call as docs/plugins.md writes it.
    optional_keywords : tuple of str
        Keywords of ``method`` the pipeline passes only to plugins that
        accept them (read once, when the plugin is loaded).
    returns : str
        What the call returns, as docs/plugins.md writes it.
    """

    kind: str
    protocol: type
    required: tuple[Attribute, ...]
    method: str
    signature: str
    returns: str
    optional: tuple[Attribute, ...] = ()
    optional_keywords: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def structural_problems(self, obj) -> list[str]:
        """Missing or wrongly typed attributes of ``obj`` (empty when it fits)."""
        out = [p for a in self.required if (p := a.problem(obj))]
        out += [p for a in self.optional if hasattr(obj, a.name) and (p := a.problem(obj))]
        return out


_NAME = Attribute("name", str, "`name`")

CONTRACTS: dict[str, Contract] = {
    "weights": Contract(
        "weights",
        WeightsBuilder,
        (
            _NAME,
            Attribute("params", Mapping, "`params` (accepted keys with defaults)"),
            Attribute("needs", (Set, tuple, list), "`needs`"),
            Attribute("build", callable),
        ),
        method="build",
        signature="build(ids, *, geometry, panel, scheme, region, year, **params)",
        returns="raw `libpysal.graph.Graph` over exactly `ids`",
        optional=(Attribute("handles_islands", bool, "`handles_islands`"),),
        optional_keywords=("base_dir",),
    ),
    "statistics": Contract(
        "statistics",
        Statistic,
        (
            _NAME,
            Attribute("table", str, "`table`"),
            Attribute("bivariate", bool, "`bivariate`"),
            Attribute("compute", callable),
        ),
        method="compute",
        signature="compute(values, graph, *, rng, permutations, alpha, fdr, y=None)",
        returns="DataFrame with `year` (and `region`)",
        optional_keywords=("backend",),
    ),
    "models": Contract(
        "models",
        ModelPlugin,
        (_NAME, Attribute("fit", callable)),
        method="fit",
        signature="fit(data, q1, q2, graph, *, region, year, rng, ...)",
        returns="`Results` with `summary()` and an `estimates` table",
        optional_keywords=(
            "effects",
            "correction",
            "split",
            "draws",
            "alpha",
            "min_ratio",
            "weights_name",
            "reading",
            "backend",
            "se",
            "bandwidth",
        ),
    ),
    "schemes": Contract(
        "schemes",
        Scheme,
        (_NAME, Attribute("load", callable)),
        method="load",
        signature="load(regions)",
        returns="Series region -> group",
        optional=(Attribute("label_en", str, "`label_en`"), Attribute("label_zh", str, "`label_zh`")),
    ),
    "coevolution": Contract(
        "coevolution",
        CoevolutionStrategy,
        (
            _NAME,
            Attribute("normalized", bool, "`normalized`"),
            Attribute("supports", callable),
            Attribute("__call__", callable),
        ),
        method="__call__",
        signature="supports(case)`, `__call__(q1, potential)",
        returns="h",
        optional_keywords=("domain",),
    ),
    "analyses": Contract(
        "analyses",
        Analysis,
        (_NAME, Attribute("config_keys", Mapping, "`config_keys`"), Attribute("run", callable)),
        method="run",
        signature="run(ctx, cfg)",
        returns="`StageOutput`",
        optional=(
            Attribute("requires", (tuple, list, frozenset, set), "`requires`"),
            Attribute("consumes", (tuple, list), "`consumes`"),
            Attribute("uses", (tuple, list), "`uses`"),
            Attribute("provides", (tuple, list), "`provides`"),
            Attribute("tables", (tuple, list), "`tables`"),
            Attribute("optional", bool, "`optional`"),
            Attribute("order", int, "`order`"),
            Attribute("min_periods", int, "`min_periods`"),
            Attribute("report_sections", callable, "`report_sections(view)`"),
        ),
    ),
}

#: Where the full contract of each kind is written (for docs/plugins.md).
CONTRACT_HOME = {kind: f"`nqpspatial.contracts.{c.protocol.__name__}`" for kind, c in CONTRACTS.items()}


def structural_problems(kind: str, obj) -> list[str]:
    """Missing or wrongly typed attributes of a plugin object.

    Parameters
    ----------
    kind : str
        The plugin kind.
    obj : object
        The plugin object.

    Returns
    -------
    list of str
        Problems (empty when the object fits).
    """
    return CONTRACTS[kind].structural_problems(obj)


def contract_table() -> str:
    """The Markdown table of the plugin kinds and their required attributes.

    docs/plugins.md and docs/architecture.md hold this table; a test keeps
    them equal to it.

    Returns
    -------
    str
    """
    lines = [
        "| kind (group `nqpspatial.<kind>`) | required | optional | call -> returns | contract |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, c in CONTRACTS.items():
        req = ", ".join(a.text for a in c.required if a.text)
        opt = ", ".join(a.text for a in c.optional) or "-"
        kws = f" (optional keywords: {', '.join(f'`{k}`' for k in c.optional_keywords)})" if c.optional_keywords else ""
        lines.append(f"| `{kind}` | {req} | {opt} | `{c.signature}` -> {c.returns}{kws} | {CONTRACT_HOME[kind]} |")
    return "\n".join(lines)


def table_name_problems(name, *, owner: str, taken: Mapping[str, str]) -> list[str]:
    """Problems of an output table name written by ``owner``.

    Parameters
    ----------
    name : object
        The table name.
    owner : str
        Who writes it (e.g. ``"stage spatial"``, ``"statistics plugin 'lee'"``).
    taken : mapping of str to str
        Table names (or patterns such as ``weights_*``) already written or
        reserved, -> their owner.

    Returns
    -------
    list of str
    """
    if not isinstance(name, str) or not TABLE_NAME.match(name):
        return [
            f"table name {name!r} is not valid: use a lower-case letter, then a-z, 0-9 and _ "
            "(at most 31 characters, Excel's sheet-name limit)"
        ]
    import fnmatch

    for reserved, other in taken.items():
        if other != owner and (reserved == name or ("*" in reserved and fnmatch.fnmatchcase(name, reserved))):
            return [f"table name '{name}' is already written by {other}"]
    return []


def _frame_problems(tab, name: str) -> list[str]:
    import pandas as pd

    if not isinstance(tab, pd.DataFrame):
        return [f"table '{name}' is a {type(tab).__name__}, not a pandas DataFrame"]
    if isinstance(tab.columns, pd.MultiIndex):
        return [f"table '{name}' has MultiIndex columns: tables must be tidy (flat column names)"]
    bad = [c for c in tab.columns if not isinstance(c, str)]
    if bad:
        return [f"table '{name}' has column names that are not strings: {bad[:3]}"]
    if tab.columns.duplicated().any():
        return [f"table '{name}' repeats columns {list(tab.columns[tab.columns.duplicated()])[:3]}"]
    return []


def output_problems(kind: str, output, *, name: str = "", years=None, regions=None) -> list[str]:
    """What a run would refuse in a plugin's output.

    The pipeline applies this to every plugin's output (a failing plugin's
    stage, or part of it, is marked ``failed``) and the conformance kit
    applies the same function, so that both agree.

    Parameters
    ----------
    kind : {"statistics", "models", "analyses"}
        The plugin kind.
    output : object
        A statistics plugin's DataFrame, a model plugin's results object,
        or an analysis's :class:`~nqpspatial.stage.StageOutput`.
    name : str
        The output's label in messages.
    years, regions : sequence, optional
        The periods (and regions) a statistic was computed for.

    Returns
    -------
    list of str
    """
    if kind == "statistics":
        return _statistic_problems(output, name, years, regions)
    if kind == "models":
        return _model_problems(output)
    if kind == "analyses":
        return _analysis_problems(output)
    return []


def _statistic_problems(out, name, years, regions) -> list[str]:
    probs = _frame_problems(out, name or "statistic")
    if probs:
        return probs
    if "year" not in out.columns:
        return ["the result has no 'year' column"]
    if years is not None and set(out["year"]) != set(years):
        return [f"the result must cover every period {list(years)}, got {sorted(set(out['year']))}"]
    bad = [c for c in STATISTIC_FORBIDDEN_COLUMNS if c in out.columns]
    if bad:
        return [f"the result must not have a '{bad[0]}' column (the spatial stage adds it)"]
    if "region" in out.columns and regions is not None and years is not None:
        if len(out) != len(regions) * len(years):
            return [
                "a local statistic needs one row per region and period "
                f"({len(regions)} x {len(years)}), got {len(out)} rows"
            ]
    return []


def _model_problems(res) -> list[str]:
    from .results import Results

    if not isinstance(res, Results):
        return [f"fit() must return a nqpspatial.results.Results, got {type(res).__name__}"]
    est = getattr(res, "estimates", None)
    import pandas as pd

    if not isinstance(est, pd.DataFrame):
        return ["the results have no 'estimates' DataFrame"]
    probs = _frame_problems(est, "estimates")
    if not probs and len(est) == 0:
        probs = ["the 'estimates' table is empty"]
    for tname in ("effects", "diagnostics", "identification"):
        tab = getattr(res, tname, None)
        if tab is not None:
            probs += _frame_problems(tab, tname)
    return probs


def _analysis_problems(out) -> list[str]:
    from .stage import StageOutput

    if not isinstance(out, StageOutput):
        return [f"run() must return a StageOutput, got {type(out).__name__}"]
    probs = []
    for tname, tab in out.tables.items():
        probs += _frame_problems(tab, str(tname))
    return probs
