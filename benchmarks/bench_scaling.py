"""Per-stage cost of the whole pipeline against the number of regions (issue 19).

For each size N the synthetic study of ``python -m nqpspatial.demo.generate --level synthetic --regions N``
(a jittered lattice of N regions, a zone scheme, 10 periods from the demo's Haken design) runs in a fresh
process with its defaults and ``--no-report``; the stage seconds come from ``run.json`` and the peak memory is
the process's maximum resident set size (``stage_max_rss_mb``: its value when each stage ended, from
``run.json``, so the stage where it rises set the peak).  Writes ``benchmarks/results/scaling.csv`` and a
log-log plot with each stage's fitted slope (``docs/images/scaling.png``)::

    python benchmarks/bench_scaling.py --sizes 1000,3000,10000,30000,100000
    python benchmarks/bench_scaling.py --plot-only          # redraw from the CSV

Timings on a shared machine are noisy; a slope is the least-squares slope of log seconds on log N over the
sizes measured (stages under 0.05 s everywhere are left out of the plot).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSV = HERE / "results" / "scaling.csv"
PNG = HERE.parent / "docs" / "images" / "scaling.png"
PY = sys.executable


def _run_one(n: int, folder: Path, timeout: float) -> dict:
    subprocess.run(
        [PY, "-P", "-m", "nqpspatial.demo.generate", "--level", "synthetic", "--regions", str(n), "--out", str(folder)],
        check=True,
        capture_output=True,
    )
    out = folder / "out"
    code = (
        "import json, resource, sys, nqpspatial.cli as cli\n"
        f"rc = cli.main(['run', {str(folder / 'study.toml')!r}, '--out', {str(out)!r}, '--force', '--quiet', "
        "'--no-report'])\n"
        "print(json.dumps({'rc': rc, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-P", "-c", code], capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{n} regions: the run failed:\n{proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {
        "regions": n,
        "wall": wall,
        "peak_mb": info["peak_mb"],
        "stages": {s["name"]: s["seconds"] for s in run["stages"] if s.get("status", "ok") == "ok"},
        "rss": {s["name"]: s.get("max_rss_mb") for s in run["stages"] if s.get("status", "ok") == "ok"},
    }


def _write(rows: list[dict]) -> None:
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with CSV.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["regions", "stage", "seconds", "peak_mb", "wall", "stage_max_rss_mb"])
        for r in rows:
            for stage, sec in r["stages"].items():
                rss = r.get("rss", {}).get(stage)
                w.writerow(
                    [
                        r["regions"],
                        stage,
                        f"{sec:.3f}",
                        f"{r['peak_mb']:.0f}",
                        f"{r['wall']:.1f}",
                        "" if rss is None else f"{rss:.0f}",
                    ]
                )


def _read() -> list[dict]:
    rows: dict[int, dict] = {}
    with CSV.open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            n = int(rec["regions"])
            r = rows.setdefault(
                n, {"regions": n, "wall": float(rec["wall"]), "peak_mb": float(rec["peak_mb"]), "stages": {}}
            )
            r["stages"][rec["stage"]] = float(rec["seconds"])
            if rec.get("stage_max_rss_mb"):
                r.setdefault("rss", {})[rec["stage"]] = float(rec["stage_max_rss_mb"])
    return [rows[n] for n in sorted(rows)]


def slopes(rows: list[dict]) -> dict[str, float]:
    """Least-squares slope of log seconds on log regions, per stage measured at two sizes or more."""
    import numpy as np

    out = {}
    stages = sorted({s for r in rows for s in r["stages"]})
    for s in stages:
        pts = [(r["regions"], r["stages"][s]) for r in rows if r["stages"].get(s, 0) > 0.05]
        if len(pts) >= 2:
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            out[s] = float(np.polyfit(x, y, 1)[0])
    return out


def plot(rows: list[dict]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sl = slopes(rows)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    stages = sorted({s for r in rows for s in r["stages"]}, key=lambda s: -max(r["stages"].get(s, 0) for r in rows))
    for s in stages:
        pts = [(r["regions"], r["stages"][s]) for r in rows if r["stages"].get(s, 0) > 0.05]
        if pts:
            slope = f"slope {sl[s]:.2f}" if s in sl else "one size"
            ax.plot(*zip(*pts), marker="o", label=f"{s} ({slope})")
    ns = [r["regions"] for r in rows]
    if len(ns) >= 2:
        ax.plot(ns, [0.1 * n / ns[0] for n in ns], "k--", lw=0.8, label="slope 1 (linear), for reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("regions (10 periods)")
    ax.set_ylabel("stage seconds (run.json)")
    ax.set_title("Per-stage cost of the synthetic study, --no-report")
    ax.legend(fontsize=7, ncol=2)
    PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(PNG, dpi=110)
    return PNG


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.plot_only:
        rows = _read() if CSV.exists() else []  # other sizes measured before are kept
        with tempfile.TemporaryDirectory() as tmp:
            for n in (int(s) for s in args.sizes.split(",")):
                r = _run_one(n, Path(tmp) / f"s{n}", args.timeout)
                rows = sorted([x for x in rows if x["regions"] != n] + [r], key=lambda x: x["regions"])
                print(json.dumps(r), flush=True)
                _write(rows)
    rows = _read()
    print("slopes:", json.dumps({k: round(v, 2) for k, v in slopes(rows).items()}))
    print("written:", plot(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
