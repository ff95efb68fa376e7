"""The sweep explorer in a real browser: Debian's chromium, driven by Playwright, against
`python -m sim explore FOLDER` on a tiny baseline-like sweep and a tiny Morris sensitivity folder.

Needs /usr/bin/chromium (`apt-get install chromium`; never a downloaded browser) and Solara's
front-end packages in its offline cache (`python -m sim viz-assets`). Saves screenshots to
test-artifacts/explorer-*.png.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim.cli import main
from tests.test_app_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, _free_port
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


def _serve(folder: Path, log_path: Path):
    """`python -m sim explore FOLDER` on a free port; returns (process, url) once the page answers."""
    port = _free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sim", "explore", str(folder), "--port", str(port)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"the explorer did not start:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)  # `explore` passes it on to its Solara server
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`)")
    from sim.app.server import cache_dir, fetch_assets, missing_assets

    fetch_assets(missing_assets(), cache_dir(), quiet=True)  # the documented offline step, `python -m sim viz-assets`
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(params=["sweep", "sens"])
def page(request, folders, browser, tmp_path):
    proc, url = _serve(folders[request.param], tmp_path / "explore.log")
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
        _stop(proc)
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
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"explorer-{kind}.png"), full_page=True)
    assert problems == []
