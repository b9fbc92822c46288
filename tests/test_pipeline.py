"""Pipeline behaviour: negative findings exit 0, impossible quantities skip a stage, seeds, inputs untouched."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nqpspatial import registry
from nqpspatial.errors import ModelError
from nqpspatial.stage import Analysis


def test_fixed_failing_order_still_exits_zero(tmp_path, run_cli):
    """A fixed ordering is honoured even when its verdict fails; undefined h is reported, not crashed on."""
    import shutil

    from nqpspatial.pipeline import default_config_path

    for f in ("panel.csv", "indicators.csv", "study.toml"):
        shutil.copy(default_config_path().parent / f, tmp_path / f)
    cfg = (tmp_path / "study.toml").read_text(encoding="utf-8").replace('order = "auto"', 'order = ["NTU", "NQP"]')
    cfg = cfg.replace("[zones]\nclusters = 8\n", "").replace("split_by_zone = true", "split_by_zone = false")
    (tmp_path / "study.toml").write_text(cfg, encoding="utf-8")
    code, out, err = run_cli("run", tmp_path / "study.toml", "--out", tmp_path / "o", "--no-report", "--quiet")
    assert code == 0, err
    info = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    stages = {s["name"]: s for s in info["stages"]}
    assert any("does NOT hold" in n for n in stages["haken"]["notes"])
    ident = pd.read_csv(tmp_path / "o" / "tables" / "haken_identification.csv", encoding="utf-8-sig")
    chosen = ident[ident["chosen"]]
    assert (chosen["q1"].tolist(), chosen["q2"].tolist()) == (["NTU"], ["NQP"])
    scen = pd.read_csv(tmp_path / "o" / "tables" / "scenarios.csv", encoding="utf-8-sig")
    assert scen["h"].isna().all() and scen["q1"].notna().all()


class _Impossible(Analysis):
    name = "impossible"
    config_keys = {}
    optional = False
    order = 5

    def run(self, ctx, cfg):
        raise ModelError("no stable point exists, so nothing to compute")


def test_model_error_skips_stage_and_run_continues(study, tmp_path):
    import nqpspatial

    study.write(extra="[haken]\nbootstrap = 0\n")
    with registry.registered("analyses", "impossible", _Impossible()):
        res = nqpspatial.run(study.config, out=tmp_path / "o", quiet=True, report=False)
    st = {s["name"]: s for s in res.info["stages"]}
    assert st["impossible"]["status"] == "skipped"
    assert "no stable point exists" in st["impossible"]["notes"][0]
    assert st["haken"]["status"] == "ok"


def test_same_seed_same_tables_and_seed_override(study, tmp_path):
    import nqpspatial

    study.write(extra='[haken]\nbootstrap = 199\norder = ["A", "B"]\n')
    a = nqpspatial.run(study.config, out=tmp_path / "a", quiet=True, report=False, seed=7)
    b = nqpspatial.run(study.config, out=tmp_path / "b", quiet=True, report=False, seed=7)
    c = nqpspatial.run(study.config, out=tmp_path / "c", quiet=True, report=False, seed=8)
    pd.testing.assert_frame_equal(a.table("haken_estimates"), b.table("haken_estimates"))
    assert not a.table("haken_estimates")["ci_low"].equals(c.table("haken_estimates")["ci_low"])
    assert a.info["seed"] == 7 and c.info["seed"] == 8


def test_dataframe_inputs_not_mutated(tmp_path):
    import nqpspatial
    from conftest import small_panel

    panel, ind = small_panel()
    p0, i0 = panel.copy(), ind.copy()
    data = nqpspatial.load_panel(panel, ind)
    nqpspatial.compute_weights(data.values, data.indicators)
    pd.testing.assert_frame_equal(panel, p0)
    pd.testing.assert_frame_equal(ind, i0)


def test_single_subsystem_skips_pair_stages(study, tmp_path):
    import nqpspatial
    from conftest import small_panel

    p, ind = small_panel()
    ind["subsystem"] = "A"
    study.write(indicators=ind)
    res = nqpspatial.run(study.config, out=tmp_path / "o", quiet=True, report=False)
    st = {s["name"]: s for s in res.info["stages"]}
    assert st["haken"]["status"] == "skipped" and "two or more subsystems" in st["haken"]["notes"][0]
    assert "indices" in res.tables


def test_precomputed_indices(study, tmp_path):
    import nqpspatial
    from nqpspatial.testing import make_context

    ctx = make_context(geometry=False, scheme=False)
    idx = ctx.indices
    idx.to_csv(tmp_path / "idx.csv", index=False)
    (tmp_path / "s.toml").write_text(
        'name = "given"\n[data]\npanel = "idx.csv"\nindices = true\n[haken]\nbootstrap = 0\n', encoding="utf-8"
    )
    res = nqpspatial.run(tmp_path / "s.toml", out=tmp_path / "o", quiet=True, report=False)
    pd.testing.assert_frame_equal(res.table("indices"), idx)
    assert "indicator_weights" not in res.tables
    bad = idx.copy()
    bad.loc[0, "A"] = 1.5
    bad.to_csv(tmp_path / "idx.csv", index=False)
    with pytest.raises(nqpspatial.InputError, match=r"outside \[0, 1\]"):
        nqpspatial.run(tmp_path / "s.toml", out=tmp_path / "o2", quiet=True, report=False)


class _TTY:
    def __init__(self):
        import io

        self.buf = io.StringIO()

    def isatty(self):
        return True

    def write(self, s):
        return self.buf.write(s)

    def flush(self):
        pass


def test_progress_bar_only_on_a_terminal_and_not_quiet(monkeypatch):
    import sys

    from nqpspatial.pipeline import _progress_factory

    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    assert list(_progress_factory(False)(range(5), total=5, desc="bootstrap")) == list(range(5))
    assert "bootstrap" in tty.buf.getvalue()
    tty2 = _TTY()
    monkeypatch.setattr(sys, "stderr", tty2)
    assert list(_progress_factory(True)(range(5), total=5, desc="bootstrap")) == list(range(5))
    assert tty2.buf.getvalue() == ""


def test_quiet_run_prints_nothing(study, run_cli):
    study.write(extra="[haken]\nbootstrap = 0\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0 and out == "" and err == ""
    code, out, err = run_cli("run", study.config, "--out", study.out, "--force", "--no-report")
    assert code == 0 and "done in" in err
    # one line per step: name, status, seconds (issue 17, item 6)
    lines = {ln.split()[0]: ln.split() for ln in err.splitlines() if ln and not ln.startswith(" ")}
    for step in ("data", "weighting", "weights", "haken", "spatial", "report"):
        assert step in lines, err
        assert lines[step][-1] == "s" and float(lines[step][-2]) >= 0
    assert lines["haken"][1] == "ok" and lines["report"][1] == "skipped"  # --no-report


def test_indices_with_an_indicator_list_is_refused(tmp_path):
    import nqpspatial
    from nqpspatial.testing import make_context

    make_context(geometry=False, scheme=False).indices.to_csv(tmp_path / "idx.csv", index=False)
    (tmp_path / "s.toml").write_text(
        '[data]\npanel = "idx.csv"\nindices = true\nindicators = "ind.csv"\n', encoding="utf-8"
    )
    with pytest.raises(nqpspatial.ConfigError, match=r"indices = true .* Remove \[data\] indicators"):
        nqpspatial.run(tmp_path / "s.toml", out=tmp_path / "o", quiet=True, report=False)


@pytest.mark.parametrize("value", ["0", "-2", "1.5", '"two"', "true"])
def test_bad_worker_count_is_a_config_error(study, run_cli, value):
    study.write(extra=f"[run]\nworkers = {value}\n")
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "[run] workers must be a whole number >= 1" in err and "Traceback" not in err
    study.write()
    code, out, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--workers", "0")
    assert code == 2 and "--workers must be a whole number >= 1" in err


def test_skipped_stages_say_why(study, tmp_path):
    """No boundaries: the spatial stage is 'skipped' (not 'ok'); --no-report names the flag."""
    import nqpspatial

    study.write(extra='[spatial]\nweights = ["queen"]\n')
    res = nqpspatial.run(study.config, out=tmp_path / "o", quiet=True, report=False)
    st = {s["name"]: s for s in res.info["stages"]}
    assert st["spatial"]["status"] == "skipped" and "without region boundaries" in st["spatial"]["notes"][0]
    assert "[geometry] source and id" in st["spatial"]["notes"][0]  # the keys that fix it
    assert st["report"]["status"] == "skipped" and st["report"]["notes"] == ["--no-report (report=False)"]


def test_one_backend_per_run():
    """Inside shared_backends() a backend is opened once, reused by later stages and closed at the end."""
    from nqpspatial import backends

    closed = []

    class Probe(backends.InProcessBackend):
        def close(self):
            closed.append(self)

    orig = backends.InProcessBackend
    backends.InProcessBackend = Probe
    try:
        with backends.shared_backends():
            with backends.open_backend("inprocess") as a:
                pass
            with backends.open_backend("inprocess") as b:
                pass
            assert a is b and closed == []
        assert closed == [a]
        with backends.open_backend("inprocess") as c:  # outside the block: a fresh one, closed at once
            pass
        assert c is not a and closed == [a, c]
    finally:
        backends.InProcessBackend = orig
