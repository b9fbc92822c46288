"""Plugin registry: entry-point groups, lazy discovery and loading.

Every kind of plugin has one entry-point group ``nqpspatial.<kind>``:

============  =====================================================
kind          what a plugin provides
============  =====================================================
weights       a spatial weights builder (``build(ids, ...)`` -> Graph)
statistics    a spatial statistic computed for every period
models        a (spatial) Haken model (``fit(...)`` -> results)
schemes       a region scheme (region -> group)
coevolution   a co-evolution level strategy h
analyses      a pipeline stage (see :mod:`nqpspatial.stage`)
============  =====================================================

Listing reads names from the installed distributions' metadata without
importing anything; a plugin is imported when it is first used.  First-party
plugins register through the same entry points as third-party ones.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Iterator

from .contracts import CONTRACTS
from .errors import InputError, NqpWarning, PluginError

__all__ = [
    "KINDS",
    "PluginInfo",
    "PluginWarning",
    "available",
    "names",
    "get",
    "load_all",
    "origin",
    "accepts_keyword",
    "keywords",
    "contract_problems",
    "registered",
    "describe",
    "refresh",
    "tracking",
]

KINDS = tuple(CONTRACTS)  # weights, statistics, models, schemes, coevolution, analyses
_FIRST_PARTY = "nqpspatial"


class PluginWarning(NqpWarning):
    """Two plugins of one kind share a name; the registry chose one."""


@dataclass(frozen=True)
class PluginInfo:
    """One discovered plugin (not imported).

    Attributes
    ----------
    kind, name : str
        Plugin kind and name.
    value : str
        Entry-point target ``module:attribute``.
    package, version : str
        Distribution that declares it.
    """

    kind: str
    name: str
    value: str
    package: str
    version: str
    entry_point: Any = None

    @property
    def where(self) -> str:
        """Human-readable origin: package, version and entry point."""
        return (
            f"plugin '{self.name}' ({self.kind}) from package {self.package} {self.version}, "
            f"entry point '{self.name} = {self.value}' in group 'nqpspatial.{self.kind}'"
        )


_local: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
_loaded: dict[tuple[str, str], Any] = {}
_cache: dict[str, dict[str, PluginInfo]] | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown plugin kind {kind!r}; kinds are {', '.join(KINDS)}")


def _discover() -> dict[str, dict[str, PluginInfo]]:
    global _cache
    if _cache is not None:
        return _cache
    found: dict[str, dict[str, list[PluginInfo]]] = {k: {} for k in KINDS}
    for kind in KINDS:
        for ep in metadata.entry_points(group=f"nqpspatial.{kind}"):
            dist = getattr(ep, "dist", None)
            pkg = dist.metadata["Name"] if dist is not None else "unknown"
            ver = dist.version if dist is not None else "unknown"
            found[kind].setdefault(ep.name, []).append(PluginInfo(kind, ep.name, ep.value, pkg, ver, ep))
    chosen: dict[str, dict[str, PluginInfo]] = {k: {} for k in KINDS}
    for kind, byname in found.items():
        for name, infos in byname.items():
            uniq = {(i.package, i.value): i for i in infos}
            infos = sorted(uniq.values(), key=lambda i: (i.package != _FIRST_PARTY, i.package, i.value))
            if len(infos) > 1:
                others = "; ".join(f"{i.package} {i.version} ({i.value})" for i in infos[1:])
                warnings.warn(
                    f"{len(infos)} plugins named '{name}' in group nqpspatial.{kind}: using "
                    f"{infos[0].package} {infos[0].version} ({infos[0].value}), ignoring {others}. "
                    "First-party plugins win, then packages in alphabetical order.",
                    PluginWarning,
                    stacklevel=3,
                )
            chosen[kind][name] = infos[0]
    _cache = chosen
    return chosen


def refresh() -> None:
    """Forget discovered entry points (after installing a plugin in-process)."""
    global _cache
    _cache = None
    _loaded.clear()


def available(kind: str) -> dict[str, PluginInfo | str]:
    """Plugins of one kind by name, without importing them.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.

    Returns
    -------
    dict
        Name -> :class:`PluginInfo` (installed) or ``"in-process"``
        (registered with :func:`registered`).
    """
    _check_kind(kind)
    out: dict[str, Any] = dict(_discover()[kind])
    for name in _local[kind]:
        out[name] = "in-process"
    return out


def names(kind: str) -> list[str]:
    """Sorted plugin names of one kind (no import)."""
    return sorted(available(kind))


def get(kind: str, name: str) -> Any:
    """Load one plugin.

    Parameters
    ----------
    kind : str
        Plugin kind.
    name : str
        Plugin name.

    Returns
    -------
    object
        The plugin object.

    Raises
    ------
    InputError
        No plugin of that name (the message lists the available names).
    PluginError
        The plugin failed to import or breaks its contract; the message
        names its package, version and entry point.
    """
    _check_kind(kind)
    for used in _tracking:
        used.append((kind, name))
    if name in _local[kind]:
        return _local[kind][name]
    infos = _discover()[kind]
    if name not in infos:
        import difflib

        close = difflib.get_close_matches(name, list(infos) + list(_local[kind]), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise InputError(
            f"no {kind} plugin named '{name}'.{hint} Available: {', '.join(names(kind)) or '(none)'}.", source="config"
        )
    key = (kind, name)
    if key in _loaded:
        return _loaded[key]
    info = infos[name]
    try:
        obj = info.entry_point.load() if info.entry_point is not None else _load_value(info.value)
    except Exception as exc:  # noqa: BLE001 - report any import failure with its origin
        raise PluginError(f"{info.where} failed to load: {type(exc).__name__}: {exc}") from exc
    problems = contract_problems(kind, obj)
    if problems:
        raise PluginError(f"{info.where} breaks the {kind} contract: {'; '.join(problems)}")
    keywords(kind, obj)  # optional keywords read once, at load
    _loaded[key] = obj
    return obj


def _load_value(value: str) -> Any:
    module, _, attr = value.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def load_all(kind: str) -> dict[str, Any]:
    """Load every plugin of a kind (imports them)."""
    return {n: get(kind, n) for n in names(kind)}


def contract_problems(kind: str, obj: Any) -> list[str]:
    """Cheap structural checks of a plugin object (attributes and types).

    The contract of each kind is written once, in :mod:`nqpspatial.contracts`;
    the behavioural checks live in :mod:`nqpspatial.testing`.

    Returns
    -------
    list of str
        Problems found (empty when the object fits).
    """
    return CONTRACTS[kind].structural_problems(obj)


_keywords: dict[tuple[str, int], frozenset[str]] = {}


def keywords(kind: str, obj: Any) -> frozenset[str]:
    """The optional keywords of its kind's call that a plugin accepts.

    Read once per plugin object (when it is loaded or first asked about),
    like flake8 reads a plugin's parameters at load; callers pass an
    optional keyword only when it is in this set.

    Parameters
    ----------
    kind : str
        Plugin kind.
    obj : object
        The plugin object.

    Returns
    -------
    frozenset of str
    """
    key = (kind, id(obj))
    found = _keywords.get(key)
    if found is None:
        c = CONTRACTS[kind]
        fn = obj if c.method == "__call__" else getattr(obj, c.method, None)
        # a weights builder's **params are its specification's keys, so only named keywords count there
        found = frozenset(
            k
            for k in c.optional_keywords
            if fn is not None
            and accepts_keyword(fn, k, unreadable=(kind == "coevolution"), var_keyword=(kind != "weights"))
        )
        _keywords[key] = found
        _keep_alive.append(obj)  # ids stay unique while cached
    return found


_keep_alive: list[Any] = []


_tracking: list[list] = []


@contextlib.contextmanager
def tracking() -> Iterator[list]:
    """Collect the ``(kind, name)`` of every plugin fetched with :func:`get` inside the block.

    The pipeline uses it to list the plugins a run used (run.json ``plugins_used``).
    """
    used: list = []
    _tracking.append(used)
    try:
        yield used
    finally:
        _tracking.remove(used)


@contextlib.contextmanager
def registered(kind: str, name: str, obj: Any) -> Iterator[Any]:
    """Register a plugin in-process for the duration of a ``with`` block.

    Useful in notebooks and tests::

        with registered("coevolution", "mine", MyStrategy()):
            nqpspatial.run(config)

    Parameters
    ----------
    kind, name : str
        Kind and name; an in-process plugin shadows an installed one.
    obj : object
        The plugin; checked against the kind's structural contract.
    """
    _check_kind(kind)
    problems = contract_problems(kind, obj)
    if problems:
        raise PluginError(f"in-process {kind} plugin '{name}' breaks the contract: {'; '.join(problems)}")
    keywords(kind, obj)
    previous = _local[kind].get(name)
    _local[kind][name] = obj
    try:
        yield obj
    finally:
        if previous is None:
            _local[kind].pop(name, None)
        else:
            _local[kind][name] = previous


def accepts_keyword(fn, name: str, *, unreadable: bool = False, var_keyword: bool = True) -> bool:
    """Whether ``fn`` takes the keyword argument ``name`` (a named parameter or ``**kwargs``).

    Plugins may leave out optional keywords of their contract (e.g. a
    statistics plugin's ``backend``); callers pass such a keyword only when
    it is accepted.

    Parameters
    ----------
    fn : callable
        The plugin's method or the plugin itself.
    name : str
        The keyword.
    unreadable : bool
        The answer when the signature cannot be read (e.g. some builtins).
    var_keyword : bool
        Whether ``**kwargs`` counts as accepting ``name``.

    Returns
    -------
    bool
    """
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return unreadable
    return name in params or (var_keyword and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()))


def origin(kind: str, name: str) -> str:
    """Where a plugin comes from, for messages: package, version and entry point (or "in-process").

    Parameters
    ----------
    kind, name : str
        Plugin kind and name.

    Returns
    -------
    str
    """
    _check_kind(kind)
    if name in _local[kind]:
        return f"in-process {kind} plugin '{name}'"
    info = _discover()[kind].get(name)
    return info.where if info is not None else f"{kind} plugin '{name}'"


def describe() -> list[dict[str, str]]:
    """Every plugin of every kind: kind, name, package, version, entry point."""
    rows = []
    for kind in KINDS:
        for name, info in sorted(available(kind).items()):
            if isinstance(info, PluginInfo):
                rows.append(
                    {
                        "kind": kind,
                        "name": name,
                        "package": info.package,
                        "version": info.version,
                        "entry_point": info.value,
                    }
                )
            else:
                rows.append({"kind": kind, "name": name, "package": "(in-process)", "version": "", "entry_point": ""})
    return rows
