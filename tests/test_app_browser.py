"""The app in a real browser: Debian's chromium, driven by Playwright, against `python -m sim viz`.

Needs /usr/bin/chromium (`apt-get install chromium`; never a downloaded browser); Solara's front end
comes with the install (solara-assets), and nothing fills its cache beforehand. Saves a screenshot to
test-artifacts/app.png for the test report.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.browser import ARTIFACTS, chromium, serve, stop

pytestmark = pytest.mark.browser

SERIES_IMG = 'img[alt^="court legitimacy"]'
STATES_IMG = 'img[alt^="the states"]'
STEP_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m sim viz` in its own process group on a free port; stopped afterwards."""
    log = tmp_path_factory.mktemp("viz") / "server.log"
    proc, url = serve(["viz"], log)
    try:
        yield SimpleNamespace(url=url, log=log)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


class Session:
    """One browser tab on the app, recording console errors, page errors and failed requests."""

    def __init__(self, browser, url: str, width: int = 1500):
        self.page = browser.new_page(viewport={"width": width, "height": 1000})
        self.problems: list[str] = []
        self.cdn_served = 0
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", self._response)
        self.page.goto(url)
        self.page.get_by_role("button", name="Step").wait_for(timeout=60_000)
        self.page.locator(SERIES_IMG).wait_for(timeout=60_000)

    def close(self) -> None:
        """Leave the page first, so the server closes this session (and its play loop) now."""
        self.page.goto("about:blank")
        self.page.close()

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")
        elif "/_solara/cdn/" in response.url:
            self.cdn_served += 1

    def click(self, name: str) -> None:
        self.page.get_by_role("button", name=name).click()

    def month(self) -> int:
        text = self.page.get_by_text(re.compile(r"^Step: \d+$")).inner_text()
        return int(text.removeprefix("Step: "))

    def wait_month(self, k: int) -> None:
        self.page.get_by_text(f"Step: {k}", exact=True).wait_for(timeout=STEP_TIMEOUT_MS)
        self.page.get_by_text(f"({k} of").first.wait_for(timeout=STEP_TIMEOUT_MS)

    def wait_month_at_least(self, k: int) -> None:
        self.page.wait_for_function(
            "k => [...document.querySelectorAll('span')].some(s => /^Step: \\d+$/.test(s.textContent)"
            " && parseInt(s.textContent.slice(6)) >= k)", arg=k, timeout=STEP_TIMEOUT_MS)

    def step(self, n: int) -> None:
        start = self.month()
        for k in range(start + 1, start + n + 1):
            self.click("Step")
            self.wait_month(k)

    def reset(self) -> None:
        self.click("Reset")
        self.wait_month(0)

    def src(self, selector: str) -> str:
        return self.page.locator(selector).get_attribute("src")

    def log(self) -> str:
        return self.page.locator("ul.event-log").inner_text()

    def slider(self, name: str):
        return self.page.get_by_role("slider", name=name)

    def open_group(self, title: str) -> None:
        self.page.locator(".v-expansion-panel-header", has_text=title).click()


@pytest.fixture
def session(browser, server):
    s = Session(browser, server.url)
    yield s
    s.close()


def test_page_loads_offline_without_errors(session, server):
    session.page.wait_for_timeout(1500)
    assert session.problems == []
    assert session.cdn_served > 0  # the front end came through Solara's cache, as installed
    assert "Could not load URL" not in server.log.read_text()  # nothing was fetched from a CDN
    assert session.month() == 0
    assert "issued an arrest warrant for the head of state" in session.log()
    assert session.src(STATES_IMG).startswith("data:image/png;base64,")


def test_opening_every_group_changes_no_parameter(session):
    for title in ("Scenario", "States", "Accused", "Arrest decision", "Court", "Prosecutor", "Home government"):
        session.open_group(title)
    session.page.get_by_role("slider", name="home.turnover_rate").wait_for(state="attached")
    session.page.wait_for_timeout(1000)
    assert session.page.get_by_text("0 parameter(s) changed from the defaults").is_visible()
    assert session.page.get_by_text("changed)").count() == 0
    assert session.problems == []


def test_a_slider_and_steps_change_the_plots_and_the_log(session):
    start_log, start_plot = session.log(), session.src(SERIES_IMG)
    session.step(3)
    default_plot, default_log = session.src(SERIES_IMG), session.log()
    assert default_plot != start_plot and default_log != start_log
    assert "Month 2:" in default_log

    session.open_group("Court")
    slider = session.slider("court.legitimacy0")
    assert slider.get_attribute("aria-valuenow") == "0.5"
    slider.focus()
    for _ in range(20):
        session.page.keyboard.press("ArrowRight")
    session.page.wait_for_function(
        "() => document.querySelector('[role=slider][aria-label=\"court.legitimacy0\"]')"
        ".getAttribute('aria-valuenow') === '0.7'", timeout=STEP_TIMEOUT_MS)
    session.page.get_by_text("apply when you press Reset").wait_for()
    session.page.get_by_text("0.7 (default 0.5)").wait_for(timeout=STEP_TIMEOUT_MS)  # the server has the value
    session.reset()
    session.page.get_by_text("(start 0.70)").wait_for()
    session.step(3)
    assert session.src(SERIES_IMG) != default_plot  # same seed, other legitimacy: other curves
    assert session.problems == []


def test_the_month_on_show_is_the_month_the_log_highlights(session):
    session.step(5)
    highlighted = session.page.locator("ul.event-log li.latest").all_inner_texts()
    assert highlighted and all(s.startswith("Month 4:") for s in highlighted)
    shown = session.page.locator("span.month").all_inner_texts()  # the run's summary and the log's header
    assert shown == ["month 4 (5 of 120 months run)"] * 2
    assert session.problems == []


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def test_the_sidebar_keeps_clear_of_the_map_and_the_run_table(browser, server):
    """At 1400 x 1000, after a scenario with a long name is chosen and a group opened, the sidebar stays
    400 px wide, left of the map and of the run's table (it grew to 500 px, over both); the map is shown
    at the size it was drawn for, so its labels keep their 11 px."""
    s = Session(browser, server.url, width=1400)
    try:
        page = s.page
        chooser = page.locator(".v-select", has=page.locator("label", has_text="Scenario")).first
        chooser.locator(".v-select__slot").click()
        page.locator(".menuable__content__active .v-list-item", has_text="Côte d'Ivoire 2011").first.click()
        page.get_by_text("apply when you press Reset").wait_for(timeout=STEP_TIMEOUT_MS)
        s.open_group("Accused")
        s.slider("accused.trip_rate[0]").wait_for(state="attached", timeout=STEP_TIMEOUT_MS)
        page.wait_for_timeout(1000)  # the panel's transition
        drawer = _box(page, "nav.v-navigation-drawer")
        assert drawer["width"] <= 401
        for tile in (STATES_IMG, "table.run-table"):
            assert drawer["x"] + drawer["width"] <= _box(page, tile)["x"], tile
        shown, drawn = page.locator(STATES_IMG).evaluate("img => [img.clientWidth, img.naturalWidth / 2]")
        assert shown >= 0.95 * drawn, (shown, drawn)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app-scenario.png"))
        assert s.problems == []
    finally:
        s.close()


def test_reset_returns_to_month_0(session):
    session.step(2)
    first_run = session.src(STATES_IMG)
    session.reset()
    assert session.month() == 0
    assert "start (0 of 120 months run)" in session.page.locator("text=Event log").first.locator("..").inner_text()
    assert "Month 1:" not in session.log()
    session.step(2)
    assert session.src(STATES_IMG) == first_run  # the same seed replays the same run


def test_sessions_do_not_share_a_model(browser, server, session):
    session.step(1)
    other = Session(browser, server.url)
    try:
        assert other.month() == 0
        assert session.month() == 1
    finally:
        other.close()


def test_play_runs_months_and_a_screenshot_is_saved(session):
    session.click("▶")
    session.wait_month_at_least(3)
    session.click("❚❚")
    session.page.wait_for_timeout(1500)
    reached = session.month()
    session.page.wait_for_timeout(1000)
    assert session.month() == reached >= 3  # paused
    interval = session.slider("Render Interval (steps)")  # Step then advances 11 months at once
    interval.focus()
    for _ in range(5):
        session.page.keyboard.press("ArrowRight")
    session.page.wait_for_function(
        "() => document.querySelector('[role=slider][aria-label=\"Render Interval (steps)\"]')"
        ".getAttribute('aria-valuenow') === '11'", timeout=STEP_TIMEOUT_MS)
    session.page.wait_for_timeout(1500)  # the slider's last value reaches the server (it echoes nothing)
    for k in (1, 2):
        session.click("Step")
        session.wait_month_at_least(reached + 11 * k)
    session.page.wait_for_timeout(1000)
    session.open_group("Arrest decision")
    session.page.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "app.png"
    session.page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000
    assert session.problems == []
