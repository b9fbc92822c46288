"""The spatial coverage study (``benchmarks/mc_spatial_inference.py``, issue 15 item 3): its simulator and a
reduced run of one common-shock cell.

References: :func:`nqpspatial.plugins.spatial_haken.simulate_panel` (the study's independent-error panels
must equal it); the intervals of ``spatial_haken_estimates`` (the study checks its own against them on the
first panel of every chunk); the full study's recorded results (docs/inference.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpspatial.backends import open_backend
from nqpspatial.plugins.spatial_haken import simulate_panel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("_mc_spinf", ROOT / "benchmarks" / "mc_spatial_inference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def graph(study):
    return study.province_graph()


@pytest.mark.parametrize("model", ["slx", "sar"])
def test_independent_error_panels_equal_simulate_panel(study, graph, model):
    df = study.simulate(model, 10, "iid", np.random.default_rng(4), graph)
    _, child = np.random.default_rng(4).spawn(2)
    n = len(graph.unique_ids)
    q0 = (child.uniform(*study.START, n), child.uniform(*study.START, n))
    ref = simulate_panel(model, graph, study.true_coefficients(model), periods=10, sigma=study.SIGMA, seed=child, q0=q0)
    pd.testing.assert_frame_equal(df, ref, check_exact=False, rtol=1e-10, atol=1e-13)


def test_common_shocks_shift_every_region_by_the_same_year_shock(study, graph):
    """SLX: the common-shock panel's first transition differs from the iid one by one constant per equation."""
    iid = study.simulate("slx", 3, "iid", np.random.default_rng(9), graph)
    com = study.simulate("slx", 3, "common", np.random.default_rng(9), graph)
    d = (com[com["year"] == 2][["q1", "q2"]].to_numpy() - iid[iid["year"] == 2][["q1", "q2"]].to_numpy()).T
    assert np.ptp(d, axis=1).max() < 1e-12 and np.abs(d[:, 0]).min() > 0


@pytest.mark.slow
def test_reduced_common_shock_cell_coverage(study):
    """40 panels of SLX, common shocks, 20 periods (a seed other than the full study's).

    In the full study (docs/inference.md) ``se = "ml"`` with year effects is the best option under common
    shocks (coverage of every coefficient and system parameter 0.946 or more in 1,000 panels), while without
    year effects the system parameters' ml intervals cover 0.36-0.39 (1,000 panels).  Bounds for 40 panels: at least
    0.80 for every term with year effects (P < 0.001 per term at a true 0.95), at most 0.60 without."""
    with open_backend("inprocess") as backend:
        year = study.run_cell("slx-common-20", 40, 199, 0, [1, 2], backend, log=lambda *_: None, effects="year")
        none = study.run_cell("slx-common-20", 40, 199, 0, [1, 2], backend, log=lambda *_: None)
    s = pd.concat([study.summarize(year), study.summarize(none)]).set_index("option")
    assert (s["reps"] == 40).all() and {"ml", "ml+year", "twoway", "twoway+year"} <= set(s.index)
    cover = s.loc["ml+year", [f"coverage_{t}" for t in study.TERMS if t not in ("rho_q1", "rho_q2")]]
    assert cover.min() >= 0.80, s.to_string()
    assert s.at["ml", "min_coverage_system"] <= 0.60, s.to_string()
