"""Monte Carlo study: does ``model_selection.csv`` pick the model that generated the panel? (issue 15)

Design (fixed by the issue): panels of the 31 mainland provinces (queen contiguity, Hainan linked to its
nearest province, row-standardized) and 20 periods simulated from SAR-, SEM- and SDM-Haken with the
coefficients of the stable-point study (``benchmarks/mc_spatial_steady_state.py``: total effects of the
case-1 system gamma1 = -0.1, a = 0.35, gamma2 = 0.6, b = 0.35; rho = lambda = 0.3; theta = 0.2 beta in
SDM), innovations N(0, 0.01^2), starting states uniform on [0.2, 0.6], 50 panels per model from one seed.
Each panel goes through :func:`nqpspatial.plugins.spatial_haken.selection.selection_table` (pooled, no
effects, alpha = 0.05) and the ``system`` row's ``preferred`` model is compared with the generating one.
Acceptance: at least 40 of 50 correct for each model.

Usage::

    python benchmarks/mc_model_selection.py                 # the full study (about 1 minute)
    python benchmarks/mc_model_selection.py --panels 10     # the reduced version of the slow test
    python benchmarks/mc_model_selection.py --csv picks.csv # one row per panel

The recorded result is in docs/spatial_haken.md ("Model selection").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mc_spatial_steady_state import SIGMA, START, province_graph, true_coefficients  # noqa: E402

MODELS = ("sar", "sem", "sdm")
PERIODS = 20
SEED = 20261207
OK_MIN, OUT_OF = 40, 50


def one_panel(model: str, seed: int, graph) -> dict:
    """Simulate one panel from ``model`` and return the selected models."""
    from nqpspatial.plugins.spatial_haken import simulate_panel
    from nqpspatial.plugins.spatial_haken.selection import selection_table

    rng = np.random.default_rng(seed)
    n = len(graph.unique_ids)
    q0 = (rng.uniform(*START, n), rng.uniform(*START, n))
    df = simulate_panel(model, graph, true_coefficients(model), periods=PERIODS, sigma=SIGMA, seed=rng, q0=q0)
    tab = selection_table(df, "q1", "q2", graph, region="region", year="year", effects="none", weights_name="queen")
    picks = tab.drop_duplicates("equation").set_index("equation")["preferred"]
    return {"model": model, "seed": seed, "q1": picks["q1"], "q2": picks["q2"], "system": picks[""]}


def run_study(n_panels: int = OUT_OF, seed: int = SEED) -> pd.DataFrame:
    """One row per panel: generating model, seed and the picks of the q1, q2 and system rows."""
    graph = province_graph()
    seeds = np.random.SeedSequence(seed).generate_state(len(MODELS) * n_panels)
    rows = []
    for i, model in enumerate(MODELS):
        for s in seeds[i * n_panels : (i + 1) * n_panels]:
            rows.append(one_panel(model, int(s), graph))
    return pd.DataFrame(rows)


def summarize(panels: pd.DataFrame) -> pd.DataFrame:
    """Per generating model: panels, correct system picks, the required minimum and the picks' counts."""
    out = []
    for model, g in panels.groupby("model", sort=False):
        n = len(g)
        need = int(np.ceil(OK_MIN * n / OUT_OF))
        counts = g["system"].value_counts()
        out.append(
            {
                "model": model,
                "panels": n,
                "correct": int((g["system"] == model).sum()),
                "required": need,
                "passes": bool((g["system"] == model).sum() >= need),
                **{f"picked_{m}": int(counts.get(m, 0)) for m in ("slx", "sar", "sem", "sdm")},
            }
        )
    return pd.DataFrame(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", type=int, default=OUT_OF)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--csv", default=None)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    panels = run_study(a.panels, a.seed)
    summ = summarize(panels)
    print(summ.to_string(index=False))
    print(f"{time.perf_counter() - t0:.1f} s")
    if a.csv:
        panels.to_csv(a.csv, index=False)
    return 0 if summ["passes"].all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
