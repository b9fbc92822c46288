"""Hostile inputs and folder operations (issue 13): every case is refused with exit 2 and a message naming the
file, key or argument and the fix, or handled correctly; no traceback, no hang, no data loss.

A representative subset runs the installed CLI in a subprocess (signals, FIFOs, locks, the exit code of the real
process); the rest calls ``nqpspatial.cli.main`` in-process.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nqpspatial  # noqa: E402
from conftest import small_panel  # noqa: E402
from nqpspatial import outdir  # noqa: E402
from nqpspatial.errors import ConfigError, InputError  # noqa: E402

FAST = "[haken]\nbootstrap = 0\nbreak_bootstrap = 0\n"
HANG_GUARD = 60  # seconds: a case that hangs fails instead of blocking the suite


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _cli(run_cli, *args):
    code, out, err = run_cli(*args)
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def _sub(*args, env=None, timeout=HANG_GUARD, cwd=None):
    """The CLI in a subprocess under a hang guard: (exit code, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "nqpspatial.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


def squares(n: int = 6, cols: int = 3, offset=(100.0, 30.0), size: float = 1.0) -> dict:
    """A GeoJSON grid of unit squares for regions R1..Rn (longitude/latitude degrees)."""
    feats = []
    for i in range(n):
        x0, y0 = offset[0] + (i % cols) * size, offset[1] + (i // cols) * size
        ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
        feats.append(
            {
                "type": "Feature",
                "properties": {"code": f"R{i + 1}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _geo(study, gj: dict, extra: str = FAST, name: str = "regions.geojson", panel=None):
    (study.root / name).write_text(json.dumps(gj), encoding="utf-8")
    study.write(panel=panel, extra=f'[geometry]\nsource = "{name}"\nid = "code"\n' + extra)


def _slow(study):
    """A study whose run takes tens of seconds (five million permutations of global Moran's I)."""
    _geo(study, squares(), FAST + '[spatial]\nstatistics = ["moran"]\npermutations = 5000000\n')


# ----------------------------------------------------------------------------------------- output folder (1-4)
def test_user_file_in_figures_survives_force(study, run_cli):
    """Acceptance: `mkdir -p out/figures; echo x > out/figures/my_map.png; run --force` keeps my_map.png."""
    study.write(extra=FAST)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    (study.out / "figures").mkdir(exist_ok=True)
    (study.out / "figures" / "my_map.png").write_bytes(b"x")
    (study.out / "tables" / "my_notes.csv").write_text("mine")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 0, err
    assert (study.out / "figures" / "my_map.png").read_bytes() == b"x"
    assert (study.out / "tables" / "my_notes.csv").read_text() == "mine"
    listed = [e["path"] for e in json.loads((study.out / "manifest.json").read_text())["files"]]
    assert "figures/my_map.png" not in listed and "tables/indices.csv" in listed


def test_force_into_a_fresh_folder_with_a_user_file_deletes_nothing(study, run_cli):
    """The report's example: figures/my_map.png in a folder nqpspatial never wrote: refused, file kept."""
    study.write(extra=FAST)
    (study.out / "figures").mkdir(parents=True)
    (study.out / "figures" / "my_map.png").write_bytes(b"x")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 2 and "not written by nqpspatial" in err and "figures" in err and "--out" in err
    assert _files(study.out) == {"figures/my_map.png": b"x"}


def test_refused_rerun_leaves_previous_results_byte_identical(study, run_cli):
    """Acceptance: a typo in the panel with --force exits 2 and the previous results stay as they were."""
    study.write(extra=FAST)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 0, err
    before = _files(study.out)
    p, _ = small_panel()
    p["a1"] = p["a1"].astype(object)
    p.loc[3, "a1"] = "12,5"  # a typo
    study.write(panel=p, extra=FAST)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 2 and "non-numeric" in err
    assert _files(study.out) == before
    assert not [q for q in study.root.iterdir() if ".nqpspatial" in q.name]  # no staging, lock or backup left


def test_failing_stage_leaves_previous_results(study, run_cli, monkeypatch):
    """An internal error while writing (exit 1) leaves the previous results intact; a stage that raises is
    isolated instead (exit 3): the run completes, run.json names the failed stage."""
    study.write(extra=FAST)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")[0] == 0
    before = _files(study.out)
    import nqpspatial.pipeline as pipeline

    def boom(*a, **k):
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(pipeline, "write_workbook", boom)
        code, _, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 1 and "boom" in err
    assert _files(study.out) == before

    from nqpspatial.haken import stage as hs

    monkeypatch.setattr(hs.HakenStage, "run", boom)
    code, _, err = run_cli("run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 3 and "haken" in err and "boom" in err and "Traceback" not in err
    info = json.loads((study.out / "run.json").read_text(encoding="utf-8"))
    haken = next(s for s in info["stages"] if s["name"] == "haken")
    assert haken["status"] == "failed" and "boom" in haken["error"]


def test_legacy_release_folder_force(study, run_cli):
    """A 0.1.0 folder (run.json with versions.nqpspatial, no manifest): --force replaces only its files."""
    study.write(extra=FAST)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")[0] == 0
    (study.out / "manifest.json").unlink()  # now it looks like a folder written by 0.1.0,
    for name in ("report.docx", "regions.gpkg"):  # which wrote neither of these
        if (study.out / name).exists():
            (study.out / name).unlink()
    (study.out / "figures").mkdir(exist_ok=True)
    (study.out / "figures" / "my_map.png").write_bytes(b"x")
    (study.out / "thesis.docx").write_bytes(b"y")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "earlier run" in err and "--force" in err
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 0, err
    assert (study.out / "figures" / "my_map.png").read_bytes() == b"x"
    assert (study.out / "thesis.docx").read_bytes() == b"y"
    assert (study.out / "manifest.json").exists()


@pytest.mark.parametrize("case", ["empty", "root", "home", "config_folder", "above_input", "tables_of_panel"])
def test_refused_targets(study, run_cli, monkeypatch, case):
    """Never written into, even with --force: '', /, ~, a folder holding an input or lying above one."""
    data = study.root / "data" / "tables"
    data.mkdir(parents=True)
    p, ind = small_panel()
    p.to_csv(data / "panel.csv", index=False)
    ind.to_csv(study.root / "indicators.csv", index=False)
    study.config.write_text(
        '[data]\npanel = "data/tables/panel.csv"\nindicators = "indicators.csv"\n' + FAST, encoding="utf-8"
    )
    home = study.root / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    out = {
        "empty": "",
        "root": "/",
        "home": str(home),
        "config_folder": str(study.root),
        "above_input": str(study.root / "data"),
        "tables_of_panel": str(data),
    }[case]
    before = _files(study.root)
    code, _, err = _cli(run_cli, "run", study.config, "--out", out, "--quiet", "--force")
    assert code == 2 and "--out" in err
    assert ("empty" in err) if case == "empty" else ("never writes into this folder" in err)
    assert _files(study.root) == before


def test_out_dot_with_panel_in_tables_keeps_the_panel(study, monkeypatch):
    """`--out . --force` with the panel at tables/panel.csv: refused, the panel is not deleted (subprocess)."""
    (study.root / "tables").mkdir()
    p, ind = small_panel()
    p.to_csv(study.root / "tables" / "panel.csv", index=False)
    ind.to_csv(study.root / "indicators.csv", index=False)
    study.config.write_text(
        '[data]\npanel = "tables/panel.csv"\nindicators = "indicators.csv"\n' + FAST, encoding="utf-8"
    )
    code, err = _sub("run", "study.toml", "--out", ".", "--force", "--quiet", cwd=study.root)
    assert code == 2 and "holds an input" in err
    assert (study.root / "tables" / "panel.csv").exists()


def test_concurrent_run_is_refused_naming_host_and_pid(study):
    """Acceptance: a second run into a folder being written exits 2 naming the first run's host and process."""
    _slow(study)
    first = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "nqpspatial.cli",
            "run",
            str(study.config),
            "--out",
            str(study.out),
            "--quiet",
            "--no-report",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = outdir.lock_name(study.out)
        deadline = time.time() + HANG_GUARD
        while not (lock.exists() and lock.read_text()) and time.time() < deadline:
            time.sleep(0.05)
        assert lock.exists(), "the first run never took the lock"
        code, err = _sub("run", study.config, "--out", study.out, "--quiet", "--force", "--no-report")
        assert code == 2 and f"process {first.pid} on host" in err and "--out" in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=HANG_GUARD)
    assert first.returncode == 128 + signal.SIGTERM
    assert not study.out.exists() and not lock.exists()


@pytest.mark.parametrize("sig", ["SIGTERM", pytest.param("SIGHUP", marks=pytest.mark.slow)])
def test_signal_leaves_the_target_unchanged(study, run_cli, sig):
    """Acceptance: SIGTERM (and SIGHUP) during a --force rerun: exit 128 + n, one line, previous results intact."""
    study.write(extra=FAST)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")[0] == 0
    before = _files(study.out)
    _slow(study)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "nqpspatial.cli",
            "run",
            str(study.config),
            "--out",
            str(study.out),
            "--quiet",
            "--force",
            "--no-report",
        ],
        stderr=subprocess.PIPE,
        text=True,
        # the child starts with the default action even when the suite runs under nohup (SIGHUP ignored,
        # which nqpspatial keeps on purpose and a child would inherit)
        preexec_fn=lambda: signal.signal(getattr(signal, sig), signal.SIG_DFL),
    )
    staging = outdir.staging_name(study.out, proc.pid)
    deadline = time.time() + HANG_GUARD
    while not (staging / "tables" / "indices.csv").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert staging.exists(), "the run never started staging"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 128 + getattr(signal, sig)
    assert len(err.strip().splitlines()) == 1 and sig in err and "as it was" in err
    assert _files(study.out) == before
    assert not staging.exists() and not outdir.lock_name(study.out).exists()


@pytest.mark.slow
def test_sigterm_stops_the_dask_workers(study):
    """SIGTERM during a run on a local Dask cluster (--workers 2): exit 143 and no worker process left."""
    pytest.importorskip("distributed")
    _slow(study)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "nqpspatial.cli",
            "run",
            str(study.config),
            "--out",
            str(study.out),
            "--quiet",
            "--no-report",
            "--workers",
            "2",
        ],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    staging = outdir.staging_name(study.out, proc.pid)
    deadline = time.time() + 2 * HANG_GUARD
    while not (staging / "tables" / "indices.csv").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # the cluster is up and the permutations run on it
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=2 * HANG_GUARD)
    assert proc.returncode == 143 and "SIGTERM" in err.strip().splitlines()[-1]
    deadline = time.time() + 30
    alive = True
    while alive and time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)  # any process left in the run's process group (the workers)?
            time.sleep(0.5)
        except ProcessLookupError:
            alive = False
    assert not alive, "Dask worker processes outlived the run"
    assert not study.out.exists() and not staging.exists()


def test_interrupted_commit_is_rolled_back_by_the_next_run(study, run_cli, monkeypatch):
    study.write(extra=FAST)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")[0] == 0
    before = _files(study.out)
    real, calls = os.replace, []

    def killed_midway(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise SystemExit("killed")  # as a kill would stop it: nothing after this runs
        real(src, dst)

    monkeypatch.setattr(outdir, "_rollback", lambda *a: None)
    monkeypatch.setattr(os, "replace", killed_midway)
    with pytest.raises(SystemExit):
        nqpspatial.run(study.config, out=study.out, force=True, quiet=True, report=False)
    monkeypatch.undo()
    assert _files(study.out) != before and outdir.backup_name(study.out).exists()
    # a refused run (bad seed) still rolls the interrupted commit back first
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--seed", "-1")
    assert code == 2
    assert _files(study.out) != before  # nothing is touched before the arguments are valid
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force", "--no-report")
    assert code == 0, err
    assert sorted(_files(study.out)) == sorted(before) and not outdir.backup_name(study.out).exists()


def test_read_only_output_folder(study, run_cli, monkeypatch):
    """A folder that cannot be written: exit 2 with the fix (as root, chmod does not stop writes: the OS error
    is injected where the staging folder is created)."""
    study.write(extra=FAST)
    real = os.mkdir

    def refuse(path, *a, **k):
        if "nqpspatial-staging" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(os, "mkdir", refuse)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "cannot be written" in err and "--out" in err
    assert not study.out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_parent_folder_really(study, run_cli):  # pragma: no cover - root on CI
    study.write(extra=FAST)
    ro = study.root / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = _cli(run_cli, "run", study.config, "--out", ro / "out", "--quiet")
        assert code == 2 and "cannot be written" in err
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("writer", ["write_workbook", "write_csv"])
def test_full_disk(study, run_cli, monkeypatch, writer):
    """ENOSPC while writing (the workbook, or a table's CSV on the background writer while the stages go
    on): exit 2 naming the folder and the fix; an earlier run's results stay."""
    study.write(extra=FAST)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")[0] == 0
    before = _files(study.out)
    from nqpspatial import pipeline

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, writer, full)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force", "--no-report")
    assert code == 2 and "full" in err and str(study.out) in err
    assert _files(study.out) == before


@pytest.mark.parametrize("case", ["long_name", "long_out", "below_file", "proc", "tables_symlink"])
def test_output_path_problems(study, run_cli, case):
    study.write(extra=FAST)
    args = ["--out", study.out]
    if case == "long_name":
        study.config.write_text(
            study.config.read_text().replace('name = "test study"', f'name = "{"x" * 300}"'), encoding="utf-8"
        )
        args = []
    elif case == "long_out":
        args = ["--out", study.root / ("y" * 260)]
    elif case == "below_file":
        args = ["--out", study.root / "panel.csv" / "out"]
    elif case == "proc":
        args = ["--out", "/proc/nqpspatial-out"]
    elif case == "tables_symlink":
        assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")[0] == 0
        elsewhere = study.root / "elsewhere"
        (study.out / "tables").rename(elsewhere)
        (study.out / "tables").symlink_to(elsewhere, target_is_directory=True)
    cwd = os.getcwd()
    os.chdir(study.root)
    try:
        before = _files(study.root)
        code, _, err = _cli(run_cli, "run", study.config, *args, "--quiet", "--force", "--no-report")
    finally:
        os.chdir(cwd)
    assert code == 2, err
    expect = {
        "long_name": "shorter study name",
        "long_out": "more than the filesystem allows",
        "below_file": "below the file",
        "proc": "system folder /proc",
        "tables_symlink": "symbolic link",
    }[case]
    assert expect in err and "--out" in err
    assert _files(study.root) == before


# ----------------------------------------------------------------------------------------- regular files (6)
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "role",
    [
        "config",
        "panel",
        pytest.param("indicators", marks=pytest.mark.slow),
        pytest.param("boundaries", marks=pytest.mark.slow),
        pytest.param("scheme", marks=pytest.mark.slow),
    ],
)
def test_fifo_is_refused_without_being_opened(study, role):
    """Acceptance: a FIFO is refused with exit 2; the test never writes into it and guards against a hang."""
    if not hasattr(os, "mkfifo"):  # pragma: no cover - Windows
        pytest.skip("no FIFOs")
    study.write(extra=FAST)
    config = study.config
    if role == "config":
        config = _fifo(study.root / "pipe.toml")
    elif role == "panel":
        (study.root / "panel.csv").unlink()
        _fifo(study.root / "panel.csv")
    elif role == "indicators":
        (study.root / "indicators.csv").unlink()
        _fifo(study.root / "indicators.csv")
    elif role == "boundaries":
        _fifo(study.root / "regions.geojson")
        study.write(extra=FAST + '[geometry]\nsource = "regions.geojson"\nid = "code"\n')
    else:
        _fifo(study.root / "zones.csv")
        study.write(extra=FAST + '[regions]\nscheme = "zones.csv"\n')
    code, err = _sub("run", config, "--out", study.out, "--quiet", "--no-report")
    assert code == 2 and "named pipe (FIFO)" in err and "regular file" in err


@pytest.mark.parametrize(
    "case", ["dev_zero_panel", "dev_urandom_config", "folder_panel", "symlink_loop", "indicators_empty", "environ"]
)
def test_not_a_regular_file(study, run_cli, case):
    study.write(extra=FAST)
    config = study.config
    text = study.config.read_text()
    if case == "dev_zero_panel":
        (study.root / "panel.csv").unlink()
        (study.root / "panel.csv").symlink_to("/dev/zero")
        expect = "character device"
    elif case == "dev_urandom_config":
        config = study.root / "random.toml"
        config.symlink_to("/dev/urandom")
        expect = "character device"
    elif case == "folder_panel":
        (study.root / "panel.csv").unlink()
        (study.root / "panel.csv").mkdir()
        expect = "found a folder"
    elif case == "symlink_loop":
        (study.root / "panel.csv").unlink()
        (study.root / "panel.csv").symlink_to(study.root / "loop.csv")
        (study.root / "loop.csv").symlink_to(study.root / "panel.csv")
        expect = "loop of symbolic links"
    elif case == "indicators_empty":
        study.config.write_text(text.replace('indicators = "indicators.csv"', 'indicators = ""'))
        expect = "[data] indicators is empty"
    else:
        (study.root / "panel.csv").unlink()
        (study.root / "panel.csv").symlink_to("/proc/self/environ")
        expect = "does not look like a text table"
    code, _, err = _cli(run_cli, "run", config, "--out", study.out, "--quiet")
    assert code == 2 and expect in err, err
    if case == "environ":
        assert os.environ.get("PATH", "@@") not in err  # the file's content is not echoed


def test_messages_do_not_echo_a_file(study, run_cli):
    """A text file that is not a table: no line of it in the message (only header names of real tables)."""
    study.write(extra=FAST)
    secret = "TOKEN=" + "s3cr3t" * 40
    (study.root / "panel.csv").write_text(secret + "\nmore secret text\n")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "s3cr3t" not in err and "not a header" in err


# ----------------------------------------------------------------------------------------- formula injection (7)
def test_formula_like_region_name_is_escaped_in_csv_and_plain_in_xlsx(study, run_cli):
    """Acceptance: '=HYPERLINK(...)' as a region id: apostrophe in the CSV, plain text (not a formula) in xlsx."""
    p, ind = small_panel()
    evil = '=HYPERLINK("http://x","y")'
    p["region"] = p["region"].replace({"R1": evil, "R2": "-R2", "R3": "@R3", "R4": "+1e-3"})
    study.write(panel=p, extra=FAST)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0, err
    raw = (study.out / "tables" / "indices.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw and "\n'-R2," in raw and "\n'@R3," in raw and "\n+1e-3," in raw
    from nqpspatial.io import read_output_table

    back = read_output_table(study.out, "indices", dtype={"region": str})
    assert evil in set(back["region"]) and "-R2" in set(back["region"])
    import openpyxl

    wb = openpyxl.load_workbook(study.out / "tables.xlsx")
    sheet = json.loads((study.out / "run.json").read_text())["workbook"]["sheets"]["indices"]
    cells = [c for c in wb[sheet]["A"] if c.value == evil]
    assert cells and all(c.data_type == "s" for c in cells)  # a string cell, never a formula
    # switched off: the CSV holds the text as computed
    study.write(panel=p, extra=FAST + "[run]\nescape_csv_formulas = false\n")
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force", "--no-report")[0] == 0
    raw = (study.out / "tables" / "indices.csv").read_text(encoding="utf-8-sig")
    assert '\n"=HYPERLINK' in raw and "'=HYPERLINK" not in raw and "\n-R2," in raw


@pytest.mark.parametrize(
    "text,escaped",
    [
        ("=1+1", True),
        ("+x", True),
        ("-x", True),
        ("@x", True),
        ("\tx", True),
        ("\rx", True),
        ("'=x", True),
        ("-0.5", False),
        ("+1e-3", False),
        ("-inf", False),
        ("x=1", False),
        ("'s-Hertogenbosch", False),
        ("", False),
    ],
)
def test_escape_rule_round_trips(text, escaped):
    from nqpspatial.io import escape_formula, unescape_formula

    out = escape_formula(text)
    assert (out != text) is escaped and unescape_formula(out) == text


# ----------------------------------------------------------------------------------------- right diagnoses (9)
def _panel_variant(study, case):
    p, ind = small_panel()
    extra, data_extra = FAST, ""
    if case == "overflow":
        p["a1"] = np.where(np.arange(len(p)) % 2 == 0, 1.5e308, -1.5e308)
        expect = "more than floating-point arithmetic can hold"
    elif case == "huge_year":
        p["year"] = p["year"].astype(float)
        p.loc[0, "year"] = 1e20
        expect = "implausible value(s) in the year column"
    elif case == "fixed_inf_weight":
        ind["weight"] = [0.5, np.inf, 0.5, 0.5]
        extra += '[weighting]\nmethod = "fixed"\n'
        expect = "is infinite"
    elif case == "shift_string":
        extra += '[weighting]\nshift = "0.01"\n'
        expect = "[weighting] shift must be a number"
    elif case == "shift_range":
        extra += "[weighting]\nshift = 0.7\n"
        expect = "study.toml: [weighting] shift must be a number in [0, 0.5)"  # names the config file
    else:
        raise AssertionError(case)
    study.write(panel=p, indicators=ind, extra=extra, data_extra=data_extra)
    return expect


@pytest.mark.parametrize("case", ["overflow", "huge_year", "fixed_inf_weight", "shift_string", "shift_range"])
def test_diagnoses_of_values(study, run_cli, case):
    expect = _panel_variant(study, case)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and expect in err, err
    assert "constant" not in err and "-9223372036854775808" not in err
    if case.startswith("shift"):
        assert "panel.csv" not in err


def test_datetime_years(study, run_cli):
    p, _ = small_panel()
    p["year"] = pd.to_datetime(p["year"].astype(str) + "-01-01")
    study.write(panel=p, panel_name="panel.xlsx", extra=FAST)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "holds dates" in err and "1388534400" not in err


@pytest.mark.parametrize("sep,name", [(";", "semicolons"), ("\t", "tabs")])
def test_other_delimiters_are_named(study, run_cli, sep, name):
    p, _ = small_panel()
    study.write(extra=FAST)
    p.to_csv(study.root / "panel.csv", index=False, sep=sep)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and f"separated by {name}" in err and "no region column" not in err


def test_workbook_named_csv_and_csv_named_xlsx(study, run_cli):
    p, _ = small_panel()
    study.write(extra=FAST)
    p.to_excel(study.root / "book.xlsx", index=False)
    (study.root / "panel.csv").write_bytes((study.root / "book.xlsx").read_bytes())
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "named .csv but is an Excel workbook" in err and "encoding" not in err
    study.write(panel_name="panel.xlsx", extra=FAST)
    p.to_csv(study.root / "panel.xlsx", index=False)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "named .xlsx but is a text file" in err and "engine" not in err


def test_empty_first_sheet_lists_the_sheets(study, run_cli):
    p, _ = small_panel()
    study.write(panel_name="panel.xlsx", extra=FAST)
    with pd.ExcelWriter(study.root / "panel.xlsx") as xw:
        pd.DataFrame().to_excel(xw, sheet_name="Notes", index=False)
        p.to_excel(xw, sheet_name="Data", index=False)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "'Notes'" in err and "'Data'" in err and "sheet" in err and "Columns found: ." not in err


def test_formulas_without_cached_values(study, run_cli):
    import openpyxl

    p, _ = small_panel()
    study.write(panel_name="panel.xlsx", extra=FAST)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(p.columns))
    for row in p.itertuples(index=False):
        ws.append(list(row))
    ws["C3"] = "=C2+1"  # openpyxl stores no computed value
    wb.save(study.root / "panel.xlsx")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "C3" in err and "formulas saved without their results" in err and "missing" not in err


def test_duplicate_headers_and_ragged_lines(study, run_cli):
    study.write(extra=FAST)
    f = study.root / "panel.csv"
    lines = f.read_text().splitlines()
    f.write_text("\n".join([lines[0] + ",a1"] + [ln + ",1" for ln in lines[1:]]) + "\n")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "'a1' in columns 3, 7" in err and "a1.1" not in err
    # a quoted line break before a ragged record: the message gives the file line, not pandas' record number
    rows = lines[:]
    rows[1] = rows[1].replace("R1", '"R1"', 1)
    rows.insert(2, 'R1,2016,"1\n2",3,4,5')
    rows[4] = rows[4] + ",99"
    f.write_text("\n".join(rows) + "\n")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "line 6 of the file has 7 fields but the header has 6" in err


def test_permission_denied_is_not_called_an_invalid_csv(study, run_cli, monkeypatch):
    study.write(extra=FAST)
    from nqpspatial import io as nio

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(nio, "_read_csv", denied)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet")
    assert code == 2 and "permission denied" in err and "valid CSV" not in err


def test_gbk_panel_with_utf8_indicator_list(study, run_cli):
    p, ind = small_panel()
    p["region"] = p["region"].replace({"R1": "北京市", "R2": "天津市"})
    study.write(panel=p, extra=FAST, data_extra='encoding = "gbk"\nindicators_encoding = "utf-8"\n')
    p.to_csv(study.root / "panel.csv", index=False, encoding="gbk")
    ind.assign(label=["人均", "总量", "比例", "成本"]).to_csv(
        study.root / "indicators.csv", index=False, encoding="utf-8"
    )
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0, err
    # a UTF-8 panel with a GBK indicator list: the message names the key that describes it
    study.write(panel=p, extra=FAST)
    ind.assign(label=["人均", "总量", "比例", "成本"]).to_csv(
        study.root / "indicators.csv", index=False, encoding="gbk"
    )
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--force")
    assert code == 2 and "indicators.csv" in err and 'indicators_encoding = "gb18030"' in err


def test_duplicate_column_in_a_dataframe_panel(tmp_path):
    p, ind = small_panel()
    df = pd.concat([p, p[["a1"]]], axis=1)
    with pytest.raises(InputError, match=r"column\(s\) a1 appear more than once in the DataFrame"):
        nqpspatial.run(
            {"data": {"panel": df, "indicators": ind}, "haken": {"bootstrap": 0}},
            out=tmp_path / "o",
            quiet=True,
            report=False,
        )


# ----------------------------------------------------------------------------------------- geometry (8, 10)
@pytest.mark.parametrize("case", ["not_string", "points", "lines", "csv_as_boundaries", "projected", "degenerate"])
def test_boundary_problems(study, run_cli, case):
    gj = squares()
    extra = FAST
    if case == "not_string":
        study.write(extra=FAST + '[geometry]\nsource = 5\nid = "code"\n')
        expect = "[geometry] source must be a string"
    elif case in ("points", "lines"):
        for k, f in enumerate(gj["features"][:2]):
            f["geometry"] = (
                {"type": "Point", "coordinates": [100 + k, 30]}
                if case == "points"
                else {"type": "LineString", "coordinates": [[100 + k, 30], [101 + k, 31]]}
            )
        _geo(study, gj, extra)
        expect = "must be polygons" if case == "points" else "LineString"
    elif case == "csv_as_boundaries":
        study.write(extra=FAST + '[geometry]\nsource = "panel.csv"\nid = "region"\n')
        expect = "boundary file holds polygons"
    elif case == "projected":
        _geo(study, squares(offset=(500000.0, 3300000.0), size=10000.0), extra)
        expect = "reproject the file to EPSG:4326"
    else:
        gj["features"][2]["geometry"]["coordinates"] = [[[102, 30], [103, 30], [102, 30], [103, 30], [102, 30]]]
        _geo(study, gj, extra)
        expect = "R3"
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 2 and expect in err, err
    assert not study.out.exists()


def test_invalid_polygon_is_repaired_with_a_note(study, run_cli):
    gj = squares()
    x0, y0 = 101.0, 30.0  # R2 as a bow tie: self-intersecting but with area
    gj["features"][1]["geometry"]["coordinates"] = [[[x0, y0], [x0 + 1, y0 + 1], [x0 + 1, y0], [x0, y0 + 1], [x0, y0]]]
    _geo(study, gj, FAST + "[spatial]\npermutations = 99\n")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0, err
    info = json.loads((study.out / "run.json").read_text())
    geo = next(s for s in info["stages"] if s["name"] == "geometry")
    assert any("make_valid" in n and "R2" in n for n in geo["notes"])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_statistics_need_four_regions(study, run_cli, n):
    """Two regions no longer give Moran's I = -1, p = 0.01; one region is not blamed on [spatial] islands."""
    p, ind = small_panel(n_regions=n)
    _geo(study, squares(n), FAST + "[spatial]\npermutations = 99\n", panel=p)
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 0, err
    if n == 1:
        info = json.loads((study.out / "run.json").read_text())
        geo = next(s for s in info["stages"] if s["name"] == "geometry")
        assert "1 region" in geo["notes"][0]
        assert not (study.out / "tables" / "moran_global.csv").exists()
        return
    from nqpspatial.io import read_output_table

    mg = read_output_table(study.out, "moran_global")
    assert mg["I"].isna().all() and mg["p_sim"].isna().all() and mg["note"].str.contains("at least 4").all()
    lisa = read_output_table(study.out, "lisa")
    assert lisa["p_sim"].isna().all() and lisa["note"].str.contains("at least 4").all()


def test_permutation_floor_is_noted(study, run_cli):
    p, ind = small_panel(n_regions=5)
    _geo(study, squares(5), FAST + "[spatial]\npermutations = 999\n", panel=p)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")[0] == 0
    from nqpspatial.io import read_output_table

    mg = read_output_table(study.out, "moran_global")
    assert mg["note"].str.contains("5! = 120 distinct permutations").all() and mg["I"].notna().all()


@pytest.mark.parametrize(
    "table,key,value,expect",
    [
        ("sensitivity", "draws", 0, "[sensitivity] draws"),
        ("robustness", "spatial_draws", 0, "[robustness] spatial_draws"),
        ("haken", "bootstrap", 10**12, "[haken] bootstrap = 1000000000000 would need about"),
        ("sensitivity", "draws", 10**9, "the largest value that fits is about"),
        ("spatial", "permutations", 10**12, "[spatial] permutations"),
    ],
)
def test_monte_carlo_sizes(study, run_cli, table, key, value, expect):
    base = "" if table == "haken" else FAST
    study.write(extra=base + f"[{table}]\n{key} = {value}\n")
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 2 and expect in err, err


def test_dense_matrix_refused_above_memory(study, run_cli, monkeypatch):
    from nqpspatial import resources

    monkeypatch.setattr(resources, "total_memory", lambda: 800)  # a machine with 800 bytes
    _geo(study, squares(), FAST + '[spatial]\nweights = ["inverse_distance"]\npermutations = 0\n')
    code, _, err = _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")
    assert code == 2 and "[spatial] weights = 'inverse_distance'" in err and "dense 6 x 6" in err
    assert "largest layer that fits has about 5 regions" in err and "864 bytes" in err


@pytest.mark.slow
def test_break_bootstrap_memory_is_bounded():
    """[haken] break_bootstrap = 10**7 takes time, not 20.8 GiB: the wild bootstrap is chunked."""
    import tracemalloc

    from nqpspatial.haken import break_tests
    from nqpspatial.haken import stages as hstages

    p, _ = small_panel(n_regions=31, years=range(2010, 2019))
    data = pd.DataFrame({"region": p["region"], "year": p["year"], "A": p["a1"] / 30, "B": p["b1"]})
    peaks = {}
    old = hstages._BREAK_CHUNK_ELEMENTS
    hstages._BREAK_CHUNK_ELEMENTS = 279 * 500  # 500 resamples per chunk
    try:
        for B in (1_000, 20_000):
            tracemalloc.start()
            res = break_tests(data, "A", "B", bootstrap=B, seed=1)
            peaks[B] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert 0 < res.p_value <= 1
    finally:
        hstages._BREAK_CHUNK_ELEMENTS = old
    assert peaks[20_000] < 1.5 * peaks[1_000] + 2_000_000  # 20 times the resamples, about the same memory


# ----------------------------------------------------------------------------------------- Python API (11)
@pytest.mark.parametrize(
    "kwargs,expect",
    [
        ({"force": "no"}, "force= must be True or False"),
        ({"report": "yes"}, "report= must be True or False"),
        ({"quiet": 1}, "quiet= must be True or False"),
        ({"out": 123}, "out= must be a folder path"),
        ({"out": ""}, "out= is empty"),
        ({"seed": -1}, "seed= must be a whole number"),
        ({"seed": 1.5}, "seed= must be a whole number"),
        ({"workers": 0}, "workers= must be a whole number"),
        ({"scheduler": 5}, "scheduler= must be an address"),
    ],
)
def test_api_argument_types(study, kwargs, expect):
    study.write(extra=FAST)
    study.out.mkdir()
    (study.out / "keep.txt").write_text("mine")
    kw = {"out": study.out, "quiet": True, "report": False, **kwargs}
    with pytest.raises(ConfigError) as info:
        nqpspatial.run(study.config, **kw)
    assert expect in str(info.value) and "--seed" not in str(info.value) and "command line" not in str(info.value)
    assert _files(study.out) == {"keep.txt": b"mine"}


def test_api_accepts_numpy_integers(study):
    study.write(extra="")
    cfg = {
        "data": {"panel": str(study.root / "panel.csv"), "indicators": str(study.root / "indicators.csv")},
        "haken": {"bootstrap": np.int64(0), "break_bootstrap": np.int32(0)},
    }
    res = nqpspatial.run(cfg, out=study.out, seed=np.int64(7), quiet=np.bool_(True), report=False)
    assert res.info["seed"] == 7 and res.info["config"]["haken"]["bootstrap"] == 0


def test_run_from_a_thread_installs_no_handlers(study):
    import threading

    study.write(extra=FAST)
    before = signal.getsignal(signal.SIGTERM)
    out = {}

    def work():
        out["res"] = nqpspatial.run(study.config, out=study.out, quiet=True, report=False)

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=HANG_GUARD)
    assert out["res"].out_dir == study.out.resolve() and signal.getsignal(signal.SIGTERM) == before


# ----------------------------------------------------------------------------------------- validate and help
def test_validate_uses_the_same_pre_flight(study, run_cli):
    study.write(extra=FAST)
    assert _cli(run_cli, "run", study.config, "--out", study.out, "--quiet", "--no-report")[0] == 0
    code, out, err = _cli(run_cli, "validate", study.config, "--out", study.out)
    assert code == 2 and "--force" in err
    code, out, err = _cli(run_cli, "validate", study.config, "--out", study.out, "--force")
    assert code == 0 and out.strip().endswith(f"output folder {study.out}: OK")
    code, out, err = _cli(run_cli, "validate", study.config, "--out", study.root)
    assert code == 2 and "holds an input" in err


def test_help_lists_the_exit_codes():
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "nqpspatial.cli", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    text = " ".join(proc.stdout.split())
    assert "0 success" in text and "1 internal error" in text and "2 input, config or output-folder" in text
    assert "128 + n" in text
