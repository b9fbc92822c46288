"""Typed values that pipeline stages hand to each other.

A stage declares the artifacts it ``consumes`` (needs), ``uses`` (reads when
present) and ``provides``; the runner orders the stages by these
declarations and hands each stage the artifacts through
:meth:`nqpspatial.stage.StageContext.get`, keyed by type.  A stage that
needs an artifact nobody provided is skipped with a note naming the stage
that should have provided it and why it did not.

Every artifact is a small frozen dataclass; the objects it holds (tables,
results) are read-only by convention: a stage never modifies what another
stage handed over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "Artifact",
    "IndicatorWeights",
    "SpatialWeightsSet",
    "HakenOutcome",
    "SpatialHakenOutcome",
    "SensitivityOutcome",
    "RobustnessOutcome",
    "ZonesOutcome",
    "artifact_name",
]


class Artifact:
    """Base class of the typed values stages hand to each other.

    Subclasses are frozen dataclasses.  ``provided_by`` names the
    first-party stage that provides it (used in messages; a third-party
    stage may provide its own artifact types).
    """

    provided_by: ClassVar[str] = ""


def artifact_name(kind: type) -> str:
    """The name of an artifact type as messages write it."""
    return getattr(kind, "__name__", str(kind))


@dataclass(frozen=True)
class IndicatorWeights(Artifact):
    """The indicator weights and the normalized indicators (core weighting step).

    Attributes
    ----------
    table : pandas.DataFrame or None
        The ``indicator_weights`` table (None when indices were given).
    normalized : pandas.DataFrame or None
        The normalized indicators: region, year and one column per indicator.
    options : Mapping
        The weighting options used (method, normalization, shift, ...).
    """

    provided_by: ClassVar[str] = "weighting"
    table: Any = None
    normalized: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SpatialWeightsSet(Artifact):
    """Every spatial weights specification of the run, built once (core weights step).

    Attributes
    ----------
    by_spec : Mapping[str, nqpspatial.spatial.SpatialWeights]
        Built weights by specification string, in the order of
        ``[spatial] weights``.
    islands, transform : str
        The island policy and transformation they were built with.
    complete : bool
        True when the core built every specification the config names (a
        missing one could not be built); False for a set built on demand
        by :meth:`nqpspatial.stage.StageContext.spatial_weights`, which
        adds specifications as stages ask for them.
    """

    provided_by: ClassVar[str] = "weights"
    by_spec: Mapping[str, Any] = field(default_factory=dict)
    islands: str = "nearest"
    transform: str = "r"
    complete: bool = True

    @property
    def specs(self) -> list[str]:
        """The specifications, in configured order."""
        return list(self.by_spec)

    @property
    def first(self):
        """The first specification's weights (None when there is none)."""
        return next(iter(self.by_spec.values()), None)

    def get(self, spec: str):
        """The weights of one specification (by spec string or file slug), or None."""
        if spec in self.by_spec:
            return self.by_spec[spec]
        for w in self.by_spec.values():
            if getattr(w, "slug", None) == spec:
                return w
        return None


@dataclass(frozen=True)
class HakenOutcome(Artifact):
    """What the Haken stage found: the chosen ordering, its fit and the co-evolution level.

    Attributes
    ----------
    identification : nqpspatial.haken.IdentificationResults
        Every ordering's fit and the adiabatic verdicts.
    fit : nqpspatial.haken.HakenResults or HakenByResults
        The chosen ordering's fit (per unit when ``[haken] by`` is set).
    coevolution : pandas.DataFrame or None
        The ``coevolution`` table (h per region-year); None when no
        strategy could be computed.
    coevolution_results : CoevolutionResults or None
    strategy, strategy_reason : str or None
        The co-evolution strategy used and why (None when none could be).
    strategy_requested : str
        The configured ``[haken] coevolution``; later stages use it when no
        level could be computed, so that an unsupported strategy stays an
        error there too.
    domain : tuple of float
        The q1 range normalized strategies scale over.
    grading : tuple
        ``(edges, labels, labels_zh)`` of the grades.
    breaks : BreakTestResults or None
        The turning-point tests.
    spec : Mapping
        The resolved ``[haken]`` table, for stages that refit the model the
        same way (sensitivity, robustness).
    """

    provided_by: ClassVar[str] = "haken"
    identification: Any = None
    fit: Any = None
    coevolution: Any = None
    coevolution_results: Any = None
    strategy: str | None = None
    strategy_reason: str | None = None
    strategy_requested: str = "auto"
    domain: tuple[float, float] = (0.0, 1.0)
    grading: tuple = ()
    breaks: Any = None
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> tuple[str, str]:
        """The chosen ordering ``(q1, q2)``: order parameter, servo variable."""
        return tuple(self.identification.chosen)

    @property
    def q1(self) -> str:
        """The order parameter's name."""
        return self.order[0]

    @property
    def q2(self) -> str:
        """The servo variable's name."""
        return self.order[1]

    @property
    def results(self):
        """The chosen fit (the 0.1.0 name of :attr:`fit`)."""
        return self.fit

    @property
    def potential(self):
        """The common potential (None when it differs by region or unit; see :meth:`potentials`)."""
        return self.fit.potential

    @property
    def coevolution_table(self):
        """The 0.1.0 name of :attr:`coevolution`."""
        return self.coevolution

    def potentials(self) -> dict:
        """Region (or unit) -> Potential."""
        return self.fit.potentials()

    def systems(self) -> dict:
        """Region (or unit) -> HakenSystem."""
        return self.fit.systems()


@dataclass(frozen=True)
class SpatialHakenOutcome(Artifact):
    """The spatial Haken fits (model x weights) and the chosen reading."""

    provided_by: ClassVar[str] = "spatial_haken"
    results: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    reading: str = "system"
    order: tuple[str, str] | None = None


@dataclass(frozen=True)
class ZonesOutcome(Artifact):
    """The zone analyses' results by analysis name."""

    provided_by: ClassVar[str] = "zones"
    results: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SensitivityOutcome(Artifact):
    """The weight-sensitivity results."""

    provided_by: ClassVar[str] = "sensitivity"
    results: Any = None


@dataclass(frozen=True)
class RobustnessOutcome(Artifact):
    """The robustness table's results."""

    provided_by: ClassVar[str] = "robustness"
    results: Any = None
