"""Typed config specs: one frozen spec per TOML table, validated once, where it is read.

A spec is a frozen dataclass whose fields are the table's keys; each field
carries a :class:`Key` (default, type, allowed values, range, a sentence of
documentation and an optional check).  :meth:`TableSpec.from_table` checks
a table as the user wrote it: unknown keys (with a suggestion), types,
allowed values and ranges, deprecated aliases; the stage then receives the
spec instance and reads ``spec.bootstrap`` (or ``spec["bootstrap"]``: a spec
is also a read-only mapping, so code written for dicts keeps working).

Checks that need the data (e.g. ``[haken] order`` names subsystems) are
written in a spec's :meth:`TableSpec.check_study` and run by the pre-flight
(``nqpspatial validate`` and ``run`` before computing).

docs/configuration.md is tested against the specs (every key documented,
none invented).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._util import suggest
from .errors import ConfigError

__all__ = [
    "Key",
    "key",
    "TableSpec",
    "StageSpec",
    "StudyFacts",
    "whole_number",
    "number_in",
    "check_choice",
    "DeprecatedKey",
    "spec_from_keys",
    "suggest",
]


@dataclass(frozen=True)
class Key:
    """One config key.

    Attributes
    ----------
    default : object
        The default (lists are copied for each spec).
    kind : str
        ``"bool"``, ``"int"`` (whole number), ``"number"``, ``"str"``,
        ``"list"``, ``"str|list"``, ``"any"``; inferred from the default
        when not given (``"any"`` for a default of None).
    choices : tuple, optional
        Allowed values.
    minimum, maximum : float, optional
        Inclusive bounds of a number (``exclusive`` makes them strict).
    nullable : bool
        Whether None (an absent optional value) is allowed; true when the
        default is None.
    doc : str
        One sentence for docs/configuration.md.
    check : callable, optional
        ``check(value, label, where) -> value``: a further check (raises
        ConfigError naming ``label``, with ``source=where``) that may
        normalize the value.
    """

    default: Any = None
    kind: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False
    nullable: bool | None = None
    doc: str = ""
    check: Callable[[Any, str, str], Any] | None = None

    @property
    def resolved_kind(self) -> str:
        if self.kind:
            return self.kind
        d = self.default
        if isinstance(d, bool):
            return "bool"
        if isinstance(d, int):
            return "int"
        if isinstance(d, float):
            return "number"
        if isinstance(d, str):
            return "str"
        if isinstance(d, (list, tuple)):
            return "list"
        return "any"

    def validate(self, value: Any, label: str, where: str) -> Any:
        """``value`` checked (and normalized); raises ConfigError naming ``label``."""
        nullable = self.default is None if self.nullable is None else self.nullable
        if value is None:
            if nullable:
                return None
            raise ConfigError(f"{label} needs a value.", source=where)
        if self.resolved_kind == "int" and self.minimum is not None and self.maximum is None and not self.exclusive:
            # "must be a whole number >= 1, not 0": one message for every way a count can be wrong
            value = whole_number(value, label, where, minimum=int(math.ceil(self.minimum)))
        value = _check_kind(self.resolved_kind, value, label, where)
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"{label} = {value!r} is not allowed; use one of "
                f"{', '.join(map(repr, self.choices))}.{suggest(value, self.choices)}",
                source=where,
            )
        if self.minimum is not None or self.maximum is not None:
            value = number_in(value, label, where, self.minimum, self.maximum, exclusive=self.exclusive)
        if self.check is not None:
            value = self.check(value, label, where)
        return value


def _check_kind(kind: str, value: Any, label: str, where: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, not {value!r}.", source=where)
    elif kind == "int":
        return whole_number(value, label, where)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{label} must be a number, not {value!r}.", source=where)
    elif kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{label} must be a string, not {value!r}.", source=where)
    elif kind == "list":
        if not isinstance(value, list):
            raise ConfigError(f'{label} must be a list such as ["a", "b"], not {value!r}.', source=where)
    elif kind == "str|list":
        if not isinstance(value, (str, list)):
            raise ConfigError(f"{label} must be a string or a list of strings, not {value!r}.", source=where)
    return value


def whole_number(value: Any, label: str, where: str = "config", minimum: int | None = None, hint: str = "") -> int:
    """``value`` as an int (ints, numpy integers and whole floats), else a ConfigError naming ``label``."""
    try:
        n = operator.index(value)  # int, numpy integers
    except TypeError:
        n = int(value) if isinstance(value, float) and value.is_integer() else None
    if isinstance(value, bool) or n is None or (minimum is not None and n < minimum):
        floor = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(f"{label} must be a whole number{floor}{hint}, not {value!r}.", source=where)
    return n


def number_in(
    value: Any,
    label: str,
    where: str = "config",
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive: bool = False,
) -> Any:
    """``value`` checked to be a number within the bounds (inclusive unless ``exclusive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{label} must be a number, not {value!r}.", source=where)
    low_bad = minimum is not None and (value <= minimum if exclusive else value < minimum)
    high_bad = maximum is not None and (value >= maximum if exclusive else value > maximum)
    if low_bad or high_bad:
        lo = "" if minimum is None else f"{'>' if exclusive else '>='} {minimum:g}"
        hi = "" if maximum is None else f"{'<' if exclusive else '<='} {maximum:g}"
        rng = " and ".join(p for p in (lo, hi) if p)
        raise ConfigError(f"{label} must be {rng}, not {value!r}.", source=where)
    return value


def check_choice(value: Any, choices, label: str, where: str = "config") -> Any:
    """``value`` if it is one of ``choices``, else a ConfigError with a suggestion."""
    if value not in choices:
        raise ConfigError(
            f"{label} = {value!r} is not allowed; use one of {', '.join(map(repr, choices))}.{suggest(value, choices)}",
            source=where,
        )
    return value


def key(default: Any = None, **kw) -> Any:
    """A dataclass field carrying a :class:`Key` (see :class:`TableSpec`)."""
    k = Key(default=default, **kw)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"key": k})
    return field(default=default, metadata={"key": k})


@dataclass(frozen=True)
class DeprecatedKey:
    """A key kept for one release: it is read into ``new`` (through ``convert``) with a note."""

    new: str
    convert: Callable[[Any], Any] = lambda v: v
    note: str = ""


@dataclass(frozen=True)
class StudyFacts:
    """What pre-flight checks of a spec may need to know about the study (no analysis has run).

    ``variables`` are the panel's and the indices' columns; ``ignored`` the
    panel columns listed in ``[data] ignore`` (readable by stages, not
    indicators); ``groups`` is the region scheme (region id -> group) when
    one is set; ``indicators`` the indicator list's names (empty when the
    study gives its indices or raw variables).
    """

    subsystems: tuple[str, ...] = ()
    regions: tuple = ()
    periods: tuple = ()
    variables: tuple[str, ...] = ()
    geometry: bool = False
    scheme: bool = False
    groups: Any = None
    ignored: tuple[str, ...] = ()
    indicators: tuple[str, ...] = ()

    @classmethod
    def from_context(cls, ctx) -> StudyFacts:
        """The facts of a :class:`~nqpspatial.stage.StageContext` (panel and index columns as variables)."""
        import pandas as pd

        panel = ctx.panel
        keys = (ctx.region, ctx.year)
        columns = [c for c in panel.columns if c not in keys]
        if ctx.indices is not None:
            columns += [c for c in ctx.indices.columns if c not in keys and c not in columns]
        return cls(
            subsystems=tuple(ctx.subsystems),
            regions=tuple(pd.unique(panel[ctx.region])),
            periods=tuple(sorted(pd.unique(panel[ctx.year]))),
            variables=tuple(columns),
            geometry=ctx.geometry is not None,
            scheme=ctx.scheme is not None,
            groups=ctx.scheme,
            ignored=tuple(map(str, ((ctx.config or {}).get("data") or {}).get("ignore") or ())),
            indicators=tuple(getattr(ctx, "indicators", None)["indicator"].astype(str))
            if getattr(ctx, "indicators", None) is not None
            else (),
        )


@dataclass(frozen=True)
class TableSpec(Mapping):
    """Base class of the typed spec of one config table.

    Subclasses are frozen dataclasses whose fields are declared with
    :func:`key`; ``table`` names the TOML table.  An instance is also a
    read-only mapping key -> value.
    """

    table: ClassVar[str] = ""
    #: Keys that name spatial weights specifications (the core builds them once, before the stages).
    spatial_weights_keys: ClassVar[tuple[str, ...]] = ()
    #: Keys kept for one release, read into another key (see :class:`DeprecatedKey`).
    deprecated: ClassVar[Mapping[str, DeprecatedKey]] = {}

    # --- the mapping view (code written for dicts keeps working) -----------------
    def __getitem__(self, name: str) -> Any:
        if name not in self.keys_spec():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_spec())

    def __len__(self) -> int:
        return len(self.keys_spec())

    # --- declarations -------------------------------------------------------------
    @classmethod
    def keys_spec(cls) -> dict[str, Key]:
        """Every key of the table with its :class:`Key`, in declaration order."""
        return {f.name: f.metadata["key"] for f in dataclasses.fields(cls) if "key" in f.metadata}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every key with its default (a new dict)."""
        return {name: copy.deepcopy(k.default) for name, k in cls.keys_spec().items()}

    # --- reading ------------------------------------------------------------------
    @classmethod
    def from_table(
        cls, given: Mapping[str, Any] | None, *, where: str = "config", notes: list | None = None
    ) -> TableSpec:
        """Check a table as written and return the spec.

        Parameters
        ----------
        given : mapping or None
            The table as the user wrote it (None: every default).
        where : str
            The config's source, named in messages.
        notes : list, optional
            Receives a note for every deprecated key used.

        Raises
        ------
        ConfigError
            Unknown key (with a suggestion), wrong type, value not allowed or
            out of range, a deprecated key given together with its
            replacement, or a failed cross-key check.
        """
        given = dict(given or {})
        spec = cls.keys_spec()
        for old, dep in cls.deprecated.items():
            if old in given:
                if dep.new in given:
                    raise ConfigError(
                        f"[{cls.table}] {old} is the deprecated form of {dep.new}; give only {dep.new}.", source=where
                    )
                given[dep.new] = dep.convert(given.pop(old))
                if notes is not None:
                    notes.append(
                        f"[{cls.table}] {old} is deprecated: write {dep.new} = {given[dep.new]!r}"
                        + (f" ({dep.note})" if dep.note else "")
                    )
        for name in given:
            if name not in spec:
                raise ConfigError(
                    f"unknown key '{name}' in [{cls.table}].{suggest(name, spec)} Valid keys: "
                    f"{', '.join(sorted(spec))}.",
                    source=where,
                )
        values = {}
        for name, k in spec.items():
            label = f"[{cls.table}] {name}" if cls.table else name
            values[name] = k.validate(given.get(name, copy.deepcopy(k.default)), label, where)
        obj = cls(**cls.normalize(values, where))
        obj.check(where)
        return obj

    @classmethod
    def normalize(cls, values: dict, where: str) -> dict:
        """Checks across keys that also normalize values (override); returns the values to keep."""
        return values

    @classmethod
    def coerce(cls, value, ctx=None) -> TableSpec:
        """``value`` as this spec.

        An instance is returned as is (the pipeline checked it before the
        run).  A mapping (e.g. a dict from Python code) is checked by
        :meth:`from_table`, keys left out taking their defaults, and, when
        the stage's context ``ctx`` is given, by :meth:`check_study` on its
        facts, so a stage run by hand reports the same errors as a run.
        """
        if isinstance(value, cls):
            return value
        spec = cls.from_table(dict(value or {}))
        if ctx is not None:
            spec.check_study(StudyFacts.from_context(ctx), "config")
        return spec

    def check(self, where: str) -> None:
        """Checks across keys (override); raise ConfigError naming the keys."""

    def check_study(self, facts: StudyFacts, where: str = "config") -> None:
        """Checks that need the study's facts (override); run by the pre-flight."""

    def replace(self, **changes) -> TableSpec:
        """A copy with some keys changed (validated again)."""
        return type(self).from_table({**dict(self), **changes})

    def as_dict(self) -> dict[str, Any]:
        """The values as a plain dict (for run.json)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.keys_spec()}


@dataclass(frozen=True)
class StageSpec(TableSpec):
    """Base class of an analysis stage's spec: every stage table accepts ``enabled``."""

    enabled: bool = key(True, doc="false skips the stage (its table may stay in the config)")


def spec_from_keys(
    table: str,
    config_keys: Mapping[str, Any],
    *,
    normalize=None,
    check_study=None,
    spatial_weights_keys: tuple = (),
    deprecated: Mapping[str, DeprecatedKey] | None = None,
    docs: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> type[StageSpec]:
    """A spec class for a stage that declares its keys as ``config_keys`` (key -> default).

    Types are inferred from the defaults (a default of None accepts
    anything) unless ``kinds`` names them (key -> a :class:`Key` kind, e.g.
    ``"str|list"`` for ``order = "auto"`` or ``["A", "B"]``, ``"any"`` for a
    key the stage's own check types); ``normalize(values, where) -> values`` checks across keys and
    may normalize them; ``check_study(spec, facts, where)`` checks them
    against the study before anything is computed; ``deprecated`` maps keys
    kept for one release to their replacement; ``docs`` gives each key's
    sentence.
    """
    docs, kinds = dict(docs or {}), dict(kinds or {})
    # the normalized values are what run.json records; a key the normalizer may set to None (window = []
    # -> None) must read back from run.json, so with a normalizer None is accepted and left to it
    nullable = True if normalize is not None else None
    fields = [
        (name, Any, key(default, doc=docs.get(name, ""), kind=kinds.get(name, ""), nullable=nullable))
        for name, default in config_keys.items()
        if name != "enabled"
    ]
    ns: dict[str, Any] = {
        "table": table,
        "spatial_weights_keys": tuple(spatial_weights_keys),
        "deprecated": dict(deprecated or {}),
    }
    if normalize is not None:
        ns["normalize"] = classmethod(lambda cls, values, where: normalize(values, where))
    if check_study is not None:
        ns["check_study"] = lambda self, facts, where="config": check_study(self, facts, where)
    return dataclasses.make_dataclass(
        f"{table.title().replace('_', '')}Spec", fields, bases=(StageSpec,), frozen=True, namespace=ns
    )
