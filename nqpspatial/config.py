"""Study configuration: TOML loading, defaults and key checking.

A config is a TOML document with a few top-level keys and one table per
stage.  Core tables are declared here; analysis plugins declare their own
tables through their ``config_keys``.  Unknown tables and keys are errors
that name the key and suggest the nearest valid one.
"""

from __future__ import annotations

import copy
import difflib
import operator
import tomllib
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError

__all__ = ["CORE_SCHEMA", "CHOICES", "load_config", "resolve_config", "parse_toml", "check_seed"]

_MISSING = object()
_MAX_CONFIG = 10_000_000

#: Core tables and their keys with defaults. ``None`` means "no default / optional".
CORE_SCHEMA: dict[str, dict[str, Any]] = {
    "": {"name": "nqpspatial study", "description": ""},
    "data": {
        "panel": None, "indicators": None, "region": "region", "year": "year", "missing": "error",
        "ignore": [], "indices": False, "subsystems": [], "form": "auto", "indicator_column": "indicator",
        "value_column": "value", "encoding": "utf-8-sig", "indicators_encoding": None, "sheet": None,
        "synthetic": False,
    },
    "weighting": {
        "method": "critic", "normalization": "pooled", "critic_conflict": "signed",
        "critic_cost": "reverse-first", "levels": 1, "zero_variance": "error", "shift": None,
        "aggregation": "sum", "topsis_ideal": "pooled",
    },
    "run": {"seed": 12345, "workers": None, "scheduler": None, "escape_csv_formulas": True},
    "geometry": {"source": None, "id": None, "crs": None, "enabled": True},
    "regions": {"scheme": None},
    "report": {"enabled": True, "language": "en", "years": [], "title": None, "figures": True,
               "formats": ["png", "svg"], "latex": True, "docx": True},
}

#: Allowed values of enumerated keys, by (table, key).
CHOICES: dict[tuple[str, str], tuple] = {
    ("data", "missing"): ("error", "interpolate"),
    ("data", "form"): ("auto", "wide", "long"),
    ("weighting", "method"): ("critic", "entropy", "equal", "fixed", "critic-entropy"),
    ("weighting", "normalization"): ("pooled", "by-year"),
    ("weighting", "critic_conflict"): ("signed", "absolute"),
    ("weighting", "critic_cost"): ("reverse-first", "benefit-all"),
    ("weighting", "levels"): (1, 2),
    ("weighting", "zero_variance"): ("error", "zero-weight"),
    ("weighting", "aggregation"): ("sum", "topsis"),
    ("weighting", "topsis_ideal"): ("pooled", "by-year"),
    ("report", "language"): ("en", "zh"),
}


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.4)
    return f" Did you mean '{close[0]}'?" if close else ""


def parse_toml(text: str, source: str = "config") -> dict:
    """Parse TOML text, turning syntax errors into :class:`ConfigError`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}. Check quotes, brackets and '=' signs on that line.",
                          source=source) from None


def load_config(path) -> tuple[dict, Path]:
    """Read a TOML config file.

    Parameters
    ----------
    path : str or pathlib.Path
        The config file.

    Returns
    -------
    (dict, pathlib.Path)
        The raw config and the folder that relative paths are resolved from.
    """
    from .io import check_input_file

    p = Path(path)
    if not str(path).strip():
        raise ConfigError("the config file name is empty. Give the path of a TOML file.", source="config")
    if not p.exists() and not p.is_symlink():
        raise ConfigError("config file not found. Give the path of a TOML file, or run `nqpspatial run` "
                          "without arguments for the bundled demo.", source=str(p))
    check_input_file(p, "config", error=ConfigError)  # no FIFO, device or folder: never opened
    if p.stat().st_size > _MAX_CONFIG:
        raise ConfigError(f"the config is {p.stat().st_size} bytes; a study config is a short TOML text (at most "
                          f"{_MAX_CONFIG // 1_000_000} MB). Check that this is the config file.", source=str(p))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}. Save it as UTF-8 text.", source=str(p)) from None
    return parse_toml(text, source=str(p)), p.resolve().parent


def _plain(value):
    """numpy scalars (e.g. ``numpy.int64(99)`` in a config dict) as the Python numbers they hold."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _check_value(table: str, key: str, value: Any, default: Any, where: str) -> None:
    label = f"[{table}] {key}" if table else key
    choices = CHOICES.get((table, key))
    if choices is not None and value not in choices:
        raise ConfigError(f"{label} = {value!r} is not allowed; use one of {', '.join(map(repr, choices))}."
                          f"{_suggest(str(value), map(str, choices))}", source=where)
    if default is None or value is None:
        return
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, not {value!r}.", source=where)
    elif isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{label} must be a number, not {value!r}.", source=where)
        if isinstance(default, int) and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{label} must be a whole number, not {value!r}.", source=where)
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{label} must be a list such as [\"a\", \"b\"], not {value!r}.", source=where)
    elif isinstance(default, str) and not isinstance(value, (str, list)):
        # string keys may also take a list where the stage allows it (e.g. [haken] order = ["A", "B"]);
        # the stage validates the list itself
        raise ConfigError(f"{label} must be a string, not {value!r}.", source=where)


def check_seed(value, label: str = "[run] seed", where: str = "config") -> int:
    """A random seed must be a whole number >= 0 (numpy's SeedSequence refuses others).

    Parameters
    ----------
    value : object
        The seed as given.
    label, where : str
        The key and the source named in the message.

    Returns
    -------
    int
        The seed.
    """
    return _whole_number(value, 0, label, where)


def _whole_number(value, minimum: int, label: str, where: str, hint: str = "") -> int:
    """``value`` as an int >= ``minimum`` (ints, numpy integers and whole floats), else a ConfigError."""
    try:
        n = operator.index(value)  # int, numpy integers
    except TypeError:
        n = int(value) if isinstance(value, float) and value.is_integer() else None
    if isinstance(value, bool) or n is None or n < minimum:
        raise ConfigError(f"{label} must be a whole number >= {minimum}{hint}, not {value!r}.", source=where)
    return n


def check_workers(value, label: str = "[run] workers", where: str = "config"):
    """A worker count must be a whole number >= 1, or None (in-process).

    Parameters
    ----------
    value : object
        The count as given.
    label, where : str
        The key and the source named in the message.

    Returns
    -------
    int or None
        The count.
    """
    if value is None:
        return None
    return _whole_number(value, 1, label, where, " (leave it out to run in one process)")


def _check_run(resolved: dict, where: str) -> None:
    """The [run] table's seed, worker count and scheduler address (in place)."""
    if resolved["scheduler"] is not None and not isinstance(resolved["scheduler"], str):
        raise ConfigError(f"[run] scheduler must be an address such as \"tcp://127.0.0.1:8786\", not "
                          f"{resolved['scheduler']!r}.", source=where)
    resolved["seed"] = check_seed(resolved["seed"], "[run] seed", where)
    resolved["workers"] = check_workers(resolved["workers"], "[run] workers", where)


def resolve_config(raw: Mapping[str, Any], stage_keys: Mapping[str, Mapping[str, Any]] | None = None,
                   *, where: str = "config") -> dict:
    """Fill defaults and check every table and key.

    Parameters
    ----------
    raw : mapping
        The parsed TOML.
    stage_keys : mapping of str to mapping, optional
        Tables declared by analysis plugins: table name -> accepted keys with
        defaults (``enabled`` is always accepted).
    where : str
        Source named in messages.

    Returns
    -------
    dict
        A new dict: top-level keys, core tables with defaults filled in, and
        each plugin table present in ``raw`` with its defaults filled in.
        ``_present`` lists the tables the user wrote.

    Raises
    ------
    ConfigError
        Unknown table or key (with a suggestion), wrongly typed value, or a
        value outside its allowed set.
    """
    stage_keys = dict(stage_keys or {})
    tables = {k: v for k, v in CORE_SCHEMA.items() if k}
    for name, keys in stage_keys.items():
        tables[name] = {"enabled": True, **dict(keys)}
    out: dict[str, Any] = {}
    present = []
    for key, value in raw.items():
        if isinstance(value, dict):
            if key not in tables:
                raise ConfigError(f"unknown table [{key}].{_suggest(key, tables)} Known tables: "
                                  f"{', '.join(sorted(tables))}.", source=where)
            present.append(key)
        elif key not in CORE_SCHEMA[""]:
            if key in tables:
                raise ConfigError(f"'{key}' must be a table ([{key}]), not a value.", source=where)
            raise ConfigError(f"unknown top-level key '{key}'.{_suggest(key, list(CORE_SCHEMA[''])+list(tables))} "
                              f"Top-level keys: {', '.join(CORE_SCHEMA[''])}; everything else goes in a table.",
                              source=where)
    for key, default in CORE_SCHEMA[""].items():
        value = _plain(raw.get(key, default))
        _check_value("", key, value, default, where)
        out[key] = value
    for tname, keys in tables.items():
        given = raw.get(tname)
        if given is None and tname not in CORE_SCHEMA:
            continue
        given = given or {}
        for k in given:
            if k not in keys:
                raise ConfigError(f"unknown key '{k}' in [{tname}].{_suggest(k, keys)} Valid keys: "
                                  f"{', '.join(sorted(keys))}.", source=where)
        resolved = {}
        for k, default in keys.items():
            value = _plain(given.get(k, copy.deepcopy(default)))
            _check_value(tname, k, value, default, where)
            resolved[k] = value
        if tname == "weighting":
            resolved["_shift_given"] = "shift" in given
        if tname == "run":
            _check_run(resolved, where)
        out[tname] = resolved
    out["_present"] = present
    return out
