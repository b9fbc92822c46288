"""Monte Carlo study: recovery of the spatial Haken system's stable point and case (issue 14).

Design (fixed by the issue):

* true system parameters gamma1 = -0.1, a = 0.35, gamma2 = 0.6, b = 0.35 (case 1, uniform fixed point
  q1* = sqrt(-gamma1 gamma2 / (a b)) = 0.69985, q2* = b q1*^2 / gamma2 = 0.28571), i.e. total-effect
  coefficients 1.1, -0.35 (q1 equation) and 0.4, 0.35 (q2 equation);
* rho = 0.3 (SAR, SDM; SEM: lambda = 0.3), theta = 0.2 beta (SLX, SDM), so that
  SLX: beta + theta, SAR: beta / (1 - rho), SDM: (beta + theta) / (1 - rho), SEM: beta equal those
  coefficients;
* innovations N(0, 0.01^2); starting states q1, q2 uniform on [0.2, 0.6];
* the 31 mainland provinces, queen contiguity with Hainan linked to its nearest province, row-standardized;
* 10 and 20 periods, 50 panels per model and length, one fixed seed (panel seeds from one SeedSequence).

For every panel the model that generated it is fitted (pooled, no intercept, 1,000 effect draws) and the
system reading is compared with the truth: whether the true fixed point lies in
``[q1_star_low, q1_star_high]`` (percentiles of q1* over the effect draws with a stable point) and whether
the reported case equals the true case 1.  The local reading (direct effects) is tabulated beside it.
Acceptance: coverage >= 43 of 50 and case >= 45 of 50 for every model and length.

Usage::

    python benchmarks/mc_spatial_steady_state.py                  # the full study (about 5 minutes)
    python benchmarks/mc_spatial_steady_state.py --panels 10 --draws 200
    python benchmarks/mc_spatial_steady_state.py --csv results.csv   # one row per panel

The recorded result is in docs/spatial_haken.md ("Recovery of the stable point").
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

MODELS = ("slx", "sar", "sem", "sdm")
LENGTHS = (10, 20)
SYSTEM = {"gamma1": -0.1, "a": 0.35, "gamma2": 0.6, "b": 0.35}
RHO = 0.3
THETA_SHARE = 0.2
SIGMA = 0.01
START = (0.2, 0.6)
SEED = 20240614
#: Acceptance counts out of 50 panels (scaled by the panel count for smaller runs).
COVER_MIN, CASE_MIN, OUT_OF = 43, 45, 50


def true_coefficients(model: str) -> dict:
    """The data-generating coefficients of ``model`` whose total effects are the true system's."""
    s = SYSTEM
    total = {"q1": 1.0 - s["gamma1"], "q1q2": -s["a"], "q2": 1.0 - s["gamma2"], "q1sq": s["b"]}
    out = {}
    for eq, terms in (("q1", ("q1", "q1q2")), ("q2", ("q2", "q1sq"))):
        p = {}
        for t in terms:
            c = total[t]
            if model == "slx":
                p[t] = c / (1.0 + THETA_SHARE)
                p[f"theta_{t}"] = THETA_SHARE * p[t]
            elif model == "sar":
                p[t] = (1.0 - RHO) * c
            elif model == "sdm":
                p[t] = (1.0 - RHO) * c / (1.0 + THETA_SHARE)
                p[f"theta_{t}"] = THETA_SHARE * p[t]
            else:
                p[t] = c
        if model in ("sar", "sdm"):
            p["rho"] = RHO
        if model == "sem":
            p["lambda"] = RHO
        out[eq] = p
    return out


def truth() -> tuple[float, int]:
    """The true uniform fixed point q1* and stability case (from :class:`nqpspatial.haken.Potential`)."""
    from nqpspatial.haken import Potential

    pot = Potential(**SYSTEM)
    return pot.stable_point[0], pot.case


def province_graph():
    """Queen contiguity of the 31 provinces, Hainan linked to its nearest province (the suite's default)."""
    from nqpspatial.geodata import province_layer
    from nqpspatial.plugins.weights import build_weights

    geo = province_layer()
    return build_weights("queen", list(geo.index), geometry=geo).graph


def one_panel(model: str, periods: int, seed: int, graph, draws: int) -> dict:
    """Simulate one panel, fit its model and return the system and local readings against the truth."""
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel, simulate_panel

    rng = np.random.default_rng(seed)
    n = len(graph.unique_ids)
    q0 = (rng.uniform(*START, n), rng.uniform(*START, n))
    df = simulate_panel(model, graph, true_coefficients(model), periods=periods, sigma=SIGMA, seed=rng, q0=q0)
    res = SpatialHakenModel(df, "q1", "q2", graph, model=model).fit(draws=draws, seed=rng)
    q_true, case_true = truth()
    pr = res.potential_readings.set_index("reading")
    out = {"model": model, "periods": periods, "seed": seed}
    for reading in ("system", "local"):
        r = pr.loc[reading]
        lo, hi = r["q1_star_low"], r["q1_star_high"]
        out.update(
            {
                f"{reading}_q1_star": r["q1_star"],
                f"{reading}_low": lo,
                f"{reading}_high": hi,
                f"{reading}_share": r["stable_share"],
                f"{reading}_case": r["case"],
                f"{reading}_map_stable": r["map_stable"],
                f"{reading}_gamma1": r["gamma1"],
                f"{reading}_gamma2": r["gamma2"],
                f"{reading}_covers": bool(np.isfinite(lo) and lo <= q_true <= hi),
                f"{reading}_case_ok": bool(r["case"] == case_true),
            }
        )
    st = res.steady_states
    out["steady_converged"] = bool(st["converged"].all())
    out["steady_q1_mean"] = float(st["q1_star"].mean())
    return out


def run_study(
    n_panels: int = 50, draws: int = 1000, seed: int = SEED, models=MODELS, lengths=LENGTHS, progress=None
) -> pd.DataFrame:
    """One row per panel (see :func:`one_panel`); panel seeds from ``SeedSequence(seed)``."""
    import warnings

    graph = province_graph()
    seeds = np.random.SeedSequence(seed).generate_state(n_panels)
    rows = []
    for model in models:
        for periods in lengths:
            for i, s in enumerate(seeds):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # nothing may warn in this pooled design
                    rows.append(one_panel(model, periods, int(s), graph, draws))
                if progress:
                    progress(model, periods, i)
    return pd.DataFrame(rows)


def summarize(panels: pd.DataFrame) -> pd.DataFrame:
    """Counts per model and length: coverage and case for both readings, bias and width of the system q1*."""
    q_true, _ = truth()
    g = panels.assign(width=panels["system_high"] - panels["system_low"]).groupby(["model", "periods"], sort=False)
    out = g.agg(
        panels=("seed", "size"),
        cover_system=("system_covers", "sum"),
        case_system=("system_case_ok", "sum"),
        cover_local=("local_covers", "sum"),
        case_local=("local_case_ok", "sum"),
        mean_q1_system=("system_q1_star", "mean"),
        mean_q1_local=("local_q1_star", "mean"),
        median_width=("width", "median"),
        steady_converged=("steady_converged", "sum"),
    )
    out["bias_system"] = out["mean_q1_system"] - q_true
    n = out["panels"]
    out["cover_min"] = np.floor(COVER_MIN / OUT_OF * n).astype(int)
    out["case_min"] = np.floor(CASE_MIN / OUT_OF * n).astype(int)
    out["passes"] = (out["cover_system"] >= out["cover_min"]) & (out["case_system"] >= out["case_min"])
    return out.reset_index()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--panels", type=int, default=50)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--csv", help="write one row per panel to this file")
    args = ap.parse_args(argv)
    t0 = time.time()
    q, case = truth()
    print(
        f"truth: q1* = {q:.6f}, case {case}; {args.panels} panels per model and length, {args.draws} draws", flush=True
    )

    def progress(model, periods, i):
        if i + 1 == args.panels:
            print(f"  {model}, {periods} periods: {args.panels} panels done ({time.time() - t0:.0f} s)", flush=True)

    panels = run_study(args.panels, args.draws, args.seed, progress=progress)
    if args.csv:
        panels.to_csv(args.csv, index=False)
    summ = summarize(panels)
    cols = [
        "model",
        "periods",
        "panels",
        "cover_system",
        "case_system",
        "cover_local",
        "case_local",
        "mean_q1_system",
        "bias_system",
        "median_width",
        "mean_q1_local",
        "steady_converged",
        "passes",
    ]
    print(summ[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\n{time.time() - t0:.0f} s; all pass: {bool(summ['passes'].all())}")
    return 0 if summ["passes"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
