"""The headless Chromium the browser tests, the report benchmark and the docs' screenshot script use.

A plain module (no pytest) so that ``benchmarks/run_all.py`` and ``scripts/make_doc_images.py`` import it
from ``tests/`` too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Launch flags: headless, sandbox off (root in CI), nothing that reaches the network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


def find_chromium() -> str | None:
    """The Chromium binary: ``$NQPSPATIAL_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the path,
    else Debian's install locations; None when there is none."""
    env = os.environ.get("NQPSPATIAL_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if Path(p).exists()), None)
