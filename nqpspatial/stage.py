"""The contract between the pipeline and the analyses that run in it.

An *analysis* (a pipeline stage) is an object with:

``name`` : str
    Unique name; also the name of its TOML table (e.g. ``"haken"`` reads
    ``[haken]``).
``config_keys`` : dict[str, object]
    Every key its table accepts, with its default.  Unknown keys are an
    error (with a suggestion); ``enabled`` is always accepted.
``requires`` : tuple[str, ...]
    Prerequisites among ``"pair"`` (two or more subsystems), ``"geometry"``
    (boundaries known), ``"haken"`` (an order parameter was identified),
    ``"scheme"`` (a region scheme is set).  A stage whose prerequisites are
    missing is skipped with a note.
``optional`` : bool
    When true the stage runs only when its table is present in the config.
``order`` : int
    Position in the run (lower first).  Core stages use 10-50; plugins
    should use 100 and above.
``min_periods`` : int, optional
    Fewest periods the stage needs (default :data:`MIN_PERIODS` = 3).  A
    panel with fewer periods (the pipeline accepts two) skips the stage
    with a note.
``run(ctx, cfg)`` -> :class:`StageOutput`
    Does the work.  ``cfg`` is the stage's resolved table (defaults filled
    in).  It must not mutate ``ctx`` except through ``ctx.publish``.

First-party and third-party analyses are registered through the
``nqpspatial.analyses`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["StageOutput", "StageContext", "Analysis", "MIN_PERIODS"]

#: Periods a stage needs unless it sets ``min_periods`` (dynamics need two transitions).
MIN_PERIODS = 3


@dataclass
class StageOutput:
    """What a stage hands back to the pipeline.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Output tables keyed by file name without extension (written to
        ``tables/<name>.csv`` and a sheet of ``tables.xlsx``).
    info : dict
        JSON-serialisable facts recorded under the stage in ``run.json``.
    notes : list of str
        Human-readable notes (why something was skipped, what was chosen).
    warnings : list of str
        Warnings recorded in ``run.json`` and shown on the terminal.
    publish : dict
        Objects made available to later stages through ``ctx.results``.
    status : str
        "ok", or "skipped" when the stage found it could not run (the
        notes say why).
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    publish: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"


@dataclass
class StageContext:
    """Shared, read-mostly state of one run.

    Attributes
    ----------
    config : dict
        The whole resolved configuration.
    base_dir : pathlib.Path or None
        Folder of the config file (paths in the config are relative to it).
    out_dir : pathlib.Path or None
        The output folder.
    panel : pandas.DataFrame
        The validated panel (region, year and indicator columns, sorted by
        region then year, with the user's region ids).
    region, year : str
        Column names of region and year in ``panel`` and in every table.
    subsystems : list of str
        Subsystem names in the order of the indicator list.
    indices : pandas.DataFrame or None
        ``region, year, <subsystem>..., <subsystem>.<dimension>...``.
    geometry : geopandas.GeoDataFrame or None
        Boundaries indexed by the panel's region ids.
    scheme : pandas.Series or None
        Region id -> group name of the configured region scheme.
    scheme_name : str or None
        Name of that scheme.
    seed : int
        The run's seed; stages derive Generators with :meth:`rng`.
    progress : callable
        ``progress(iterable, total=None, desc=None)`` wrapper that shows a
        bar on a terminal and nothing otherwise.
    results : dict
        Objects published by earlier stages (e.g. ``"haken"``).
    tables : dict
        Output tables written so far, by name (read them; do not modify).
    """

    config: dict
    panel: pd.DataFrame
    region: str = "region"
    year: str = "year"
    subsystems: list[str] = field(default_factory=list)
    indices: pd.DataFrame | None = None
    indicators: pd.DataFrame | None = None
    geometry: Any = None
    scheme: pd.Series | None = None
    scheme_name: str | None = None
    seed: int = 12345
    base_dir: Any = None
    out_dir: Any = None
    quiet: bool = False
    progress: Callable = field(default=lambda it, total=None, desc=None: it)
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def rng(self, stage: str) -> np.random.Generator:
        """A Generator for ``stage``, derived from the run seed.

        The same seed and stage name always give the same stream, whatever
        ran before.
        """
        key = [ord(c) for c in stage]
        return np.random.default_rng(np.random.SeedSequence([self.seed, *key]))

    def resolve_path(self, path: str):
        """Resolve a path from the config relative to the config's folder."""
        from pathlib import Path

        p = Path(path)
        if not p.is_absolute() and self.base_dir is not None:
            p = Path(self.base_dir) / p
        return p


class Analysis:
    """Convenience base class for analyses (stages); see the module doc."""

    name: str = ""
    config_keys: Mapping[str, Any] = {}
    requires: tuple[str, ...] = ()
    optional: bool = False
    order: int = 100
    min_periods: int = MIN_PERIODS

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:  # pragma: no cover
        raise NotImplementedError
