"""Shared fixtures: small study folders written to a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def small_panel(n_regions: int = 6, years=range(2015, 2021), seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A tiny wide panel with two subsystems (A: a1, a2; B: b1, b2 (cost))."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_regions):
        for t, y in enumerate(years):
            rows.append(
                {
                    "region": f"R{i + 1}",
                    "year": y,
                    "a1": 10 + i + t + rng.random(),
                    "a2": 100 + 5 * i + 3 * t + rng.random(),
                    "b1": 0.3 + 0.05 * i + 0.02 * t + rng.random() / 50,
                    "b2": 5 - 0.2 * i - 0.1 * t + rng.random() / 5,
                }
            )
    panel = pd.DataFrame(rows)
    indicators = pd.DataFrame(
        {
            "indicator": ["a1", "a2", "b1", "b2"],
            "subsystem": ["A", "A", "B", "B"],
            "dimension": ["d1", "d2", "d1", "d1"],
            "direction": ["+", "+", "+", "-"],
        }
    )
    return panel, indicators


class Study:
    """A study folder: panel.csv, indicators.csv and study.toml."""

    def __init__(self, root: Path):
        self.root = root
        self.config = root / "study.toml"

    def write(
        self,
        panel: pd.DataFrame | None = None,
        indicators: pd.DataFrame | None = None,
        extra: str = "",
        data_extra: str = "",
        panel_name: str = "panel.csv",
        encoding: str = "utf-8",
    ) -> "Study":
        p, ind = small_panel()
        panel = p if panel is None else panel
        indicators = ind if indicators is None else indicators
        if panel_name.endswith(".csv"):
            panel.to_csv(self.root / panel_name, index=False, encoding=encoding)
        elif panel_name.endswith(".xlsx"):
            panel.to_excel(self.root / panel_name, index=False)
        elif panel_name.endswith(".dta"):
            panel.to_stata(self.root / panel_name, write_index=False)
        indicators.to_csv(self.root / "indicators.csv", index=False, encoding=encoding)
        text = (
            textwrap.dedent(f"""\
            name = "test study"
            [data]
            panel = "{panel_name}"
            indicators = "indicators.csv"
            """)
            + textwrap.dedent(data_extra)
            + "\n"
            + textwrap.dedent(extra)
        )
        self.config.write_text(text, encoding="utf-8")
        return self

    @property
    def out(self) -> Path:
        return self.root / "out"


@pytest.fixture
def study(tmp_path) -> Study:
    return Study(tmp_path)


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    from nqpspatial.cli import main

    def _run(*args):
        code = main([str(a) for a in args])
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return _run


@pytest.fixture(scope="session")
def demo_run_and_warnings(tmp_path_factory):
    """The bundled demo study run once per test session, exactly as ``nqpspatial run`` runs it (report
    included), with every warning that reached the caller recorded: (RunResult, list of warnings)."""
    import warnings

    from nqpspatial.pipeline import run

    out = tmp_path_factory.mktemp("demo") / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run(None, out=out, quiet=True)
    return res, list(caught)


@pytest.fixture(scope="session")
def demo_run(demo_run_and_warnings):
    """The bundled demo study run once per test session, as a RunResult."""
    return demo_run_and_warnings[0]


PLUGIN_PKG = Path(__file__).resolve().parent / "plugin_pkg"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """tests/plugin_pkg (a third-party plugin package) pip-installed into a temporary folder on sys.path."""
    import importlib
    import subprocess
    import sys

    from nqpspatial import registry

    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PLUGIN_PKG),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    registry.refresh()
    yield target
    sys.path.remove(str(target))
    for mod in [m for m in sys.modules if m.startswith("nqp_example_plugin")]:
        del sys.modules[mod]
    importlib.invalidate_caches()
    registry.refresh()


def pytest_collection_modifyitems(config, items):
    """Tests that pip-install the example plugin package carry the ``install`` marker."""
    for item in items:
        if "installed_plugin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.install)
