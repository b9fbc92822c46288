"""Benchmark: SAR-Haken with region effects against spreg's ML panel lag (ML_LagFE).

Both fit the two Haken equations (q1 and q2) of a panel simulated on a
synthetic queen lattice; ours also simulates the LeSage-Pace effects (1000
draws).  Each run is a fresh subprocess; time is wall-clock of the fit,
memory is the process's peak resident set (``resource.getrusage``).

Usage::

    python benchmarks/bench_sar.py                 # 2,870 x 10 (3 repeats) and 10,000 x 10
    python benchmarks/bench_sar.py --sizes 900 --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings


def _lattice(n: int):
    import libpysal
    from libpysal.graph import Graph

    rows = int(n**0.5)
    while n % rows:
        rows -= 1
    return Graph.from_W(libpysal.weights.lat2W(rows, n // rows, rook=False))


def _panel(n: int, periods: int):
    from nqpspatial.plugins.spatial_haken import simulate_panel

    g = _lattice(n)
    params = {"q1": {"q1": 0.88, "q1q2": -0.16, "rho": 0.2}, "q2": {"q2": 0.425, "q1sq": 0.85, "rho": 0.15}}
    return g, simulate_panel("sar", g, params, periods=periods, sigma=0.03, seed=1)


def _worker(which: str, n: int, periods: int) -> dict:
    import numpy as np

    g, df = _panel(n, periods)
    t0 = time.perf_counter()
    if which == "ours":
        from nqpspatial.plugins.spatial_haken import ShortPanelWarning, SpatialHakenModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortPanelWarning)
            res = SpatialHakenModel(df, "q1", "q2", g, model="sar", effects="region").fit(draws=1000, seed=0)
        rho = [float(res.params(e)["rho"]) for e in ("q1", "q2")]
        logdet = res.info["q1"]["logdet"]
    else:
        import libpysal
        import scipy.sparse as sp
        import spreg

        from nqpspatial.plugins.spatial_haken._panel import build_equation, prepare_panel

        panel = prepare_panel(df, "q1", "q2", g)
        w = libpysal.weights.WSP(sp.csr_matrix(panel.W)).to_W(silence_warnings=True)
        rho = []
        for eq in ("q1", "q2"):
            d = build_equation(panel, eq)
            X = np.column_stack([x.reshape(-1) for x in d.X])
            with contextlib.redirect_stdout(io.StringIO()):
                r = spreg.ML_LagFE(d.y.reshape(-1, 1), X, w)
            rho.append(float(r.rho))
        logdet = "spreg LU"
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "which": which,
        "n": n,
        "periods": periods,
        "seconds": elapsed,
        "peak_mb": peak_mb,
        "rho": rho,
        "logdet": logdet,
    }


def _run(which: str, n: int, periods: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", which, str(n), str(periods)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=3, metavar=("WHICH", "N", "T"))
    ap.add_argument("--sizes", nargs="*", type=int, default=[2870])
    ap.add_argument("--periods", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--large", type=int, default=10000, help="size run by ours only (0: skip)")
    args = ap.parse_args(argv)
    if args.worker:
        which, n, t = args.worker
        print(json.dumps(_worker(which, int(n), int(t))))
        return
    print(
        f"{'N':>7} {'T':>3} {'ours s':>8} {'spreg s':>8} {'ratio':>6} {'ours MB':>8} {'spreg MB':>9} {'mem ratio':>9}"
    )
    for n in args.sizes:
        ours = [_run("ours", n, args.periods) for _ in range(args.repeats)]
        ref = [_run("spreg", n, args.periods) for _ in range(args.repeats)]
        to = statistics.median(r["seconds"] for r in ours)
        ts = statistics.median(r["seconds"] for r in ref)
        mo = statistics.median(r["peak_mb"] for r in ours)
        ms = statistics.median(r["peak_mb"] for r in ref)
        drho = max(abs(a - b) for a, b in zip(ours[0]["rho"], ref[0]["rho"]))
        print(
            f"{n:>7} {args.periods:>3} {to:>8.2f} {ts:>8.2f} {ts / to:>6.1f} {mo:>8.0f} "
            f"{ms:>9.0f} {ms / mo:>9.2f}   (max |rho diff| = {drho:.1e}, ours: "
            f"{ours[0]['logdet']})"
        )
    if args.large:
        r = _run("ours", args.large, args.periods)
        print(
            f"{args.large:>7} {args.periods:>3} {r['seconds']:>8.2f} {'-':>8} {'-':>6} "
            f"{r['peak_mb']:>8.0f} {'-':>9} {'-':>9}   (ours only; limit 4096 MB)"
        )


if __name__ == "__main__":
    main()
