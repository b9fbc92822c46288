"""Monte Carlo study: fixed-effects (Nickell) bias of the Haken parameters and its corrections.

Panels of 31 regions and 10 or 20 periods are simulated from the discrete
Haken system at the demo's true parameters (gamma1 = -0.10, a = 0.15,
gamma2 = 0.70, b = 0.84) with region intercepts ``alpha_i, beta_i ~ N(0,
0.005^2)`` in both equations and shocks of sd 0.01, on two kinds of paths:

* ``stationary``: each region runs 60 burn-in years from its stable point
  before the observed window, so the window is drawn from the stationary
  distribution around the region's own stable point;
* ``converging``: q1 starts in U(0.1, 0.5), far below the stable point
  (q1* = 0.745), and climbs towards it in the window, as in regional panels
  of fast-growing indices.

Every estimator of :data:`ESTIMATORS` is applied with region fixed effects
(``effects = "region"``): no correction, the split-panel jackknife
(Dhaene & Jochmans 2015) and the analytic correction for predetermined
regressors (:mod:`nqpspatial.haken.bias`, Hahn & Kuersteiner 2011) with lag
truncations 1, 2, 3 and all lags.  Pooled OLS without effects (biased here by
the omitted intercepts) is shown for reference.  The table gives the bias
(mean estimate minus truth) and the root mean squared error of gamma1, a,
gamma2 and b.

Models are pluggable: :data:`MODELS` maps a model name to its estimators and
truth, :data:`SIMULATORS` to its data-generating process.  The spatial cell
(``--models sar``, reduced: 200 replications by default) simulates SAR-Haken
panels on the 31 provinces (queen contiguity, row-standardized) with
``rho = 0.3`` in both equations, the demo's parameters as the *total* effects
(``beta = (1 - rho) x total``, so the system reading's truth is the demo's)
and the same region intercepts and shocks, and compares region fixed effects
without correction and with the split-panel jackknife for rho and the
system-reading gamma1, a, gamma2, b.

Usage::

    python benchmarks/mc_bias.py                 # 1,000 replications per cell
    python benchmarks/mc_bias.py --reps 100
    python benchmarks/mc_bias.py --models sar --cells stationary-10 converging-10   # the spatial cell

Results: ``benchmarks/results/mc_bias.csv`` and ``mc_bias.md`` (the spatial
cell: ``mc_bias_sar.csv`` and ``mc_bias_sar.md``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from nqpspatial.backends import open_backend, run_chunks
from nqpspatial.haken import HakenModel, HakenSystem, ShortPanelWarning
from nqpspatial.haken.bias import corrected_within
from nqpspatial.haken.model import _Design, prepare_panel

TRUTH = {"gamma1": -0.10, "a": 0.15, "gamma2": 0.70, "b": 0.84}
PARAMS = list(TRUTH)
NOISE, EFFECT_SD, BURN = 0.01, 0.005, 60
CELLS = {f"{p}-{T}": (p, T) for p in ("stationary", "converging") for T in (10, 20)}
RESULTS = Path(__file__).resolve().parent / "results"


def simulate(paths: str, T: int, rng) -> pd.DataFrame:
    """One panel with region intercepts on stationary or converging paths."""
    n = 31
    al, be = rng.normal(0, EFFECT_SD, n), rng.normal(0, EFFECT_SD, n)
    s = HakenSystem(**TRUTH)
    if paths == "converging":
        q1 = rng.uniform(0.1, 0.5, n)
        q2 = TRUTH["b"] * q1**2 / TRUTH["gamma2"]
        burn = 0
    else:
        q1 = np.full(n, s.potential().stable_point[0])
        q2 = TRUTH["b"] * q1**2 / TRUTH["gamma2"]
        burn = BURN
    out1, out2 = [], []
    for t in range(burn + T):
        if t >= burn:
            out1.append(q1)
            out2.append(q2)
        n1, n2 = s.step(q1, q2)
        e = rng.normal(0, NOISE, (2, n))
        q1, q2 = n1 + al + e[0], n2 + be + e[1]
    Q1, Q2 = np.array(out1), np.array(out2)
    return pd.DataFrame(
        {
            "region": np.repeat([f"R{i + 1:02d}" for i in range(n)], T),
            "year": np.tile(np.arange(2000, 2000 + T), n),
            "q1": Q1.T.ravel(),
            "q2": Q2.T.ravel(),
        }
    )


def _params(c1, c2):
    return {"gamma1": 1 - c1[0], "a": -c1[1], "gamma2": 1 - c2[0], "b": c2[1]}


def _analytic(df, trim, iterate=0):
    design = _Design(prepare_panel(df, "q1", "q2"), False, "region")
    cs = []
    for X, y in ((design.Z1, design.y1), (design.Z2, design.y2)):
        Xw, yw = design.within(X, y)
        cs.append(corrected_within(Xw, yw, design.codes, trim=trim, iterate=iterate))
    return _params(*cs)


def _within_fits(df):
    """Every estimator by plain within regressions on one design (= HakenModel / :func:`_analytic`,
    checked on the first panel of every chunk)."""
    from nqpspatial.haken.bias import analytic_bias
    from nqpspatial.haken.model import _half_masks

    design = _Design(prepare_panel(df, "q1", "q2"), False, "region")
    out = {}
    fe, jk = [], []
    an = {L: [] for L in TRIMS}
    halves = [design.subset(m) for m in _half_masks(design)]
    for eq in (0, 1):
        X, y = (design.Z1, design.y1) if eq == 0 else (design.Z2, design.y2)
        Xw, yw = design.within(X, y)
        full = np.linalg.lstsq(Xw, yw, rcond=None)[0]
        for L in TRIMS:
            an[L].append(full - analytic_bias(Xw, yw - Xw @ full, design.codes, L))
        hs = []
        for d in halves:
            Xh, yh = d.within(d.Z1 if eq == 0 else d.Z2, d.y1 if eq == 0 else d.y2)
            hs.append(np.linalg.lstsq(Xh, yh, rcond=None)[0])
        fe.append(full)
        jk.append(2 * full - 0.5 * (hs[0] + hs[1]))
        Xp = X[["lag", "inter"]].to_numpy(float)
        out.setdefault("pooled", []).append(np.linalg.lstsq(Xp, y, rcond=None)[0])
    res = {
        "pooled OLS (no effects)": _params(*out["pooled"]),
        "FE, no correction": _params(*fe),
        "FE, split-panel jackknife": _params(*jk),
    }
    for L in TRIMS:
        res[f"FE, analytic {'all lags' if L is None else f'L={L}'}"] = _params(*an[L])
    return res


def _haken(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortPanelWarning)
        fit = HakenModel(df, "q1", "q2", effects=kw.pop("effects", "region")).fit(bootstrap=0, **kw)
    return fit.params[PARAMS].to_dict()


TRIMS = (1, 2, 3, None)
#: estimator name -> function(panel) -> {parameter: estimate}; add estimators here.
ESTIMATORS = {
    "pooled OLS (no effects)": lambda df: _haken(df, effects="none"),
    "FE, no correction": lambda df: _haken(df),
    "FE, split-panel jackknife": lambda df: _haken(df, jackknife=True),
    "FE, analytic L=1": lambda df: _analytic(df, 1),
    "FE, analytic L=2": lambda df: _analytic(df, 2),
    "FE, analytic L=3": lambda df: _analytic(df, 3),
    "FE, analytic all lags": lambda df: _analytic(df, None),
}
RHO = 0.3
SAR_TRUTH = {**TRUTH, "rho_q1": RHO, "rho_q2": RHO}


def _province_graph():
    from nqpspatial.geodata import province_layer
    from nqpspatial.plugins.weights import build_weights

    geo = province_layer()
    return build_weights("queen", list(geo.index), geometry=geo).graph


_GRAPH = {}


def simulate_sar(paths: str, T: int, rng) -> pd.DataFrame:
    """A SAR-Haken panel with region intercepts: ``q(t+1) = (I - rho W)^-1 (X(t) beta + alpha + e)``."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from nqpspatial.plugins.spatial_haken._panel import _row_standardize, graph_to_sparse

    if "g" not in _GRAPH:
        _GRAPH["g"] = _province_graph()
    g = _GRAPH["g"]
    ids = np.asarray(g.unique_ids)
    n = len(ids)
    W = _row_standardize(graph_to_sparse(g, ids))
    lu = spla.splu(sp.csc_array(sp.identity(n, format="csc") - RHO * W))
    b = {"q1": 1 - TRUTH["gamma1"], "q1q2": -TRUTH["a"], "q2": 1 - TRUTH["gamma2"], "q1sq": TRUTH["b"]}
    b = {k: (1 - RHO) * v for k, v in b.items()}
    al, be = rng.normal(0, EFFECT_SD, n), rng.normal(0, EFFECT_SD, n)
    s = HakenSystem(**TRUTH)
    if paths == "converging":
        q1 = rng.uniform(0.1, 0.5, n)
        burn = 0
    else:
        q1 = np.full(n, s.potential().stable_point[0])
        burn = BURN
    q2 = TRUTH["b"] * q1**2 / TRUTH["gamma2"]
    out1, out2 = [], []
    for t in range(burn + T):
        if t >= burn:
            out1.append(q1)
            out2.append(q2)
        e = rng.normal(0, NOISE, (2, n))
        n1 = lu.solve(b["q1"] * q1 + b["q1q2"] * q1 * q2 + al + e[0])
        n2 = lu.solve(b["q2"] * q2 + b["q1sq"] * q1 * q1 + be + e[1])
        q1, q2 = n1, n2
    Q1, Q2 = np.array(out1), np.array(out2)
    return pd.DataFrame(
        {
            "region": np.repeat(ids, T),
            "year": np.tile(np.arange(2000, 2000 + T), n),
            "q1": Q1.T.ravel(),
            "q2": Q2.T.ravel(),
        }
    )


def _sar(df, jackknife: bool):
    """SAR-Haken with region effects (SpatialHakenModel's equation fits): rho and the system-reading parameters."""
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel

    mod = SpatialHakenModel(
        df, "q1", "q2", _GRAPH["g"], model="sar", effects="region", correction="jackknife" if jackknife else "none"
    )
    out = {}
    for eq in ("q1", "q2"):
        e = mod._fit_equation(eq, "sar")
        p = mod._jackknife(eq, e, 64, 0) if jackknife else e.fit.params
        out[eq] = dict(zip(e.fit.names, p))
    r1, r2 = out["q1"]["rho"], out["q2"]["rho"]
    return {
        "gamma1": 1 - out["q1"]["q1"] / (1 - r1),
        "a": -out["q1"]["q1q2"] / (1 - r1),
        "gamma2": 1 - out["q2"]["q2"] / (1 - r2),
        "b": out["q2"]["q1sq"] / (1 - r2),
        "rho_q1": r1,
        "rho_q2": r2,
    }


SAR_ESTIMATORS = {
    "FE, no correction": lambda df: _sar(df, False),
    "FE, split-panel jackknife": lambda df: _sar(df, True),
}
#: model name -> (estimators, truth).
MODELS = {"aspatial": (ESTIMATORS, TRUTH), "sar": (SAR_ESTIMATORS, SAR_TRUTH)}
#: model name -> simulator(paths, T, rng).
SIMULATORS = {"aspatial": simulate, "sar": simulate_sar}


def _chunk(payload, task):
    cell, models = payload
    paths, T = CELLS[cell]
    rng = task.rng()
    rows = []
    for rep in range(task.size):
        for model in models:
            ests = MODELS[model][0]
            df = SIMULATORS[model](paths, T, rng)
            fast = _within_fits(df) if model == "aspatial" else {}
            for name, fn in ests.items():
                est = fast[name] if (model == "aspatial" and name in fast and rep > 0) else fn(df)
                if model == "aspatial" and name in fast and rep == 0:  # the fast path is HakenModel's
                    assert all(abs(est[k] - fast[name][k]) < 1e-9 for k in PARAMS), name
                rows.append({"cell": cell, "model": model, "estimator": name, **est})
    return rows


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (cell, model, est), g in raw.groupby(["cell", "model", "estimator"], sort=False):
        truth = MODELS[model][1]
        paths, T = CELLS[cell]
        rec = {"cell": cell, "paths": paths, "periods": T, "model": model, "estimator": est, "reps": len(g)}
        for p, v in truth.items():
            rec[f"bias_{p}"] = g[p].mean() - v
            rec[f"rmse_{p}"] = float(np.sqrt(((g[p] - v) ** 2).mean()))
        rec["wrong_sign_gamma1"] = float((np.sign(g["gamma1"]) != np.sign(truth["gamma1"])).mean())
        out.append(rec)
    return pd.DataFrame(out)


def markdown_spatial(s: pd.DataFrame) -> str:
    """The spatial cell's table (bias and RMSE of rho and of the system-reading parameters)."""
    ps = list(SAR_TRUTH)
    lines = [
        "| model | paths | periods | estimator | "
        + " | ".join(f"bias {p}" for p in ps)
        + " | "
        + " | ".join(f"RMSE {p}" for p in ps)
        + " |",
        "|---|---|---|---|" + "---|" * (2 * len(ps)),
    ]
    for _, r in s.iterrows():
        lines.append(
            f"| {r['model']} | {r['paths']} | {r['periods']} | {r['estimator']} | "
            + " | ".join(f"{r[f'bias_{p}']:+.4f}" for p in ps)
            + " | "
            + " | ".join(f"{r[f'rmse_{p}']:.4f}" for p in ps)
            + " |"
        )
    return "\n".join(lines) + "\n"


def markdown(s: pd.DataFrame) -> str:
    lines = [
        "| paths | periods | estimator | bias gamma1 | bias a | bias gamma2 | bias b | RMSE gamma1 | RMSE a "
        "| RMSE gamma2 | RMSE b | gamma1 wrong sign |",
        "|---|---|---|" + "---|" * 9,
    ]
    for _, r in s.iterrows():
        lines.append(
            f"| {r['paths']} | {r['periods']} | {r['estimator']} | "
            + " | ".join(f"{r[f'bias_{p}']:+.4f}" for p in PARAMS)
            + " | "
            + " | ".join(f"{r[f'rmse_{p}']:.4f}" for p in PARAMS)
            + f" | {r['wrong_sign_gamma1']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--cells", nargs="*", default=list(CELLS))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20250816)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--models", nargs="*", default=["aspatial"], choices=list(MODELS))
    a = ap.parse_args(argv)
    spatial = a.models != ["aspatial"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with open_backend("processes" if a.workers > 1 else "inprocess", workers=a.workers) as be:
        for cell in a.cells:
            t0 = time.perf_counter()
            parts = run_chunks(
                _chunk,
                (cell, tuple(a.models)),
                a.reps,
                seed=[a.seed, list(CELLS).index(cell)],
                chunk_size=50,
                backend=be,
            )
            rows += [r for p in parts for r in p]
            print(f"{cell}: {a.reps} replications in {time.perf_counter() - t0:.0f} s", flush=True)
    raw = pd.DataFrame(rows)
    s = summarize(raw)
    stem = "mc_bias" if not spatial else "mc_bias_" + "_".join(a.models)
    s.to_csv(out / f"{stem}.csv", index=False)
    table = markdown_spatial(s) if spatial else markdown(s)
    text = f"Replications per cell: {a.reps}; seed {a.seed}.\n\n" + table
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
