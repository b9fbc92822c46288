"""Recovery of the spatial system's stable point and case on simulated panels (issue 14, acceptance 2).

The full study (50 panels per model and length, 1,000 draws) is ``python benchmarks/mc_spatial_steady_state.py``
and its recorded result is in docs/spatial_haken.md.  This slow test runs the same design with 20 panels per
model and length and 400 draws, with the acceptance counts scaled (43/50 -> 17/20 coverage, 45/50 -> 18/20 case).
Reference: the true parameters of the simulation.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _study():
    spec = importlib.util.spec_from_file_location("_mc_spatial", ROOT / "benchmarks" / "mc_spatial_steady_state.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_design_coefficients_give_the_true_system():
    """The per-model coefficients have the true system as total effects (uniform map) and q1* = 0.69985."""
    from nqpspatial.plugins.spatial_haken.dynamics import EquationMap, uniform_system

    mc = _study()
    for model in mc.MODELS:
        c = mc.true_coefficients(model)
        eqs = {
            eq: EquationMap(
                beta={t: v for t, v in p.items() if t in ("q1", "q1q2", "q2", "q1sq")},
                theta={t[6:]: [v] for t, v in p.items() if t.startswith("theta_")},
                rho=(p["rho"],) if "rho" in p else (),
            )
            for eq, p in c.items()
        }
        sysp = uniform_system(eqs)
        for k, v in mc.SYSTEM.items():
            assert sysp[k] == pytest.approx(v, abs=1e-12), (model, k)
    q, case = mc.truth()
    assert q == pytest.approx((0.1 * 0.6 / 0.35**2) ** 0.5) and case == 1


@pytest.mark.slow
def test_recovery_of_the_system_stable_point():
    mc = _study()
    panels = mc.run_study(n_panels=20, draws=400, seed=mc.SEED)
    summ = mc.summarize(panels)
    assert (summ["panels"] == 20).all() and (summ["cover_min"] == 17).all() and (summ["case_min"] == 18).all()
    bad = summ[~summ["passes"]]
    assert bad.empty, bad.to_string()
    assert (summ["steady_converged"] == 20).all()
