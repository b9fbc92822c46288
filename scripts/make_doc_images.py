"""Regenerate the images of docs/report.md from a run of the bundled demo study.

Usage (from the repository root)::

    python scripts/make_doc_images.py

Runs the demo study (synthetic data) with the zone analyses into a temporary
folder, takes a screenshot of report.html in headless Chromium (Debian's
``chromium`` driven by Playwright; no browser download) and copies two
figures.  Writes docs/images/report.png, docs/images/potential.png and
docs/images/map_h.png.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def _run_demo(out: Path):
    import nqpspatial
    from nqpspatial import registry
    from nqpspatial.config import load_config
    from nqpspatial.pipeline import default_config_path

    raw, base = load_config(default_config_path())
    raw["zones"] = {"analyses": ["summary", "dagum", "markov", "density"]}
    with contextlib.ExitStack() as stack:
        if "report" not in registry.names("analyses"):
            from nqpspatial.report.stage import report_stage

            stack.enter_context(registry.registered("analyses", "report", report_stage))
        return nqpspatial.run(raw, base_dir=base, out=out, quiet=True)


def _screenshot(html: Path, target: Path) -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests"))
    from _chromium import FLAGS, find_chromium

    exe = find_chromium()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=exe,
            headless=True,
            args=FLAGS,
            viewport={"width": 1100, "height": 1300},
            device_scale_factor=1,
        )
        try:
            page = ctx.new_page()
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.evaluate("document.querySelector('nav').style.display = 'none'")  # banner, title, then the map
            box = page.locator("#nqp-map path[data-i]").nth(24).bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(200)
            page.screenshot(path=str(target))
        finally:
            ctx.close()


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        _run_demo(out)
        _screenshot(out / "report.html", IMAGES / "report.png")
        for name in ("potential", "map_h"):
            shutil.copyfile(out / "figures" / f"{name}.png", IMAGES / f"{name}.png")
    for name in ("report", "potential", "map_h"):
        print(IMAGES / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
