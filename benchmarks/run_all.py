"""All nqpspatial benchmarks in one command: medians, ratios against the PySAL baseline, peak memory.

Usage::

    python benchmarks/run_all.py                     # everything (long: esda at 100,000 regions)
    python benchmarks/run_all.py --quick             # a few minutes: 31 and 2,870 regions, smaller loops
    python benchmarks/run_all.py --sizes 31,2870     # Moran sizes (31, 2870, 100000)
    python benchmarks/run_all.py --only bootstrap,sensitivity

Every measurement runs in a fresh Python process (``subprocess``) that reports its wall time and its
peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``); the baselines are measured in
the same run:

- spatial statistics: ``benchmarks/bench_moran.py`` workers (batched Moran / LISA against looping
  ``esda.Moran`` / ``esda.Moran_Local`` over periods), 999 permutations;
- SAR-Haken: ``benchmarks/bench_sar.py`` workers (ours against ``spreg.ML_LagFE``), 2,870 x 10, and
  ours alone at 10,000 x 10;
- cluster bootstrap: ``HakenModel.fit(bootstrap=9999)`` against the statsmodels loop of
  ``benchmarks/bench_bootstrap.py`` on 31 x 10;
- wild-year bootstrap (the default scheme, issue 19): one ``HakenModel.fit`` with 999 resamples on a
  simulated 2,848 x 20 panel (54,112 transitions) against the previous implementation (the frozen copy in
  ``tests/_wild_reference.py``; target ratio 10);
- weight sensitivity: 10,000 Dirichlet draws through the whole chain on the demo (31 x 10);
- GW-Haken (issue 18): ``GWHakenModel`` on the 2,848 counties of the bundled layer (a 70 x 41 lattice
  without the ``china_full`` extra) with 10 periods simulated from the Monte Carlo design
  (benchmarks/mc_gw_haken.py): the bandwidth search and fits of both equations (budget 5 minutes and
  4 GB on 2 cores), and the non-stationarity test with 99 permutations as a separate row;
- whole runs: ``nqpspatial run`` on the demo study with ``[sensitivity]`` (1,000 draws) and
  ``[robustness]`` added (999 permutations, 999 bootstrap resamples), with ``--no-report`` and with
  the report; and a county-scale study (the 2,848 counties of the bundled layer with real queen
  contiguity when ``nqpspatial.geodata`` has it, else a 70 x 41 lattice; 20 periods; a synthetic
  panel in the style of the demo generator: the demo's Haken parameters, 30 indicators as noisy
  monotone transforms of the latent indices);
- the toolkit stages (``[centres]``, ``[detector]``, ``[network]`` at their defaults, QAP with 999
  permutations) on the demo and on the county panel, one row per stage from ``run.json``'s timings
  (budget: 60 s each at county scale);
- the report at scale (issue 19, item 4; ``--only report``): the county panel and the synthetic large
  study (``python -m nqpspatial.demo.generate --level synthetic --regions N``, ``--report-sizes``) with
  the stages that feed the report (Haken with 99 region-bootstrap resamples, LISA with 99 permutations,
  the zone analyses; at county scale also SLX/SAR spatial Haken with ``split_by_zone``, 200 sensitivity
  draws and robustness) and the report: the report stage's seconds (``run.json``, with report.docx,
  regions.gpkg and the interactive map's seconds in the note), report.html's size, and the seconds until
  report.html has loaded and drawn its map in headless Chromium (the system ``chromium`` driven by
  Playwright; median of three loads; budget 5 s at county scale).  The county run with the report
  (``--only county``) gets the same report rows; ``--repeats 3`` runs each county case three times
  in fresh processes and reports the median wall time and the largest peak (the acceptance runs of
  issue 19: ``python benchmarks/run_all.py --only county,sdm --repeats 3``).

The table is printed and written to ``--out`` (``.md`` and ``.csv``).  Targets: issue 9, item 5.
The machine is shared: timings are noisy; compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


# --------------------------------------------------------------------------- helpers
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _json_tail(out: str) -> dict:
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result in output:\n{out[-2000:]}")


def _sub(cmd, timeout=None) -> tuple[dict, float]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout:.0f} s") from None
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{p.stderr[-3000:]}")
    return _json_tail(p.stdout), wall


# --------------------------------------------------------------------------- workers (fresh processes)
def _demo_weights():
    from nqpspatial.demo import load_demo
    from nqpspatial.weighting import compute_weights

    d = load_demo()
    ind = d["indicators"].assign(direction=d["indicators"]["direction"].map({"+": 1, "-": -1}))
    return compute_weights(d["panel"], ind)


def worker_bootstrap(impl: str, B: int) -> dict:
    sys.path.insert(0, str(HERE))
    from bench_bootstrap import statsmodels_loop

    from nqpspatial.haken import HakenModel, simulate_panel

    df = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=31, n_periods=10, q1_start=(0.3, 0.6), seed=1)
    times = []
    for r in range(3 if impl == "ours" else 1):
        t0 = time.perf_counter()
        if impl == "ours":
            HakenModel(df, "q1", "q2").fit(bootstrap=B, seed=r)
        else:
            statsmodels_loop(df, B, seed=r)
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "peak_mb": _peak_mb()}


def worker_wild(impl: str, B: int, reps: int) -> dict:
    """One ``HakenModel.fit`` with the wild-year bootstrap (the default scheme) at county scale (2,848 x 20).

    ``impl``: ``ours`` or ``previous`` (the frozen pre-issue-19 implementation, ``tests/_wild_reference.py``).
    """
    from nqpspatial.haken import HakenModel, simulate_panel, wild

    if impl == "previous":
        sys.path.insert(0, str(HERE.parent / "tests"))
        import _wild_reference

        wild.wild_year_bootstrap = _wild_reference.wild_year_bootstrap
    df = simulate_panel(-0.1, 0.35, 0.6, 0.35, n_regions=2848, n_periods=20, q1_start=(0.3, 0.6), seed=1)
    model = HakenModel(df, "q1", "q2")
    times = []
    for r in range(reps):
        t0 = time.perf_counter()
        res = model.fit(bootstrap=B, seed=r, bootstrap_scheme="wild-year")
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "first": times[0], "peak_mb": _peak_mb(), "rows": res.nobs}


def worker_sensitivity(draws: int) -> dict:
    from nqpspatial.robustness import weight_sensitivity

    res = _demo_weights()
    times = []
    for r in range(3):
        t0 = time.perf_counter()
        out = weight_sensitivity(res.normalized, res.weights, draws=draws, seed=r)
        times.append(time.perf_counter() - t0)
    share = out.share("adiabatic", "NQP", "NTU")
    return {"seconds": statistics.median(times), "peak_mb": _peak_mb(), "verdict_share": share}


def worker_gwhaken(periods: int, permutations: int) -> dict:
    """GW-Haken on the county layer: seconds of the search and fits, then of the permutation test."""
    import numpy as np

    from nqpspatial.plugins.local_haken import GWHakenModel, simulate_gw_panel

    try:
        import nqpspatial.geodata as geodata

        gdf = geodata.load_layer("counties")
        kw, label = {"geometry": gdf}, f"{len(gdf)} counties (bundled layer, great-circle distances)"
        from nqpspatial.plugins.weights import centroid_points

        xy, _ = centroid_points(gdf, list(gdf.index))
        ids = list(gdf.index)
    except Exception:  # noqa: BLE001 - no county layer: lattice
        xy = np.column_stack([np.tile(np.arange(41.0), 70), np.repeat(np.arange(70.0), 41)])
        ids, kw, label = None, {}, "70 x 41 lattice (no county layer installed)"
    df, xy, truth = simulate_gw_panel(xy, n_periods=periods, regions=ids, seed=1)
    if not kw:
        kw = {"coords": xy}
    t0 = time.perf_counter()
    res = GWHakenModel(df, "q1", "q2", **kw).fit()
    fit_s = time.perf_counter() - t0
    fit_mb = _peak_mb()
    t0 = time.perf_counter()
    test = res.nonstationarity_test(permutations, seed=1)
    test_s = time.perf_counter() - t0
    p = test.table.set_index("parameter")["p_value"]
    return {
        "fit_seconds": fit_s,
        "fit_peak_mb": fit_mb,
        "test_seconds": test_s,
        "peak_mb": _peak_mb(),
        "label": label,
        "n": len(df["region"].unique()),
        "bandwidths": dict(res.bandwidths),
        "corr": float(np.corrcoef(res.params["gamma1"], truth["gamma1"])[0, 1]),
        "p_gamma1": float(p["gamma1"]),
    }


def worker_run(config: str, out: str, report: bool) -> dict:
    import nqpspatial.cli as cli
    from nqpspatial import registry

    argv = ["run", config, "--out", out, "--force", "--quiet"] + ([] if report else ["--no-report"])
    have = registry.available("analyses")
    import contextlib

    with contextlib.ExitStack() as stack:
        if "sensitivity" not in have or "robustness" not in have:
            from nqpspatial.robustness import robustness_stage, sensitivity_stage

            stack.enter_context(registry.registered("analyses", "sensitivity", sensitivity_stage))
            stack.enter_context(registry.registered("analyses", "robustness", robustness_stage))
        code = cli.main(argv)
    info = json.loads((Path(out) / "run.json").read_text(encoding="utf-8"))
    stages = {s["name"]: round(s["seconds"], 2) for s in info["stages"]}
    return {"code": code, "peak_mb": _peak_mb(), "run_seconds": info["seconds"], "stages": stages}


# --------------------------------------------------------------------------- study folders
def _demo_study(folder: Path) -> Path:
    import tomllib

    from nqpspatial.pipeline import default_config_path

    src = default_config_path()
    cfg = src.read_text(encoding="utf-8")
    data = tomllib.loads(cfg)
    base = src.parent
    cfg = cfg.replace(f'panel = "{data["data"]["panel"]}"', f'panel = "{(base / data["data"]["panel"]).as_posix()}"')
    cfg = cfg.replace(
        f'indicators = "{data["data"]["indicators"]}"',
        f'indicators = "{(base / data["data"]["indicators"]).as_posix()}"',
    )
    # the demo run: 1,000 sensitivity draws and the robustness table (add the tables the bundled
    # study lacks; TOML refuses a table declared twice)
    if "sensitivity" not in data:
        cfg += "\n[sensitivity]\ndraws = 1000\n"
    elif data["sensitivity"].get("draws", 1000) != 1000:
        raise RuntimeError(f"{src}: [sensitivity] draws = {data['sensitivity']['draws']}, expected 1000")
    if "robustness" not in data:
        cfg += "\n[robustness]\n"
    path = folder / "demo_study.toml"
    path.write_text(cfg, encoding="utf-8")
    return path


def _county_study(folder: Path, periods: int = 20, seed: int = 1, zones: bool = True) -> tuple[Path, str]:
    """A synthetic county-scale study (demo-style dynamics on county or lattice contiguity).

    With ``zones`` (and the county layer) the counties take the eight zones through their province codes
    (``[regions] scheme = "eight-zones"``), so ``[zones]`` and ``split_by_zone`` run.
    """
    import numpy as np
    import pandas as pd

    from nqpspatial.demo.generate import INDICATORS, PARAMETERS

    rng = np.random.default_rng(seed)
    geometry_line = ""
    try:
        import nqpspatial.geodata as geodata
        from nqpspatial.plugins.weights import build_weights

        gdf = geodata.load_layer("counties")
        ids = list(gdf.index)
        sw = build_weights("queen", ids, geometry=gdf)
        import scipy.sparse as sp

        W = sp.csr_array(sw.graph.sparse)
        lon = gdf.geometry.representative_point().x.to_numpy()
        label = f"{len(ids)} counties (bundled layer, queen contiguity, islands linked)"
        geometry_line = '[geometry]\nsource = "counties"\n'
        if zones:
            geometry_line += '\n[regions]\nscheme = "eight-zones"\n\n[zones]\n'
    except Exception:  # noqa: BLE001 - no county layer: lattice
        import libpysal
        import scipy.sparse as sp

        w = libpysal.weights.lat2W(70, 41, rook=False)
        w.transform = "r"
        W = sp.csr_array(w.sparse)
        ids = [f"c{i:04d}" for i in range(70 * 41)]
        lon = np.tile(np.arange(41), 70).astype(float)
        label = "70 x 41 queen lattice (no county layer installed)"
    n = len(ids)
    p = PARAMETERS
    s = (lon - lon.min()) / (lon.max() - lon.min())
    q1 = np.empty((periods, n))
    q2 = np.empty((periods, n))
    q1[0] = (p["start_base"] + p["start_lon"] * s) * np.exp(rng.normal(0, p["start_sd"], n))
    q2[0] = p["b"] / p["gamma2"] * q1[0] ** 2 * np.exp(rng.normal(0, p["q2_start_sd"], n)) + p["q2_start_floor"]
    g1 = p["gamma1"] + rng.normal(0, p["region_sd1"], n)
    g2 = p["gamma2"] + rng.normal(0, p["region_sd2"], n)
    for t in range(periods - 1):
        e1 = np.exp(rng.normal(0, p["sigma1"], n) - p["sigma1"] ** 2 / 2)
        e2 = np.exp(rng.normal(0, p["sigma2"], n) - p["sigma2"] ** 2 / 2)
        q1[t + 1] = ((1 - g1) * q1[t] - p["a"] * q1[t] * q2[t] + p["theta1"] * (W @ q1[t])) * e1
        q2[t + 1] = ((1 - g2) * q2[t] + p["b"] * q1[t] ** 2 + p["theta2"] * (W @ q2[t])) * e2
        q1[t + 1] = np.clip(q1[t + 1], 0.005, 0.98)
        q2[t + 1] = np.clip(q2[t + 1], 0.005, 0.98)
    years = np.arange(2004, 2004 + periods)
    panel = pd.DataFrame({"region": np.repeat(ids, periods), "year": np.tile(years, n)})
    lat = {"NQP": q1.T.ravel(), "NTU": q2.T.ravel()}
    for _, r in INDICATORS.iterrows():
        x = lat[r["subsystem"]]
        level = np.exp(rng.normal(0, 1))
        power = rng.uniform(0.8, 1.3)
        noise = np.exp(rng.normal(0, 0.05 * 0.3, len(x)))
        v = level * (0.05 + x) ** power * noise
        panel[r["indicator"]] = v if r["direction"] in ("+", 1) else 1.0 / v
    panel.to_csv(folder / "county_panel.csv", index=False)
    INDICATORS.to_csv(folder / "county_indicators.csv", index=False)
    cfg = (
        f'name = "county-scale benchmark (synthetic)"\n\n[data]\npanel = "county_panel.csv"\n'
        f'indicators = "county_indicators.csv"\nsynthetic = true\n\n{geometry_line}\n'
        '[haken]\norder = "auto"\n\n[spatial]\nweights = ["queen"]\n\n'
        '[spatial_haken]\nmodels = ["slx", "sar"]\nweights = ["queen"]\n'
        + ("split_by_zone = true\n\n" if "[zones]" in geometry_line else "\n")
        + '[sensitivity]\ndraws = 1000\n\n[robustness]\nmodels = ["slx", "sar"]\n\n[run]\nseed = 1\n'
    )
    path = folder / "county_study.toml"
    path.write_text(cfg, encoding="utf-8")
    return path, label


def _toolkit_study(folder: Path, county: bool) -> tuple[Path, str]:
    """The toolkit stages ([centres], [detector], [network] at their defaults) on the demo or the county panel."""
    tools = "\n[centres]\n\n[detector]\n\n[network]\n"
    if county:
        path, label = _county_study(folder)
        text = path.read_text(encoding="utf-8")
        head = text.split("[haken]")[0]
        cfg = head + '[haken]\norder = "auto"\nbootstrap = 0\nbreak_bootstrap = 0\n' + tools + "\n[run]\nseed = 1\n"
        out = folder / "toolkit_county.toml"
    else:
        src = _demo_study(folder).read_text(encoding="utf-8")
        keep = src.split("[haken]")[0]
        data = keep.split("[regions]")[0]
        cfg = data + '[haken]\norder = "auto"\n' + tools + "\n[run]\nseed = 20250801\n"
        label = "31 provinces (demo)"
        out = folder / "toolkit_demo.toml"
    out.write_text(cfg, encoding="utf-8")
    return out, label


def _toolkit(tab, tmp: Path, me: str, county: bool, timeout: float):
    cfg, label = _toolkit_study(tmp, county)
    size = ("2848 x 20" if "2848" in label else "2870 x 20") if county else "31 x 10"
    try:
        r, wall = _sub(
            [PY, me, "--worker", "run", str(cfg), str(tmp / ("tk_county" if county else "tk_demo")), "noreport"],
            timeout=timeout,
        )
    except RuntimeError as exc:
        tab.add(
            "toolkit run (--no-report)",
            size,
            timeout,
            None,
            None,
            unit="s",
            note=f"{label}; FAILED: {str(exc).splitlines()[0][:200]}",
        )
        return
    notes = {
        "centres": "centres and ellipses of the indices and h, every year",
        "detector": "h by 30 indicators, every year, optimal discretization",
        "network": "network of h every year; links, centralities, CONCOR and QAP (999 permutations) in the last year",
    }
    for stage in ("centres", "detector", "network"):
        tab.add(
            f"toolkit [{stage}] stage",
            size,
            r["stages"].get(stage, float("nan")),
            None,
            60.0 if county else None,
            unit="s",
            ours_mb=r["peak_mb"],
            note=f"{label}; {notes[stage]}",
        )
    tab.add(
        "toolkit run (--no-report), fresh process",
        size,
        wall,
        None,
        None,
        unit="s",
        ours_mb=r["peak_mb"],
        note=f"{label}; with the Haken stage (no bootstrap) for h",
    )


# --------------------------------------------------------------------------- driver
class Table:
    def __init__(self):
        self.rows = []

    def add(self, case, size, ours, base=None, target=None, unit="x", ours_mb=None, base_mb=None, note=""):
        ratio = base / ours if (base is not None and ours) else None
        if target is None:
            met = ""
        elif unit == "x":
            met = "yes" if ratio is not None and ratio >= target else "NO"
        else:  # a budget in seconds
            met = "yes" if ours <= target else "NO"
        row = {
            "case": case,
            "size": size,
            "nqpspatial_s": ours,
            "baseline_s": base,
            "ratio": ratio,
            "target": (f">={target:g}x" if unit == "x" else f"<{target:g} s") if target else "",
            "met": met,
            "peak_mb": ours_mb,
            "baseline_peak_mb": base_mb,
            "note": note,
        }
        self.rows.append(row)
        print(self._fmt(row), flush=True)
        return row

    @staticmethod
    def header():
        return (
            f"{'case':<44}{'size':>14}{'ours s':>9}{'PySAL s':>9}{'ratio':>8}{'target':>10}{'met':>5}"
            f"{'peak MB':>9}{'PySAL MB':>9}  note"
        )

    @staticmethod
    def _fmt(r):
        def f(v, d=2):
            return "-" if v is None else f"{v:.{d}f}"

        return (
            f"{r['case']:<44}{r['size']:>14}{f(r['nqpspatial_s']):>9}{f(r['baseline_s']):>9}"
            f"{(f(r['ratio'], 1) + 'x') if r['ratio'] else '-':>8}{r['target']:>10}{r['met']:>5}"
            f"{f(r['peak_mb'], 0):>9}{f(r['baseline_peak_mb'], 0):>9}  {r['note']}"
        )

    def write(self, out: Path, command: str):
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.with_suffix(".csv"), "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.rows[0]))
            w.writeheader()
            w.writerows(self.rows)
        lines = [
            f"Command: `{command}`  ",
            f"Date: {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} CPUs (shared), Python {sys.version.split()[0]}",
            "",
            "| case | size | nqpspatial s | PySAL s | ratio | target | met | peak MB | PySAL peak MB | note |",
            "| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |",
        ]

        def f(v, d=2):
            return "" if v is None else f"{v:.{d}f}"

        for r in self.rows:
            lines.append(
                f"| {r['case']} | {r['size']} | {f(r['nqpspatial_s'])} | {f(r['baseline_s'])} | "
                f"{(f(r['ratio'], 1) + 'x') if r['ratio'] else ''} | {r['target']} | {r['met']} | "
                f"{f(r['peak_mb'], 0)} | {f(r['baseline_peak_mb'], 0)} | {r['note']} |"
            )
        out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _moran(tab, sizes, perms, repeats):
    periods = {31: 10, 2870: 20, 100000: 5}
    script = str(HERE / "bench_moran.py")

    def run(impl, stat, n, reps, warm):
        cmd = [
            PY,
            script,
            "--worker",
            "--impl",
            impl,
            "--stat",
            stat,
            "--n",
            str(n),
            "--periods",
            str(periods[n]),
            "--permutations",
            str(perms),
            "--repeats",
            str(reps),
        ] + (["--warm"] if warm else [])
        return _sub(cmd)[0]

    for n in sizes:
        T = periods[n]
        cases = [("global Moran, 999 perms, steady", "global", False, "steady", 3.0 if n >= 2870 else None)]
        if n <= 2870:
            cases.append(("local Moran, 999 perms, fresh process", "local", False, "first", 10.0))
        cases.append(("local Moran, 999 perms, steady", "local", True, "steady", 5.0 if n >= 100000 else None))
        for label, stat, warm, key, target in cases:
            fresh = key == "first"
            reps_ours = 1 if fresh else repeats
            reps_esda = 1 if fresh or (n >= 100000 and stat == "local") else repeats
            ours = run("ours", stat, n, reps_ours, warm)
            ref = run("esda", stat, n, reps_esda, warm)
            tab.add(
                label.replace("999", str(perms)),
                f"{n} x {T}",
                ours[key],
                ref[key],
                target,
                ours_mb=ours["peak_mb"],
                base_mb=ref["peak_mb"],
                note=f"esda loop over periods; {ours['label']}",
            )


def _sar(tab, n, large, repeats):
    script = str(HERE / "bench_sar.py")
    ours = [_sub([PY, script, "--worker", "ours", str(n), "10"])[0] for _ in range(repeats)]
    ref = [_sub([PY, script, "--worker", "spreg", str(n), "10"])[0] for _ in range(repeats)]
    to = statistics.median(r["seconds"] for r in ours)
    ts = statistics.median(r["seconds"] for r in ref)
    mo = statistics.median(r["peak_mb"] for r in ours)
    ms = statistics.median(r["peak_mb"] for r in ref)
    tab.add(
        "SAR-Haken, region effects (both equations)",
        f"{n} x 10",
        to,
        ts,
        3.0 if n >= 2870 else None,
        ours_mb=mo,
        base_mb=ms,
        note=f"spreg ML_LagFE; memory ratio {ms / mo:.1f}x (target >= 3x)",
    )
    if large:
        r = _sub([PY, script, "--worker", "ours", str(large), "10"])[0]
        tab.add(
            "SAR-Haken, region effects, ours only",
            f"{large} x 10",
            r["seconds"],
            None,
            None,
            ours_mb=r["peak_mb"],
            note=f"within 4 GB: {'yes' if r['peak_mb'] < 4096 else 'NO'}",
        )


def worker_chromium(html: str, repeats: int = 3) -> dict:
    """Open report.html in headless Chromium: seconds until the first frame after the load event with
    the interactive map drawn (median of ``repeats`` fresh pages), and of a period change."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(HERE.parent / "tests"))
    from _chromium import FLAGS, find_chromium

    exe = find_chromium()
    url = Path(html).resolve().as_uri()
    drawn = "() => { const c = document.getElementById('nqp-canvas'); return !c || c.getAttribute('data-drawn'); }"
    frame = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
    redraw = """() => { const s = document.getElementById('nqp-period'); if (!s) { return null; }
        const t = performance.now(); s.value = '0'; s.dispatchEvent(new Event('input'));
        return new Promise(r => requestAnimationFrame(
            () => requestAnimationFrame(() => r(performance.now() - t)))); }"""
    loads, redraws, errors = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=FLAGS)
        try:
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url, wait_until="load", timeout=300_000)
                page.wait_for_function(drawn, timeout=300_000)
                loads.append(page.evaluate(frame) / 1000.0)
                redraws.append(page.evaluate(redraw))
                page.close()
        finally:
            browser.close()
    return {
        "load_s": statistics.median(loads),
        "redraw_ms": statistics.median([r for r in redraws if r is not None] or [float("nan")]),
        "errors": errors[:3],
        "peak_mb": _peak_mb(),
    }


def _worker(kind, *rest) -> dict:
    """Run one measurement in this (fresh) process."""
    if kind == "chromium":
        return worker_chromium(rest[0])
    if kind == "bootstrap":
        return worker_bootstrap(rest[0], int(rest[1]))
    if kind == "sensitivity":
        return worker_sensitivity(int(rest[0]))
    if kind == "wild":
        return worker_wild(rest[0], int(rest[1]), int(rest[2]))
    if kind == "gwhaken":
        return worker_gwhaken(int(rest[0]), int(rest[1]))
    if kind == "contiguity":
        return worker_contiguity()
    return worker_run(rest[0], rest[1], rest[2] == "report")


def worker_contiguity() -> dict:
    """Queen contiguity of the county layer: libpysal ``Graph.build_contiguity`` and ours, and whether they agree."""
    import numpy as np
    import scipy.sparse as sp
    from libpysal.graph import Graph

    import nqpspatial.geodata as geodata
    from nqpspatial.spatial._geometry import vertex_contiguity

    gs = geodata.load_layer("counties").geometry.reset_index(drop=True)
    t0 = time.perf_counter()
    i, j = vertex_contiguity(gs, rook=False)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    mat = sp.csr_array(Graph.build_contiguity(gs, rook=False).sparse)
    base = time.perf_counter() - t0
    ri, rj = mat.nonzero()
    order = np.lexsort((rj, ri))
    same = bool(np.array_equal(i, ri[order]) and np.array_equal(j, rj[order]))
    return {"ours": ours, "base": base, "same": same, "links": int(len(i)), "n": int(len(gs)), "peak_mb": _peak_mb()}


def _stage_note(r: dict, top: int = 5) -> str:
    slow = sorted(r["stages"].items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v:.1f}s" for k, v in slow)


def _county_rows(tab, tmp: Path, me: str, timeout: float, repeats: int = 1) -> None:
    """Issue 19: the county study (eight zones through the province codes) without and with the report.

    With ``repeats`` > 1 each run is repeated in fresh processes: the row gives the median wall time (the
    stage note is that run's) and the largest peak memory, and the note lists every wall time.  Each
    run writes a new output folder (the previous one is removed outside the timed process).
    """
    cfg, label = _county_study(tmp)
    size = "2848 x 20" if "2848" in label else "2870 x 20"
    for report, budget in ((False, 30.0), (True, 60.0)):
        case = f"county-scale run ({'with report' if report else '--no-report'}), fresh process"
        runs = []
        try:
            for _ in range(max(1, int(repeats))):
                shutil.rmtree(tmp / "county_out", ignore_errors=True)  # every repeat writes a new folder
                runs.append(
                    _sub(
                        [PY, me, "--worker", "run", str(cfg), str(tmp / "county_out")]
                        + ["report" if report else "noreport"],
                        timeout=timeout,
                    )
                )
        except RuntimeError as exc:
            tab.add(case, size, float(timeout), None, budget, unit="s", note=f"{label}; FAILED: {str(exc)[:200]}")
            continue
        walls = [w for _, w in runs]
        r, wall = sorted(runs, key=lambda x: x[1])[(len(runs) - 1) // 2] if len(runs) > 1 else runs[0]
        wall = statistics.median(walls)
        peak = max(x["peak_mb"] for x, _ in runs)
        mem = "" if report else f"; within 1 GB: {'yes' if peak < 1024 else 'NO'}"
        rep = f"; median of {len(runs)}: " + ", ".join(f"{w:.1f}" for w in walls) + " s" if len(runs) > 1 else ""
        tab.add(case, size, wall, None, budget, unit="s", ours_mb=peak, note=f"{label}{mem}{rep}; {_stage_note(r)}")
        if report:
            _report_rows(tab, tmp / "county_out", size, label, me, 5.0)
        (tmp / f"county_stages_{'report' if report else 'noreport'}.json").write_text(json.dumps(r), encoding="utf-8")


def _report_rows(tab, out: Path, size: str, label: str, me: str, budget: float | None) -> None:
    """Issue 19, item 4: the report stage's seconds, report.html's size and its load time in Chromium."""
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    rep = next((s for s in info["stages"] if s["name"] == "report"), None)
    if rep is None or not (out / "report.html").exists():
        tab.add("report stage", size, float("nan"), note=f"{label}; no report written")
        return
    sec = rep["info"].get("section_seconds", {})
    html_mb = (out / "report.html").stat().st_size / 1e6
    gpkg = out / "regions.gpkg"
    gpkg_note = f", regions.gpkg {sec.get('regions.gpkg', float('nan')):.1f}s" + (
        f" ({gpkg.stat().st_size / 1e6:.0f} MB)" if gpkg.exists() else ""
    )
    tab.add(
        "report stage (figures, html, docx, latex, gpkg)",
        size,
        rep["seconds"],
        None,
        None,
        unit="s",
        note=f"{label}; report.html {html_mb:.1f} MB ({rep['info'].get('map', 'svg')} map, "
        f"{sec.get('map', float('nan')):.1f}s); report.docx {sec.get('report.docx', float('nan')):.1f}s" + gpkg_note,
    )
    tab.add("report.html size (MB)", size, html_mb, None, None, unit="s", note=f"{rep['info'].get('bytes')} bytes")
    try:
        r, _ = _sub([PY, me, "--worker", "chromium", str(out / "report.html")], timeout=900)
    except RuntimeError as exc:  # no chromium or playwright: say so
        tab.add("report.html opens in Chromium", size, float("nan"), None, budget, unit="s", note=str(exc)[:200])
        return
    tab.add(
        "report.html opens in Chromium (map drawn)",
        size,
        r["load_s"],
        None,
        budget,
        unit="s",
        note=f"headless chromium, median of 3 loads; period change {r['redraw_ms']:.0f} ms"
        + (f"; page errors: {r['errors']}" if r["errors"] else ""),
    )


def _report_study(folder: Path, regions: int | None) -> tuple[Path, str, str]:
    """The report benchmark's study: the county panel (``regions`` None) or the synthetic large study."""
    head_haken = (
        '[haken]\norder = "auto"\nbootstrap = 99\nbootstrap_scheme = "region"\nbreak_bootstrap = 0\n\n'
        '[spatial]\nweights = ["queen"]\npermutations = 99\n\n'
    )
    if regions is None:
        path, label = _county_study(folder)
        head = path.read_text(encoding="utf-8").split("[haken]")[0]
        cfg = head + head_haken
        if "[zones]" in head:
            cfg += '[spatial_haken]\nmodels = ["slx", "sar"]\nweights = ["queen"]\nsplit_by_zone = true\n\n'
        cfg += '[sensitivity]\ndraws = 200\n\n[robustness]\nmodels = ["slx"]\nspecifications = false\n'
        cfg += "spatial_draws = 50\n\n[run]\nseed = 1\n"
        out = folder / "report_county.toml"
        out.write_text(cfg, encoding="utf-8")
        return out, label, ("2848 x 20" if "2848" in label else "2870 x 20")
    from nqpspatial.demo import levels

    sub = folder / f"synthetic_{regions}"
    levels.write_synthetic(sub, regions, seed=20250801)
    head = (sub / "study.toml").read_text(encoding="utf-8").split("[haken]")[0]
    zones = '[zones]\nclusters = 8\ncluster_methods = ["ward", "kmeans"]\n\n' if regions <= 20_000 else ""
    cfg = head + head_haken + '[regions]\nscheme = "zones.csv"\n\n' + zones + "[run]\nseed = 20250801\n"
    out = sub / "report_study.toml"
    out.write_text(cfg, encoding="utf-8")
    return out, f"synthetic lattice study ({regions} regions, 10 periods)", f"{regions} x 10"


def _report_bench(tab, tmp: Path, me: str, timeout: float, sizes) -> None:
    """Issue 19, item 4: the report at county scale and on the synthetic large study."""
    for regions in [None, *sizes]:
        cfg, label, size = _report_study(tmp, regions)
        out = tmp / f"report_out_{regions or 'county'}"
        try:
            r, wall = _sub([PY, me, "--worker", "run", str(cfg), str(out), "report"], timeout=timeout)
        except RuntimeError as exc:
            tab.add("report stage", size, float("nan"), note=f"{label}; FAILED: {str(exc)[:200]}")
            continue
        _report_rows(
            tab,
            out,
            size,
            f"{label}; whole run {wall:.0f}s, peak {r['peak_mb']:.0f} MB",
            me,
            5.0 if regions is None else None,
        )


def _sdm_row(tab, tmp: Path, me: str, timeout: float) -> None:
    """Issue 19: SDM-Haken with split_by_zone and 1,000 effect draws at county scale (the stage's seconds)."""
    cfg, label = _county_study(tmp)
    text = cfg.read_text(encoding="utf-8")
    head = text.split("[haken]")[0]
    sdm = head + (
        '[haken]\norder = "auto"\nbootstrap = 0\nbreak_bootstrap = 0\n\n'
        '[spatial_haken]\nmodels = ["sdm"]\nweights = ["queen"]\nsplit_by_zone = true\n\n[run]\nseed = 1\n'
    )
    sdm = sdm.replace("\n[zones]\n", "\n")
    path = tmp / "county_sdm.toml"
    path.write_text(sdm, encoding="utf-8")
    r, _ = _sub([PY, me, "--worker", "run", str(path), str(tmp / "sdm_out"), "noreport"], timeout=timeout)
    tab.add(
        "SDM-Haken, split_by_zone, 1,000 effect draws",
        "2848 x 20" if "2848" in label else "2870 x 20",
        r["stages"].get("spatial_haken", float("nan")),
        None,
        30.0,
        unit="s",
        ours_mb=r["peak_mb"],
        note="seconds of the [spatial_haken] stage (run.json); " + _stage_note(r, 3),
    )


def _gwhaken(tab, me):
    """Issue 18: GW-Haken on the county layer, 10 periods: search and fits; the permutation test."""
    r = _sub([PY, me, "--worker", "gwhaken", "10", "99"])[0]
    size = f"{r['n']} x 10"
    tab.add(
        "GW-Haken: bandwidth search and fits (2 equations)",
        size,
        r["fit_seconds"],
        None,
        300.0,
        unit="s",
        ours_mb=r["fit_peak_mb"],
        note=f"{r['label']}; within 4 GB: {'yes' if r['fit_peak_mb'] < 4096 else 'NO'}"
        f"; bandwidths {r['bandwidths']['q1']:g}/{r['bandwidths']['q2']:g}; corr(gamma1) {r['corr']:.3f}",
    )
    tab.add(
        "GW-Haken: non-stationarity test, 99 permutations",
        size,
        r["test_seconds"],
        None,
        None,
        ours_mb=r["peak_mb"],
        note=f"no PySAL equivalent (mgwr has no panel form); p(gamma1) {r['p_gamma1']:.2f}",
    )


def _study_runs(tab, tmp: Path, me: str, args, only: set, quick: bool) -> None:
    """The whole-run benchmarks (demo, county, SDM, contiguity, toolkit, report) in the folder ``tmp``."""
    if "demo" in only:
        cfg = _demo_study(tmp)
        for report, budget in ((False, 20.0), (True, 60.0)):
            if quick and report:
                continue
            r, wall = _sub(
                [PY, me, "--worker", "run", str(cfg), str(tmp / "demo_out"), "report" if report else "noreport"]
            )
            slow = sorted(r["stages"].items(), key=lambda kv: -kv[1])[:3]
            tab.add(
                f"demo run ({'with report' if report else '--no-report'}), fresh process",
                "31 x 10",
                wall,
                None,
                budget,
                unit="s",
                ours_mb=r["peak_mb"],
                note="slowest stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in slow),
            )
    if "county" in only and not quick:
        _county_rows(tab, tmp, me, args.county_timeout, args.repeats)
    if "sdm" in only and not quick:
        _sdm_row(tab, tmp, me, args.county_timeout)
    if "contiguity" in only:
        r, _ = _sub([PY, me, "--worker", "contiguity"])
        tab.add(
            "queen contiguity of the county layer",
            f"{r['n']} regions",
            r["ours"],
            r["base"],
            None,
            ours_mb=r["peak_mb"],
            note=f"libpysal Graph.build_contiguity; identical links: {'yes' if r['same'] else 'NO'} ({r['links']})",
        )
    if "toolkit" in only:
        _toolkit(tab, tmp, me, False, args.county_timeout)
        if not quick:
            _toolkit(tab, tmp, me, True, args.county_timeout)
    if "report" in only and not quick:
        report_sizes = [int(x) for x in args.report_sizes.split(",") if x.strip()]
        _report_bench(tab, tmp, me, args.county_timeout, report_sizes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and loops (a few minutes)")
    ap.add_argument("--sizes", default=None, help="Moran sizes, comma-separated from 31, 2870, 100000")
    ap.add_argument(
        "--only",
        default=None,
        help="comma-separated subset of moran, sar, bootstrap, sensitivity, gwhaken, demo, county, sdm, contiguity, "
        "toolkit, report",
    )
    ap.add_argument(
        "--report-sizes",
        default="10000,100000",
        help="regions of the synthetic studies of the report benchmark (comma-separated; '' for none)",
    )
    ap.add_argument("--out", default="benchmark-results", help="output file stem (.md and .csv)")
    ap.add_argument("--county-timeout", type=float, default=900.0, help="seconds before the county run is stopped")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each county case (the row gives the median)")
    ap.add_argument("--keep", default=None, help="folder to keep the generated study folders in")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return 0
    quick = args.quick
    only = set(
        (args.only or "moran,sar,bootstrap,sensitivity,gwhaken,demo,county,sdm,contiguity,toolkit,report").split(",")
    )
    sizes = [int(s) for s in (args.sizes or ("31,2870" if quick else "31,2870,100000")).split(",")]
    command = "python benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(
        f"nqpspatial benchmarks ({'quick' if quick else 'full'}); machine: {os.cpu_count()} CPUs, shared "
        "with other users (noisy timings)"
    )
    print(Table.header())
    tab = Table()
    me = str(Path(__file__).resolve())
    if "moran" in only:
        _moran(tab, sizes, 999, 2 if quick else 3)
    if "sar" in only:
        _sar(tab, 900 if quick else 2870, 0 if quick else 10000, 1 if quick else 3)
    if "bootstrap" in only:
        B = 999 if quick else 9999
        ours = _sub([PY, me, "--worker", "bootstrap", "ours", str(B)])[0]
        loop = _sub([PY, me, "--worker", "bootstrap", "loop", str(B)])[0]
        tab.add(
            f"cluster bootstrap, {B} resamples",
            "31 x 10",
            ours["seconds"],
            loop["seconds"],
            20.0,
            ours_mb=ours["peak_mb"],
            base_mb=loop["peak_mb"],
            note=f"statsmodels loop; ours under 2 s: {'yes' if ours['seconds'] < 2 else 'NO'}",
        )
        ours = _sub([PY, me, "--worker", "wild", "ours", "999", "3"])[0]
        prev = _sub([PY, me, "--worker", "wild", "previous", "999", "1"])[0]
        tab.add(
            "wild-year bootstrap, one HakenModel.fit, 999 resamples",
            f"2848 x 20 ({ours['rows']} rows)",
            ours["seconds"],
            prev["seconds"],
            10.0,
            ours_mb=ours["peak_mb"],
            base_mb=prev["peak_mb"],
            note=f"previous implementation (tests/_wild_reference.py, one fit); first fit in a fresh process "
            f"{ours['first']:.1f} s",
        )
    if "sensitivity" in only:
        r = _sub([PY, me, "--worker", "sensitivity", "10000"])[0]
        tab.add(
            "weight sensitivity, 10,000 draws, whole chain",
            "31 x 10",
            r["seconds"],
            None,
            10.0,
            unit="s",
            ours_mb=r["peak_mb"],
            note=f"no PySAL equivalent; verdict share {r['verdict_share']:.3f}",
        )
    if "gwhaken" in only:
        _gwhaken(tab, me)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(args.keep) if args.keep else Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        _study_runs(tab, tmp, me, args, only, quick)
    tab.write(Path(args.out), command)
    print(f"\nwritten: {Path(args.out).with_suffix('.md')} and .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
