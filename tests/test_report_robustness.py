"""The report's robustness section: the weight-sensitivity and robustness figures, and their progress."""

from __future__ import annotations

import pytest

from nqpspatial.artifacts import IndicatorWeights
from nqpspatial.report import build_report
from nqpspatial.robustness import robustness_stage, sensitivity_stage
from nqpspatial.testing import make_context

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def ctx_with_robustness():
    ctx = make_context(periods=10)
    s = sensitivity_stage.run(ctx, {"draws": 40, "methods": ["equal"]})
    r = robustness_stage.run(ctx, {"weights": [], "rolling_window": 0})
    ctx.absorb(s).absorb(r)
    ctx.tables = {"indicator_weights": ctx.get(IndicatorWeights).table, "indices": ctx.indices, **s.tables, **r.tables}
    return ctx


def test_robustness_section_has_its_figures_in_every_format(ctx_with_robustness, tmp_path):
    ctx = ctx_with_robustness
    ctx.out_dir = tmp_path
    out = build_report(ctx, {})
    assert "robustness" in out.info["sections"]
    assert {"sensitivity.png", "sensitivity.svg", "robustness.png", "robustness.svg"} <= set(out.info["figures"])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    sec = page[page.index("<section id='robustness'>") :]
    sec = sec[: sec.index("</section>")]
    assert "(figures/sensitivity.*)" in sec and "(figures/robustness.*)" in sec
    assert sec.count("<img ") == 2
    # [report] formats and figures are honoured
    out = build_report(ctx, {"formats": ["pdf"]})
    assert {"sensitivity.pdf", "robustness.pdf"} <= set(out.info["figures"])
    ctx.out_dir = tmp_path / "nofig"
    out = build_report(ctx, {"figures": False})
    assert out.info["figures"] == [] and not (tmp_path / "nofig" / "figures").exists()


def test_sensitivity_draws_show_progress():
    ctx = make_context(periods=10)
    calls = []

    def progress(it, total=None, desc=None):
        calls.append((desc, total))
        return it

    ctx.progress = progress
    sensitivity_stage.run(ctx, {"draws": 40, "methods": [], "chunk_size": 10})
    assert ("chunks", 4) in calls
