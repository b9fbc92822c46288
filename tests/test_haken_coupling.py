"""Coupling coordination degree against the printed mathmodels example."""

import numpy as np
import pytest

from nqpspatial.errors import InputError
from nqpspatial.haken import coupling_coordination

# methods note section 4 (R package mathmodels, printed example): three subsystems over six units
S1 = [0.0162, 0.1782, 0.5490, 0.6730, 0.0207, 0.9875]
S2 = [0.2720, 0.6824, 0.0593, 0.4812, 0.8891, 0.5573]
S3 = [0.2655, 0.3721, 0.5729, 0.9082, 0.2017, 0.8984]
U = np.column_stack([S1, S2, S3])


def test_standard_equal_weights():
    out = coupling_coordination(U)
    assert np.allclose(out["C"], [0.571, 0.867, 0.674, 0.967, 0.418, 0.971], atol=5e-4)
    assert np.allclose(out["T"], [0.185, 0.411, 0.394, 0.687, 0.370, 0.814], atol=5e-4)
    assert np.allclose(out["D"], [0.325, 0.597, 0.515, 0.815, 0.393, 0.889], atol=5e-4)


def test_corrected_weights_040_030_030():
    out = coupling_coordination(U, [0.4, 0.3, 0.3])
    assert np.allclose(out["C_corrected"], [0.447, 0.501, 0.455, 0.669, 0.175, 0.715], atol=5e-4)
    assert np.allclose(out["T"], [0.168, 0.388, 0.409, 0.686, 0.336, 0.832], atol=5e-4)
    assert np.allclose(out["D_corrected"], [0.274, 0.440, 0.432, 0.678, 0.242, 0.771], atol=5e-4)


def test_two_subsystems_closed_forms():
    u = np.array([[0.3, 0.6], [0.5, 0.5], [0.9, 0.1]])
    out = coupling_coordination(u)
    C = 2 * np.sqrt(u[:, 0] * u[:, 1]) / u.sum(1)
    Cc = np.sqrt((1 - np.abs(u[:, 0] - u[:, 1])) * u.min(1) / u.max(1))
    assert np.allclose(out["C"], C) and np.allclose(out["C_corrected"], Cc)
    assert out["grade"].notna().all()


def test_bad_input():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        coupling_coordination([[0.2, 1.5]])
    with pytest.raises(InputError, match="weights"):
        coupling_coordination([[0.2, 0.5]], [0.7, 0.7])
    with pytest.raises(InputError, match="all zero"):
        coupling_coordination([[0.0, 0.0]])


def test_relative_development_and_lag_type():
    """E = U2/U1 against the documented band (boundaries inclusive for 'synchronous')."""
    from nqpspatial.haken import relative_development

    u1 = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.4])
    u2 = np.array([0.2, 0.45, 0.5, 0.55, 0.8, 0.3, 0.0])
    out = relative_development(u1, u2)
    keep = [0, 1, 2, 3, 4, 6]
    assert np.array_equal(out["relative_development"].to_numpy()[keep], u2[keep] / u1[keep])
    assert np.isnan(out["relative_development"][5])
    assert out["lag_type"].tolist() == [
        "U2 lagging",
        "synchronous",
        "synchronous",
        "synchronous",
        "U1 lagging",
        "U1 lagging",
        "U2 lagging",
    ]
    assert out["lag_type_zh"].tolist()[:2] == ["U2滞后型", "同步型"]
    wide = relative_development(u1, u2, band=(0.8, 1.2))
    assert wide["lag_type"].tolist()[:5] == ["U2 lagging", "synchronous", "synchronous", "synchronous", "U1 lagging"]
    assert relative_development([0.5], [0.39], band=(0.8, 1.2))["lag_type"].tolist() == ["U2 lagging"]
    with pytest.raises(InputError, match="low <= 1 <= high"):
        relative_development(u1, u2, band=(1.1, 0.9))
    with pytest.raises(InputError, match="two zero"):
        relative_development([0.0], [0.0])
    cc = coupling_coordination(np.column_stack([u1[:5], u2[:5]]), lag_band=(0.9, 1.1))
    assert cc["lag_type"].tolist() == out["lag_type"].tolist()[:5]
    with pytest.raises(InputError, match="two subsystems"):
        coupling_coordination(U, lag_band=(0.9, 1.1))
