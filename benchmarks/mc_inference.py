"""Monte Carlo study: coverage and width of the Haken model's intervals under cross-regional dependence.

Panels of 31 regions (the 31 Chinese provinces) and 10 or 20 periods are
simulated from the discrete Haken system at the demo's true parameters
(gamma1 = -0.10, a = 0.15, gamma2 = 0.70, b = 0.84; ``nqpspatial.demo``),
q1 starting in U(0.1, 0.5), q2 on the servo curve, shocks of sd 0.01, with
three error structures:

* ``iid``: independent errors;
* ``common``: plus a common year shock of the same sd (one per year and
  equation, shared by all regions);
* ``sar``: spatially autoregressive errors ``u = (I - 0.5 W)^-1 eps`` with
  the row-standardized queen contiguity of the provinces (Hainan linked to
  Guangdong).

Every inference option of ``[haken]`` is fitted with ``effects = "none"``
(the default) and the study records, for gamma1, a, gamma2, b and
|gamma2|/|gamma1|, how often the nominal 95 % interval covers the truth and
its mean width.  Standard-error options give t intervals (the ratio by the
delta method with the cross-equation covariance of the same estimator);
``region-bootstrap`` gives percentile intervals; ``wild-year`` percentile-t
intervals.  A second study sets gamma2 = 0 (the servo variable then has a
unit root) under common shocks and counts how often each option calls gamma2
significant (p < 0.05; and with gamma2 > 0, the verdict's leg).

Usage::

    python benchmarks/mc_inference.py                 # 1,000 replications per cell (about 2 h on one core)
    python benchmarks/mc_inference.py --reps 50 --B 199 --workers 2

Results go to ``benchmarks/results/mc_inference.csv`` and, as markdown,
``benchmarks/results/mc_inference.md`` (copied into docs/inference.md).
Replication ``i`` of a cell draws from a fixed child of the cell's seed
(chunks through :mod:`nqpspatial.backends`), so the numbers do not depend on
the number of workers.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nqpspatial.backends import open_backend, plan_chunks
from nqpspatial.haken import HakenModel, simulate_panel
from nqpspatial.haken.inference import bartlett_bandwidth, period_scores

TRUTH = {"gamma1": -0.10, "a": 0.15, "gamma2": 0.70, "b": 0.84}
TERMS = ["gamma1", "a", "gamma2", "b", "ratio"]
NOISE = 0.01
#: name -> (se, bootstrap scheme or None, Driscoll-Kraay bandwidth or None); add options here.
OPTIONS = {
    "classical": ("classical", None, None),
    "hc1": ("hc1", None, None),
    "cluster": ("cluster", None, None),
    "driscoll-kraay": ("driscoll-kraay", None, None),
    "driscoll-kraay-bw0": ("driscoll-kraay", None, 0),
    "twoway": ("twoway", None, None),
    "region-bootstrap": ("classical", "region", None),
    "wild-year": ("classical", "wild-year", None),
}
#: cell name -> (periods, errors, true gamma2)
CELLS = {f"{e}-{T}": (T, e, TRUTH["gamma2"]) for T in (10, 20) for e in ("iid", "common", "sar")}
CELLS["unit-root-common-20"] = (20, "common", 0.0)
RESULTS = Path(__file__).resolve().parent / "results"


def province_weights() -> np.ndarray:
    """Row-standardized queen contiguity of the 31 provinces (Hainan linked to Guangdong)."""
    from nqpspatial.geodata import province_neighbors

    nb = province_neighbors("queen", island="nearest")
    ids = sorted(nb)
    pos = {r: i for i, r in enumerate(ids)}
    W = np.zeros((len(ids), len(ids)))
    for r, js in nb.items():
        for j in js:
            W[pos[r], pos[j]] = 1.0
    return W / W.sum(axis=1, keepdims=True)


def simulate(cell, rng, W):
    """One panel of a cell."""
    T, errors, g2 = CELLS[cell]
    truth = {**TRUTH, "gamma2": g2}
    kw = {}
    if errors == "common":
        kw["year_shock_sd"] = NOISE
    elif errors == "sar":
        kw.update(error_rho=0.5, weights=W)
    return simulate_panel(**truth, n_regions=31, n_periods=T, noise_sd=NOISE, q1_start=(0.1, 0.5), seed=rng, **kw)


# ------------------------------------------------------------------ delta-method ratio for se options
def _codes(fit):
    """Region and year codes of the fit's transition rows."""
    p = fit._panel_std
    last = p.groupby("region", sort=False)["year"].transform("max")
    rows = p[p["year"] < last]
    return pd.factorize(rows["region"])[0], rows["year"].to_numpy()


def cross_cov(fit, se: str, bandwidth=None) -> np.ndarray:
    """Covariance between the q1- and q2-equation coefficients under the fit's ``se`` estimator.

    The same sandwich as each option's own covariance, with the meat built
    from the scores of both equations (classical: the residual covariance
    times ``(X1'X1)^-1 X1'X2 (X2'X2)^-1``).
    """
    r1, r2 = fit.equation_results
    X1, X2 = r1.exog, r2.exog
    e1, e2 = np.asarray(r1.resid), np.asarray(r2.resid)
    n, k = X1.shape
    A1, A2 = np.linalg.inv(X1.T @ X1), np.linalg.inv(X2.T @ X2)
    reg, year = _codes(fit)

    def cluster(codes):
        s1, s2 = period_scores(X1, e1, codes), period_scores(X2, e2, codes)
        G = s1.shape[0]
        return (G / (G - 1.0)) * ((n - 1.0) / (n - k)) * (s1.T @ s2)

    if se == "classical":
        meat = (e1 @ e2) / (n - k) * (X1.T @ X2)
    elif se == "hc1":
        meat = n / (n - k) * ((X1 * (e1 * e2)[:, None]).T @ X2)
    elif se == "cluster":
        meat = cluster(reg)
    elif se == "twoway":
        meat = cluster(reg) + cluster(year) - n / (n - k) * ((X1 * (e1 * e2)[:, None]).T @ X2)
    elif se == "driscoll-kraay":
        s1, s2 = period_scores(X1, e1, year), period_scores(X2, e2, year)
        L = bartlett_bandwidth(s1.shape[0]) if bandwidth is None else bandwidth
        meat = s1.T @ s2
        for j in range(1, L + 1):
            w = 1.0 - j / (L + 1.0)
            meat = meat + w * (s1[j:].T @ s2[:-j] + s1[:-j].T @ s2[j:])
        meat = meat * n / (n - k)
    else:
        raise ValueError(se)
    return A1 @ meat @ A2


# ------------------------------------------------------------------ one replication
def t_df(fit, se: str) -> float:
    """Degrees of freedom of the t reference of each standard-error option (as HakenModel)."""
    n, k = fit.equation_results[0].exog.shape
    reg, year = _codes(fit)
    G, T = len(np.unique(reg)), len(np.unique(year))
    return {"classical": n - k, "hc1": n - k, "cluster": G - 1, "twoway": min(G, T) - 1, "driscoll-kraay": T - 1}[se]


def _psd(V):
    """Negative eigenvalues set to zero (Cameron, Gelbach & Miller 2011), as HakenModel does for two-way."""
    w, U = np.linalg.eigh((V + V.T) / 2.0)
    return V if w.min() >= 0 else (U * np.maximum(w, 0.0)) @ U.T


def se_intervals(fit, se, bandwidth, alpha=0.05):
    """t intervals of every term and of the ratio under a standard-error option, from one OLS fit.

    The covariances are :func:`cross_cov` (the options' own sandwiches,
    checked against ``HakenModel(se=...)`` on the first panel of every
    chunk), so one fit serves every option.
    """
    r1, r2 = fit.equation_results

    class _Own:  # the same equation twice: its own covariance
        pass

    out = {}
    q = stats.t.ppf(1 - alpha / 2, t_df(fit, se))
    covs = []
    for r in (r1, r2):
        own = _Own()
        own.equation_results, own._panel_std = (r, r), fit._panel_std
        covs.append(_psd(cross_cov(own, se, bandwidth)) if se == "twoway" else cross_cov(own, se, bandwidth))
    sd = {
        "gamma1": np.sqrt(covs[0][0, 0]),
        "a": np.sqrt(covs[0][1, 1]),
        "gamma2": np.sqrt(covs[1][0, 0]),
        "b": np.sqrt(covs[1][1, 1]),
    }
    for t in TERMS[:4]:
        out[t] = (fit.params[t] - q * sd[t], fit.params[t] + q * sd[t])
    g1, g2 = fit.params["gamma1"], fit.params["gamma2"]
    c12 = cross_cov(fit, se, bandwidth)
    if se == "twoway":  # the joint covariance of both equations, made PSD like the product's
        J = _psd(np.block([[covs[0], c12], [c12.T, covs[1]]]))
        c12 = J[:2, 2:]
    c12 = c12[0, 0]
    r = abs(g2) / abs(g1)
    var = r * r * (sd["gamma1"] ** 2 / g1**2 + sd["gamma2"] ** 2 / g2**2 - 2.0 * c12 / (g1 * g2))
    out["ratio"] = (r - q * np.sqrt(max(var, 0.0)), r + q * np.sqrt(max(var, 0.0)))
    p2 = 2 * stats.t.sf(abs(g2 / sd["gamma2"]), t_df(fit, se))
    return out, p2, sd


def _wild(df, B, seed):
    from nqpspatial.haken.model import _Design, prepare_panel
    from nqpspatial.haken.wild import wild_year_bootstrap

    design = _Design(prepare_panel(df, "q1", "q2"), False, "none")
    cols = design.slope_cols()
    cs = []
    for Z, y in ((design.Z1, design.y1), (design.Z2, design.y2)):
        c = np.linalg.lstsq(Z[cols].to_numpy(float), y, rcond=None)[0]
        cs.append(pd.Series(c, index=cols))
    return wild_year_bootstrap(design, tuple(cs), B, seed=seed, null_terms=("gamma2",))


def replicate(cell, rng, W, B, check=False):
    """Coverage, width and the gamma2 test of every option on one panel."""
    df = simulate(cell, rng, W)
    g2_true = CELLS[cell][2]
    truth = {**TRUTH, "gamma2": g2_true}
    truth["ratio"] = abs(truth["gamma2"]) / abs(truth["gamma1"])
    out = []
    seeds = rng.spawn(len(OPTIONS))
    base = HakenModel(df, "q1", "q2").fit(bootstrap=0)
    for (name, (se, scheme, bw)), s in zip(OPTIONS.items(), seeds):
        if scheme == "wild-year":
            # HakenModel.fit's wild-year bootstrap, restricted p-value of gamma2 only (the draws, the
            # intervals and that p-value are the same as with every term's test; checked on the first panel)
            si = int(s.integers(0, 2**63 - 1))
            boot = _wild(df, B, np.random.default_rng(si))
            ivr = boot.intervals.set_index("term")
            iv = {t: (ivr.at[t, "ci_low"], ivr.at[t, "ci_high"]) for t in TERMS}
            p2, g2 = boot.pvalues["gamma2"], base.params["gamma2"]
            if check:
                ref = HakenModel(df, "q1", "q2").fit(bootstrap=B, bootstrap_scheme=scheme, seed=si)
                assert np.allclose(ref.conf_int.to_numpy(), ivr.loc[TERMS[:4], ["ci_low", "ci_high"]].to_numpy())
                assert ref.pvalues["gamma2"] == p2
        elif scheme:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fit = HakenModel(df, "q1", "q2", se=se, bandwidth=bw).fit(bootstrap=B, bootstrap_scheme=scheme, seed=s)
            ci = fit.conf_int
            iv = {t: (ci.loc[t, "ci_low"], ci.loc[t, "ci_high"]) for t in TERMS[:4]}
            ivr = fit.bootstrap.intervals.set_index("term")
            iv["ratio"] = (ivr.at["ratio", "ci_low"], ivr.at["ratio", "ci_high"])
            p2, g2 = fit.pvalues["gamma2"], fit.params["gamma2"]
        else:
            iv, p2, sd = se_intervals(base, se, bw)
            g2 = base.params["gamma2"]
            if check:  # the MC's sandwiches are the product's
                ref = HakenModel(df, "q1", "q2", se=se, bandwidth=bw).fit(bootstrap=0)
                assert np.allclose([sd[t] for t in TERMS[:4]], ref.bse[TERMS[:4]].to_numpy(), rtol=1e-9)
                assert abs(ref.pvalues["gamma2"] - p2) < 1e-9 * max(1.0, p2) + 1e-300
        row = {"option": name, "gamma2_hat": g2, "p_gamma2": p2}
        for t in TERMS:
            lo, hi = iv[t]
            row[f"cover_{t}"] = float(lo <= truth[t] <= hi)
            row[f"width_{t}"] = float(hi - lo)
        out.append(row)
    return out


def _chunk(payload, task):
    cell, W, B = payload
    rng = task.rng()
    return [r for rep in range(task.size) for r in replicate(cell, rng.spawn(1)[0], W, B, check=rep == 0)]


def run_cell(cell, reps, B, seed, backend, save=None):
    """All replications of one cell (chunks of 10 replications, fixed seeds).

    With ``save`` (a path) the rows are written after every block of 10
    chunks, so that an interrupted run keeps what it did (the first chunks
    of the cell, the same replications as a full run), and a later run
    resumes from there.
    """
    W = province_weights()
    tasks = plan_chunks(reps, seed, 10)
    rows = []
    if save is not None and Path(save).exists():  # resume: the first chunks are the same replications
        done = pd.read_csv(save)
        n_done = min(len(done) // (10 * len(OPTIONS)), len(tasks))
        rows = done.drop(columns="cell").iloc[: n_done * 10 * len(OPTIONS)].to_dict("records")
        tasks = tasks[n_done:]
    for i in range(0, len(tasks), 10):
        parts = backend.map(_chunk, (cell, W, B), tasks[i : i + 10])
        rows += [r for p in parts for r in p]
        if save is not None:
            pd.DataFrame(rows).assign(cell=cell).to_csv(save, index=False)
    return pd.DataFrame(rows).assign(cell=cell)


def summarize_files(folder) -> pd.DataFrame:
    """Summary of every raw file in ``folder`` (also of an interrupted run)."""
    raws = [pd.read_csv(f) for f in sorted(Path(folder).glob("mc_inference_raw_*.csv"))]
    return summarize(pd.concat(raws, ignore_index=True))


def summarize(raw: pd.DataFrame) -> pd.DataFrame:
    """Coverage and mean width per cell, option and term; the gamma2 test's rejection rates."""
    out = []
    for (cell, opt), g in raw.groupby(["cell", "option"], sort=False):
        T, errors, g2 = CELLS[cell]
        rec = {"cell": cell, "periods": T, "errors": errors, "gamma2_true": g2, "option": opt, "reps": len(g)}
        for t in TERMS:
            rec[f"coverage_{t}"] = g[f"cover_{t}"].mean()
            rec[f"width_{t}"] = g[f"width_{t}"].mean()
        rec["min_coverage"] = min(rec[f"coverage_{t}"] for t in TERMS)
        rec["reject_gamma2"] = (g["p_gamma2"] < 0.05).mean()
        rec["verdict_leg"] = ((g["p_gamma2"] < 0.05) & (g["gamma2_hat"] > 0)).mean()
        out.append(rec)
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame) -> str:
    """The tables of docs/inference.md."""
    lines = []
    cov = summary[summary["gamma2_true"] != 0]
    for T in sorted(cov["periods"].unique()):
        lines += [
            f"\n**{T} periods** (coverage of nominal 95 % intervals; mean width in parentheses)\n",
            "| errors | option | gamma1 | a | gamma2 | b | ratio | min |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for _, r in cov[cov["periods"] == T].iterrows():
            cells = " | ".join(f"{r[f'coverage_{t}']:.3f} ({r[f'width_{t}']:.3g})" for t in TERMS)
            lines.append(f"| {r['errors']} | {r['option']} | {cells} | {r['min_coverage']:.3f} |")
    fp = summary[summary["gamma2_true"] == 0]
    if len(fp):
        lines += [
            "\n**Unit root (true gamma2 = 0), common shocks, 20 periods**\n",
            "| option | p < 0.05 | p < 0.05 and gamma2 > 0 (verdict leg) |",
            "|---|---|---|",
        ]
        for _, r in fp.iterrows():
            lines.append(f"| {r['option']} | {r['reject_gamma2']:.3f} | {r['verdict_leg']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000, help="replications per cell (default 1000)")
    ap.add_argument("--B", type=int, default=399, help="bootstrap resamples per fit (default 399)")
    ap.add_argument("--cells", nargs="*", default=list(CELLS), help=f"cells (default all: {', '.join(CELLS)})")
    ap.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=20250815)
    ap.add_argument("--out", default=str(RESULTS), help="output folder")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    raws = []
    with open_backend("processes" if a.workers > 1 else "inprocess", workers=a.workers) as backend:
        for cell in a.cells:
            t0 = time.perf_counter()
            raw = run_cell(
                cell, a.reps, a.B, [a.seed, list(CELLS).index(cell)], backend, save=out / f"mc_inference_raw_{cell}.csv"
            )
            raws.append(raw)
            print(f"{cell}: {a.reps} replications in {time.perf_counter() - t0:.0f} s", flush=True)
    summary = summarize_files(out)
    summary.to_csv(out / "mc_inference.csv", index=False)
    text = f"Replications per cell: {a.reps}; bootstrap resamples: {a.B}; seed {a.seed}.\n" + markdown(summary)
    (out / "mc_inference.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
