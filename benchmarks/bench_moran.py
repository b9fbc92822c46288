"""Benchmark: nqpspatial's batched Moran statistics against looping esda over periods.

Usage::

    python benchmarks/bench_moran.py                       # 31 and 2,870 regions (a few minutes)
    python benchmarks/bench_moran.py --sizes 31,2870,100000 # adds 100,000 regions (long: esda's local
                                                            # Moran costs O(n^2) per period)
    python benchmarks/bench_moran.py --sizes 2870 --permutations 499 --repeats 5

Every measurement runs in its own fresh Python process, which reports the time of the first call
(fresh process: includes any just-in-time compilation, e.g. esda's numba kernels), the median of the
following calls (steady state) and the peak resident memory of the process.  Cases:

- global Moran with permutations for all periods: ``nqpspatial.plugins.statistics.moran.compute``
  (one batched call) against ``esda.Moran`` called once per period (steady state);
- local Moran with conditional permutations for all periods: ``lisa.compute`` against
  ``esda.Moran_Local`` per period (``n_jobs=1``, ``keep_simulations=False``: esda's fastest
  settings), in a fresh process at 31 and 2,870 regions and in steady state (esda compiled on a
  small input first) at every size.

Regions: the 31 Chinese provinces (bundled layer, queen contiguity with Hainan linked to Guangdong)
when nqpspatial.geodata is installed, otherwise a 31-cell lattice; a 70 x 41 queen lattice (2,870
cells) and a 400 x 250 queen lattice (100,000 cells) for the larger sizes.  Values: a synthetic
panel with spatial structure.  Targets (issue 9, item 5): global >= 3x at 2,870 and 100,000;
local >= 10x in a fresh process at 31 and 2,870, >= 5x steady state at 100,000.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PERIODS = {31: 10, 2870: 20, 100000: 5}
SHAPES = {2870: (70, 41), 100000: (400, 250)}


# --------------------------------------------------------------------------
# worker (runs in a fresh process)
# --------------------------------------------------------------------------


def _lattice(rows, cols):
    import numpy as np
    from libpysal.graph import Graph
    from scipy import sparse

    idx = np.arange(rows * cols).reshape(rows, cols)
    r_parts, c_parts = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            a = idx[max(0, -dr) : rows - max(0, dr), max(0, -dc) : cols - max(0, dc)]
            b = idx[max(0, dr) : rows - max(0, -dr), max(0, dc) : cols - max(0, -dc)]
            r_parts.append(a.ravel())
            c_parts.append(b.ravel())
    r = np.concatenate(r_parts)
    c = np.concatenate(c_parts)
    n = rows * cols
    mat = sparse.csr_array((np.ones(len(r)), (r, c)), shape=(n, n))
    return Graph.from_sparse(mat, ids=np.arange(n)).transform("R")


def _graph(n):
    if n == 31:
        try:
            from nqpspatial.geodata import province_layer
            from nqpspatial.plugins.weights import build_weights

            g = province_layer(None)
            return build_weights("queen", list(g.index), geometry=g).graph, "31 provinces, queen + Hainan link"
        except Exception:  # noqa: BLE001 - geodata not installed: fall back to a lattice
            import numpy as np

            full = _lattice(6, 6)
            keep = list(range(31))
            sub = full.sparse.toarray()[np.ix_(keep, keep)]
            from libpysal.graph import Graph
            from scipy import sparse

            return Graph.from_sparse(sparse.csr_array(sub), ids=np.arange(31)).transform("R"), "31-cell lattice"
    rows, cols = SHAPES[n]
    return _lattice(rows, cols), f"{rows} x {cols} queen lattice"


def _panel(graph, periods, seed=0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = graph.n
    mat = graph.sparse
    x = rng.normal(size=(n, periods))
    for _ in range(2):  # smooth: spatial structure
        x = 0.5 * x + mat @ x
    x = x + 10.0
    return pd.DataFrame(x, index=graph.unique_ids, columns=list(range(2000, 2000 + periods)))


def _rss_mb():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 1024.0 / 1024.0


def _worker(args):
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore", message="The alternative hypothesis", category=DeprecationWarning)
    graph, label = _graph(args.n)
    values = _panel(graph, args.periods)
    base_mb = _rss_mb()
    perms = args.permutations

    if args.impl == "ours":
        from nqpspatial.plugins import statistics as S

        plugin = S.moran if args.stat == "global" else S.lisa

        def call(vals, g):
            plugin.compute(vals, g, rng=np.random.default_rng(1), permutations=perms)
    else:
        import esda

        def call(vals, g):
            ids = list(g.unique_ids)
            arr = vals.loc[ids]
            for col in arr.columns:
                y = arr[col].to_numpy()
                if args.stat == "global":
                    esda.Moran(y, g, permutations=perms)
                else:
                    esda.Moran_Local(y, g, permutations=perms, n_jobs=1, keep_simulations=False, seed=1)

    if args.warm:
        small = _lattice(5, 5)
        call(_panel(small, 2), small)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        call(values, graph)
        times.append(time.perf_counter() - t0)
    steady = times[1:] if len(times) > 1 else times
    print(
        json.dumps(
            {
                "first": times[0],
                "steady": statistics.median(steady),
                "peak_mb": _rss_mb(),
                "base_mb": base_mb,
                "label": label,
            }
        )
    )


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------


def _run(impl, stat, n, periods, perms, repeats, warm):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--impl",
        impl,
        "--stat",
        stat,
        "--n",
        str(n),
        "--periods",
        str(periods),
        "--permutations",
        str(perms),
        "--repeats",
        str(repeats),
    ]
    if warm:
        cmd.append("--warm")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker failed ({impl} {stat} n={n}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    """Run the benchmark and print a table of medians, ratios and peak memory."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="31,2870", help="comma-separated from 31, 2870, 100000")
    p.add_argument("--permutations", type=int, default=999)
    p.add_argument("--repeats", type=int, default=3, help="calls per process (first = fresh)")
    p.add_argument("--periods", type=int, default=None, help="override the periods of every size")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    p.add_argument("--stat", default="global", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=31, help=argparse.SUPPRESS)
    p.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows = []
    header = (
        f"{'case':<34}{'n':>8}{'T':>4}{'nqpspatial s':>14}{'esda loop s':>13}{'ratio':>8}{'target':>8}"
        f"{'peak MB ours':>14}{'peak MB esda':>14}"
    )
    print(
        f"permutations = {args.permutations}; medians of {args.repeats} calls per process "
        "(fresh = first call in a new process)"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        if n not in PERIODS:
            raise SystemExit(f"unknown size {n}; choose from {', '.join(map(str, PERIODS))}")
        T = args.periods or PERIODS[n]
        cases = [("global Moran, steady", "global", False, 3.0 if n >= 2870 else None)]
        if n <= 2870:
            cases.append(("local Moran, fresh process", "local", False, 10.0))
        cases.append(("local Moran, steady", "local", True, 5.0 if n >= 100000 else None))
        for label, stat, warm, target in cases:
            fresh = "fresh" in label
            rep_esda = 1 if (n >= 100000 and stat == "local") or fresh else args.repeats
            rep_ours = 1 if fresh else args.repeats
            ours = _run("ours", stat, n, T, args.permutations, rep_ours, warm)
            ref = _run("esda", stat, n, T, args.permutations, rep_esda, warm)
            key = "first" if fresh else "steady"
            ratio = ref[key] / ours[key]
            tgt = f">={target:g}x" if target else "-"
            line = (
                f"{label:<34}{n:>8}{T:>4}{ours[key]:>14.3f}{ref[key]:>13.3f}{ratio:>7.1f}x{tgt:>8}"
                f"{ours['peak_mb']:>14.0f}{ref['peak_mb']:>14.0f}"
            )
            print(line, flush=True)
            rows.append(
                {
                    "case": label,
                    "n": n,
                    "periods": T,
                    "ours_s": ours[key],
                    "esda_s": ref[key],
                    "ratio": ratio,
                    "target": target,
                    "ours_peak_mb": ours["peak_mb"],
                    "esda_peak_mb": ref["peak_mb"],
                    "regions": ours["label"],
                }
            )
    print()
    print("regions: " + "; ".join(sorted({f"{r['n']}: {r['regions']}" for r in rows})))
    return rows


if __name__ == "__main__":
    main()
