"""The output-folder machinery (nqpspatial.outdir): pre-flight, manifest, commit and rollback, recovery, lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nqpspatial import outdir
from nqpspatial.errors import InputError


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _stage(tmp_path: Path, target: Path, files: dict[str, str]) -> Path:
    st = outdir.staging_name(target)
    for rel, text in files.items():
        (st / rel).parent.mkdir(parents=True, exist_ok=True)
        (st / rel).write_text(text)
    return st


def _commit(tmp_path, target, files, force=True):
    state = outdir.check_target(target, force=force)
    st = _stage(tmp_path, target, files)
    man = outdir.commit(st, state)
    import shutil

    shutil.rmtree(st)
    return man


def test_manifest_is_sorted_hashed_and_time_free(tmp_path):
    target = tmp_path / "out"
    man = _commit(tmp_path, target, {"tables/b.csv": "b", "tables/a.csv": "a", "run.json": "{}"})
    text = (target / "manifest.json").read_text(encoding="utf-8")
    assert text == outdir.manifest_text(man)
    paths = [e["path"] for e in man["files"]]
    assert paths == sorted(paths) == ["run.json", "tables/a.csv", "tables/b.csv"]
    import hashlib

    a = next(e for e in man["files"] if e["path"] == "tables/a.csv")
    assert a["sha256"] == hashlib.sha256(b"a").hexdigest() and a["size"] == 1
    assert next(e for e in man["files"] if e["path"] == "run.json")["sha256"] is None  # varies with the start time
    assert "time" not in text and "started" not in text
    assert outdir.read_manifest(target) == paths


def test_force_replaces_only_the_manifest_files(tmp_path):
    target = tmp_path / "out"
    _commit(tmp_path, target, {"tables/a.csv": "1", "figures/map.png": "1", "run.json": "{}"})
    (target / "figures" / "my_map.png").write_text("mine")
    (target / "tables" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="earlier run.*--force"):
        outdir.check_target(target, force=False)
    _commit(tmp_path, target, {"tables/c.csv": "2", "run.json": "{}"})
    assert _files(target) == {
        "figures/my_map.png": b"mine",
        "tables/notes.txt": b"mine",
        "tables/c.csv": b"2",
        "run.json": b"{}",
        "manifest.json": (target / "manifest.json").read_bytes(),
    }


def test_staged_file_never_replaces_a_user_file(tmp_path):
    target = tmp_path / "out"
    _commit(tmp_path, target, {"tables/a.csv": "1", "run.json": "{}"})
    (target / "tables" / "b.csv").write_text("mine")
    before = _files(target)
    with pytest.raises(InputError, match="did not write.*tables/b.csv"):
        _commit(tmp_path, target, {"tables/b.csv": "2", "run.json": "{}"})
    assert _files(target) == before


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"format": "x", "files": []}',
        '{"format": "nqpspatial-manifest", "files": [{"path": "../thesis.docx"}]}',
        '{"format": "nqpspatial-manifest", "files": [{"path": "/etc/passwd"}]}',
        '{"format": "nqpspatial-manifest", "files": [{"path": "a/./b"}]}',
    ],
)
def test_a_foreign_manifest_removes_nothing(tmp_path, content):
    target = tmp_path / "out"
    target.mkdir()
    (target / "manifest.json").write_text(content)
    (tmp_path / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="not a manifest written by nqpspatial"):
        outdir.check_target(target, force=True)
    assert (tmp_path / "thesis.docx").read_text() == "precious"


def test_legacy_folder_files(tmp_path):
    """A release 0.1.0 folder: run.json (versions.nqpspatial), no manifest; only its own files are replaced."""
    target = tmp_path / "old"
    for rel in (
        "tables/indices.csv",
        "tables/lisa.csv",
        "figures/weights.png",
        "figures/my_map.png",
        "latex/haken_estimates.tex",
        "latex/tables.tex",
        "tables.xlsx",
        "report.html",
        "notes.docx",
    ):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text("x")
    info = {
        "versions": {"nqpspatial": "0.1.0"},
        "stages": [
            {"name": "weighting", "tables": ["indices"]},
            {"name": "haken", "tables": ["haken_estimates"]},
            {
                "name": "report",
                "tables": [],
                "info": {"figures": ["weights.png"], "latex": ["haken_estimates.tex", "tables.tex"]},
            },
        ],
    }
    (target / "run.json").write_text(json.dumps(info))
    state = outdir.check_target(target, force=True)
    assert state.kind == "legacy"
    assert state.old_files == [
        "figures/weights.png",
        "latex/haken_estimates.tex",
        "latex/tables.tex",
        "report.html",
        "run.json",
        "tables.xlsx",
        "tables/indices.csv",
    ]
    # tables/lisa.csv is not listed by that run.json, figures/my_map.png and notes.docx are the user's
    st = _stage(tmp_path, target, {"run.json": "{}", "tables/indices.csv": "new"})
    outdir.commit(st, state)
    assert sorted(_files(target)) == [
        "figures/my_map.png",
        "manifest.json",
        "notes.docx",
        "run.json",
        "tables/indices.csv",
        "tables/lisa.csv",
    ]


def test_a_folder_not_written_by_nqpspatial_is_refused_even_with_force(tmp_path):
    target = tmp_path / "thesis"
    target.mkdir()
    for i in range(7):
        (target / f"chapter{i}.docx").write_text("x")
    with pytest.raises(InputError, match=r"not written by nqpspatial \(it holds chapter0.docx.*2 more\).*--out"):
        outdir.check_target(target, force=True)
    (target / "run.json").write_text('{"seed": 1}')  # a run.json of another program
    with pytest.raises(InputError, match="not written by nqpspatial"):
        outdir.check_target(target, force=True)


def test_refused_targets(tmp_path, monkeypatch):
    panel = tmp_path / "data" / "tables" / "panel.csv"
    panel.parent.mkdir(parents=True)
    panel.write_text("x")
    assert "root" in outdir.refused_reason(Path("/"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    assert "home" in outdir.refused_reason(tmp_path / "home")
    for folder in (tmp_path / "data" / "tables", tmp_path / "data", tmp_path):
        assert "holds an input" in outdir.refused_reason(folder, [panel])
    assert outdir.refused_reason(tmp_path / "data" / "out", [panel]) is None
    assert "system folder" in outdir.refused_reason(Path("/proc/self"))
    with pytest.raises(InputError, match="empty"):
        outdir.resolve_target("", Path("x"))


def test_target_below_a_file_and_names_too_long(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InputError, match="below the file"):
        outdir.check_target(tmp_path / "f.txt" / "out", force=False)
    with pytest.raises(InputError, match="bytes long, more than the filesystem allows"):
        outdir.check_target(tmp_path / ("x" * 300), force=False)
    with pytest.raises(InputError, match="exceed the filesystem's limit"):
        outdir.check_target(tmp_path.joinpath(*["y" * 200] * 25), force=False)


def test_sibling_names_fit_the_filesystem(tmp_path):
    target = tmp_path / ("n" * 250)
    for p in (outdir.staging_name(target, 123456), outdir.lock_name(target), outdir.backup_name(target)):
        assert len(p.name.encode()) <= 255 and p.parent == tmp_path
    assert outdir.staging_name(tmp_path / "res", 42).name == ".res.nqpspatial-staging-42"
    assert outdir.lock_name(tmp_path / "res").name == ".res.nqpspatial.lock"


def test_symlinked_subfolder_is_refused(tmp_path):
    target = tmp_path / "out"
    _commit(tmp_path, target, {"tables/a.csv": "1", "run.json": "{}"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.csv").write_text("precious")
    os.replace(target / "tables" / "a.csv", tmp_path / "moved.csv")
    (target / "tables").rmdir()
    (target / "tables").symlink_to(elsewhere)
    with pytest.raises(InputError, match="'tables' in the output folder is a symbolic link"):
        outdir.check_target(target, force=True)
    assert (elsewhere / "a.csv").read_text() == "precious"


def _interrupted_commit(tmp_path, stop_after: int):
    """Commit with os.replace failing hard (as a kill would stop it) after ``stop_after`` moves."""
    target = tmp_path / "out"
    _commit(tmp_path, target, {"tables/a.csv": "old-a", "tables/b.csv": "old-b", "run.json": "old"})
    (target / "mine.txt").write_text("mine")
    before = _files(target)
    state = outdir.check_target(target, force=True)
    st = _stage(tmp_path, target, {"tables/a.csv": "new-a", "tables/c.csv": "new-c", "run.json": "new"})
    real, calls = os.replace, []

    class Killed(BaseException):
        pass

    def fake(src, dst):
        calls.append(1)
        if len(calls) == stop_after + 1:
            raise Killed
        real(src, dst)

    return target, state, st, before, fake, Killed


@pytest.mark.parametrize("stop_after", [0, 1, 2, 4, 5, 6])
def test_recover_rolls_back_an_interrupted_commit(tmp_path, monkeypatch, stop_after):
    """A commit stopped at any move (a kill leaves the backup and its journal) is rolled back by the next run."""
    target, state, st, before, fake, Killed = _interrupted_commit(tmp_path, stop_after)
    monkeypatch.setattr(outdir, "_rollback", lambda *a: None)  # a killed process rolls nothing back
    monkeypatch.setattr(os, "replace", fake)
    with pytest.raises(Killed):
        outdir.commit(st, state)
    monkeypatch.undo()
    assert outdir.recover(target) in ("rolled back", None)
    assert _files(target) == before
    assert not outdir.backup_name(target).exists() and not st.exists()  # stale staging removed too


def test_recover_completes_a_commit_stopped_after_the_manifest(tmp_path, monkeypatch):
    target, state, st, before, fake, Killed = _interrupted_commit(tmp_path, 10**6)
    import shutil

    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # killed before the backup was deleted
    outdir.commit(st, state)
    monkeypatch.undo()
    assert outdir.backup_name(target).exists()
    assert outdir.recover(target) == "completed"
    assert _files(target)["tables/a.csv"] == b"new-a" and "tables/b.csv" not in _files(target)
    assert _files(target)["mine.txt"] == b"mine"


@pytest.mark.parametrize("stop_after", [1, 4])
def test_failed_commit_rolls_back_in_process(tmp_path, monkeypatch, stop_after):
    target, state, st, before, fake, Killed = _interrupted_commit(tmp_path, stop_after)
    monkeypatch.setattr(os, "replace", fake)
    with pytest.raises(Killed):
        outdir.commit(st, state)
    monkeypatch.undo()
    assert _files(target) == before and not outdir.backup_name(target).exists()


def test_lock_refuses_a_second_session_naming_host_and_pid(tmp_path):
    target = tmp_path / "out"
    code = (
        "import sys, time; from pathlib import Path; from nqpspatial import outdir\n"
        f"s = outdir.OutputSession(Path({str(target)!r}), force=False).__enter__()\n"
        "print('locked', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match=rf"another nqpspatial run \(process {proc.pid} on host .+\)"):
            with outdir.OutputSession(target, force=False):
                pass
    finally:
        proc.kill()
        proc.wait(timeout=30)
    # the killed process's lock is gone with it: no stale lock
    with outdir.OutputSession(target, force=False) as s:
        assert s.check().kind == "missing"
    assert not outdir.lock_name(target).exists()


def test_session_removes_the_folders_it_made_for_the_lock(tmp_path):
    target = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with outdir.OutputSession(target, force=False):
            assert outdir.lock_name(target).exists()
            raise RuntimeError("stage failed")
    assert not (tmp_path / "a").exists()


def test_deferred_signal_is_raised_after_the_block():
    import signal

    with outdir.raise_on_signals():
        with pytest.raises(outdir.Interrupted) as info:
            with outdir.deferred_signals():
                os.kill(os.getpid(), signal.SIGTERM)
                reached = True
        assert reached and info.value.signum == signal.SIGTERM
