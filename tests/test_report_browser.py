"""The demo run's report.html in a real headless Chromium (Debian's chromium, driven by Playwright).

No browser is downloaded: Playwright launches the system chromium through
``executable_path``.  The test is skipped only when no chromium binary is
found (.ci/run installs Debian's chromium when it is missing).
"""

from __future__ import annotations

import pytest
from test_report_pipeline import demo_config, report_registered

import nqpspatial
from _chromium import FLAGS
from _chromium import find_chromium as _chromium

pytestmark = pytest.mark.browser


def _check_findings(page, out) -> None:
    """The findings open the report and name the order parameter the Haken stage chose."""
    import pandas as pd

    ident = pd.read_csv(out / "tables" / "haken_identification.csv", encoding="utf-8-sig")
    q1 = str(ident.loc[ident["chosen"].astype(bool), "q1"].iloc[0])
    findings = page.locator("section#findings")
    assert findings.count() == 1 and findings.is_visible()
    assert page.evaluate("document.querySelector('main > section').id") == "findings"
    assert f"{q1} is the order parameter" in findings.inner_text()
    assert page.locator("#findings .findings-warnings li").count() >= 1  # the warnings stand out in their box


def test_demo_report_in_headless_chromium(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium binary found (Debian: apt-get install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in the test extra
        pytest.fail("playwright is not installed: pip install 'playwright>=1.40' (part of the test extra)")

    raw, base = demo_config(spatial={"weights": ["queen"], "permutations": 99})
    out = tmp_path / "run"
    with report_registered():
        nqpspatial.run(raw, base_dir=base, out=out, quiet=True)
    page_file = (out / "report.html").resolve()
    url = page_file.as_uri()

    requests, console_errors = [], []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=exe,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.goto(url, wait_until="load")
            page.wait_for_timeout(300)
            _check_findings(page, out)

            n_paths = page.locator("#nqp-map path[data-i]").count()
            fills = page.eval_on_selector_all("#nqp-map path[data-i]", "els => els.map(e => getComputedStyle(e).fill)")
            assert n_paths == 31
            # the complete outline of China (Taiwan, Hong Kong, Macao: no data, grey) and the South China Sea
            # inset in the lower right, with the maritime line and the islands of Hainan drawn in it
            assert page.locator("#nqp-map path.nqp-base").count() == 34
            inset = page.locator("#nqp-inset")
            assert inset.count() == 1 and inset.is_visible()
            box, svg_box = inset.bounding_box(), page.locator("#nqp-map").bounding_box()
            assert box["x"] > svg_box["x"] + 0.6 * svg_box["width"]
            assert box["y"] + box["height"] <= svg_box["y"] + svg_box["height"] + 1
            assert box["y"] > svg_box["y"] + 0.5 * svg_box["height"]
            assert page.locator("#nqp-map path.nqp-line").count() == 1
            assert page.locator("#nqp-inset use[data-i]").count() >= 1
            assert page.locator("#nqp-inset use[href='#nqp-line']").count() == 1
            # the map is drawn: regions carry computed colours, not just the CSS default grey
            assert len(set(fills)) > 3 and any(f != "rgb(217, 217, 217)" for f in fills)

            slider = page.locator("#nqp-period")
            last = int(slider.get_attribute("max"))
            label_before = page.text_content("#nqp-period-label")
            slider.fill("0")
            page.wait_for_timeout(100)
            fills_first = page.eval_on_selector_all(
                "#nqp-map path[data-i]", "els => els.map(e => getComputedStyle(e).fill)"
            )
            assert page.text_content("#nqp-period-label") != label_before
            assert fills_first != fills, "moving the period slider did not change the map"
            assert last >= 1

            # another variable changes the colours too
            page.select_option("#nqp-variable", "q2")
            fills_q2 = page.eval_on_selector_all(
                "#nqp-map path[data-i]", "els => els.map(e => getComputedStyle(e).fill)"
            )
            assert fills_q2 != fills_first

            # hovering a region shows its name and values
            page.locator("#nqp-map path[data-i='0']").hover(force=True)
            tip = page.locator("#nqp-tip")
            assert tip.is_visible()
            data = page.evaluate("JSON.parse(document.getElementById('nqp-map-data').textContent)")
            assert data["regions"][0]["name"] in tip.text_content()

            page.evaluate("window.scrollTo(0, 0)")
            page.mouse.move(5, 5)
            page.screenshot(path=str(out / "report_screenshot.png"), full_page=False)
        finally:
            context.close()

    assert console_errors == []
    # the only request is the file itself (inline images are data: URIs, not requests)
    assert [u for u in requests if not u.startswith("data:")] == [url]
    assert (out / "report_screenshot.png").stat().st_size > 10_000
