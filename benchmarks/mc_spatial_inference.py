"""Monte Carlo study: coverage and width of the spatial Haken models' intervals under cross-regional dependence.

Design (issue 15, item 3, spatial half):

* panels of the 31 mainland provinces (queen contiguity, Hainan linked to its nearest province,
  row-standardized; as ``benchmarks/mc_spatial_steady_state.py``) and 10 or 20 periods;
* SLX- and SAR-Haken with the coefficients of the stable-point study (total effects of the demo's
  case-1 system gamma1 = -0.1, a = 0.35, gamma2 = 0.6, b = 0.35; SAR rho = 0.3 in both equations,
  beta = 0.7 x total; SLX theta = 0.2 beta, beta = total / 1.2), innovations N(0, 0.01^2), starting
  states uniform on [0.2, 0.6];
* three error structures: ``iid`` independent innovations; ``common`` plus one year shock per year and
  equation, N(0, 0.01^2), shared by all regions (for SAR inside the spatial filter, as
  ``simulate_panel(..., year_effects=...)``); ``sar`` spatially autoregressive errors
  ``u = (I - 0.5 W)^-1 eps`` (for SAR-Haken inside the lag filter: ``y = (I - rho W)^-1 (X beta + u)``).

Each panel is fitted by its own model with ``effects = "none"`` (the default) and every
``[spatial_haken] se`` option: ``ml``, ``driscoll-kraay`` (default bandwidth, 2 at these lengths),
``driscoll-kraay`` with bandwidth 0 (``driscoll-kraay-bw0``) and ``twoway``; their intervals are those of
``spatial_haken_estimates.csv`` (estimate +/- z_0.975 x std_err).  SLX panels also get the wild-year
bootstrap (``bootstrap_scheme = "wild-year"``; restricted, one multiplier per year, percentile-t
intervals; B resamples) on the first ``--wild-reps`` replications of every cell.  The common-shock panels
(the first ``--year-reps`` of each cell, default all; the same panels) are also fitted with ``effects = "year"`` and
every ``se`` option the model accepts (labelled ``<option>+year``; SAR refuses ``twoway`` with year
effects): year intercepts absorb a shock common to all regions.  The study records, for
gamma1 = 1 - beta_q1, a = -beta_q1q2, gamma2 = 1 - beta_q2, b = beta_q1sq (the own Haken terms of both
equations; their intervals have the coverage of the coefficients') and rho (SAR, both equations), how
often the nominal 95 % interval covers the truth and its mean width; and for the system parameters
(``sys_*``: the total effects, SLX beta + theta, SAR beta / (1 - rho), whose truth is the demo's system
and which feed the system reading) the delta-method interval from the same covariance (exact for SLX's
linear totals; the normal approximation behind the effect draws).

Usage::

    python benchmarks/mc_spatial_inference.py   # 1,000 panels per cell (wild bootstrap: the first 200), ~20 min
    python benchmarks/mc_spatial_inference.py --reps 40 --wild-reps 40 --cells slx-common-20

Results go to ``benchmarks/results/mc_spatial_inference.csv`` and, as markdown,
``benchmarks/results/mc_spatial_inference.md`` (copied into docs/inference.md).  Raw rows are saved per
cell after every block of chunks (``mc_spatial_inference_raw_<cell>.csv`` in ``--raw``), and a rerun
resumes from them.  Replication ``i`` of a cell draws from a fixed child of the cell's seed (chunks of 10
through :mod:`nqpspatial.backends`), so the numbers do not depend on the number of workers.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mc_spatial_steady_state import SIGMA, START, province_graph, true_coefficients  # noqa: E402

from nqpspatial.backends import open_backend, plan_chunks  # noqa: E402

MODELS = ("slx", "sar")
ERRORS = ("iid", "common", "sar")
LENGTHS = (10, 20)
ERROR_RHO = 0.5
SEED = 20261208
#: name -> (se, bandwidth)
SE_OPTIONS = {"ml": ("ml", None), "driscoll-kraay": ("driscoll-kraay", None)}
SE_OPTIONS.update({"driscoll-kraay-bw0": ("driscoll-kraay", 0), "twoway": ("twoway", None)})
#: cell name -> (model, periods, errors)
CELLS = {f"{m}-{e}-{T}": (m, T, e) for m in MODELS for T in LENGTHS for e in ERRORS}
HAKEN = {"gamma1": ("q1", "q1", 1), "a": ("q1", "q1q2", -1), "gamma2": ("q2", "q2", 1), "b": ("q2", "q1sq", 0)}
SYSTEM_TERMS = ["sys_gamma1", "sys_a", "sys_gamma2", "sys_b"]
TERMS = ["gamma1", "a", "gamma2", "b", "rho_q1", "rho_q2", *SYSTEM_TERMS]
RESULTS = Path(__file__).resolve().parent / "results"


def truth(model: str) -> dict:
    """True values of the terms whose intervals are scored (rho only for SAR)."""
    c = true_coefficients(model)
    out = {
        "gamma1": 1.0 - c["q1"]["q1"],
        "a": -c["q1"]["q1q2"],
        "gamma2": 1.0 - c["q2"]["q2"],
        "b": c["q2"]["q1sq"],
    }
    if model == "sar":
        out.update(rho_q1=c["q1"]["rho"], rho_q2=c["q2"]["rho"])
    out.update(sys_gamma1=-0.1, sys_a=0.35, sys_gamma2=0.6, sys_b=0.35)  # the total effects (true system)
    return out


def _mapped(term, lo, hi):
    """Interval of a Haken parameter from the interval of its coefficient (gamma = 1 - c, a = -c, b = c)."""
    sign = HAKEN[term][2]
    return (lo, hi) if sign == 0 else ((1 - hi, 1 - lo) if sign == 1 else (-hi, -lo))


def _total(fit, model: str, name: str):
    """Total-effect coefficient and its gradient: beta + theta (SLX), beta / (1 - rho) (SAR)."""
    g = np.zeros(len(fit.names))
    i = fit.names.index(name)
    if model == "slx":
        j = fit.names.index(f"theta_{name}")
        g[i] = g[j] = 1.0
        return fit.params[i] + fit.params[j], g
    k = fit.names.index("rho")
    r = fit.params[k]
    g[i], g[k] = 1.0 / (1.0 - r), fit.params[i] / (1.0 - r) ** 2
    return fit.params[i] / (1.0 - r), g


# ------------------------------------------------------------------ simulation
def simulate(model: str, periods: int, errors: str, rng, graph) -> pd.DataFrame:
    """One panel: ``region, year, q1, q2``.

    The innovations are drawn in the order of
    :func:`nqpspatial.plugins.spatial_haken.simulate_panel` (so the ``iid`` panels equal its output for the
    same generator and starting states; tested); the year shocks come from a separate child generator.
    """
    from nqpspatial.plugins.spatial_haken._panel import _row_standardize, graph_to_sparse

    ids = np.asarray(graph.unique_ids)
    W = _row_standardize(graph_to_sparse(graph, ids)).toarray()
    N = len(ids)
    rng_tau, rng = rng.spawn(2)
    q1, q2 = rng.uniform(*START, N), rng.uniform(*START, N)
    params = true_coefficients(model)
    I = np.eye(N)
    lag_inv = {eq: np.linalg.inv(I - params[eq].get("rho", 0.0) * W) for eq in ("q1", "q2")}
    err_inv = np.linalg.inv(I - ERROR_RHO * W) if errors == "sar" else None
    tau = rng_tau.normal(0.0, SIGMA, (periods - 1, 2)) if errors == "common" else np.zeros((periods - 1, 2))
    Q1, Q2 = [q1], [q2]
    for step in range(periods - 1):
        terms = {"q1": {"q1": q1, "q1q2": q1 * q2}, "q2": {"q2": q2, "q1sq": q1**2}}
        new = {}
        for k, eq in enumerate(("q1", "q2")):
            p = params[eq]
            mean = sum(p[t] * x + p.get(f"theta_{t}", 0.0) * (W @ x) for t, x in terms[eq].items())
            u = SIGMA * rng.standard_normal(N)
            if err_inv is not None:
                u = err_inv @ u
            new[eq] = lag_inv[eq] @ (mean + tau[step, k] + u)
        q1, q2 = new["q1"], new["q2"]
        Q1.append(q1)
        Q2.append(q2)
    return pd.DataFrame(
        {
            "region": np.tile(ids, periods),
            "year": np.repeat(np.arange(1, periods + 1), N),
            "q1": np.concatenate(Q1),
            "q2": np.concatenate(Q2),
        }
    )


# ------------------------------------------------------------------ intervals of one panel
def se_intervals(df, graph, model: str, se: str, bandwidth, alpha: float = 0.05, effects: str = "none") -> dict:
    """Normal intervals of every scored term under one ``se`` option (those of ``spatial_haken_estimates``)."""
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel

    mod = SpatialHakenModel(df, "q1", "q2", graph, model=model, se=se, bandwidth=bandwidth, effects=effects)
    z = stats.norm.ppf(1 - alpha / 2)
    coef, fits = {}, {}
    for eq in ("q1", "q2"):
        fit = fits[eq] = mod._fit_equation(eq, model).fit
        sd = np.sqrt(np.diag(fit.vcov))
        for name, est, s in zip(fit.names, fit.params, sd):
            coef[(eq, name)] = (est - z * s, est + z * s)
    out = {}
    for term, (eq, name, _) in HAKEN.items():
        out[term] = _mapped(term, *coef[(eq, name)])
        c, g = _total(fits[eq], model, name)  # delta method (exact for SLX's linear total)
        s = float(np.sqrt(g @ fits[eq].vcov @ g))
        out[f"sys_{term}"] = _mapped(term, c - z * s, c + z * s)
    if model == "sar":
        out.update(rho_q1=coef[("q1", "rho")], rho_q2=coef[("q2", "rho")])
    return out


def check_against_product(df, graph, model, se, bandwidth, iv, effects="none") -> None:
    """The study's intervals are those of the fitted results' estimates table (first panel of each chunk)."""
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel

    mod = SpatialHakenModel(df, "q1", "q2", graph, model=model, se=se, bandwidth=bandwidth, effects=effects)
    res = mod.fit(draws=2, seed=0)
    est = res.estimates.set_index(["equation", "term"])
    for term, (eq, name, _) in HAKEN.items():
        ref = _mapped(term, est.at[(eq, name), "ci_low"], est.at[(eq, name), "ci_high"])
        assert np.allclose(iv[term], ref, rtol=1e-10, atol=1e-12), (term, iv[term], ref)


def wild_intervals(df, graph, B: int, seed: int) -> dict:
    """Percentile-t intervals of the SLX wild-year bootstrap (``slx_wild_year``)."""
    from nqpspatial.plugins.spatial_haken import SpatialHakenModel
    from nqpspatial.plugins.spatial_haken.wild import slx_wild_year

    res = SpatialHakenModel(df, "q1", "q2", graph, model="slx").fit(draws=2, seed=0)
    try:
        tab = slx_wild_year(res, B, seed=seed).table.set_index("term")
    except np.linalg.LinAlgError:  # a resample whose simulated path degenerates (recorded as a failure)
        return None
    return {t: (tab.at[t, "ci_low"], tab.at[t, "ci_high"]) for t in HAKEN}


def replicate(cell: str, rng, graph, B: int, wild: bool, check: bool = False, effects: str = "none") -> list[dict]:
    """Coverage and width of every option on one panel of ``cell`` (``effects = "year"``: the se options
    with year effects, labelled ``<option>+year``, no bootstrap)."""
    model, periods, errors = CELLS[cell]
    true = truth(model)
    panel_rng, wild_rng = rng.spawn(2)
    df = simulate(model, periods, errors, panel_rng, graph)
    ivs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, (se, bw) in SE_OPTIONS.items():
            if effects != "none" and model == "sar" and se == "twoway":
                continue  # refused by the model (Lee-Yu mixes the regions: no region clusters)
            label = name if effects == "none" else f"{name}+{effects}"
            ivs[label] = se_intervals(df, graph, model, se, bw, effects=effects)
            if check:
                check_against_product(df, graph, model, se, bw, ivs[label], effects)
        if wild and model == "slx" and effects == "none":
            ivs["wild-year"] = wild_intervals(df, graph, B, int(wild_rng.integers(0, 2**63 - 1)))
    rows = []
    for name, iv in ivs.items():
        row = {"option": name, "failed": float(iv is None)}
        iv = iv or {}
        for t in TERMS:
            lo, hi = iv.get(t, (np.nan, np.nan))
            row[f"cover_{t}"] = float(lo <= true[t] <= hi) if t in true and t in iv else np.nan
            row[f"width_{t}"] = float(hi - lo)
        rows.append(row)
    return rows


# ------------------------------------------------------------------ runner
def _chunk(payload, task):
    cell, graph, B, wild_reps, effects = payload
    rng = task.rng()
    out = []
    for k in range(task.size):
        i = task.start + k
        for r in replicate(cell, rng.spawn(1)[0], graph, B, wild=i < wild_reps, check=k == 0, effects=effects):
            out.append({"rep": i, **r})
    return out


def run_cell(
    cell: str, reps: int, B: int, wild_reps: int, seed, backend, save=None, log=print, effects: str = "none"
) -> pd.DataFrame:
    """All replications of one cell (chunks of 10 replications with fixed seeds), saved and resumable.

    With ``save`` (a path) the rows are written after every block of 5 chunks; a later run with the same
    settings resumes after the last complete chunk (the same replications as an uninterrupted run).
    ``effects = "year"`` fits the same panels (same seeds) with year effects.
    """
    graph = province_graph()
    tasks = plan_chunks(reps, seed, 10)
    rows = []
    if save is not None and Path(save).exists():
        done = pd.read_csv(save)
        n_done = min(int(done["rep"].max() + 1) // 10 if len(done) else 0, len(tasks))
        done = done[done["rep"] < 10 * n_done]
        rows = done.drop(columns="cell").to_dict("records")
        tasks = tasks[n_done:]
        if n_done:
            log(f"{cell}: resuming after {10 * n_done} replications")
    t0 = time.perf_counter()
    for i in range(0, len(tasks), 5):
        parts = backend.map(_chunk, (cell, graph, B, wild_reps, effects), tasks[i : i + 5])
        rows += [r for p in parts for r in p]
        if save is not None:
            pd.DataFrame(rows).assign(cell=cell).to_csv(save, index=False)
        last = tasks[min(i + 5, len(tasks)) - 1].stop
        log(f"{cell} ({effects}): {last}/{reps} replications ({time.perf_counter() - t0:.0f} s)")
    return pd.DataFrame(rows).assign(cell=cell)


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    """Coverage and mean width per cell, option and term (NaN where a term does not apply)."""
    out = []
    for (cell, opt), g in raw.groupby(["cell", "option"], sort=False):
        model, T, errors = CELLS[cell]
        failed = g["failed"].fillna(0.0).to_numpy() > 0 if "failed" in g else np.zeros(len(g), bool)
        rec = {"cell": cell, "model": model, "periods": T, "errors": errors, "option": opt}
        rec.update(reps=int((~failed).sum()), failures=int(failed.sum()))
        g = g[~failed]
        for t in TERMS:
            rec[f"coverage_{t}"] = g[f"cover_{t}"].mean()
            rec[f"width_{t}"] = g[f"width_{t}"].mean()
        own = [rec[f"coverage_{t}"] for t in TERMS[:6] if not np.isnan(rec[f"coverage_{t}"])]
        rec["min_coverage"] = min(own)
        rec["min_coverage_system"] = min(rec[f"coverage_{t}"] for t in SYSTEM_TERMS)
        out.append(rec)
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame) -> str:
    """The tables of docs/inference.md (one per model and length)."""
    lines = []
    for model in MODELS:
        for T in LENGTHS:
            s = summary[(summary["model"] == model) & (summary["periods"] == T)]
            if s.empty:
                continue
            own = [t for t in TERMS[:6] if s[f"coverage_{t}"].notna().any()]
            lines += _table(s, own, f"{model.upper()}, {T} periods, coefficients")
            sys_title = f"{model.upper()}, {T} periods, system parameters (total effects)"
            lines += _table(s[s["option"] != "wild-year"], SYSTEM_TERMS, sys_title)
    return "\n".join(lines) + "\n"


def _table(s: pd.DataFrame, terms: list, title: str) -> list:
    lines = [
        f"\n**{title}** (coverage of nominal 95 % intervals; mean width in parentheses)\n",
        "| errors | option | reps | " + " | ".join(terms) + " | min |",
        "|---|---|---|" + "---|" * len(terms) + "---|",
    ]
    for _, r in s.iterrows():
        cells = " | ".join(f"{r[f'coverage_{t}']:.3f} ({r[f'width_{t}']:.3g})" for t in terms)
        low = min(r[f"coverage_{t}"] for t in terms)
        reps = f"{r['reps']}" + (f" ({r['failures']} failed)" if r["failures"] else "")
        lines.append(f"| {r['errors']} | {r['option']} | {reps} | {cells} | {low:.3f} |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000, help="replications per cell (default 1000)")
    ap.add_argument("--wild-reps", type=int, default=200, help="replications with the SLX wild bootstrap (200)")
    ap.add_argument("--year-reps", type=int, default=1000, help="common-shock replications with year effects (1000)")
    ap.add_argument("--B", type=int, default=199, help="wild-year bootstrap resamples (default 199)")
    ap.add_argument("--cells", nargs="*", default=list(CELLS), help=f"cells (default all: {', '.join(CELLS)})")
    ap.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=str(RESULTS), help="folder of the summary files")
    ap.add_argument("--raw", default=None, help="folder of the raw per-cell files (default: --out)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    raw_dir = Path(a.raw) if a.raw else out
    out.mkdir(parents=True, exist_ok=True)
    raw_dir.mkdir(parents=True, exist_ok=True)
    raws = []
    with open_backend("processes" if a.workers > 1 else "inprocess", workers=a.workers) as backend:
        for cell in a.cells:
            seed = [a.seed, list(CELLS).index(cell)]
            save = raw_dir / f"mc_spatial_inference_raw_{cell}.csv"
            raws.append(run_cell(cell, a.reps, a.B, a.wild_reps, seed, backend, save=save))
        for cell in [c for c in a.cells if CELLS[c][2] == "common"]:  # the same panels with year effects
            seed = [a.seed, list(CELLS).index(cell)]
            save = raw_dir / f"mc_spatial_inference_raw_{cell}_year.csv"
            reps = min(a.year_reps, a.reps)
            raws.append(run_cell(cell, reps, a.B, 0, seed, backend, save=save, effects="year"))
    summary = summarize(pd.concat(raws, ignore_index=True))
    summary.to_csv(out / "mc_spatial_inference.csv", index=False)
    head = (
        f"Replications per cell: {a.reps} (SLX wild-year bootstrap: the first {min(a.wild_reps, a.reps)}, "
        f"B = {a.B}); common-shock cells also with year effects (options `+year`): the first "
        f"{min(a.year_reps, a.reps)} panels; seed {a.seed}.\n"
    )
    text = head + markdown(summary)
    (out / "mc_spatial_inference.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
