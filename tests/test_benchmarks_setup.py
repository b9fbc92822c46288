"""The study folders that benchmarks/run_all.py generates are valid studies (no timing here)."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

from nqpspatial.pipeline import validate

ROOT = Path(__file__).resolve().parents[1]


def _run_all():
    spec = importlib.util.spec_from_file_location("_bench_run_all", ROOT / "benchmarks" / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_demo_study_is_the_issue_run(tmp_path):
    # issue 9, item 5: the demo run with 1,000 sensitivity draws (and the robustness table)
    path = _run_all()._demo_study(tmp_path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))  # a table declared twice would fail here
    assert data["sensitivity"].get("draws", 1000) == 1000
    assert "robustness" in data
    facts = validate(path)
    assert (facts["regions"], facts["periods"]) == (31, 10)
