"""Same inputs, command and seed give byte-identical output files (issue 13, item 12): tables.xlsx (fixed
document time), SVG figures (fixed ids, no date), report.html and manifest.json included; run.json differs only
in its documented fields (start time, seconds, peak memory, command line)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_hostile_inputs import _geo, squares  # noqa: E402

#: run.json fields that record the run itself (docs/outputs.md): they differ between identical runs.
VARYING = {"started", "seconds", "command", "section_seconds", "max_rss_mb"}


def _stable(obj):
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in VARYING}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def _diff(x, y, path=""):
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for k in sorted(set(x) | set(y), key=str) for d in _diff(x.get(k), y.get(k), f"{path}/{k}")]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [d for i, (u, v) in enumerate(zip(x, y)) for d in _diff(u, v, f"{path}[{i}]")]
    return [] if x == y else [path]


def _compare(a: Path, b: Path, also=()) -> None:
    fa = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert fa == fb
    assert {"tables.xlsx", "report.html", "manifest.json"} <= set(fa) and any(f.endswith(".svg") for f in fa)
    differ = [f for f in fa if f != "run.json" and (a / f).read_bytes() != (b / f).read_bytes()]
    assert differ == []
    ra, rb = (json.loads((d / "run.json").read_text(encoding="utf-8")) for d in (a, b))
    assert _diff(_stable(ra), _stable(rb)) == list(also)
    assert ra["started"] and ra["seconds"] is not None and "command" in ra


STUDY = (
    '[haken]\nbootstrap = 99\nbreak_bootstrap = 49\n[spatial]\npermutations = 99\n[report]\nformats = ["png", "svg"]\n'
)


def test_two_runs_with_one_seed_are_byte_identical(study, run_cli):
    _geo(study, squares(), STUDY)
    for out in ("a", "b"):
        code, _, err = run_cli("run", study.config, "--out", study.root / out, "--quiet", "--seed", "7")
        assert code == 0, err
    _compare(study.root / "a", study.root / "b")
    svg = next((study.root / "a" / "figures").glob("*.svg")).read_text(encoding="utf-8")
    assert "<dc:date>" not in svg


@pytest.mark.slow
def test_in_process_and_two_dask_workers_are_byte_identical(study, run_cli):
    pytest.importorskip("distributed")
    _geo(study, squares(), STUDY)
    code, _, err = run_cli("run", study.config, "--out", study.root / "a", "--quiet", "--seed", "7")
    assert code == 0, err
    code, _, err = run_cli("run", study.config, "--out", study.root / "b", "--quiet", "--seed", "7", "--workers", "2")
    assert code == 0, err
    # run.json records the command line's --workers and the backend that ran the bootstrap, nothing else differs
    stages = json.loads((study.root / "a" / "run.json").read_text(encoding="utf-8"))["stages"]
    haken = next(i for i, s in enumerate(stages) if s["name"] == "haken")
    _compare(
        study.root / "a", study.root / "b", also=["/config/run/workers", f"/stages[{haken}]/info/bootstrap_backend"]
    )
