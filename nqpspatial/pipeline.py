"""The study pipeline behind ``nqpspatial run``.

1. **config**: the TOML is read and every table is checked once, by its
   typed spec (:mod:`nqpspatial.config`, :mod:`nqpspatial.specs`);
2. **pre-flight** (:func:`nqpspatial._prepare.preflight`, shared with
   ``nqpspatial validate``): the output folder, the order of the stages, the
   data, weighting and indices, geometry, region scheme and spatial weights,
   each requested stage's checks against the study;
3. **analyses** (plugins of the group ``nqpspatial.analyses``), in the order
   their declared artifacts give (:mod:`nqpspatial.runner`), each isolated:
   a stage that raises is recorded as ``failed`` and the others run on;
4. **report** (figures, report.html, LaTeX), then the output folder is
   committed (:mod:`nqpspatial.outdir`).

Each stage's tables go to ``tables/<name>.csv`` (UTF-8 with BOM) and
``tables.xlsx``; ``run.json`` records versions, the resolved config, the
seed, per-stage status, timings, notes and warnings.  See docs/outputs.md.
"""

from __future__ import annotations

import datetime as _dt
import errno
import importlib.resources
import json
import os
import platform
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import registry, runner
from ._prepare import input_files, preflight
from ._util import jsonable
from ._version import __version__
from .artifacts import IndicatorWeights, SpatialWeightsSet
from .config import check_seed, check_workers, load_config, replace_key, resolve_config, stage_spec
from .errors import ConfigError
from .io import write_csv, write_workbook
from .results import Results, Summary
from .stage import MIN_PERIODS, StageContext

__all__ = ["run", "validate", "RunResult", "default_config_path", "slugify"]


def slugify(text: str) -> str:
    """Letters (Chinese too), digits and ``_`` only (used for folder and file names)."""
    slug = re.sub(r"[\W_]+", "_", str(text)).strip("_").lower()
    return slug or "study"


def default_config_path() -> Path:
    """Path of the bundled demo study's config."""
    ref = importlib.resources.files("nqpspatial.demo") / "study.toml"
    with importlib.resources.as_file(ref) as p:
        return Path(p)


class RunResult(Results):
    """The outcome of one pipeline run.

    Attributes
    ----------
    out_dir : pathlib.Path or None
        Output folder (None when nothing was written).
    tables : dict of str to pandas.DataFrame
        Every output table by name.
    info : dict
        The content of ``run.json``.
    artifacts : dict
        Artifact type -> the artifact a stage provided (read with :meth:`get`).
    failed : tuple of str
        The stages that failed (the CLI then exits with code 3).
    tracebacks : dict
        Stage name -> traceback of its failure (``--debug`` prints them).
    """

    def __init__(self, out_dir, tables, info, artifacts, tracebacks=None):
        self._set("out_dir", out_dir)
        self._set("_tables", dict(tables))
        self._set("info", info)
        self._set("artifacts", dict(artifacts))
        self._set("tracebacks", dict(tracebacks or {}))
        self._set("failed", tuple(s["name"] for s in info["stages"] if s["status"] == "failed"))
        self._freeze()

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Copies of the output tables."""
        return {k: v.copy() for k, v in self._tables.items()}

    def table(self, name: str) -> pd.DataFrame:
        """One output table by name (a copy)."""
        if name not in self._tables:
            raise KeyError(f"no table '{name}'; tables: {', '.join(sorted(self._tables))}")
        return self._tables[name].copy()

    def get(self, kind):
        """The artifact of type ``kind`` (e.g. :class:`nqpspatial.artifacts.HakenOutcome`), or None."""
        return self.artifacts.get(kind)

    @property
    def results(self):
        """Deprecated (0.1.0): the artifacts by their old names (``"haken"``, ``"spatial_weights"``...)."""
        from .stage import _LegacyResults

        ctx = StageContext(config={}, panel=pd.DataFrame(), artifacts=dict(self.artifacts))
        return _LegacyResults(ctx)

    def summary(self) -> Summary:
        """Stage-by-stage status of the run."""
        rows = pd.DataFrame(
            [
                {
                    "stage": s["name"],
                    "status": s["status"],
                    "seconds": s["seconds"],
                    "tables": ", ".join(s.get("tables", [])),
                }
                for s in self.info["stages"]
            ]
        )
        facts = {"study": self.info["config"].get("name"), "output": str(self.out_dir), "seed": self.info["seed"]}
        return Summary("nqpspatial run", facts, {"stages": rows}, tuple(self.info.get("warnings", [])))


def _progress_factory(quiet: bool) -> Callable:
    show = (not quiet) and sys.stderr.isatty()
    if not show:
        return lambda it, total=None, desc=None: it
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return lambda it, total=None, desc=None: it
    return lambda it, total=None, desc=None: tqdm(it, total=total, desc=desc, leave=False, file=sys.stderr)


def _analyses() -> list:
    objs = list(registry.load_all("analyses").values())
    return sorted(objs, key=lambda a: (getattr(a, "order", 100), a.name))


def _load(config, base_dir) -> tuple[dict, Path, str]:
    if config is None:
        path = default_config_path()
        raw, base = load_config(path)
        return raw, base, str(path)
    if isinstance(config, (str, Path)):
        raw, base = load_config(config)
        return raw, base, str(config)
    if isinstance(config, dict):
        return dict(config), Path(base_dir) if base_dir else Path.cwd(), "config"
    raise TypeError("config must be a path, a dict or None")


class _Recorder:
    """The run's stage records; one line per stage on stderr (unless quiet)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.stages: list[dict] = []
        self.warnings: list[str] = []

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def add(self, record: runner.StageRecord) -> None:
        entry = record.as_dict()
        entry["info"] = jsonable(entry["info"])
        self.stages.append(entry)
        self.say(f"{record.name:<16} {record.status:<13} {record.seconds:7.1f} s")
        for w in record.warnings:
            self.warnings.append(f"{record.name}: {w}")
            self.say(f"  warning: {w}")
        if record.status in ("skipped", "failed"):
            for n in record.notes:
                self.say(f"  {n}")

    def stage(self, name, status, seconds, notes=(), warns=(), tables=(), info=None) -> None:
        self.add(runner.StageRecord(name, status, seconds, list(notes), list(warns), list(tables), info or {}))


def _flag(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ConfigError(f"{name}= must be True or False, not {value!r}.", source="nqpspatial.run()")


def _check_arguments(config, out, force, quiet, report, write, base_dir, scheduler) -> None:
    """Types of :func:`run`'s arguments; a wrong one is a ConfigError naming it."""
    for name, value in (("force", force), ("quiet", quiet), ("report", report), ("write", write)):
        _flag(value, name)
    if config is not None and not isinstance(config, (str, Path, dict)):
        raise ConfigError(
            f"config= must be a TOML file path, a dict or None, not {type(config).__name__} ({str(config)[:60]!r}).",
            source="nqpspatial.run()",
        )
    for name, value in (("out", out), ("base_dir", base_dir)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise ConfigError(
                f"{name}= must be a folder path (str or pathlib.Path), not {type(value).__name__} "
                f"({str(value)[:60]!r}).",
                source="nqpspatial.run()",
            )
    if isinstance(out, str) and not out.strip():
        raise ConfigError('out= is empty; name a folder, e.g. out="results".', source="nqpspatial.run()")
    if scheduler is not None and not isinstance(scheduler, str):
        raise ConfigError(
            f'scheduler= must be an address such as "tcp://host:8786", not {scheduler!r}.', source="nqpspatial.run()"
        )


def run(
    config=None,
    *,
    out=None,
    force: bool = False,
    seed: int | None = None,
    quiet: bool = False,
    report: bool = True,
    base_dir=None,
    write: bool = True,
    workers=None,
    scheduler=None,
) -> RunResult:
    """Run a study end to end.

    Parameters
    ----------
    config : str, pathlib.Path, dict or None
        A TOML config file, an already parsed config (paths relative to
        ``base_dir``), or None for the bundled demo study.
    out : str or pathlib.Path, optional
        Output folder; default ``output/<name>`` in the working directory.
    force : bool
        Replace the results of an earlier run in ``out``: only the files
        listed in its ``manifest.json`` (or written by release 0.1.0) are
        removed.  A non-empty folder that nqpspatial did not write is refused
        even with ``force``.
    seed : int, optional
        Overrides ``[run] seed``.
    quiet : bool
        Print nothing but errors.
    report : bool
        Write figures and the HTML report (``--no-report`` sets False).
    base_dir : path, optional
        Folder for relative paths when ``config`` is a dict.
    write : bool
        Write the output folder (False: compute only).
    workers, scheduler : optional
        Execution backend for Monte Carlo work (see docs/performance.md).

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        Bad data, config or arguments, or an output folder that cannot be
        used (the CLI exits with code 2).  The results are written into a
        staging folder and committed only when every stage has finished: a
        refused, failed or interrupted run leaves the output folder as it
        was.  See docs/outputs.md, "Output-folder safety".
    nqpspatial.outdir.Interrupted
        SIGTERM or SIGHUP arrived (handled from the main thread only).
    """
    from . import outdir

    _check_arguments(config, out, force, quiet, report, write, base_dir, scheduler)
    with outdir.raise_on_signals():
        return _run(
            config,
            out=out,
            force=bool(force),
            seed=seed,
            quiet=bool(quiet),
            report=bool(report),
            base_dir=base_dir,
            write=bool(write),
            workers=workers,
            scheduler=scheduler,
        )


def _configure(config, base_dir, seed, workers, scheduler, report) -> tuple[dict, Path, str, list, list]:
    raw, base, where = _load(config, base_dir)
    analyses = _analyses()
    notes: list[str] = []
    cfg = resolve_config(raw, {a.name: stage_spec(a) for a in analyses}, where=where, notes=notes)
    if seed is not None:
        replace_key(cfg, "run", seed=check_seed(seed, "seed=", "nqpspatial.run()"))
    if workers is not None:
        replace_key(cfg, "run", workers=check_workers(workers, "workers=", "nqpspatial.run()"))
    if scheduler is not None:
        replace_key(cfg, "run", scheduler=scheduler)
    if not report:
        replace_key(cfg, "report", enabled=False)
    return cfg, base, where, analyses, notes


def _run(config, *, out, force, seed, quiet, report, base_dir, write, workers, scheduler) -> RunResult:
    """The body of :func:`run`: configure, pre-flight, stage, commit."""
    from . import outdir

    t_start = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    cfg, base, where, analyses, notes = _configure(config, base_dir, seed, workers, scheduler, report)
    rec = _Recorder(quiet)
    for n in notes:
        rec.say(f"note: {n}")
    if not write:
        prep = preflight(cfg, base, analyses)
        state = _execute(cfg, base, where, analyses, rec, prep, None, quiet, report, notes)
        info = _finish_info(state.info, started, t_start)
        rec.say(f"done in {info['seconds']:.1f} s")
        return RunResult(None, state.tables, info, state.artifacts, state.tracebacks)
    target = outdir.resolve_target(out, Path.cwd() / "output" / slugify(cfg["name"]))
    with outdir.OutputSession(target, force=force, inputs=input_files(cfg, base, where)) as session:
        prep = preflight(cfg, base, analyses, session.check)
        try:
            staging = session.open_staging()
            state = _execute(cfg, base, where, analyses, rec, prep, staging, quiet, report, notes)
            info = _finish_info(state.info, started, t_start)
            wb = state.workbook[0]  # written by _execute's writer, before the report
            info["workbook"] = wb
            for t, why in wb["left_out"].items():
                rec.say(f"note: table {t} left out of tables.xlsx: {why}")
            (staging / "run.json").write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        except OSError as exc:
            if exc.errno in _USER_ERRNOS:
                raise outdir.os_error_message(exc, target, "writing the results") from None
            raise
        session.commit()
    if session.recovered:
        rec.say(f"note: an interrupted earlier run into {session.state.path} was {session.recovered}")
    failed = [s["name"] for s in info["stages"] if s["status"] == "failed"]
    rec.say(
        f"done in {info['seconds']:.1f} s; output in {session.state.path}"
        + (f"; failed stages: {', '.join(failed)}" if failed else "")
    )
    return RunResult(session.state.path, state.tables, info, state.artifacts, state.tracebacks)


_USER_ERRNOS = {
    errno.ENOSPC,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENAMETOOLONG,
    getattr(errno, "EDQUOT", errno.ENOSPC),
    errno.EFBIG,
}


def _finish_info(info: dict, started: str, t_start: float) -> dict:
    info["started"] = started
    info["seconds"] = round(time.perf_counter() - t_start, 3)
    return info


class _Writer:
    """Writes the output files on one background thread, in the order they are submitted.

    The stages go on computing while a table's CSV file (and, before the report, ``tables.xlsx``) is
    written: most of a stage's time is in NumPy, SciPy and BLAS, which release the interpreter lock, and
    writing a file is mostly formatting text.  The files are those the same functions write in the main
    thread.  A writing error is raised in the main thread at the next submission or at :meth:`wait` (so
    an ``OSError`` reaches the same handling as before); :meth:`close` waits for the file being written
    and, when ``cancel`` (an interrupted or failed run), drops the rest, so nothing is written into the
    staging folder after the run has left it.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._cancel = False
        self._thread = threading.Thread(target=self._loop, name="nqpspatial-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                fn, args, kwargs, box = job
                if self._error is None and not self._cancel:
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                        self._error = exc
                    else:
                        if box is not None:
                            box.append(result)
            finally:
                self._jobs.task_done()

    def submit(self, fn, *args, box: list | None = None, **kwargs) -> None:
        """Queue ``fn(*args, **kwargs)``; its result is appended to ``box`` when given."""
        self.check()
        self._jobs.put((fn, args, kwargs, box))

    def check(self) -> None:
        """Raise the first error of a finished job, if any."""
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc

    def wait(self) -> None:
        """Wait for every submitted job; raise the first error."""
        self._jobs.join()
        self.check()

    def close(self, cancel: bool = False) -> None:
        """Stop the thread after the file being written (and, unless ``cancel``, every queued one)."""
        self._cancel = cancel
        self._jobs.put(None)
        self._thread.join()


@dataclass
class _State:
    """What the stages have produced so far."""

    out_dir: Path | None
    escape: bool
    tables: dict = field(default_factory=dict)
    owners: dict = field(default_factory=dict)
    reserved: dict = field(default_factory=dict)
    why: dict = field(default_factory=dict)
    tracebacks: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)
    used: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    writer: _Writer | None = None
    workbook: list = field(default_factory=list)

    def add_tables(self, owner: str, new: dict) -> list[str]:
        for tname, tab in new.items():
            self.tables[tname] = tab
            self.owners[tname] = f"stage '{owner}'"
            if self.out_dir is not None:  # the writer exists while _execute runs with an output folder
                path = self.out_dir / "tables" / f"{tname}.csv"
                self.writer.submit(write_csv, tab, path, escape_formulas=self.escape)
        return list(new)

    def taken(self) -> dict:
        return {**self.reserved, **self.owners}


def _reserved(analyses: list) -> dict:
    """Table names (or patterns) reserved by the analyses' ``tables`` and the statistics plugins' ``table``."""
    out = {}
    for st in analyses:
        for t in getattr(st, "tables", ()) or ():
            out[str(t)] = f"stage '{st.name}'"
    for name in registry.names("statistics"):
        try:
            out.setdefault(registry.get("statistics", name).table, "stage 'spatial'")
        except Exception:  # noqa: BLE001 - a broken statistics plugin fails where it is used
            continue
    return out


def _core_records(cfg, rec, prep, state) -> None:
    panel = prep.panel
    data_tables = {}
    if len(panel.filled) or cfg["data"]["missing"] == "interpolate":
        data_tables["filled_cells"] = panel.filled
    rec.stage(
        "data",
        "ok",
        prep.seconds["data"],
        notes=[
            f"{len(panel.regions)} regions, {len(panel.years)} periods ({panel.years[0]}-{panel.years[-1]}),"
            f" subsystems {', '.join(panel.subsystems)}"
        ]
        + (
            [f"{len(panel.filled)} cell(s) filled by interpolation (tables/filled_cells.csv)"]
            if len(panel.filled)
            else []
        ),
        tables=state.add_tables("data", data_tables),
        info={
            "regions": len(panel.regions),
            "periods": panel.years,
            "subsystems": panel.subsystems,
            "source": panel.source,
            "filled_cells": len(panel.filled),
        },
    )
    wt = {}
    if prep.wtable is not None:
        wt["indicator_weights"] = prep.wtable
    wt["indices"] = prep.indices
    rec.stage("weighting", "ok", prep.seconds["weighting"], tables=state.add_tables("weighting", wt), info=prep.winfo)
    gnotes = (
        [prep.gnote] + getattr(prep.geometry, "attrs", {}).get("nqpspatial_notes", [])
        if prep.geometry is not None
        else [prep.gnote]
    )
    rec.add(
        _with_failures(
            runner.StageRecord(
                "geometry",
                "ok" if prep.geometry is not None else "skipped",
                prep.seconds["geometry"],
                notes=gnotes + ([f"region scheme: {prep.scheme_name}"] if prep.scheme_name else ["no region scheme"]),
                info={"geometry": prep.gnote, "scheme": prep.scheme_name},
            ),
            prep.failures.get("geometry"),
            state,
        )
    )
    ws = prep.weights
    rec.add(
        _with_failures(
            runner.StageRecord(
                "weights",
                "ok" if ws is not None else "skipped",
                prep.seconds["weights"],
                notes=[prep.wnote]
                + [f"weights {w.spec}: {n}" for w in (ws.by_spec.values() if ws else []) for n in w.notes],
                info={
                    "specs": list(ws.by_spec) if ws else [],
                    "islands": ws.islands if ws else None,
                    "transform": ws.transform if ws else None,
                },
            ),
            prep.failures.get("weights"),
            state,
        )
    )
    if ws is None:
        from .spatial import NO_WEIGHTS

        state.why[("note", SpatialWeightsSet)] = NO_WEIGHTS if prep.geometry is None else prep.wnote


def _with_failures(record, failures, state):
    """A core step's record marked ``failed`` by the plugins that failed in it (the run goes on)."""
    if failures:
        record.status = "failed"
        record.plugin = dict(failures[0]["plugin"])
        record.error = "; ".join(f"{f['plugin']['name']}: {f['error']}" for f in failures)
        record.notes += [
            f"failed: {f['plugin']['kind']} plugin '{f['plugin']['name']}': {f['error']}" for f in failures
        ]
        state.tracebacks[record.name] = "\n".join(f.get("traceback") or "" for f in failures)
    return record


def _execute(cfg, base, where, analyses, rec, prep, out_dir, quiet, report, notes) -> _State:
    """Record the pre-flight steps, run every analysis and the report; tables go to ``out_dir`` when given."""
    state = _State(out_dir, bool(cfg["run"]["escape_csv_formulas"]), reserved=_reserved(analyses))
    panel = prep.panel
    ctx = StageContext(
        config=cfg,
        panel=panel.values,
        region=panel.region,
        year=panel.year,
        subsystems=panel.subsystems,
        indices=prep.indices,
        indicators=panel.indicators,
        geometry=prep.geometry,
        scheme=prep.scheme,
        scheme_name=prep.scheme_name,
        seed=int(cfg["run"]["seed"]),
        base_dir=base,
        out_dir=out_dir,
        quiet=quiet,
        progress=_progress_factory(quiet),
        panel_data=panel,
        tables=state.tables,
    )
    ctx.provide(
        IndicatorWeights(table=prep.wtable, normalized=prep.normalized, options=dict(prep.winfo.get("options", {})))
    )
    if prep.weights is not None:
        ctx.provide(prep.weights)
    state.why.update({kind: f"stage '{st.name}'" for st in prep.order for kind in getattr(st, "provides", ())})
    ctx.analyses = []

    from .backends import shared_backends

    if out_dir is not None:
        state.writer = _Writer()
    done = False
    try:
        _core_records(cfg, rec, prep, state)
        with registry.tracking() as used, shared_backends():  # one execution backend for every stage
            for stage in prep.order:
                _run_analysis(stage, cfg, ctx, rec, state)
            if state.writer is not None:  # every table is in: the workbook is written while the report is drawn
                state.writer.submit(write_workbook, dict(state.tables), out_dir / "tables.xlsx", box=state.workbook)
            _run_report(cfg, ctx, rec, state, report)
            if state.writer is not None:
                state.writer.wait()
        done = True
    finally:
        if state.writer is not None:
            state.writer.close(cancel=not done)
            state.writer = None
    state.artifacts = dict(ctx.artifacts)
    state.info = {
        "nqpspatial": __version__,
        "versions": _versions(),
        "command": " ".join(sys.argv),
        "config_source": where,
        "config": jsonable(_public(cfg)),
        "config_notes": list(notes),
        "seed": int(cfg["run"]["seed"]),
        "started": None,
        "seconds": None,
        "stages": rec.stages,
        "warnings": rec.warnings,
        "synthetic": bool(cfg["data"]["synthetic"]),
        "plugins": registry.describe(),
        "plugins_used": _plugins_used(used, rec.stages),
    }
    return state


def _plugins_used(used: list, stages: list) -> list[dict]:
    """The plugins a run used: the analyses that ran and every plugin a stage fetched from the registry."""
    ran = {s["name"] for s in stages if s["status"] in ("ok", "failed")}
    keys = [("analyses", n) for n in registry.names("analyses") if n in ran] + [k for k in used if k[0] != "analyses"]
    rows = {(r["kind"], r["name"]): r for r in registry.describe()}
    return [rows[k] for k in dict.fromkeys(keys) if k in rows]


def _skip(rec, state, stage, status, notes) -> None:
    record = runner.StageRecord(stage.name, status, notes=list(notes))
    rec.add(record)
    for kind in getattr(stage, "provides", ()) or ():
        state.why[("note", kind)] = f"{status}: {'; '.join(notes)}"


def _run_analysis(stage, cfg, ctx, rec, state) -> None:
    """Run one analysis stage, isolated (see :func:`nqpspatial.runner.run_stage`), and record it."""
    name = stage.name
    scfg = cfg.get(name)
    if scfg is None:
        if getattr(stage, "optional", False):
            _skip(rec, state, stage, "not requested", [f"optional stage: add a [{name}] table to run it"])
            return
        scfg = stage_spec(stage).from_table(None)
    if not scfg.get("enabled", True):
        _skip(rec, state, stage, "skipped", [f"enabled = false in [{name}]"])
        return
    unmet = _unmet(stage, ctx)
    if unmet:
        _skip(rec, state, stage, "skipped", unmet)
        return
    out, record = runner.run_stage(
        stage, ctx, scfg, taken=state.taken(), origin=runner.describe_origin(stage), why_missing=state.why
    )
    if out is not None:
        record.tables = state.add_tables(name, out.tables)
        ctx.written.update({t: name for t in out.tables})
        ctx.analyses.append(stage)
        for art in out.artifacts:
            ctx.provide(art)
        ctx.legacy.update(out.publish)
    provided = {type(a) for a in (out.artifacts if out is not None else [])}
    for kind in getattr(stage, "provides", ()) or ():
        if kind not in provided:
            state.why[("note", kind)] = "; ".join(record.notes) or record.status
    if record.status == "failed":
        state.tracebacks[name] = record.traceback
    rec.add(record)


class _ReportStep:
    """The report as the last core step (run through the runner, so that a failure is isolated)."""

    name = "report"
    tables: tuple = ()
    provides: tuple = ()

    def run(self, ctx, cfg):
        from .report.stage import build_report

        return build_report(ctx, cfg)


def _run_report(cfg, ctx, rec, state, report: bool) -> None:
    step = _ReportStep()
    rcfg = cfg["report"]
    if not rcfg["enabled"]:
        why = "--no-report (report=False)" if not report else "enabled = false in [report]"
        _skip(rec, state, step, "skipped", [why])
        return
    out, record = runner.run_stage(
        step,
        ctx,
        rcfg,
        taken=state.taken(),
        origin={"name": "report", "package": "nqpspatial", "version": __version__, "entry_point": "core"},
    )
    if record.status == "failed":
        state.tracebacks["report"] = record.traceback
    rec.add(record)


def _public(cfg: dict) -> dict:
    """The resolved config as plain values, without the internal key ``_present``."""
    return {k: (v.as_dict() if hasattr(v, "as_dict") else v) for k, v in cfg.items() if not k.startswith("_")}


def _unmet(stage, ctx: StageContext) -> list[str]:
    """Input prerequisites a stage lacks: periods, subsystems, boundaries, a region scheme."""
    notes = []
    need = int(getattr(stage, "min_periods", MIN_PERIODS))
    periods = int(pd.unique(ctx.panel[ctx.year]).size) if ctx.year in ctx.panel.columns else need
    if periods < need:
        notes.append(f"needs at least {need} periods; the panel has {periods}")
    for req in getattr(stage, "requires", ()):
        if req == "pair" and len(ctx.subsystems) < 2:
            notes.append(
                f"needs two or more subsystems; the panel has {len(ctx.subsystems)} ({', '.join(ctx.subsystems)})"
            )
        elif req == "indices" and getattr(ctx.panel_data, "raw_variables", False):
            notes.append(
                "needs subsystem indices in [0, 1]; [data] variables are analysed as they are (give an "
                "indicator list, or indices = true, to run it)"
            )
        elif req == "geometry" and ctx.geometry is None:
            notes.append(
                "needs region boundaries: set [geometry] source and id (a GeoJSON, GeoPackage or "
                "Shapefile with an id field)"
            )
        elif req == "scheme" and ctx.scheme is None:
            notes.append(
                "needs a region scheme: set [regions] scheme to a bundled scheme or a CSV with columns region, group"
            )
    return notes


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "nqpspatial": __version__}
    for pkg in (
        "numpy",
        "pandas",
        "scipy",
        "statsmodels",
        "libpysal",
        "esda",
        "spreg",
        "giddy",
        "inequality",
        "spopt",
        "geopandas",
        "shapely",
        "mapclassify",
        "matplotlib",
        "openpyxl",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def validate(config, *, out=None, force: bool = False) -> dict:
    """Check a config, its data and (optionally) an output folder without running analyses.

    Makes every check :func:`run` makes before computing (the same
    pre-flight, :func:`nqpspatial._prepare.preflight`): every table and key
    of the config, the plugins it names and their parameters, the order of
    the stages, the panel and the indicator list (every data problem at
    once), the indicator weights, the boundary layer, the region scheme, the
    spatial weights, each requested stage's checks against the study and,
    with ``out``, the output folder (nothing is written).

    Parameters
    ----------
    config : str, pathlib.Path or dict
        The config.
    out : str or pathlib.Path, optional
        The output folder a run would write into.
    force : bool
        As for :func:`run`.

    Returns
    -------
    dict
        Facts about the panel (regions, periods, subsystems).

    Raises
    ------
    InputError
        A problem of the config, the data or the output folder.
    PluginError
        A plugin the config needs fails to load, or the stages' declarations
        conflict.
    """
    from . import outdir

    _check_arguments(config, out, force, False, True, True, None, None)
    cfg, base, where, analyses, _ = _configure(config, None, None, None, None, True)
    check = None
    if out is not None:
        target = outdir.resolve_target(out, Path.cwd())
        inputs = input_files(cfg, base, where)
        check = lambda: outdir.check_target(target, force=bool(force), inputs=inputs)  # noqa: E731
    prep = preflight(cfg, base, analyses, check)
    panel = prep.panel
    return {"regions": len(panel.regions), "periods": len(panel.years), "subsystems": panel.subsystems}
