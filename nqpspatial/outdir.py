"""The output folder: pre-flight checks, staging, manifest, commit and rollback, the lock.

A run never writes into its target folder directly.  It works like this
(see docs/outputs.md, "Output-folder safety"):

1. **Pre-flight** (:func:`check_target`, read only): the target is not a
   refused folder (the filesystem root, the home folder, a folder holding
   an input of the run or lying above one, an empty name, a system folder
   such as ``/proc``), lies below no file, fits the filesystem's name
   limits, and is missing, empty, or a folder that nqpspatial wrote (a
   ``manifest.json``, or a ``run.json`` of release 0.1.0).  Replacing the
   results of an earlier run needs ``force``.
2. **Lock** (:class:`OutputSession`): ``.<target>.nqpspatial.lock`` in the
   parent folder is locked with ``fcntl.flock`` (``msvcrt.locking`` on
   Windows) from pre-flight to the end of the commit; it records the host
   and process id.  A killed process loses its lock, so no lock goes stale.
   Holding the lock, the session first finishes or rolls back a commit
   that was interrupted and removes staging folders of killed runs.
3. **Staging**: every file is written into ``.<target>.nqpspatial-staging-<pid>``
   beside the target (same filesystem).
4. **Commit**: the files of the previous run's manifest are moved into the
   sibling backup folder ``.<target>.nqpspatial-backup`` (with a journal),
   the staged files are renamed into the target, ``manifest.json`` is
   written last, and the backup is deleted.  Signals that arrive during the
   commit are held until it ends.

A refused, failed or interrupted run leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Sequence

from .errors import InputError

__all__ = [
    "MANIFEST",
    "Interrupted",
    "TargetState",
    "OutputSession",
    "check_target",
    "refused_reason",
    "read_manifest",
    "legacy_files",
    "build_manifest",
    "manifest_text",
    "staging_name",
    "lock_name",
    "backup_name",
    "recover",
    "raise_on_signals",
    "deferred_signals",
    "os_error_message",
    "resolve_target",
    "commit",
]

#: File name of the manifest in the output folder.
MANIFEST = "manifest.json"
#: Files at the top of a folder written by release 0.1.0 (no manifest).
LEGACY_TOP = ("run.json", "tables.xlsx", "report.html")
_JOURNAL = "commit.json"
_STAGING = ".nqpspatial-staging-"
_LOCK = ".nqpspatial.lock"
_BACKUP = ".nqpspatial-backup"
#: Folders never used as a target: the kernel's virtual filesystems.
_SYSTEM = ("/proc", "/sys", "/dev")
#: Room kept below the filesystem's path limit for the files inside the folder.
_PATH_ROOM = 120


class Interrupted(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP (SIGINT raises KeyboardInterrupt).

    Attributes
    ----------
    signum : int
        The signal number (the CLI exits with ``128 + signum``).
    committed : bool
        True when the signal arrived after the run's results had been
        committed to the output folder.
    """

    def __init__(self, signum: int, committed: bool = False):
        self.signum = int(signum)
        self.committed = committed
        try:
            name = signal.Signals(self.signum).name
        except ValueError:  # pragma: no cover
            name = f"signal {self.signum}"
        self.name = name
        super().__init__(name)


# --------------------------------------------------------------------------------------------- signals
_DEFER = {"depth": 0, "pending": None}


def _handler(signum, frame):  # noqa: ARG001 - signal handler signature
    if _DEFER["depth"]:
        _DEFER["pending"] = signum
        return
    raise Interrupted(signum)


def _catchable() -> list:
    sigs = [signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):  # not on Windows
        sigs.append(signal.SIGHUP)
    return sigs


@contextlib.contextmanager
def raise_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` inside the block.

    Handlers are installed only from the main thread and only where the
    signal has its default action (a handler of the caller, or SIGHUP
    ignored under ``nohup``, is kept); the previous handlers come back at
    the end.  Elsewhere the block does nothing and clean-up relies on
    ``finally`` clauses.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {}
    for sig in _catchable():
        if signal.getsignal(sig) == signal.SIG_DFL:
            saved[sig] = signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGTERM and SIGHUP (as :class:`Interrupted`) until the block ends.

    Used around the commit and the rollback, which must not stop half-way.
    A signal that arrived meanwhile is raised when the outermost block ends
    normally.
    """
    _DEFER["depth"] += 1
    try:
        yield
    finally:
        _DEFER["depth"] -= 1
    if _DEFER["depth"] == 0 and _DEFER["pending"] is not None:
        signum, _DEFER["pending"] = _DEFER["pending"], None
        raise Interrupted(signum)


# --------------------------------------------------------------------------------------------- names
def _sibling(target: Path, suffix: str) -> Path:
    """``.<target name><suffix>`` in the target's parent, shortened to the filesystem's name limit."""
    name = target.name
    limit = _name_max(target.parent)
    full = f".{name}{suffix}"
    if len(full.encode()) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        room = limit - len(f".~{digest}{suffix}".encode())
        short = name.encode()[: max(room, 1)].decode("utf-8", "ignore")
        full = f".{short}~{digest}{suffix}"
    return target.parent / full


def staging_name(target: Path, pid: int | None = None) -> Path:
    """The staging folder ``.<target>.nqpspatial-staging-<pid>`` beside ``target``."""
    return _sibling(Path(target), f"{_STAGING}{os.getpid() if pid is None else pid}")


def lock_name(target: Path) -> Path:
    """The lock file ``.<target>.nqpspatial.lock`` beside ``target``."""
    return _sibling(Path(target), _LOCK)


def backup_name(target: Path) -> Path:
    """The backup folder ``.<target>.nqpspatial-backup`` used during a commit."""
    return _sibling(Path(target), _BACKUP)


def _name_max(folder: Path) -> int:
    d = _existing_ancestor(folder)
    try:
        return int(os.pathconf(d, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - Windows
        return 255


def _path_max(folder: Path) -> int:
    d = _existing_ancestor(folder)
    try:
        return int(os.pathconf(d, "PC_PATH_MAX"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - Windows
        return 260 if sys.platform == "win32" else 4096


def _existing_ancestor(p: Path) -> Path:
    for d in [p, *p.parents]:
        try:
            if d.is_dir():
                return d
        except OSError:
            continue
    return Path(p.anchor or "/")


# --------------------------------------------------------------------------------------------- messages
def os_error_message(exc: OSError, where: Path | str, doing: str) -> InputError:
    """An :class:`InputError` for an operating-system error a user can fix.

    Parameters
    ----------
    exc : OSError
        The error.
    where : path
        The folder or file it concerns (named in the message).
    doing : str
        What was being done (e.g. "writing the results").
    """
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        fix = "the disk (or your quota) is full: free some space or choose a folder on another disk with --out"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = (
            "the folder cannot be written (no permission, or a read-only filesystem): choose a folder you can "
            "write with --out"
        )
    elif code == errno.ENAMETOOLONG:
        fix = "a file name or path is too long for the filesystem: choose a shorter --out or a shorter study name"
    elif code == errno.ENOTDIR:
        fix = "a part of the path is a file, not a folder: choose another --out"
    elif code == errno.ELOOP:
        fix = "the path runs through a loop of symbolic links: choose another --out"
    else:
        fix = "choose another folder with --out"
    reason = exc.strerror or type(exc).__name__
    return InputError(f"{doing} failed: {reason}; {fix}.", source=str(where))


# --------------------------------------------------------------------------------------------- manifest
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _walk_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the regular files below ``folder`` (sorted; links are not followed)."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for f in files:
            p = Path(root) / f
            if p.is_file() and not p.is_symlink():
                out.append(p.relative_to(folder).as_posix())
    return sorted(out)


#: Files listed in the manifest without size and hash: their bytes differ between identical runs.
VARYING = ("run.json",)


def build_manifest(folder: Path, files: Iterable[str] | None = None) -> dict:
    """The manifest of the files in ``folder``: path, size and SHA-256, sorted by path.

    Parameters
    ----------
    folder : pathlib.Path
        The (staging) folder.
    files : iterable of str, optional
        Relative paths (default: every regular file below ``folder``).

    Returns
    -------
    dict
        ``{"format": "nqpspatial-manifest", "version": 1, "files": [...]}``;
        ``run.json`` is listed with ``size`` and ``sha256`` null, since it
        holds the start time and duration.
    """
    entries = []
    for rel in sorted(_walk_files(folder) if files is None else files):
        if rel == MANIFEST:
            continue
        p = Path(folder) / rel
        if rel in VARYING:
            entries.append({"path": rel, "sha256": None, "size": None})
        else:
            entries.append({"path": rel, "sha256": _sha256(p), "size": p.stat().st_size})
    return {"format": "nqpspatial-manifest", "version": 1, "files": entries}


def manifest_text(manifest: dict) -> str:
    """The manifest as written: sorted keys, no time stamps, one trailing newline."""
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _safe_relpath(rel) -> str | None:
    """``rel`` as a normalised relative POSIX path inside the folder, or None when it is not one."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return None
    p = PurePosixPath(rel)
    if p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) or p.as_posix() != rel:
        return None
    if len(p.parts) > 1 and p.parts[0].endswith(":"):  # pragma: no cover - a Windows drive
        return None
    return rel


def read_manifest(target: Path) -> list[str]:
    """The relative paths listed in ``target/manifest.json``.

    Raises
    ------
    InputError
        The manifest is not a JSON object written by nqpspatial, or lists a
        path outside the folder; nothing is removed on its word.
    """
    path = Path(target) / MANIFEST
    bad = (
        f"{MANIFEST} is not a manifest written by nqpspatial, so nqpspatial cannot tell its own files from "
        "yours and removes nothing. Move your files out of this folder, or choose another folder with --out"
    )
    try:
        if not _is_regular(path):
            raise InputError(f"{bad}.", source=str(path))
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise InputError(f"{bad}.", source=str(path)) from None
    if (
        not isinstance(data, dict)
        or data.get("format") != "nqpspatial-manifest"
        or not isinstance(data.get("files"), list)
    ):
        raise InputError(f"{bad}.", source=str(path))
    out = []
    for entry in data["files"]:
        rel = _safe_relpath(entry.get("path") if isinstance(entry, dict) else None)
        if rel is None or rel == MANIFEST:
            shown = entry.get("path") if isinstance(entry, dict) else entry
            raise InputError(
                f"{bad} (it lists {str(shown)[:80]!r}, which is not a file inside the folder).", source=str(path)
            )
        out.append(rel)
    return sorted(set(out))


def _legacy_run_json(target: Path) -> dict | None:
    """run.json of a folder written by release 0.1.0 (``versions.nqpspatial`` present), else None."""
    path = Path(target) / "run.json"
    if not _is_regular(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read(64 << 20))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("versions"), dict) and "nqpspatial" in data["versions"]:
        return data
    return None


def legacy_files(target: Path, info: dict) -> list[str]:
    """The files that release 0.1.0 wrote into ``target``, from its ``run.json``.

    ``run.json``, ``tables.xlsx``, ``report.html``; ``tables/<table>.csv``
    for every table a stage lists; the ``figures/`` and ``latex/`` files the
    report stage lists (and ``latex/<table>.tex``, ``latex/tables.tex``).
    Only paths that exist as regular files are returned.
    """
    names = set(LEGACY_TOP)
    stages = info.get("stages") if isinstance(info.get("stages"), list) else []
    tables = set()
    for st in stages:
        if not isinstance(st, dict):
            continue
        for t in st.get("tables") or []:
            if isinstance(t, str):
                tables.add(t)
                names.add(f"tables/{t}.csv")
        sinfo = st.get("info") if isinstance(st.get("info"), dict) else {}
        if st.get("name") == "report":
            for key, sub in (("figures", "figures"), ("latex", "latex")):
                for f in sinfo.get(key) or []:
                    if isinstance(f, str):
                        names.add(f"{sub}/{f}")
    names.update(f"latex/{t}.tex" for t in tables)
    names.add("latex/tables.tex")
    out = []
    for rel in sorted(names):
        rel = _safe_relpath(rel)
        if rel is not None and _is_regular(Path(target) / rel) and not _through_link(Path(target), rel):
            out.append(rel)
    return out


# --------------------------------------------------------------------------------------------- checks
def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _through_link(target: Path, rel: str) -> str | None:
    """The first component of ``rel`` below ``target`` that is a symbolic link (or not a folder), else None."""
    cur = Path(target)
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts):
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            return None
        except OSError:
            return "/".join(parts[: i + 1])
        if stat.S_ISLNK(st.st_mode):
            return "/".join(parts[: i + 1])
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return "/".join(parts[: i + 1])
    return None


def _real(p) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.fspath(p))))


def _inside(child: Path, folder: Path) -> bool:
    return child == folder or folder in child.parents


def refused_reason(target: Path, inputs: Sequence[Path] = ()) -> str | None:
    """Why ``target`` may never be written into (with or without ``force``), or None.

    Refused: the filesystem root, the home folder, a system folder
    (``/proc``, ``/sys``, ``/dev``), and any folder that holds an input of
    the run or lies above one.
    """
    real = _real(target)
    if real == Path(real.anchor or "/"):
        return "it is the root of the filesystem"
    try:
        home = _real(Path.home())
    except (RuntimeError, KeyError):  # pragma: no cover - no home folder
        home = None
    if home is not None and real == home:
        return "it is your home folder"
    for sysdir in _SYSTEM:
        if sys.platform != "win32" and _inside(real, Path(sysdir)):
            return f"it lies in the system folder {sysdir}"
    for f in inputs:
        if f is None:
            continue
        rf = _real(f)
        if _inside(rf, real):
            return f"it holds an input of this run ({f})"
    return None


@dataclass
class TargetState:
    """What :func:`check_target` found.

    Attributes
    ----------
    path : pathlib.Path
        The target folder (absolute, symbolic links resolved).
    kind : str
        ``"missing"``, ``"empty"``, ``"ours"`` (a manifest) or ``"legacy"``
        (a release 0.1.0 folder).
    old_files : list of str
        Files of the previous run that a commit replaces (empty unless
        ``kind`` is ``"ours"`` or ``"legacy"``).
    """

    path: Path
    kind: str
    old_files: list[str] = field(default_factory=list)


def _check_names(target: Path) -> None:
    limit = _name_max(target)
    for part in target.parts[1:]:
        n = len(part.encode())
        if n > limit:
            raise InputError(
                f"the folder name {part[:40]!r}... is {n} bytes long, more than the filesystem allows "
                f"({limit}). Choose a shorter --out (or a shorter study name: the default folder is "
                "output/<name>).",
                source=str(target)[:200],
            )
    total = len(str(target).encode())
    pmax = _path_max(target)
    if total + _PATH_ROOM > pmax:
        raise InputError(
            f"the output path is {total} bytes long; with the files inside it, it would exceed the "
            f"filesystem's limit ({pmax}). Choose a shorter --out.",
            source=str(target)[:200],
        )


def _check_ancestors(target: Path) -> None:
    for d in [target, *target.parents]:
        try:
            st = os.stat(d)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:  # a file further up: found on a later step
                continue
            raise os_error_message(exc, d, "checking the output folder") from None
        if d != target and not stat.S_ISDIR(st.st_mode):
            raise InputError(
                f"the output folder would lie below the file {d}, which is not a folder. Choose "
                "another folder with --out.",
                source=str(target),
            )
        if stat.S_ISDIR(st.st_mode):
            return


def resolve_target(out, default: Path) -> Path:
    """The absolute target folder for ``out`` (default ``default``); refuses an empty name.

    Raises
    ------
    InputError
        ``out`` is the empty string.
    """
    if out is None:
        return Path(os.path.abspath(default))
    text = os.fspath(out)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise InputError('the output folder is empty (--out ""). Name a folder, e.g. --out results.', source="--out")
    return Path(os.path.abspath(text))


def check_target(target: Path, *, force: bool, inputs: Sequence[Path] = ()) -> TargetState:
    """Pre-flight check of an output folder (reads only).

    Parameters
    ----------
    target : pathlib.Path
        The folder (absolute).
    force : bool
        Replace the results of an earlier run.
    inputs : sequence of pathlib.Path
        The run's input files (config, panel, indicator list, boundary
        file, scheme CSV).

    Returns
    -------
    TargetState

    Raises
    ------
    InputError
        A refused target, a target below a file or too long a name, a
        non-empty folder that nqpspatial did not write (even with
        ``force``), earlier results without ``force``, or a symbolic link
        among the folders the run writes into.
    """
    target = Path(target)
    why = refused_reason(target, inputs)
    if why:
        raise InputError(
            f"nqpspatial never writes into this folder: {why}. Choose a new folder with --out, e.g. --out results.",
            source=str(target),
        )
    _check_names(target)
    _check_ancestors(target)
    real = _real(target)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return TargetState(real, "missing")
    except OSError as exc:
        raise os_error_message(exc, target, "checking the output folder") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError("the output path exists and is not a folder; choose a folder with --out.", source=str(target))
    try:
        entries = sorted(os.listdir(real))
    except OSError as exc:
        raise os_error_message(exc, target, "listing the output folder") from None
    if not entries:
        return TargetState(real, "empty")
    if MANIFEST in entries:
        kind, old = "ours", read_manifest(real) + [MANIFEST]
    else:
        info = _legacy_run_json(real)
        if info is None:
            shown = ", ".join(entries[:5]) + (f", ... ({len(entries) - 5} more)" if len(entries) > 5 else "")
            raise InputError(
                f"the output folder is not empty and was not written by nqpspatial (it holds {shown}), "
                "so nqpspatial will not write into it, even with --force. Choose another folder with "
                "--out, e.g. --out results.",
                source=str(target),
            )
        kind, old = "legacy", legacy_files(real, info)
    if not force:
        raise InputError(
            "the output folder holds the results of an earlier run. Use --force to replace them "
            f"(only the files nqpspatial wrote{' (listed in manifest.json)' if kind == 'ours' else ''} "
            "are removed; your other files stay), or choose another folder with --out.",
            source=str(target),
        )
    for sub in ("tables", "figures", "latex", *old):
        link = _through_link(real, sub)
        if link:
            raise InputError(
                f"'{link}' in the output folder is a symbolic link (or not a folder); nqpspatial does "
                "not write or remove files through links. Remove the link, or choose another folder "
                "with --out.",
                source=str(target),
            )
    old = [rel for rel in old if _is_regular(real / rel)]
    return TargetState(real, kind, sorted(set(old)))


# --------------------------------------------------------------------------------------------- lock
class _Lock:
    """An exclusive, non-blocking OS lock on a file; records host and process id."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, target: Path) -> None:
        for _ in range(20):
            fd = self._open()
            if not self._try_lock(fd):
                holder = self._holder(fd)
                os.close(fd)
                raise InputError(
                    f"another nqpspatial run ({holder}) is writing into this folder. Wait for it to "
                    f"finish, or choose another folder with --out. (Lock file: {self.path}.)",
                    source=str(target),
                )
            try:  # the file we locked must still be the one at the path (a finishing run unlinks it)
                same = os.path.samestat(os.fstat(fd), os.lstat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                info = json.dumps({"host": socket.gethostname(), "pid": os.getpid()}).encode()
                os.ftruncate(fd, 0)
                os.write(fd, info)
                return
            os.close(fd)
        raise InputError(
            "could not take the output folder's lock; another run keeps replacing it. Try again.", source=str(self.path)
        )  # pragma: no cover

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(
                    "the lock file is a symbolic link; remove it (nqpspatial does not follow links).",
                    source=str(self.path),
                ) from None
            raise os_error_message(exc, self.path.parent, "creating the lock file beside the output folder") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise InputError("the lock file is not a regular file; remove it.", source=str(self.path))
        return fd

    @staticmethod
    def _try_lock(fd: int) -> bool:
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            try:
                os.lseek(fd, 1 << 20, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                return False
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            data = json.loads(os.read(fd, 4096).decode("utf-8"))
            return f"process {int(data['pid'])} on host {str(data['host'])[:100]}"
        except (OSError, ValueError, KeyError, TypeError):
            return "process and host not recorded yet"

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # before the unlock, so a waiting run re-checks the path
        with contextlib.suppress(OSError):
            os.close(self.fd)  # closing releases flock and msvcrt locks
        self.fd = None


# --------------------------------------------------------------------------------------------- commit
def _move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _prune_empty(folder: Path, rels: Iterable[str]) -> None:
    """Remove folders below ``folder`` that held ``rels`` and are empty now (never ``folder`` itself)."""
    dirs = {PurePosixPath(r).parent for r in rels}
    todo = set()
    for d in dirs:
        while str(d) not in ("", "."):
            todo.add(d)
            d = d.parent
    for d in sorted(todo, key=lambda x: len(x.parts), reverse=True):
        with contextlib.suppress(OSError):
            (folder / d).rmdir()  # fails unless empty


def recover(target: Path) -> str | None:
    """Finish or roll back a commit into ``target`` that was interrupted; remove stale staging folders.

    Call only while holding the target's lock.

    Returns
    -------
    str or None
        What was done ("completed", "rolled back"), or None when there was
        nothing to recover.
    """
    target = Path(target)
    done = None
    backup = backup_name(target)
    with deferred_signals():
        if backup.exists():
            done = _recover_backup(target, backup)
        prefix = staging_name(target, 0).name[:-1]
        try:
            siblings = os.listdir(target.parent)
        except OSError:
            siblings = []
        for name in siblings:
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                p = target.parent / name
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
    return done


def _recover_backup(target: Path, backup: Path) -> str:
    journal = backup / _JOURNAL
    try:
        j = json.loads(journal.read_text(encoding="utf-8"))
        old, new, digest = list(j["old"]), list(j["new"]), j["manifest_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        # no journal: the commit stopped before moving anything
        shutil.rmtree(backup, ignore_errors=True)
        return "rolled back"
    man = target / MANIFEST
    if _is_regular(man) and _sha256(man) == digest:
        shutil.rmtree(backup, ignore_errors=True)
        return "completed"
    _rollback(target, backup, old, new)
    return "rolled back"


def _rollback(target: Path, backup: Path, old: list[str], new: list[str]) -> None:
    saved = backup / "files"
    old_set = set(old)
    for rel in new:
        if _safe_relpath(rel) is None:
            continue
        if rel in old_set and not (saved / rel).exists():
            continue  # the old file was never moved: what is there is the old file
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            if _is_regular(target / rel):
                os.unlink(target / rel)
    for rel in old:
        if _safe_relpath(rel) is not None and _is_regular(saved / rel):
            _move(saved / rel, target / rel)
    _prune_empty(target, [r for r in new if r not in old_set])
    shutil.rmtree(backup, ignore_errors=True)


def commit(staging: Path, state: TargetState) -> dict:
    """Replace the previous run's files in the target by the staged files; write the manifest last.

    Parameters
    ----------
    staging : pathlib.Path
        The staging folder (removed afterwards).
    state : TargetState
        From :func:`check_target`.

    Returns
    -------
    dict
        The manifest written.

    Raises
    ------
    InputError
        A staged file would replace a file nqpspatial did not write, a
        folder on the way is a symbolic link, or the filesystem refused a
        move (the target is rolled back first).
    """
    target = state.path
    new = [r for r in _walk_files(staging) if r != MANIFEST]
    old = [r for r in state.old_files if _is_regular(target / r)]
    old_set = set(old)
    clash = [r for r in new if r not in old_set and os.path.lexists(target / r)]
    if clash:
        raise InputError(
            f"the output folder holds file(s) that nqpspatial did not write where this run writes its "
            f"results: {', '.join(clash[:5])}. Move them, or choose another folder with --out.",
            source=str(target),
        )
    links = sorted({x for x in (_through_link(target, r) for r in new) if x})
    if links:
        raise InputError(
            f"'{links[0]}' in the output folder is a symbolic link (or a file where a folder is "
            "needed); nqpspatial does not write through links. Remove it, or choose another folder "
            "with --out.",
            source=str(target),
        )
    manifest = build_manifest(staging, new)
    text = manifest_text(manifest)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    backup = backup_name(target)
    with deferred_signals():
        try:
            target.mkdir(parents=True, exist_ok=True)
            backup.mkdir()
            _write_json_atomic(backup / _JOURNAL, {"old": old, "new": new, "manifest_sha256": digest})
            for rel in old:
                _move(target / rel, backup / "files" / rel)
            for rel in new:
                _move(staging / rel, target / rel)
            tmp = staging / (MANIFEST + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target / MANIFEST)
        except BaseException as exc:
            if backup.exists():
                _rollback(target, backup, old, new)
            if isinstance(exc, OSError):
                raise os_error_message(exc, target, "moving the results into the output folder") from None
            raise
        kept = set(new)
        _prune_empty(target, [r for r in old if r not in kept])
        shutil.rmtree(backup, ignore_errors=True)
    return manifest


class OutputSession:
    """The lock, the staging folder and the commit of one run into one target.

    Use as a context manager around everything from pre-flight to the
    commit.  On leaving the block without :meth:`commit`, the staging folder
    is removed and the target is as it was.  Folders created for the lock
    are removed again when they are empty.

    Parameters
    ----------
    target : pathlib.Path
        The output folder (absolute; see :func:`resolve_target`).
    force : bool
        Replace the results of an earlier run.
    inputs : sequence of pathlib.Path
        The run's input files (refused as targets, see :func:`refused_reason`).
    """

    def __init__(self, target: Path, *, force: bool, inputs: Sequence[Path] = ()):
        self.target = Path(target)
        self.force = bool(force)
        self.inputs = list(inputs)
        self.state: TargetState | None = None
        self.staging: Path | None = None
        self.committed = False
        self.recovered: str | None = None
        self._lock: _Lock | None = None
        self._made: list[Path] = []

    def __enter__(self) -> "OutputSession":
        why = refused_reason(self.target, self.inputs)
        if why:  # before anything is created beside it
            check_target(self.target, force=self.force, inputs=self.inputs)
        _check_names(self.target)
        _check_ancestors(self.target)
        parent = _real(self.target).parent
        self._made = [d for d in [parent, *parent.parents] if not d.exists()]
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error_message(exc, self.target, "creating the output folder's parent") from None
        self._lock = _Lock(lock_name(_real(self.target)))
        try:
            self._lock.acquire(self.target)
            self.recovered = recover(_real(self.target))
        except BaseException:
            self._cleanup()
            raise
        return self

    def check(self) -> TargetState:
        """Pre-flight check of the target under the lock (see :func:`check_target`)."""
        self.state = check_target(self.target, force=self.force, inputs=self.inputs)
        return self.state

    def open_staging(self) -> Path:
        """Create and return the staging folder."""
        if self.state is None:
            self.check()
        path = staging_name(self.state.path)
        try:
            path.mkdir()
            (path / "tables").mkdir()
        except OSError as exc:
            raise os_error_message(exc, self.target, "creating the staging folder beside the output folder") from None
        self.staging = path
        return path

    def commit(self) -> dict:
        """Commit the staged files into the target (see :func:`commit`).

        A signal that arrives during the commit is raised after it, as
        :class:`Interrupted` with ``committed = True``.
        """
        try:
            with deferred_signals():
                manifest = commit(self.staging, self.state)
                self.committed = True
        except Interrupted as exc:
            exc.committed = self.committed
            raise
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging = None
        return manifest

    def _cleanup(self) -> None:
        with deferred_signals():
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                self.staging = None
            if self._lock is not None:
                self._lock.release()
            for d in self._made:  # deepest first
                try:
                    d.rmdir()
                except OSError:
                    break

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.committed:
            self._made = []
        self._cleanup()
