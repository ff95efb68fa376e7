"""The sweep explorer in a real browser: Debian's chromium, driven by Playwright, against
`python -m sim explore FOLDER` on a tiny baseline-like sweep and a tiny Morris sensitivity folder.

Needs /usr/bin/chromium (`apt-get install chromium`; never a downloaded browser); Solara's front end
comes with the install (solara-assets), and nothing fills its cache beforehand. Saves screenshots to
test-artifacts/explorer-*.png.
"""

from __future__ import annotations

import re

import pytest

from sim.cli import main
from tests.browser import ARTIFACTS, chromium, serve, stop
from tests.test_sensitivity import TINY as SENSITIVITY_TINY
from tests.test_sweep_config import TINY as SWEEP_TINY

pytestmark = pytest.mark.browser
FIGURE = 'img[alt^="explorer figure"]'
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore-browser")
    (root / "tiny.toml").write_text(SWEEP_TINY)
    (root / "sens.toml").write_text(SENSITIVITY_TINY.format(sampler="morris", n=3, extra="levels = 4"))
    assert main(["sweep", str(root / "tiny.toml"), "--out", str(root / "sweep"), "--workers", "1", "--quiet"]) == 0
    assert main(["sensitivity", str(root / "sens.toml"), "--out", str(root / "sens"), "--workers", "1",
                 "--quiet"]) == 0
    return {"sweep": root / "sweep", "sens": root / "sens"}


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(params=["sweep", "sens"])
def page(request, folders, browser, tmp_path):
    proc, url = serve(["explore", str(folders[request.param])], tmp_path / "explore.log")
    tab = browser.new_page(viewport={"width": 1500, "height": 1100})
    problems: list[str] = []
    tab.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    try:
        tab.goto(url)
        tab.locator(FIGURE).wait_for(timeout=60_000)
        yield request.param, tab, problems
    finally:
        tab.goto("about:blank")
        tab.close()
        stop(proc)
    log = (tmp_path / "explore.log").read_text()
    assert "Traceback" not in log and "Warning" not in log, log


def _choose(tab, label: str, option: str) -> None:
    """Pick an option of a Vuetify select by its label."""
    tab.locator(".v-select", has=tab.locator("label", has_text=label)).first.locator(".v-select__slot").click()
    tab.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


def test_the_explorer_opens_a_folder_and_a_slider_changes_the_figure(page):
    kind, tab, problems = page
    assert (tab.get_by_text("mu_star", exact=True).count() == 1) == (kind == "sens")  # the indices' table
    tab.get_by_role("button", name="curves").click()
    _choose(tab, "lines by", "(none)")
    name = "prosecutor.outreach_budget" if kind == "sweep" else "court.legitimacy0"
    slider = tab.get_by_role("slider", name=name).first  # a slice (grid) or a range's lower thumb (Morris)
    slider.wait_for(state="attached", timeout=TIMEOUT_MS)  # it shows once the parameter is off the axes
    shown = "(outreach_budget = 0)" if kind == "sweep" else "9 of 9 points"
    tab.wait_for_function("([sel, text]) => document.querySelector(sel).getAttribute('alt').includes(text)",
                          arg=[FIGURE, shown], timeout=TIMEOUT_MS)
    before = tab.locator(FIGURE).get_attribute("src")
    slider.focus()
    for _ in range(3 if kind == "sweep" else 80):
        tab.keyboard.press("ArrowRight")
    tab.wait_for_function("([sel, old]) => !document.querySelector(sel).getAttribute('alt').includes(old)",
                          arg=[FIGURE, shown], timeout=TIMEOUT_MS)
    assert tab.locator(FIGURE).get_attribute("src") != before  # the figure changed with the slider
    alt = tab.locator(FIGURE).get_attribute("alt")
    if kind == "sweep":  # the grid's other parameter sliced at its second value
        assert "2 of 4 points (outreach_budget = 3)" in alt, alt
    else:  # the Morris design's other parameter brushed to the upper part of its range
        kept = int(re.search(r"(\d+) of 9 points", alt)[1])
        assert 0 < kept < 9, alt
    tab.get_by_label("Point id").fill("1")
    tab.get_by_text("Point 1", exact=True).wait_for(timeout=TIMEOUT_MS)
    width = tab.viewport_size["width"]
    for table in tab.locator("table.sim-table").all():  # the point's, its summary's, the indices' (ran off)
        box = table.locator("xpath=..").bounding_box()  # its scrolling box
        assert box is not None and box["x"] + box["width"] <= width + 1, box
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"explorer-{kind}.png"), full_page=True)
    assert problems == []
