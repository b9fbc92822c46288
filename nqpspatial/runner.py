"""Running the analyses: order by declared artifacts, isolate plugins, validate their output.

* :func:`plan` orders the stages topologically by what they ``consumes``,
  ``uses`` and ``provides`` (:mod:`nqpspatial.artifacts`); ``order`` only
  breaks ties.  A dependency cycle, or two stages providing one artifact,
  is a :class:`~nqpspatial.errors.PluginError` naming both (``validate``
  reports it).
* :func:`run_stage` runs one stage: a missing artifact skips it with a
  note naming the stage that should have provided it and why it did not;
  an exception inside the stage marks it ``failed`` with the plugin's
  package, version, entry point and message (the other stages run on);
  the output is validated against the contract (table names, tidy tables,
  no table another stage writes, declared artifacts) before anything of it
  is kept.
"""

from __future__ import annotations

import fnmatch
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .artifacts import Artifact, HakenOutcome, IndicatorWeights, SpatialWeightsSet, artifact_name
from .contracts import output_problems, table_name_problems
from .errors import ModelError, NqpWarning, PluginError
from .stage import StageContext, StageOutput

__all__ = ["StageRecord", "plan", "run_stage", "legacy_consumes", "plugin_failure", "describe_origin", "CORE_PROVIDED"]

#: Artifacts the core provides before any analysis runs (weighting and spatial weights steps).
CORE_PROVIDED: dict[type, str] = {IndicatorWeights: "weighting", SpatialWeightsSet: "weights"}


def legacy_consumes(stage) -> tuple[type, ...]:
    """The artifacts a stage needs: ``consumes``, plus HakenOutcome for the 0.1.0 requirement ``"haken"``."""
    out = list(getattr(stage, "consumes", ()) or ())
    if "haken" in (getattr(stage, "requires", ()) or ()) and HakenOutcome not in out:
        out.append(HakenOutcome)
    return tuple(out)


def _needs(stage) -> tuple[type, ...]:
    return legacy_consumes(stage) + tuple(getattr(stage, "uses", ()) or ())


def plan(stages: Sequence, core: Mapping[type, str] | None = None) -> list:
    """Order stages so that each runs after the stages whose artifacts it reads.

    Parameters
    ----------
    stages : sequence of analyses
        The registered analyses.
    core : mapping of artifact type to str, optional
        Artifacts the core provides (-> the core step's name).

    Returns
    -------
    list
        The stages in run order (ties broken by ``order``, then name).

    Raises
    ------
    PluginError
        Two stages provide one artifact, or the declarations form a cycle.
    """
    core = dict(CORE_PROVIDED if core is None else core)
    provider: dict[type, Any] = {}
    for st in stages:
        for kind in getattr(st, "provides", ()) or ():
            if kind in core:
                raise PluginError(
                    f"stage '{st.name}' provides {artifact_name(kind)}, which the core "
                    f"provides ({core[kind]} step); remove it from its `provides`"
                )
            if kind in provider:
                raise PluginError(
                    f"stages '{provider[kind].name}' and '{st.name}' both provide "
                    f"{artifact_name(kind)}; only one stage may provide an artifact"
                )
            provider[kind] = st
    key = {st.name: (int(getattr(st, "order", 100)), st.name) for st in stages}
    after: dict[str, set[str]] = {st.name: set() for st in stages}
    for st in stages:
        for kind in _needs(st):
            p = provider.get(kind)
            if p is not None and p.name != st.name:
                after[st.name].add(p.name)
    by_name = {st.name: st for st in stages}
    done: list = []
    placed: set[str] = set()
    while len(done) < len(stages):
        ready = [n for n in by_name if n not in placed and after[n] <= placed]
        if not ready:
            cycle = sorted(n for n in by_name if n not in placed)
            raise PluginError(
                "the stages " + ", ".join(f"'{n}'" for n in cycle) + " wait for each other's "
                "artifacts (a dependency cycle in consumes/uses/provides): "
                + "; ".join(f"'{n}' reads {', '.join(sorted(after[n] - placed))}" for n in cycle)
            )
        nxt = min(ready, key=lambda n: key[n])
        done.append(by_name[nxt])
        placed.add(nxt)
    return done


def max_rss_mb() -> float | None:
    """The process's peak resident memory so far in MB (``getrusage``), or None where it is not available."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


@dataclass
class StageRecord:
    """What run.json records for one stage.

    ``status`` is ``ok``, ``skipped``, ``failed`` or ``not requested``;
    a failed plugin stage carries ``plugin`` (name, package, version,
    entry point) and ``error`` (the message); ``traceback`` is kept for
    ``--debug``.  ``max_rss_mb`` is the process's peak resident memory when the record was made (a
    high-water mark: the step in which it rises is the one that set it; the pre-flight steps are recorded
    together after the pre-flight).
    """

    name: str
    status: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    plugin: dict | None = None
    error: str | None = None
    traceback: str | None = None
    max_rss_mb: float | None = field(default_factory=max_rss_mb)

    def as_dict(self) -> dict:
        """The run.json entry."""
        out = {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "tables": list(self.tables),
            "info": self.info,
            "max_rss_mb": self.max_rss_mb,
        }
        if self.plugin is not None:
            out["plugin"] = dict(self.plugin)
        if self.error is not None:
            out["error"] = self.error
        return out


def _missing_artifacts(stage, ctx: StageContext, why: Mapping[type, str]) -> list[str]:
    notes = []
    for kind in legacy_consumes(stage):
        if ctx.get(kind) is None:
            who = why.get(kind) or getattr(kind, "provided_by", "") or "no stage"
            notes.append(
                f"needs {artifact_name(kind)}, which {who} did not provide"
                + (f": {why[('note', kind)]}" if ("note", kind) in why else "")
            )
    return notes


def _our_warnings(caught) -> list[str]:
    out = []
    for w in caught:
        if issubclass(w.category, NqpWarning):
            out.append(str(w.message))
        else:  # third-party warnings keep their normal behaviour
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _output_problems(stage, out: StageOutput, taken: Mapping[str, str]) -> list[str]:
    probs = output_problems("analyses", out)
    owner = f"stage '{stage.name}'"
    for tname in out.tables:
        probs += table_name_problems(tname, owner=owner, taken=taken)
    declared = getattr(stage, "tables", None)
    if declared:
        extra = [t for t in out.tables if not any(fnmatch.fnmatchcase(str(t), d) for d in declared)]
        if extra:
            probs.append(f"wrote tables it does not declare in `tables`: {extra}")
    provides = tuple(getattr(stage, "provides", ()) or ())
    for art in out.artifacts:
        if not isinstance(art, Artifact):
            probs.append(f"StageOutput.artifacts holds {type(art).__name__}, not an artifact")
        elif type(art) not in provides:
            probs.append(f"provides {type(art).__name__}, which it does not declare in `provides`")
    return probs


def run_stage(
    stage,
    ctx: StageContext,
    cfg: Any,
    *,
    taken: Mapping[str, str],
    origin: dict | None = None,
    why_missing: Mapping | None = None,
) -> tuple[StageOutput | None, StageRecord]:
    """Run one stage in isolation.

    Parameters
    ----------
    stage : analysis
        The stage.
    ctx : StageContext
        The run's context (artifacts provided so far).
    cfg : TableSpec or dict
        The stage's resolved table.
    taken : mapping of str to str
        Table names already written or reserved -> their owner.
    origin : dict, optional
        The plugin's name, package, version and entry point (for a failure).
    why_missing : mapping, optional
        Artifact type -> the stage that should provide it, and
        ``("note", type)`` -> why it did not.

    Returns
    -------
    (StageOutput or None, StageRecord)
        The output (None when the stage was skipped before running or
        failed) and its record.
    """
    t0 = time.perf_counter()
    missing = _missing_artifacts(stage, ctx, why_missing or {})
    if missing:
        return None, StageRecord(stage.name, "skipped", notes=missing)
    failure = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = stage.run(ctx, cfg)
        except ModelError as exc:
            # an impossible quantity (e.g. no valid potential): the stage cannot run, the study goes on
            out = StageOutput(
                notes=[f"stage not completed: {exc}"], warnings=[f"stage not completed: {exc}"], status="skipped"
            )
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - a stage's failure must not take the run down
            failure = (exc, traceback.format_exc())
    # warnings are sorted (and third-party ones re-emitted) only after recording has stopped
    ours = _our_warnings(caught)
    if failure is not None:
        exc, tb = failure
        rec = StageRecord(
            stage.name,
            "failed",
            time.perf_counter() - t0,
            plugin=origin,
            error=f"{type(exc).__name__}: {exc}",
            traceback=tb,
            warnings=ours,
        )
        rec.notes.append(f"failed: {type(exc).__name__}: {exc}")
        return None, rec
    warns = list(dict.fromkeys(list(getattr(out, "warnings", []) or []) + ours))
    probs = (
        _output_problems(stage, out, taken)
        if isinstance(out, StageOutput)
        else [f"run() must return a StageOutput, got {type(out).__name__}"]
    )
    if probs:
        rec = StageRecord(
            stage.name,
            "failed",
            time.perf_counter() - t0,
            plugin=origin,
            warnings=warns,
            error="breaks the analyses contract: " + "; ".join(probs),
        )
        rec.notes.append(rec.error)
        return None, rec
    status = out.status if out.status in ("ok", "skipped") else "ok"
    rec = StageRecord(
        stage.name,
        status,
        time.perf_counter() - t0,
        notes=list(out.notes),
        warnings=warns,
        tables=list(out.tables),
        info=out.info,
    )
    if out.failures:  # a plugin inside the stage failed; the stage's other results are kept
        rec.status = "failed"
        rec.plugin = dict(out.failures[0]["plugin"])
        rec.error = "; ".join(f"{f['plugin'].get('name')}: {f['error']}" for f in out.failures)
        if len(out.failures) > 1:
            rec.info = {**rec.info, "failed_plugins": [dict(f["plugin"]) for f in out.failures]}
        rec.notes.extend(
            f"failed: {f['plugin'].get('kind', 'plugin')} plugin '{f['plugin'].get('name')}': {f['error']}"
            for f in out.failures
        )
        rec.traceback = "\n".join(f.get("traceback") or "" for f in out.failures) or None
    return out, rec


def plugin_failure(kind: str, name: str, error, tb: str | None = None) -> dict:
    """A failure record for a plugin that raised or broke its contract inside a stage.

    Parameters
    ----------
    kind, name : str
        The plugin's kind and name.
    error : BaseException or str
        What went wrong.
    tb : str, optional
        The traceback (kept for ``--debug``).

    Returns
    -------
    dict
        ``plugin`` (name, kind, package, version, entry point) and ``error``.
    """
    from . import registry

    info = registry.available(kind).get(name)
    if isinstance(info, registry.PluginInfo):
        plugin = {
            "name": name,
            "kind": kind,
            "package": info.package,
            "version": info.version,
            "entry_point": f"{info.name} = {info.value}",
        }
    else:
        plugin = {"name": name, "kind": kind, "package": "(in-process)", "version": "", "entry_point": ""}
    msg = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return {"plugin": plugin, "error": msg, "traceback": tb}


def describe_origin(stage) -> dict:
    """The plugin fields of a failed stage's record (name, kind, package, version, entry point)."""
    return plugin_failure("analyses", stage.name, "")["plugin"]


def taken_tables(written: Mapping[str, str], reserved: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Names already written (-> owner) plus names reserved by other plugins."""
    out = dict(reserved)
    out.update(written)
    return out
