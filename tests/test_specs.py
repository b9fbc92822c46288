"""The typed config spec machinery (nqpspatial.specs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from nqpspatial.errors import ConfigError
from nqpspatial.specs import DeprecatedKey, StageSpec, key, spec_from_keys


@dataclass(frozen=True)
class _Spec(StageSpec):
    table = "toy"
    deprecated = {"jackknife": DeprecatedKey("correction", lambda v: "jackknife" if v else "none")}
    bootstrap: int = key(999, minimum=0, doc="resamples")
    alpha: float = key(0.05, minimum=0, maximum=1, exclusive=True, doc="level")
    correction: str = key("none", choices=("none", "jackknife"), doc="bias correction")
    order: object = key("auto", kind="str|list", doc="ordering")
    years: list = key([], doc="years")


def test_defaults_and_mapping_view():
    s = _Spec.from_table(None)
    assert s.bootstrap == 999 and s["alpha"] == 0.05 and s.enabled is True
    assert dict(s) == {
        "enabled": True,
        "bootstrap": 999,
        "alpha": 0.05,
        "correction": "none",
        "order": "auto",
        "years": [],
    }
    assert _Spec.defaults() == dict(s)
    a, b = _Spec.from_table(None), _Spec.from_table(None)
    assert a.years is not b.years  # list defaults are not shared


def test_whole_numbers_are_normalized():
    assert _Spec.from_table({"bootstrap": 10.0}).bootstrap == 10
    assert _Spec.from_table({"bootstrap": np.int64(7)}).bootstrap == 7


@pytest.mark.parametrize(
    "table, message",
    [
        ({"bootstrp": 1}, "unknown key 'bootstrp' in [toy]. Did you mean 'bootstrap'?"),
        ({"bootstrap": -1}, "[toy] bootstrap must be a whole number >= 0"),
        ({"bootstrap": 2.5}, "[toy] bootstrap must be a whole number"),
        ({"bootstrap": True}, "[toy] bootstrap must be a whole number"),
        ({"alpha": 1}, "[toy] alpha must be > 0 and < 1"),
        ({"correction": "jacknife"}, "Did you mean 'jackknife'?"),
        ({"order": 3}, "[toy] order must be a string or a list"),
        ({"enabled": "no"}, "[toy] enabled must be true or false"),
        ({"jackknife": True, "correction": "none"}, "[toy] jackknife is the deprecated form of correction"),
    ],
)
def test_bad_values_name_the_key(table, message):
    with pytest.raises(ConfigError) as exc:
        _Spec.from_table(table)
    assert message in str(exc.value)


def test_deprecated_key_is_read_into_its_replacement_with_a_note():
    notes = []
    s = _Spec.from_table({"jackknife": True}, notes=notes)
    assert s.correction == "jackknife"
    assert notes == ["[toy] jackknife is deprecated: write correction = 'jackknife'"]


def test_a_third_party_stage_gets_a_spec_from_its_config_keys():
    cls = spec_from_keys("example_counts", {"multiplier": 1, "label": None})
    s = cls.from_table({"multiplier": 3, "enabled": False, "label": ["x"]})
    assert (s.multiplier, s.enabled, s.label) == (3, False, ["x"])
    with pytest.raises(ConfigError, match="multiplier must be a whole number"):
        cls.from_table({"multiplier": "3"})
    with pytest.raises(ConfigError, match="unknown key 'multiplyer'.*Did you mean 'multiplier'"):
        cls.from_table({"multiplyer": 2})
