"""The contract between the pipeline and the analyses (stages) that run in it.

The full contract of an analysis is :class:`nqpspatial.contracts.Analysis`;
this module holds the objects a stage works with:

* :class:`StageContext`: the run's validated inputs (panel, indices,
  indicator list, boundaries, region scheme, seed) and the typed artifacts
  earlier stages provided (:meth:`StageContext.get`, keyed by type; see
  :mod:`nqpspatial.artifacts`);
* :class:`StageOutput`: what a stage hands back: tables, run.json facts,
  notes, warnings and the artifacts it provides;
* :class:`Analysis`: a convenience base class with the contract's defaults.

A stage must not mutate the context; it hands artifacts to later stages
only through ``StageOutput.artifacts``.  The ``ctx.results`` dictionary of
release 0.1.0 (keys ``weights``, ``normalized``, ``panel``, ``haken``,
``spatial_weights``, ``spatial_haken``, ``sensitivity``, ``robustness``)
remains for one release as a read-only view that warns
(DeprecationWarning) and names the artifact to use instead.

First-party and third-party analyses are registered through the
``nqpspatial.analyses`` entry-point group.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ._util import stage_seed
from .artifacts import (
    Artifact,
    HakenOutcome,
    IndicatorWeights,
    RobustnessOutcome,
    SensitivityOutcome,
    SpatialHakenOutcome,
    SpatialWeightsSet,
)
from .errors import NqpDeprecationWarning

__all__ = ["StageOutput", "StageContext", "Analysis", "STATUSES", "MIN_PERIODS"]

#: Stage statuses recorded in run.json.
STATUSES = ("ok", "skipped", "failed", "not requested")

#: Periods a stage needs unless it sets ``min_periods`` (dynamics need two transitions).
MIN_PERIODS = 3

A = TypeVar("A", bound=Artifact)


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
    artifacts : list of Artifact
        Typed values handed to later stages (each of a type the stage
        declares in ``provides``; :meth:`get` reads one).
    failures : list of dict
        Plugins that failed inside the stage (e.g. one statistics plugin of
        the spatial stage): ``plugin`` (name, kind, package, version, entry
        point) and ``error``; the stage's other tables are kept and its
        status is ``failed``.  Build them with
        :func:`nqpspatial.runner.plugin_failure`.
    publish : dict
        Deprecated (0.1.0): objects for ``ctx.results``; use ``artifacts``.
    status : str
        "ok", or "skipped" when the stage found it could not run (the
        notes say why).
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)

    failures: list[dict] = field(default_factory=list)
    publish: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"

    def get(self, kind: type[A]) -> A | None:
        """The artifact of type ``kind`` in :attr:`artifacts`, or None."""
        return next((a for a in self.artifacts if isinstance(a, kind)), None)


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
    artifacts : dict
        Artifact type -> the artifact an earlier stage (or the core)
        provided; read them with :meth:`get`.
    tables : dict
        Output tables written so far, by name (read them; do not modify).
    panel_data : nqpspatial.panel.PanelData or None
        The validated input with its provenance.
    analyses : list or None
        The analyses that have run, in run order (the report shows their
        sections in this order).
    written : dict
        Table name -> the stage that wrote it.
    accessed : set
        The artifact types read through :meth:`get`.
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
    artifacts: dict[type, Artifact] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    panel_data: Any = None
    legacy: dict[str, Any] = field(default_factory=dict)
    analyses: list | None = None
    written: dict[str, str] = field(default_factory=dict)
    accessed: set = field(default_factory=set)

    def rng(self, stage: str) -> np.random.Generator:
        """A Generator for ``stage``, derived from the run seed.

        The same seed and stage name always give the same stream, whatever
        ran before.
        """
        return np.random.default_rng(stage_seed(self.seed, stage))

    def get(self, kind: type[A]) -> A | None:
        """The artifact of type ``kind`` an earlier stage provided, or None (the access is recorded in
        :attr:`accessed`, so tests can check a stage's ``consumes``/``uses`` declarations)."""
        self.accessed.add(kind)
        return self.artifacts.get(kind)

    def provide(self, artifact: Artifact) -> None:
        """Record an artifact for later stages (the runner calls it with a stage's output)."""
        if not isinstance(artifact, Artifact):
            raise TypeError(
                f"an artifact must be an instance of nqpspatial.artifacts.Artifact, got {type(artifact).__name__}"
            )
        self.artifacts[type(artifact)] = artifact

    def absorb(self, output: StageOutput) -> StageContext:
        """Provide every artifact of a stage's output (for running stages by hand, as the runner does)."""
        for art in output.artifacts:
            self.provide(art)
        self.tables.update(output.tables)
        return self

    def spatial_weights(
        self, specs, *, islands: str | None = None, transform: str | None = None
    ) -> SpatialWeightsSet | None:
        """The run's spatial weights, built here when no step provided them.

        In a run the core builds every specification the config names
        before the analyses, and this returns that set.  A stage run by hand
        on a bare context (Python use, tests) gets ``specs`` built by the
        same core routine from the context's panel, indices, boundaries and
        scheme; the set is provided to the context so later stages reuse it.

        Parameters
        ----------
        specs : str or list of str
            Weights specifications (``"queen"``, ``"knn:k=4"``).
        islands, transform : str, optional
            Island policy and transformation of weights built here (default
            ``[spatial] islands`` and ``transform`` of :attr:`config`, else
            ``"nearest"`` and ``"r"``).

        Returns
        -------
        SpatialWeightsSet or None
            None when nothing can be built (for example no boundaries and
            only contiguity specifications).
        """
        ws = self.get(SpatialWeightsSet)
        specs = [specs] if isinstance(specs, str) else list(specs or ["queen"])
        if ws is not None and ws.complete:
            return ws
        sp = dict(self.config.get("spatial") or {})
        if islands is not None:
            sp["islands"] = islands
        if transform is not None:
            sp["transform"] = transform
        sp.setdefault("islands", "nearest")
        sp.setdefault("transform", "r")
        if ws is not None and (ws.islands, ws.transform) != (sp["islands"], sp["transform"]):
            ws = None  # built by hand with another policy: build afresh
        if ws is not None and all(ws.get(s) is not None for s in specs):
            return ws
        from dataclasses import replace

        from ._prepare import weights_set

        regions = pd.unique(self.panel[self.region])
        if len(regions) < 2:
            return ws
        have = dict(ws.by_spec) if ws is not None else {}
        data = self.panel
        if self.indices is not None:
            extra = [c for c in self.indices.columns if c not in data.columns]
            if extra:
                data = data.merge(
                    self.indices[[self.region, self.year, *extra]],
                    on=[self.region, self.year],
                    how="left",
                    validate="one_to_one",
                )
        new, _ = weights_set(
            [s for s in specs if s not in have],
            regions,
            data,
            sp,
            geometry=self.geometry,
            scheme=self.scheme,
            region=self.region,
            year=self.year,
            base=self.base_dir,
        )
        if new is None:
            return ws
        ws = replace(new, by_spec={**have, **new.by_spec}, complete=False)
        self.provide(ws)
        return ws

    @property
    def results(self) -> Mapping[str, Any]:
        """Deprecated (0.1.0) read-only view of the artifacts by their old names; use :meth:`get`."""
        return _LegacyResults(self)

    def resolve_path(self, path: str):
        """Resolve a path from the config relative to the config's folder."""
        from pathlib import Path

        p = Path(path)
        if not p.is_absolute() and self.base_dir is not None:
            p = Path(self.base_dir) / p
        return p


def _spatial_weights_dict(ws: SpatialWeightsSet) -> dict:
    return {"weights": {w.slug: w for w in ws.by_spec.values()}}


#: The 0.1.0 ``ctx.results`` keys: artifact type and how the old value is read from it.
LEGACY_KEYS: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "weights": (IndicatorWeights, lambda a: a.table),
    "normalized": (IndicatorWeights, lambda a: a.normalized),
    "haken": (HakenOutcome, lambda a: a),
    "spatial_weights": (SpatialWeightsSet, _spatial_weights_dict),
    "spatial_haken": (SpatialHakenOutcome, lambda a: dict(a.results)),
    "sensitivity": (SensitivityOutcome, lambda a: a.results),
    "robustness": (RobustnessOutcome, lambda a: a.results),
}


class _LegacyResults(Mapping):
    """``ctx.results`` as in 0.1.0, read-only, warning on every read."""

    def __init__(self, ctx: StageContext):
        self._ctx = ctx

    def _names(self) -> list[str]:
        names = [k for k, (kind, _) in LEGACY_KEYS.items() if self._ctx.get(kind) is not None]
        if self._ctx.panel_data is not None:
            names.append("panel")
        return names + [k for k in self._ctx.legacy if k not in names]

    def __getitem__(self, name: str) -> Any:
        if name == "panel" and self._ctx.panel_data is not None:
            warnings.warn("ctx.results['panel'] is deprecated; use ctx.panel_data", NqpDeprecationWarning, stacklevel=2)
            return self._ctx.panel_data
        if name in LEGACY_KEYS:
            kind, read = LEGACY_KEYS[name]
            art = self._ctx.get(kind)
            if art is not None:
                warnings.warn(
                    f"ctx.results[{name!r}] is deprecated; use ctx.get(nqpspatial.artifacts.{kind.__name__})",
                    NqpDeprecationWarning,
                    stacklevel=2,
                )
                return read(art)
        if name in self._ctx.legacy:
            warnings.warn(
                f"ctx.results[{name!r}] (published with StageOutput.publish) is deprecated; hand "
                "typed artifacts over with StageOutput.artifacts",
                NqpDeprecationWarning,
                stacklevel=2,
            )
            return self._ctx.legacy[name]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __setitem__(self, name, value):
        raise TypeError("ctx.results is a read-only view since 0.2.0: hand artifacts over with StageOutput.artifacts")


class Analysis:
    """Convenience base class for analyses (stages); see :class:`nqpspatial.contracts.Analysis`."""

    name: str = ""
    config_keys: Mapping[str, Any] = {}
    requires: tuple[str, ...] = ()
    consumes: tuple[type, ...] = ()
    uses: tuple[type, ...] = ()
    provides: tuple[type, ...] = ()
    tables: tuple[str, ...] = ()
    optional: bool = False
    order: int = 100
    min_periods: int = MIN_PERIODS

    def run(self, ctx: StageContext, cfg: dict) -> StageOutput:  # pragma: no cover
        raise NotImplementedError
