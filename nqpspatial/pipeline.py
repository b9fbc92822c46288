"""The study pipeline behind ``nqpspatial run``.

Stages, in order: data (read and validate the panel), weighting and indices,
geometry and region scheme, then every analysis plugin (group
``nqpspatial.analyses``) by its ``order``: Haken identification, scenarios,
spatial statistics, zones, spatial Haken, robustness, report.  Each stage's
tables go to ``tables/<name>.csv`` (UTF-8 with BOM) and ``tables.xlsx``;
``run.json`` records versions, the resolved config, the seed, per-stage
timings, status, notes and warnings.  See docs/outputs.md.
"""

from __future__ import annotations

import datetime as _dt
import importlib.resources
import json
import platform
import re
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import registry
from ._version import __version__
from .config import check_seed, check_workers, load_config, parse_toml, resolve_config
from .errors import ConfigError, InputError, ModelError
from .io import write_csv, write_workbook
from .results import Results, Summary
from .stage import StageContext, StageOutput

__all__ = ["run", "validate", "RunResult", "default_config_path", "slugify"]

_OUTPUT_ITEMS = ("tables", "figures", "run.json", "tables.xlsx", "report.html", "latex")


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
    results : dict
        Objects published by stages (e.g. ``"haken"``).
    """

    def __init__(self, out_dir, tables, info, results):
        self._set("out_dir", out_dir)
        self._set("_tables", dict(tables))
        self._set("info", info)
        self._set("results", dict(results))
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

    def summary(self) -> Summary:
        """Stage-by-stage status of the run."""
        rows = pd.DataFrame([{"stage": s["name"], "status": s["status"], "seconds": s["seconds"],
                              "tables": ", ".join(s.get("tables", []))} for s in self.info["stages"]])
        facts = {"study": self.info["config"].get("name"), "output": str(self.out_dir), "seed": self.info["seed"]}
        return Summary("nqpspatial run", facts, {"stages": rows},
                       tuple(self.info.get("warnings", [])))


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


def _resolve(raw: dict, where: str, analyses: list) -> dict:
    keys = {a.name: dict(a.config_keys) for a in analyses}
    return resolve_config(raw, keys, where=where)


def _path(base: Path, p):
    if p is None or isinstance(p, pd.DataFrame):  # a DataFrame given in a config dict
        return p
    q = Path(p)
    return q if q.is_absolute() else base / q


class _Recorder:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.stages: list[dict] = []
        self.warnings: list[str] = []

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def stage(self, name, status, seconds, notes=(), warns=(), tables=(), info=None):
        self.stages.append({"name": name, "status": status, "seconds": round(seconds, 4),
                            "notes": list(notes), "warnings": list(warns), "tables": list(tables),
                            "info": info or {}})
        for w in warns:
            self.warnings.append(f"{name}: {w}")
            self.say(f"warning: {name}: {w}")
        if status not in ("ok", "not requested"):
            for n in notes:
                self.say(f"{name}: {n}")


def _read_data(cfg: dict, base: Path):
    from .panel import load_panel

    d = cfg["data"]
    if d["panel"] is None:
        raise ConfigError("[data] panel is missing: give the panel file, e.g. panel = \"panel.csv\".",
                          source="config")
    if not isinstance(d["panel"], (str, Path, pd.DataFrame)):
        raise ConfigError(f"[data] panel must be a file name such as \"panel.csv\", not {d['panel']!r}.",
                          source="config")
    ind = d["indicators"]
    if d["indices"] and ind is not None:
        raise ConfigError("[data] indices = true takes the subsystem indices from the panel, so [data] indicators "
                          "would be ignored. Remove [data] indicators, or set indices = false to build the "
                          "indices from the indicator list.", source="config")
    ind_where = None
    if isinstance(ind, str):
        ind_where = str(_path(base, ind))
        ind = _path(base, ind)
    return load_panel(_path(base, d["panel"]), ind, region=d["region"], year=d["year"], missing=d["missing"],
                      ignore=d["ignore"], indices=d["indices"], subsystems=d["subsystems"] or None,
                      form=d["form"], indicator_column=d["indicator_column"], value_column=d["value_column"],
                      encoding=d["encoding"], sheet=d["sheet"], indicators_where=ind_where)


def _weighting(panel, cfg: dict):
    """Return (indices, weights table or None, normalized or None, info)."""
    region, year = panel.region, panel.year
    if panel.indices_given:
        vals = panel.values
        subs = panel.subsystems
        bad = []
        for s in subs:
            out = vals[(vals[s] < 0) | (vals[s] > 1)]
            bad += [f"{s} ({r}, {y}) = {v:g}" for r, y, v in zip(out[region], out[year], out[s])]
        if bad:
            raise InputError(f"[data] indices = true, but index values lie outside [0, 1]: {', '.join(bad[:20])}"
                             f"{' ...' if len(bad) > 20 else ''}. Give indices in [0, 1] or set indices = false and "
                             "supply an indicator list.", source=panel.source)
        return vals[[region, year, *subs]].copy(), None, None, {"indices": "given"}
    from .weighting import INDICATOR_TABLE, compute_weights

    w = cfg["weighting"]
    try:
        res = compute_weights(panel.values, panel.indicators, region=region, year=year, method=w["method"],
                              normalization=w["normalization"], critic_conflict=w["critic_conflict"],
                              critic_cost=w["critic_cost"], levels=int(w["levels"]),
                              zero_variance=w["zero_variance"],
                              shift=w["shift"] if w.get("_shift_given") else None)
    except InputError as exc:
        if exc.source is None:
            raise InputError(exc.detail, source=panel.source) from None
        if exc.source == INDICATOR_TABLE:  # name the indicator list's file
            raise InputError(exc.detail, source=panel.indicators_source) from None
        raise
    return res.indices, res.weights, res.normalized, {"options": _jsonable(getattr(res, "options", {}))}


def _geometry(cfg: dict, base: Path, panel, rec: _Recorder):
    g = cfg["geometry"]
    if not g.get("enabled", True):
        return None, "disabled in [geometry]"
    try:
        import nqpspatial.geodata as geodata
    except ImportError:  # pragma: no cover
        return None, "nqpspatial.geodata is not installed"
    source = g.get("source")
    if source:
        if source in getattr(geodata, "LAYERS", ("provinces", "prefectures", "counties")):
            gdf = geodata.load_layer(source, regions=panel.regions) if "regions" in \
                geodata.load_layer.__code__.co_varnames else geodata.load_layer(source)
            return gdf, f"bundled layer '{source}'"
        if not g.get("id"):
            if not Path(str(source)).suffix and not _path(base, source).exists():
                geodata.load_layer(source, source="config [geometry] source")  # misspelt layer: suggests one
            raise ConfigError("[geometry] id is missing: name the boundary file's field that holds the "
                              "panel's region ids.", source="config")
        gdf = geodata.read_boundaries(_path(base, source), g["id"], regions=panel.regions, crs=g.get("crs"))
        return gdf, f"file {source} (id field {g['id']})"
    # Chinese provinces, prefecture-level cities or counties, recognised from the ids; ids that mostly name
    # units of one level but not all raise the matcher's error (closest matches, candidates, the fix)
    found = geodata.china_layer(panel.regions, source=panel.source)
    if found is not None:
        return found
    return None, ("no boundaries: the regions are not Chinese provinces, cities or counties and [geometry] is not "
                  "set; spatial stages need a boundary file ([geometry] source = \"file.geojson\", id = \"<field>\")")


def _scheme(cfg: dict, base: Path, panel, geometry_note: str | None):
    name = cfg["regions"].get("scheme")
    import nqpspatial.geodata as geodata

    if name is None:
        if geodata.detect_level(panel.regions) is not None:  # Chinese provinces, cities or counties
            name = "eight-zones"
        else:
            return None, None
    if name in registry.available("schemes"):
        plugin = registry.get("schemes", name)
        return plugin.load(panel.regions), name
    p = _path(base, name)
    if str(name).lower().endswith((".csv", ".xlsx")) or p.exists():
        return geodata.load_scheme(p, regions=panel.regions, source=str(p)), Path(str(name)).stem
    raise ConfigError(f"[regions] scheme = {name!r} is neither a bundled scheme "
                      f"({', '.join(registry.names('schemes'))}) nor an existing CSV file.", source="config")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, pd.DataFrame):
        return f"DataFrame ({len(obj)} rows, {obj.shape[1]} columns)"
    return str(obj)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "nqpspatial": __version__}
    for pkg in ("numpy", "pandas", "scipy", "statsmodels", "libpysal", "esda", "spreg", "giddy", "inequality",
                "spopt", "geopandas", "shapely", "mapclassify", "matplotlib", "openpyxl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _remove_outputs(out_dir: Path) -> None:
    for item in _OUTPUT_ITEMS:
        target = out_dir / item
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _prepare_out(out, name: str, force: bool, made: list | None = None) -> Path:
    """Check, clear (with ``force``) and create the output folder.

    ``made`` receives the folder, then the folders created for it (deepest
    first), so that a failed run can remove what it wrote (:func:`_discard_output`).
    """
    out_dir = Path(out) if out is not None else Path.cwd() / "output" / slugify(name)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError("the output path exists and is a file; choose a folder with --out.",
                             source=str(out_dir))
        if any(out_dir.iterdir()):
            if not force:
                raise InputError("the output folder exists and is not empty. Use --force to overwrite it, or "
                                 "choose another folder with --out.", source=str(out_dir))
            _remove_outputs(out_dir)
    if made is not None:
        made.append(out_dir)
        made.extend(d for d in [out_dir, *out_dir.parents] if not d.exists())
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    return out_dir


def _discard_output(made: list) -> None:
    """Remove the partial output of a failed run (other files in the folder are kept)."""
    if not made:
        return
    _remove_outputs(made[0])
    for d in made[1:]:
        try:
            d.rmdir()
        except OSError:  # not empty: someone else's files
            break


def run(config=None, *, out=None, force: bool = False, seed: int | None = None, quiet: bool = False,
        report: bool = True, base_dir=None, write: bool = True, workers=None, scheduler=None) -> RunResult:
    """Run a study end to end.

    Parameters
    ----------
    config : str, pathlib.Path, dict or None
        A TOML config file, an already parsed config (paths relative to
        ``base_dir``), or None for the bundled demo study.
    out : str or pathlib.Path, optional
        Output folder; default ``output/<name>`` in the working directory.
    force : bool
        Overwrite a non-empty output folder.
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
        Bad data or config (the CLI exits with code 2).  A run that stops
        with an error removes the partial output it wrote, so the folder
        does not block the next run.
    """
    made: list[Path] = []
    try:
        return _run(config, out=out, force=force, seed=seed, quiet=quiet, report=report, base_dir=base_dir,
                    write=write, workers=workers, scheduler=scheduler, made=made)
    except BaseException:
        _discard_output(made)
        raise


def _run(config, *, out, force, seed, quiet, report, base_dir, write, workers, scheduler, made) -> RunResult:
    """The body of :func:`run`; ``made`` records the output folder for clean-up."""
    t_start = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    raw, base, where = _load(config, base_dir)
    analyses = _analyses()
    cfg = _resolve(raw, where, analyses)
    if seed is not None:
        cfg["run"]["seed"] = check_seed(seed, "--seed", "command line")
    if workers is not None:
        cfg["run"]["workers"] = check_workers(workers, "--workers", "command line")
    if scheduler is not None:
        cfg["run"]["scheduler"] = scheduler
    if not report and "report" in cfg:
        cfg["report"]["enabled"] = False
    run_seed = int(cfg["run"]["seed"])
    rec = _Recorder(quiet)
    tables: dict[str, pd.DataFrame] = {}
    out_dir = _prepare_out(out, cfg["name"], force, made) if write else None

    def add_tables(stage_name: str, new: dict[str, pd.DataFrame]) -> list[str]:
        for tname, tab in new.items():
            if tname in tables:
                raise RuntimeError(f"stage {stage_name} wrote table '{tname}' a second time")
            tables[tname] = tab
            if out_dir is not None:
                write_csv(tab, out_dir / "tables" / f"{tname}.csv")
        return list(new)

    # data
    t0 = time.perf_counter()
    panel = _read_data(cfg, base)
    data_tables = {}
    if len(panel.filled) or cfg["data"]["missing"] == "interpolate":
        data_tables["filled_cells"] = panel.filled
    rec.stage("data", "ok", time.perf_counter() - t0,
              notes=[f"{len(panel.regions)} regions, {len(panel.years)} periods ({panel.years[0]}-{panel.years[-1]}),"
                     f" subsystems {', '.join(panel.subsystems)}"]
              + ([f"{len(panel.filled)} cell(s) filled by interpolation (tables/filled_cells.csv)"]
                 if len(panel.filled) else []),
              tables=add_tables("data", data_tables),
              info={"regions": len(panel.regions), "periods": panel.years, "subsystems": panel.subsystems,
                    "source": panel.source, "filled_cells": len(panel.filled)})

    # weighting and indices
    t0 = time.perf_counter()
    indices, wtable, normalized, winfo = _weighting(panel, cfg)
    for key in ("panel", "indicators"):  # DataFrames given in a config dict: later stages see a label
        if isinstance(cfg["data"][key], pd.DataFrame):
            cfg["data"][key] = _jsonable(cfg["data"][key])
    wt = {}
    if wtable is not None:
        wt["indicator_weights"] = wtable
    wt["indices"] = indices
    rec.stage("weighting", "ok", time.perf_counter() - t0, tables=add_tables("weighting", wt), info=winfo)

    # geometry and scheme
    t0 = time.perf_counter()
    geometry, gnote = _geometry(cfg, base, panel, rec)
    scheme, scheme_name = _scheme(cfg, base, panel, gnote)
    rec.stage("geometry", "ok" if geometry is not None else "skipped", time.perf_counter() - t0,
              notes=[gnote] + ([f"region scheme: {scheme_name}"] if scheme_name else ["no region scheme"]),
              info={"geometry": gnote, "scheme": scheme_name})

    ctx = StageContext(config=cfg, panel=panel.values, region=panel.region, year=panel.year,
                       subsystems=panel.subsystems, indices=indices, indicators=panel.indicators,
                       geometry=geometry, scheme=scheme, scheme_name=scheme_name, seed=run_seed,
                       base_dir=base, out_dir=out_dir, quiet=quiet, progress=_progress_factory(quiet))
    ctx.results["weights"] = wtable
    ctx.results["normalized"] = normalized
    ctx.results["panel"] = panel
    ctx.tables = tables

    from .backends import shared_backends

    with shared_backends():  # one execution backend (e.g. one local Dask cluster) for every stage
        for stage in analyses:
            name = stage.name
            scfg = cfg.get(name)
            t0 = time.perf_counter()
            if scfg is None:
                if getattr(stage, "optional", False):
                    rec.stage(name, "not requested", 0.0, notes=[f"optional stage: add a [{name}] table to run it"])
                    continue
                scfg = {"enabled": True, **{k: v for k, v in stage.config_keys.items()}}
            if not scfg.get("enabled", True):
                why = ("--no-report (report=False)" if name == "report" and not report
                       else f"enabled = false in [{name}]")
                rec.stage(name, "skipped", 0.0, notes=[why])
                continue
            missing = _unmet(stage, ctx)
            if missing:
                rec.stage(name, "skipped", 0.0, notes=missing)
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result: StageOutput = stage.run(ctx, dict(scfg))
                except ModelError as exc:
                    # an impossible quantity (e.g. no valid potential): the stage cannot run, the study goes on
                    result = StageOutput(notes=[f"stage not completed: {exc}"],
                                         warnings=[f"stage not completed: {exc}"], status="skipped")
            warns = list(result.warnings)
            for w in caught:
                if _ours(w):
                    warns.append(str(w.message))
                else:  # third-party warnings keep their normal behaviour
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            for k, v in result.publish.items():
                ctx.results[k] = v
            status = result.status if result.status in ("ok", "skipped") else "ok"
            rec.stage(name, status, time.perf_counter() - t0, notes=result.notes, warns=_dedupe(warns),
                      tables=add_tables(name, result.tables), info=_jsonable(result.info))

    info = {
        "nqpspatial": __version__, "versions": _versions(), "command": " ".join(sys.argv),
        "config_source": where, "config": _jsonable(_public(cfg)),
        "seed": run_seed, "started": started, "seconds": round(time.perf_counter() - t_start, 3),
        "stages": rec.stages, "warnings": rec.warnings, "synthetic": bool(cfg["data"].get("synthetic")),
        "plugins": registry.describe(),
    }
    if out_dir is not None:
        wb = write_workbook(tables, out_dir / "tables.xlsx")
        info["workbook"] = wb
        for t, why in wb["left_out"].items():
            rec.say(f"note: table {t} left out of tables.xlsx: {why}")
        (out_dir / "run.json").write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
    rec.say(f"done in {info['seconds']:.1f} s" + (f"; output in {out_dir}" if out_dir else ""))
    return RunResult(out_dir, tables, info, ctx.results)


def _our_dirs() -> tuple[str, ...]:
    import importlib.util

    dirs = [str(Path(__file__).resolve().parent)]
    for mod in ("nqpspatial.plugins", "nqpspatial.geodata"):
        spec = importlib.util.find_spec(mod)
        if spec is not None and spec.submodule_search_locations:
            dirs += [str(Path(d).resolve()) for d in spec.submodule_search_locations]
    return tuple(dirs)


def _ours(w) -> bool:
    filename = str(Path(getattr(w, "filename", "") or "").resolve())
    return filename.startswith(_our_dirs())


def _public(cfg: dict) -> dict:
    """The resolved config without the internal keys (``_present``, ``[weighting] _shift_given``)."""
    return {k: ({kk: vv for kk, vv in v.items() if not kk.startswith("_")} if isinstance(v, dict) else v)
            for k, v in cfg.items() if not k.startswith("_")}


def _dedupe(items):
    return list(dict.fromkeys(items))


def _unmet(stage, ctx: StageContext) -> list[str]:
    notes = []
    for req in getattr(stage, "requires", ()):
        if req == "pair" and len(ctx.subsystems) < 2:
            notes.append("needs two or more subsystems; the panel has "
                         f"{len(ctx.subsystems)} ({', '.join(ctx.subsystems)})")
        elif req == "geometry" and ctx.geometry is None:
            notes.append("needs region boundaries: set [geometry] source and id (a GeoJSON, GeoPackage or "
                         "Shapefile with an id field)")
        elif req == "haken" and ctx.results.get("haken") is None:
            notes.append("needs an order parameter, and no ordering of the subsystems passed the adiabatic "
                         "verdict (see haken_identification.csv), or the Haken stage did not run")
        elif req == "scheme" and ctx.scheme is None:
            notes.append("needs a region scheme: set [regions] scheme to a bundled scheme or a CSV with "
                         "columns region, group")
    return notes


def validate(config) -> dict:
    """Check a config and its data without running analyses.

    Reads and validates the panel and the indicator list, computes the
    weights, and reads the boundary layer and the region scheme.

    Parameters
    ----------
    config : str, pathlib.Path or dict
        The config.

    Returns
    -------
    dict
        Facts about the panel (regions, periods, subsystems).

    Raises
    ------
    InputError
        The first problem found.
    """
    raw, base, where = _load(config, None)
    cfg = _resolve(raw, where, _analyses())
    panel = _read_data(cfg, base)
    _weighting(panel, cfg)
    _, gnote = _geometry(cfg, base, panel, _Recorder(quiet=True))  # boundary file and region scheme too
    _scheme(cfg, base, panel, gnote)
    return {"regions": len(panel.regions), "periods": len(panel.years), "subsystems": panel.subsystems}
