"""Stability of the two-variable annual map, checked by iterating the map (issue 14, acceptance 1).

Reference: the map itself.  For random parameter draws in each stability case (1-4, with and without
intercepts), every draw with a reported stable point must have ``Potential.map_stable`` equal to the
outcome of iterating ``(q1, q2) -> (k1 + (1 - g1) q1 - a q1 q2, k2 + (1 - g2) q2 + b q1^2)`` 100,000
steps from a perturbation of 1e-6 (relative, with floor 1e-6 absolute at a zero coordinate) of the
fixed point: stable = back within 1e-9.  Draws whose spectral radius lies within 1e-3 of 1 (where
100,000 steps cannot tell) are excluded and counted.  The default lane runs 400 draws per case;
the slow lane runs the full 10,000.
"""

from __future__ import annotations

import numpy as np
import pytest

from nqpspatial.haken import HakenSystem, Potential
from nqpspatial.haken.potential import map_stable_analytic, stable_points

STEPS = 100_000
PERTURB = 1e-6
BACK = 1e-9
MARGIN = 1e-3


def _draw_case(rng, case: int, n: int, intercepts: bool) -> np.ndarray:
    """``n`` parameter rows (g1, a, g2, b, k1, k2) whose potential is in ``case``.

    Magnitudes span the stable and the unstable side of every map condition: gamma1 in (-1.2, 2.4),
    gamma2 in (0, 3), |a|, |b| in (0.05, 1.5), intercepts in (-0.15, 0.15).  Rows are drawn in
    batches and kept when ``stable_points`` classifies them in ``case`` (the classification itself
    is checked against :class:`Potential` below).
    """
    out = []
    while sum(len(o) for o in out) < n:
        m = 4 * n
        g1 = rng.uniform(-1.2, 2.4, m)
        g2 = rng.uniform(0.0, 3.0, m)
        a = rng.uniform(0.05, 1.5, m) * rng.choice([-1.0, 1.0], m)
        b = rng.uniform(0.05, 1.5, m) * rng.choice([-1.0, 1.0], m)
        k = rng.uniform(-0.15, 0.15, (2, m)) if intercepts else np.zeros((2, m))
        rows = np.column_stack([g1, a, g2, b, k[0], k[1]])
        keep = (g2 > 0) & (stable_points(*rows.T)["case"] == case)
        out.append(rows[keep])
    return np.vstack(out)[:n]


def _iterate_back(p: np.ndarray, q1s: np.ndarray, q2s: np.ndarray, rng) -> np.ndarray:
    """Whether the map returns within BACK of (q1s, q2s) after STEPS steps from a 1e-6 perturbation.

    Vectorised over rows.  Every 1,000 steps, rows that sit on a floating-point fixed point (one more
    step leaves them unchanged) or have left the reals are set aside: their state can no longer
    change, so the result is that of the full 100,000 steps.
    """
    g1, a, g2, b, k1, k2 = p.T
    s = rng.choice([-1.0, 1.0], (2, len(p)))
    x1 = q1s + PERTURB * s[0] * np.maximum(np.abs(q1s), 1.0)
    x2 = q2s + PERTURB * s[1] * np.maximum(np.abs(q2s), 1.0)
    f1, f2 = x1.copy(), x2.copy()
    active = np.arange(len(p))
    done = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while done < STEPS and active.size:
            n = min(1000, STEPS - done)
            y1, y2 = x1[active], x2[active]
            c1, c2, c3, c4, c5, c6 = (v[active] for v in (g1, a, g2, b, k1, k2))
            for _ in range(n):
                y1, y2 = k1_step(c1, c2, c5, y1, y2), k2_step(c3, c4, c6, y1, y2)
            done += n
            z1, z2 = k1_step(c1, c2, c5, y1, y2), k2_step(c3, c4, c6, y1, y2)
            frozen = ~(np.isfinite(y1) & np.isfinite(y2)) | ((z1 == y1) & (z2 == y2))
            x1[active], x2[active] = y1, y2
            f1[active], f2[active] = y1, y2
            active = active[~frozen]
    dist = np.maximum(np.abs(f1 - q1s), np.abs(f2 - q2s))
    return np.isfinite(dist) & (dist <= BACK)


def k1_step(g1, a, k1, q1, q2):
    return k1 + (1.0 - g1) * q1 - a * q1 * q2


def k2_step(g2, b, k2, q1, q2):
    return k2 + (1.0 - g2) * q2 + b * q1 * q1


def _check(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows, reported, tags = [], [], []
    for intercepts in (False, True):
        for case in (1, 2, 3, 4):
            P = _draw_case(rng, case, n, intercepts)
            for p in P:
                pot = Potential(*p[:4], k1=p[4], k2=p[5])
                assert pot.case == case
                if pot.stable_point is None:
                    assert pot.map_stable is None
                    continue
                q1s = pot.stable_point[0]
                rows.append(p)
                reported.append((q1s, (p[5] + p[3] * q1s**2) / p[2], pot.map_stable, pot.jacobian_radius))
                tags.append((case, intercepts))
    P = np.array(rows)
    q1s, q2s, stable, radius = (np.array(c) for c in zip(*reported))
    assert stable.dtype == bool
    # the vectorised reading (used over effect draws) equals Potential draw by draw
    vec = stable_points(*P.T)
    np.testing.assert_allclose(vec["q1_star"], q1s, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(vec["jacobian_radius"], radius, rtol=1e-9, atol=1e-12)
    near = np.abs(radius - 1.0) < MARGIN
    assert np.array_equal(vec["map_stable"][~near], stable[~near])
    back = _iterate_back(P[~near], q1s[~near], q2s[~near], rng)
    mismatch = back != stable[~near]
    tags = np.array(tags, dtype=object)[~near]
    assert not mismatch.any(), f"{mismatch.sum()} draws disagree, e.g. {P[~near][mismatch][:3]}"
    by = {}
    for (case, icpt), st in zip(tags, stable[~near]):
        key = (int(case), bool(icpt))
        tot, ok = by.get(key, (0, 0))
        by[key] = (tot + 1, ok + int(st))
    return {"checked": int((~near).sum()), "excluded": int(near.sum()), "by_case": by}


def test_map_stable_equals_iteration_default_lane():
    """400 draws per case and intercept setting; both readings occur in every case with a stable point."""
    res = _check(400, seed=20240614)
    assert res["excluded"] < 0.01 * res["checked"]
    for key, (tot, ok) in res["by_case"].items():
        if key[0] in (1, 2, 4):
            assert 0 < ok < tot, (key, tot, ok)  # stable and unstable draws both tested


@pytest.mark.slow
def test_map_stable_equals_iteration_full():
    """The acceptance count: 10,000 draws per case and intercept setting."""
    res = _check(10_000, seed=14)
    assert res["excluded"] < 0.01 * res["checked"]


def test_closed_form_equals_jacobian_eigenvalues():
    """Without intercepts the closed-form conditions equal the eigenvalues of the Jacobian."""
    rng = np.random.default_rng(3)
    n = 0
    for _ in range(2000):
        g1, g2 = rng.uniform(-1.5, 2.5), rng.uniform(-0.5, 3.0)
        a, b = rng.uniform(-1.5, 1.5, 2)
        pot = Potential(g1, a, g2, b)
        if pot.stable_point is None:
            continue
        q = pot.stable_point[0]
        J = HakenSystem(g1, a, g2, b).jacobian(q, b * q * q / g2)
        rad = np.max(np.abs(np.linalg.eigvals(J)))
        if abs(rad - 1) < 1e-9:
            continue
        assert map_stable_analytic(g1, g2, q) == (rad < 1) == pot.map_stable
        n += 1
    assert n > 900


@pytest.mark.parametrize(
    "g1, g2, expect_map, expect_reduced",
    [
        (-0.7, 0.6, False, True),  # -1 < g1 < -1/2: the reduced map says stable, the map diverges
        (-0.1, 2.05, True, False),  # g2 slightly above 2: the servo alone says unstable, the map converges
        (-0.2, 0.8, True, True),
    ],
)
def test_map_stable_fixes_the_reduced_reading(g1, g2, expect_map, expect_reduced):
    a, b = 0.35, 0.35
    pot = Potential(g1, a, g2, b)
    assert pot.case == 1
    assert pot.map_stable is expect_map and pot.map_stable_2d is expect_map
    assert pot.reduced_map_stable is expect_reduced
    row = pot.row()
    assert row["map_stable"] is expect_map and row["reduced_map_stable"] is expect_reduced
    # iterate the map from the fixed point perturbed by 1e-6
    q = pot.stable_point[0]
    sys_ = HakenSystem(g1, a, g2, b)
    p1, p2 = sys_.iterate(q * (1 + 1e-6), b * q * q / g2, 20_000)
    with np.errstate(invalid="ignore"):
        back = bool(abs(p1[-1] - q) < 1e-9)
    assert back is expect_map


def test_case_label_with_intercept():
    """With an intercept the label says what decided the case: A, B, k1 and the roots q1 >= 0."""
    # gamma1 > 0, yet A = gamma1 + a k2 / gamma2 < 0: classified as case 1 on A
    g1, a, g2, b, k1, k2 = 0.023, 0.35, 0.6, 0.35, 0.004, -0.1
    pot = Potential(g1, a, g2, b, k1=k1, k2=k2)
    A = g1 + a * k2 / g2
    assert A < 0 and pot.case == 1
    lab = pot.case_label
    assert "gamma1 < 0" not in lab
    assert f"A = gamma1 + a k2/gamma2 = {A:.6g} < 0" in lab
    assert f"B = a b/gamma2 = {a * b / g2:.6g} > 0" in lab and f"k1 = {k1:.6g}" in lab
    # every real root q1 >= 0 with its stability, and nothing else
    st = pot.stationary[pot.stationary["q1"] >= 0]
    assert len(st) >= 1 and lab.count("annual map") == len(st)
    for q, s, m in zip(st["q1"], st["stable"], st["map_stable"]):
        assert f"{q:.6g} ({'stable' if s else 'unstable'}, annual map {'stable' if m else 'unstable'})" in lab
    assert pot.stable_point[0] == pytest.approx(st.loc[st["stable"], "q1"].iloc[0])
    # without intercepts the fixed labels stay
    assert Potential(g1, a, g2, b).case_label.startswith("gamma1 > 0, ab > 0")
