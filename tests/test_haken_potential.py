"""Potential, stationary points, stability cases, strategies and grades."""

import numpy as np
import pytest

from nqpspatial.errors import InputError, ModelError
from nqpspatial.haken import STRATEGIES, LegacyStablePointWarning, Potential, get_strategy, grade, resolve_strategy


def test_methods_note_test_vector():
    # methods note section 3: g1 = -0.2, g2 = 0.8, a = 0.5, b = 0.4 ->
    # q1* = 0.894427, V(q1*) = -0.04, V(0.5) = -0.02109375
    p = Potential(-0.2, 0.5, 0.8, 0.4)
    assert p.case == 1
    assert Potential.from_params(gamma1=-0.2, a=0.5, gamma2=0.8, b=0.4).stable_point == p.stable_point
    assert p.stable_point[0] == pytest.approx(0.894427, abs=1e-6)
    assert p.stable_point[1] == pytest.approx(-0.04, abs=1e-12)
    assert p(0.5) == pytest.approx(-0.02109375, abs=1e-15)
    # annual map: V''(q1*) = -2 g1 = 0.4 -> derivative 0.6, stable; 0 < g2 < 2
    assert p.map_stable is True


@pytest.mark.parametrize(
    "g1,a,g2,b,case,star",
    [
        (-0.2, 0.5, 0.8, 0.4, 1, "nonzero"),
        (0.2, 0.5, 0.8, 0.4, 2, "zero"),
        (-0.2, -0.5, 0.8, 0.4, 3, None),
        (0.2, -0.5, 0.8, 0.4, 4, "zero"),
    ],
)
def test_four_cases(g1, a, g2, b, case, star):
    p = Potential(g1, a, g2, b)
    assert p.case == case
    if star is None:
        assert p.stable_point is None and p.map_stable is None
        assert not p.has_stable_point
    elif star == "zero":
        assert p.stable_point == (0.0, 0.0)
    else:
        assert p.stable_point[0] == pytest.approx(np.sqrt(-g1 * g2 / (a * b)))
    if case == 4:  # +-q1* exist but are unstable
        st = p.stationary
        assert (~st.loc[st["q1"] != 0, "stable"]).all() and len(st) == 3


def test_map_stability_reading():
    # continuous case 1 but g1 < -1: reduced map derivative 1 + 2 g1 < -1 -> unstable
    p = Potential(-1.2, 0.5, 0.8, 0.4)
    assert p.case == 1 and p.map_stable is False
    # servo not map-stable when gamma2 >= 2
    assert Potential(-0.2, 0.5, 2.5, 0.4).map_stable is False
    # case 2: q1 = 0 map-stable iff 0 < g1 < 2
    assert Potential(0.3, 0.5, 0.8, 0.4).map_stable is True
    assert Potential(2.3, 0.5, 0.8, 0.4).map_stable is False


def test_gamma2_nonpositive_is_undefined():
    p = Potential(-0.2, 0.5, -0.1, 0.4)
    assert p.case == 0 and not p.valid and p.stable_point is None
    with pytest.raises(ModelError):
        p(0.5)
    for s in STRATEGIES.values():
        assert not s.supports(p)
        with pytest.raises(ModelError):
            s([0.5], p)


@pytest.mark.parametrize("k1,k2", [(0.01, 0.0), (0.0, 0.05), (-0.02, 0.03), (0.004, -0.02)])
def test_intercept_potential_matches_brute_force(k1, k2):
    g1, a, g2, b = -0.1, 0.35, 0.6, 0.35
    p = Potential(g1, a, g2, b, k1=k1, k2=k2)
    # brute force: eliminate q2 = (k2 + b q1^2)/g2 in dq1/dt = k1 - g1 q1 - a q1 q2 and integrate
    q = np.linspace(-2, 2, 400001)
    force = k1 - g1 * q - a * q * (k2 + b * q**2) / g2
    V_num = -np.concatenate([[0.0], np.cumsum((force[1:] + force[:-1]) / 2 * np.diff(q))])
    V_num -= np.interp(0.0, q, V_num)
    assert np.allclose(p(q), V_num, atol=1e-8)
    # stationary points: sign changes of the force; local minima of V
    sign = np.nonzero(np.diff(force >= 0))[0]
    roots = q[sign]
    assert len(roots) == len(p.stationary)
    assert np.allclose(np.sort(roots), np.sort(p.stationary["q1"]), atol=1e-4)
    mins = [r for r in p.stationary.itertuples() if r.stable and r.q1 >= 0]
    assert p.stable_point[1] == pytest.approx(min(m.V for m in mins))
    # the quadratic coefficient shifts with k2 (methods note section 6)
    assert p.quadratic == pytest.approx(g1 + a * k2 / g2)


def test_intercept_can_change_the_case():
    # g1 > 0 but a k2 / g2 pushes the quadratic coefficient below zero
    p = Potential(0.02, 0.5, 0.5, 0.4, k2=-0.05)
    assert p.quadratic < 0 and p.case == 1


def test_legacy_stable_point_warns():
    with pytest.warns(LegacyStablePointWarning):
        p = Potential(-0.2, -0.5, 0.8, 0.4, legacy_stable_point=True)
    assert p.stable_point_source == "legacy"
    assert p.stable_point[0] == pytest.approx(np.sqrt(0.2 * 0.8 / 0.2))
    assert Potential(-0.2, -0.5, 0.8, 0.4).stable_point is None


def test_strategy_contract_and_support():
    assert set(STRATEGIES) == {"potential", "distance", "potential-normalized", "distance-normalized"}
    for name, s in STRATEGIES.items():
        assert s.name == name and isinstance(s.normalized, bool) and s.description
        assert get_strategy(name) is s
    assert STRATEGIES["distance"].supports(1) and not STRATEGIES["distance"].supports(3)
    assert STRATEGIES["potential"].supports(3)
    no_star = Potential(-0.2, -0.5, 0.8, 0.4)
    with pytest.raises(ModelError, match="no stable point"):
        STRATEGIES["distance-normalized"]([0.3], no_star)
    with pytest.raises(InputError):
        get_strategy("entropy")


def test_auto_resolution():
    s, why = resolve_strategy("auto", [Potential(-0.2, 0.5, 0.8, 0.4)])
    assert s.name == "distance-normalized" and "stable point exists" in why
    s, why = resolve_strategy("auto", [Potential(-0.2, -0.5, 0.8, 0.4)])
    assert s.name == "potential-normalized" and "no stable point" in why


@pytest.mark.parametrize("params", [(-0.2, 0.5, 0.8, 0.4), (0.1, -0.3, 0.6, 0.5), (-0.05, -0.2, 0.5, 0.3)])
def test_normalized_strategies_brute_force(params):
    p = Potential(*params)
    grid = np.linspace(0, 1, 200001)
    hv = STRATEGIES["potential-normalized"](grid, p)
    V = p(grid)
    assert np.allclose(hv, (V.max() - V) / (V.max() - V.min()), atol=1e-9)
    assert hv.min() >= -1e-12 and hv.max() <= 1 + 1e-12
    if p.has_stable_point:
        hd = STRATEGIES["distance-normalized"](grid, p)
        d = np.sqrt((grid - p.stable_point[0]) ** 2 + (V - p.stable_point[1]) ** 2)
        assert np.allclose(hd, 1 - d / d.max(), atol=1e-8)
        assert hd.max() == pytest.approx(1.0, abs=1e-5) or p.stable_point[0] > 1


def test_grades_default_scale():
    g = grade([0.0, 0.05, 0.1, 0.1000001, 0.55, 0.9, 1.0])
    assert g["grade_class"].tolist() == [1, 1, 1, 2, 6, 9, 10]
    assert g["grade_zh"].tolist()[0] == "极度失调" and g["grade"].tolist()[-1] == "high-quality coordination"
    with pytest.raises(InputError, match="outside"):
        grade([1.2])
    assert grade([1.2], out_of_range="na")["grade"].isna().all()
    g = grade([0.2, 0.7], edges=[0, 0.5, 1], labels=["low", "high"])
    assert g["grade"].tolist() == ["low", "high"]
    with pytest.raises(InputError, match="increasing"):
        grade([0.1], edges=[0, 0.5, 0.4])


def test_order_parameter_equation_is_reported():
    # methods note section 3 test vector: g1 = -0.2, g2 = 0.8, a = 0.5, b = 0.4, so
    # dq1/dt = -g1 q1 - (ab/g2) q1^3 = 0.2 q1 - 0.25 q1^3 and V = -0.1 q1^2 + 0.0625 q1^4
    p = Potential(-0.2, 0.5, 0.8, 0.4)
    assert p.order_parameter_equation() == "dq1/dt = 0.2 q1 - 0.25 q1^3"
    assert p.potential_function() == "V(q1) = -0.1 q1^2 + 0.0625 q1^4"
    row = p.row()
    assert row["order_parameter_equation"] == p.order_parameter_equation()
    assert row["potential_function"] == p.potential_function()
    facts = dict(p.summary().facts)
    assert facts["order-parameter equation"] == p.order_parameter_equation()
    # with intercepts: dq1/dt = k1 - A q1 - B q1^3, A = g1 + a k2/g2 (methods note section 6)
    q = Potential(-0.2, 0.5, 0.8, 0.4, k1=0.01, k2=0.16)
    assert q.order_parameter_equation() == "dq1/dt = 0.01 + 0.1 q1 - 0.25 q1^3"
    # undefined potential: said plainly
    assert "undefined" in Potential(-0.2, 0.5, -0.1, 0.4).order_parameter_equation()
