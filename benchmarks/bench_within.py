"""Haken fits with fixed effects at scale: the ``[robustness]`` stage and one two-way, bias-corrected fit.

Measures, for synthetic studies of N regions x 10 periods (``python -m nqpspatial.demo.generate --level
synthetic --regions N``) and the county-scale study (2,848 counties x 20 years, ``run_all._county_study``):

* the ``[robustness]`` stage's seconds in a pipeline run with its defaults (``--no-report``; the study keeps
  ``[data]``, ``[geometry]``, ``[weighting]``, ``[regions]`` and ``[run]``, with ``[haken] bootstrap = 0``);
* the same stage's aspatial variants alone (``robustness_table`` without the spatial models: baseline,
  sub-periods, rolling windows, zones, the specifications with the analytic correction);
* one ``HakenModel(effects="two-way").fit(bootstrap=0, correction="analytic")`` on the run's indices
  (seconds and the process's peak memory).

Each measurement runs in a fresh process; ``--code DIR`` runs them on another checkout (a folder holding
``nqpspatial`` with ``plugins`` and ``geodata`` inside, e.g. an export of an older commit) to compare before
and after.  Writes ``benchmarks/results/within.csv`` (appends)::

    python benchmarks/bench_within.py --sizes 1000,county,10000
    python benchmarks/bench_within.py --sizes 1000 --code /tmp/old --label before

A dummy-column fit (the estimator before 0.2's within transformation) of a design over ``--max-dense-gb``
is not attempted (its rows x regions matrix alone would not fit); the row records why.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSV = HERE / "results" / "within.csv"
PY = sys.executable
KEEP = ("data", "geometry", "weighting", "regions", "run")
FIELDS = ["label", "study", "regions", "periods", "what", "seconds", "peak_mb", "note"]

FIT = """
import json, resource, time, warnings
import pandas as pd
from nqpspatial.haken import HakenModel
ind = pd.read_csv({path!r}, encoding="utf-8-sig")
warnings.simplefilter("ignore")
t0 = time.perf_counter()
res = HakenModel(ind, "NQP", "NTU", effects="two-way").fit(bootstrap=0, correction="analytic")
sec = time.perf_counter() - t0
print(json.dumps({{"seconds": sec, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "gamma2": float(res.params["gamma2"])}}))
"""

ASPATIAL = """
import json, resource, time, warnings
import pandas as pd
from nqpspatial.robustness.table import robustness_table
ind = pd.read_csv({path!r}, encoding="utf-8-sig")
if {county!r}:
    from nqpspatial import registry
    scheme = registry.get("schemes", "eight-zones").load(list(pd.unique(ind["region"])))
else:
    scheme = pd.read_csv({zones!r}, comment="#").set_index("region")["group"]
warnings.simplefilter("ignore")
t0 = time.perf_counter()
res = robustness_table(ind, ["NQP", "NTU"], scheme=scheme, graphs={{}}, seed=1)
sec = time.perf_counter() - t0
print(json.dumps({{"seconds": sec, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": len(res.table)}}))
"""


def _sections(text: str) -> dict:
    """Top-level TOML tables of a study file as text blocks (name -> block)."""
    out, name, lines = {}, None, []
    for line in text.splitlines():
        if line.startswith("[") and not line.startswith("[["):
            if name is not None:
                out[name] = "\n".join(lines)
            name, lines = line.strip("[] \t"), [line]
        elif name is not None:
            lines.append(line)
    if name is not None:
        out[name] = "\n".join(lines)
    return out


def _study(size: str, folder: Path, env: dict, stage: bool = True) -> tuple[Path, int, int]:
    """The reduced study file of one size: (path, regions, periods)."""
    if size == "county":
        code = (
            f"import sys; sys.path.insert(0, {str(HERE)!r}); from pathlib import Path; import run_all; "
            f"print(run_all._county_study(Path({str(folder)!r}))[0])"
        )
        src = Path(
            subprocess.run([PY, "-P", "-c", code], check=True, capture_output=True, text=True, env=env)
            .stdout.strip()
            .splitlines()[-1]
        )
        regions, periods = 2848, 20
    else:
        subprocess.run(
            [
                PY,
                "-P",
                "-m",
                "nqpspatial.demo.generate",
                "--level",
                "synthetic",
                "--regions",
                size,
                "--out",
                str(folder),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        src, regions, periods = folder / "study.toml", int(size), 10
    parts = _sections(src.read_text(encoding="utf-8"))
    text = "\n\n".join(parts[k] for k in KEEP if k in parts)
    text += '\n\n[haken]\norder = "auto"\nbootstrap = 0\nbreak_bootstrap = 0\n' + ("\n[robustness]\n" if stage else "")
    path = folder / "within_study.toml"
    path.write_text(text, encoding="utf-8")
    return path, regions, periods


def _measure(size: str, label: str, env: dict, timeout: float, max_dense_gb: float, stage: bool = True) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_within_") as tmp:
        folder = Path(tmp)
        study, n, T = _study(size, folder, env, stage)
        out = folder / "out"
        base = {"label": label, "study": "county" if size == "county" else "synthetic", "regions": n, "periods": T}
        code = (
            "import json, resource, nqpspatial.cli as cli\n"
            f"rc = cli.main(['run', {str(study)!r}, '--out', {str(out)!r}, '--force', '--quiet', '--no-report'])\n"
            "print(json.dumps({'rc': rc, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
        )
        try:
            p = subprocess.run([PY, "-P", "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
            info = json.loads(p.stdout.strip().splitlines()[-1])
            run = json.loads((out / "run.json").read_text(encoding="utf-8"))
            sec = {s["name"]: s.get("seconds") for s in run["stages"]}
            rows.append(
                {
                    **base,
                    "what": "robustness stage" if stage else "pipeline without [robustness]",
                    "seconds": sec.get("robustness"),
                    "peak_mb": info["peak_mb"],
                    "note": f"pipeline rc {info['rc']}; haken stage {sec.get('haken')}",
                }
            )
        except subprocess.TimeoutExpired:
            rows.append({**base, "what": "robustness stage", "note": f"did not finish within {timeout:.0f} s"})
            return rows
        dense_gb = (n * (T - 1)) * (n + T) * 8 / 1e9
        if label == "before" and dense_gb > max_dense_gb:
            rows.append(
                {
                    **base,
                    "what": "HakenModel two-way analytic fit",
                    "note": f"not attempted: the dummy-column design alone is {dense_gb:.1f} GB",
                }
            )
            return rows
        asp = ASPATIAL.format(
            path=str(out / "tables" / "indices.csv"), county=size == "county", zones=str(folder / "zones.csv")
        )
        t0 = time.perf_counter()
        what = "robustness aspatial variants (robustness_table, no spatial models)"
        try:
            p = subprocess.run([PY, "-P", "-c", asp], capture_output=True, text=True, timeout=timeout, env=env)
            info = json.loads(p.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    **base,
                    "what": what,
                    "seconds": info["seconds"],
                    "peak_mb": info["peak_mb"],
                    "note": f"{info['rows']} rows",
                }
            )
        except subprocess.TimeoutExpired:
            rows.append({**base, "what": what, "note": f"did not finish within {time.perf_counter() - t0:.0f} s"})
        fit = FIT.format(path=str(out / "tables" / "indices.csv"))
        t0 = time.perf_counter()
        try:
            p = subprocess.run([PY, "-P", "-c", fit], capture_output=True, text=True, timeout=timeout, env=env)
            info = json.loads(p.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    **base,
                    "what": "HakenModel two-way analytic fit",
                    "seconds": info["seconds"],
                    "peak_mb": info["peak_mb"],
                    "note": f"gamma2 = {info['gamma2']:.10g}",
                }
            )
        except subprocess.TimeoutExpired:
            rows.append(
                {
                    **base,
                    "what": "HakenModel two-way analytic fit",
                    "note": f"did not finish within {time.perf_counter() - t0:.0f} s",
                }
            )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,county,10000", help="comma-separated region counts or 'county'")
    ap.add_argument("--code", default=None, help="folder holding another nqpspatial checkout to measure")
    ap.add_argument("--label", default="after")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--max-dense-gb", type=float, default=3.0)
    ap.add_argument("--no-stage", action="store_true", help="leave [robustness] out of the pipeline run")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.code:
        env["PYTHONPATH"] = args.code
    CSV.parent.mkdir(exist_ok=True)
    new = not CSV.exists()
    with CSV.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        for size in args.sizes.split(","):
            for row in _measure(size.strip(), args.label, env, args.timeout, args.max_dense_gb, not args.no_stage):
                print(json.dumps(row), flush=True)
                w.writerow(row)
                fh.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
