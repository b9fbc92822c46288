"""Study configuration: TOML loading and the typed specs of the core tables.

A config is a TOML document with a few top-level keys and one table per
stage.  Every table has a typed spec (:mod:`nqpspatial.specs`): the core
tables' specs are declared here, each analysis declares its own (``spec``,
or ``config_keys`` for a third-party stage).  :func:`resolve_config` checks
every table once: unknown tables and keys are errors that name the key and
suggest the nearest valid one; types, allowed values and ranges are checked
by the specs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._util import suggest
from .errors import ConfigError
from .specs import TableSpec, key, spec_from_keys, whole_number

__all__ = [
    "CORE_SPECS",
    "CORE_SCHEMA",
    "TopSpec",
    "DataSpec",
    "WeightingSpec",
    "RunSpec",
    "GeometrySpec",
    "RegionsSpec",
    "ReportSpec",
    "load_config",
    "resolve_config",
    "stage_spec",
    "replace_key",
    "parse_toml",
    "check_seed",
    "check_workers",
]

_MAX_CONFIG = 10_000_000


def _column_name(value, label, where):
    if not value.strip():
        raise ConfigError(f"{label} must be a column name, not an empty string.", source=where)
    return value


def _file_or_frame(value, label, where):
    """A file name (str or path), a DataFrame (from Python) or, for the indicator list, inline entries."""
    import pandas as pd

    if isinstance(value, str) and not value.strip():
        key = label.rsplit(" ", 1)[-1]
        raise ConfigError(
            f'{label} is empty (""). Name the file, e.g. {key} = "{key}.csv"'
            + ("" if key == "panel" else ", or leave the key out with indices = true")
            + ".",
            source=where,
        )
    ok = (str, Path, pd.DataFrame) + ((list,) if label.endswith("indicators") else ())
    if not isinstance(value, ok):
        raise ConfigError(
            f'{label} must be a file name such as "{label.rsplit(" ", 1)[-1]}.csv", not {value!r}.', source=where
        )
    return value


def _codec(value, label, where):
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise ConfigError(
            f'{label} = {value!r} is not a codec name; use e.g. "utf-8-sig" or "gb18030".', source=where
        ) from None
    return value


def _sheet(value, label, where):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{label} must be a sheet name or a 0-based sheet number, not {value!r}.", source=where)
    return value


def _shift(value, label, where):
    if not 0 <= value < 0.5:
        raise ConfigError(
            f"{label} must be a number in [0, 0.5), not {value!r} (e.g. shift = 0.002 maps the "
            "normalized values into [0.002, 0.998]); leave it out for the method's default.",
            source=where,
        )
    return value


def _formats(value, label, where):
    bad = [f for f in value if f not in ("png", "svg", "pdf")]
    if bad or not value:
        raise ConfigError(
            f'{label} = {value!r}: use a list of png, svg, pdf, e.g. formats = ["png", "svg"].', source=where
        )
    return list(dict.fromkeys(value))


def _text(value, label, where):
    if not value.strip():
        raise ConfigError(f'{label} is empty (""); give a value or leave the key out.', source=where)
    return value


@dataclass(frozen=True)
class TopSpec(TableSpec):
    """The top-level keys of a config."""

    table = ""
    name: str = key("nqpspatial study", doc="study name (also the default output folder output/<name>)")
    description: str = key("", doc="free text recorded in run.json")


@dataclass(frozen=True)
class DataSpec(TableSpec):
    """``[data]``: the panel and the indicator list."""

    table = "data"
    panel: Any = key(
        None,
        kind="any",
        check=_file_or_frame,
        doc="the panel file (CSV, Excel, Stata), relative to the config's folder",
    )
    indicators: Any = key(
        None, kind="any", check=_file_or_frame, doc="the indicator list (CSV or Excel), or inline entries"
    )
    region: str = key("region", check=_column_name, doc="the region column")
    year: str = key("year", check=_column_name, doc="the year column")
    missing: str = key("error", choices=("error", "interpolate"), doc="missing cells: refuse, or interpolate")
    ignore: list = key([], doc="panel columns to leave out")
    indices: bool = key(False, doc="the panel holds the subsystem indices in [0, 1] (no indicator list)")
    subsystems: list = key([], doc="with indices = true: the subsystem columns")
    variables: list = key(
        [], doc="panel columns analysed as they are (no indicator list, no normalization), e.g. ['pcgdp']"
    )
    form: str = key("auto", choices=("auto", "wide", "long"), doc="panel layout")
    indicator_column: str = key("indicator", check=_column_name, doc="long form: the indicator column")
    value_column: str = key("value", check=_column_name, doc="long form: the value column")
    encoding: str = key("utf-8-sig", check=_codec, doc="text encoding of a CSV panel")
    indicators_encoding: str | None = key(
        None, kind="str", check=_codec, doc="text encoding of a CSV indicator list (default: encoding)"
    )
    sheet: Any = key(None, kind="any", check=_sheet, doc="Excel sheet name or number")
    synthetic: bool = key(False, doc="the data are synthetic (recorded in run.json and the report)")

    def check(self, where: str) -> None:
        if self.panel is None:
            raise ConfigError('[data] panel is missing: give the panel file, e.g. panel = "panel.csv".', source=where)
        if self.indices and self.indicators is not None:
            raise ConfigError(
                "[data] indices = true takes the subsystem indices from the panel, so [data] "
                "indicators would be ignored. Remove [data] indicators, or set indices = false to "
                "build the indices from the indicator list.",
                source=where,
            )
        if self.variables and (self.indices or self.indicators is not None or self.subsystems):
            other = "indices = true" if self.indices else "indicators" if self.indicators is not None else "subsystems"
            raise ConfigError(
                f"[data] variables names panel columns analysed as they are, so [data] {other} does not "
                f"apply. Remove [data] {other.split(' ')[0]}, or remove variables to build indices from "
                "an indicator list.",
                source=where,
            )
        bad = [v for v in self.variables if not isinstance(v, str) or not v.strip()]
        if bad:
            raise ConfigError(
                f'[data] variables must be a list of panel column names, e.g. variables = ["pcgdp"]; got {bad[0]!r}.',
                source=where,
            )


@dataclass(frozen=True)
class WeightingSpec(TableSpec):
    """``[weighting]``: normalization and indicator weights."""

    table = "weighting"
    method: str = key(
        "critic", choices=("critic", "entropy", "equal", "fixed", "critic-entropy"), doc="indicator weights"
    )
    normalization: str = key("pooled", choices=("pooled", "by-year"), doc="min-max over all region-years or per year")
    critic_conflict: str = key("signed", choices=("signed", "absolute"), doc="CRITIC conflict 1 - r or 1 - |r|")
    critic_cost: str = key(
        "reverse-first",
        choices=("reverse-first", "benefit-all"),
        doc="CRITIC: cost columns reversed before the correlation, or all normalized as benefit",
    )
    levels: int = key(1, choices=(1, 2), doc="one level, or dimension weights times weights within dimensions")
    zero_variance: str = key("error", choices=("error", "zero-weight"), doc="a constant indicator: refuse or weight 0")
    shift: float | None = key(
        None,
        kind="number",
        check=_shift,
        doc="map the normalized values into [shift, 1 - shift] (default: the method's)",
    )
    aggregation: str = key(
        "sum", choices=("sum", "topsis"), doc="index = weighted sum, or TOPSIS closeness to the ideal solution"
    )
    topsis_ideal: str = key(
        "pooled",
        choices=("pooled", "by-year"),
        doc="with topsis: ideal and anti-ideal over all region-years or within each year",
    )


@dataclass(frozen=True)
class RunSpec(TableSpec):
    """``[run]``: seed and execution."""

    table = "run"
    seed: int = key(12345, minimum=0, doc="the run's random seed")
    workers: int | None = key(
        None, kind="int", minimum=1, doc="local Dask workers for Monte Carlo work (leave it out to run in one process)"
    )
    scheduler: str | None = key(None, kind="str", check=_text, doc="address of a running Dask scheduler")
    escape_csv_formulas: bool = key(True, doc="apostrophe before formula-like text cells of tables/*.csv")


@dataclass(frozen=True)
class GeometrySpec(TableSpec):
    """``[geometry]``: the boundary layer."""

    table = "geometry"
    source: str | None = key(None, kind="str", check=_text, doc="a boundary file or a bundled layer name")
    id: str | None = key(None, kind="str", check=_text, doc="the boundary file's field holding the region ids")
    crs: str | None = key(None, kind="str", check=_text, doc="the layer's CRS when the file does not say")
    enabled: bool = key(True, doc="false: no boundaries (no spatial stages)")


@dataclass(frozen=True)
class RegionsSpec(TableSpec):
    """``[regions]``: the region scheme."""

    table = "regions"
    scheme: str | None = key(
        None,
        kind="str",
        check=_text,
        doc="a bundled scheme (eight-zones, four-regions, three-belts) or a CSV region,group",
    )


@dataclass(frozen=True)
class ReportSpec(TableSpec):
    """``[report]``: figures, report.html, LaTeX."""

    table = "report"
    enabled: bool = key(True, doc="false (or --no-report): no figures and no report")
    language: str = key("en", choices=("en", "zh"), doc="report and figure language")
    years: list = key([], doc="years of the maps (default: first, turning point, last)")
    title: str | None = key(None, kind="str", doc="report title (default: the study name)")
    figures: bool = key(True, doc="draw figures")
    formats: list = key(["png", "svg"], check=_formats, doc="figure formats (png, svg, pdf)")
    latex: bool = key(True, doc="write latex/ tables")
    docx: bool = key(True, doc="write report.docx (findings, three-line tables, main figures)")
    rasterize_above: int = key(
        1000, minimum=0, doc="static maps of more regions draw their polygons as an image in SVG/PDF files"
    )


#: The core tables' specs ("" holds the top-level keys).
CORE_SPECS: dict[str, type[TableSpec]] = {
    "": TopSpec,
    "data": DataSpec,
    "weighting": WeightingSpec,
    "run": RunSpec,
    "geometry": GeometrySpec,
    "regions": RegionsSpec,
    "report": ReportSpec,
}

#: Core tables and their keys with defaults (derived from :data:`CORE_SPECS`).
CORE_SCHEMA: dict[str, dict[str, Any]] = {name: spec.defaults() for name, spec in CORE_SPECS.items()}


def parse_toml(text: str, source: str = "config") -> dict:
    """Parse TOML text, turning syntax errors into :class:`ConfigError`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"invalid TOML: {exc}. Check quotes, brackets and '=' signs on that line.", source=source
        ) from None


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
        raise ConfigError(
            "config file not found. Give the path of a TOML file, or run `nqpspatial run` "
            "without arguments for the bundled demo.",
            source=str(p),
        )
    check_input_file(p, "config", error=ConfigError)  # no FIFO, device or folder: never opened
    if p.stat().st_size > _MAX_CONFIG:
        raise ConfigError(
            f"the config is {p.stat().st_size} bytes; a study config is a short TOML text (at most "
            f"{_MAX_CONFIG // 1_000_000} MB). Check that this is the config file.",
            source=str(p),
        )
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
    return whole_number(value, label, where, minimum=0)


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
    return whole_number(value, label, where, minimum=1, hint=" (leave it out to run in one process)")


def stage_spec(stage) -> type[TableSpec]:
    """The spec class of an analysis: its ``spec``, or one built from its ``config_keys``."""
    spec = getattr(stage, "spec", None)
    if isinstance(spec, type) and issubclass(spec, TableSpec):
        return spec
    return spec_from_keys(stage.name, dict(getattr(stage, "config_keys", {}) or {}))


def resolve_config(
    raw: Mapping[str, Any], stages: Mapping[str, Any] | None = None, *, where: str = "config", notes: list | None = None
) -> dict:
    """Check every table and key once and return the typed specs.

    Parameters
    ----------
    raw : mapping
        The parsed TOML.
    stages : mapping of str to spec class or to a mapping of keys, optional
        The analyses' tables: table name -> spec class (or key -> default,
        as a third-party stage's ``config_keys``).
    where : str
        Source named in messages.
    notes : list, optional
        Receives a note per deprecated key used.

    Returns
    -------
    dict
        ``name`` and ``description``, every core table as its spec, each
        analysis table present in ``raw`` as its spec, and ``_present``
        (the tables the user wrote).

    Raises
    ------
    ConfigError
        Unknown table or key (with a suggestion), wrongly typed value, value
        outside its allowed set or range.
    """
    specs: dict[str, type[TableSpec]] = {k: v for k, v in CORE_SPECS.items() if k}
    for name, spec in dict(stages or {}).items():
        specs[name] = spec if isinstance(spec, type) and issubclass(spec, TableSpec) else spec_from_keys(name, spec)
    raw = {k: _plain_table(v) if isinstance(v, dict) else _plain(v) for k, v in raw.items()}
    top = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    present = []
    for name, value in raw.items():
        if isinstance(value, dict):
            if name not in specs:
                raise ConfigError(
                    f"unknown table [{name}].{suggest(name, specs)} Known tables: {', '.join(sorted(specs))}.",
                    source=where,
                )
            present.append(name)
        elif name not in TopSpec.keys_spec():
            if name in specs:
                raise ConfigError(f"'{name}' must be a table ([{name}]), not a value.", source=where)
            raise ConfigError(
                f"unknown top-level key '{name}'."
                f"{suggest(name, list(TopSpec.keys_spec()) + list(specs))} Top-level keys: "
                f"{', '.join(TopSpec.keys_spec())}; everything else goes in a table.",
                source=where,
            )
    out: dict[str, Any] = dict(TopSpec.from_table(top, where=where))
    for tname, spec in specs.items():
        if tname not in raw and tname not in CORE_SPECS:
            continue
        out[tname] = spec.from_table(raw.get(tname), where=where, notes=notes)
    out["_present"] = present
    return out


def _plain_table(table: dict) -> dict:
    return {k: _plain_table(v) if isinstance(v, dict) else _plain(v) for k, v in table.items()}


def replace_key(cfg: dict, table: str, **changes) -> None:
    """Set keys of one table of a resolved config (validated again), e.g. the command line's ``--seed``."""
    cfg[table] = cfg[table].replace(**changes)
