"""The browser app's page and logic, rendered in-process with solara.render (no browser, no server),
and the check that the front end came with the install."""

from __future__ import annotations

import argparse
import html
import importlib.util
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import ipyvuetify as v
import numpy as np
import pytest
import solara
from solara.widgets import HTML as HTMLWidget

from sim.app import app, choices, drawing, eventlog, inputs, pictures, scenarios, views
from sim.app import server as app_server
from sim.engines.mesa.story import describe
from sim.errors import UserError
from sim.model.params import BY_NAME, SCHEMA, Params
from sim.model.roster import build_roster
from sim.simulate import simulate

SMALL = {"scenario.n_states": 30, "scenario.horizon_months": 24}


def render_page():
    _, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    return rc


def page_html(rc) -> str:
    return html.unescape("\n".join(w.unsafe_innerHTML for w in rc.find(HTMLWidget).widgets))


def click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def steps_shown(rc) -> int:
    texts = [w.children[0] for w in rc.find(v.Html, tag="span").widgets
             if w.children and str(w.children[0]).startswith("Step: ")]
    assert len(texts) == 1
    return int(texts[0].removeprefix("Step: "))


def input_widget(rc, label: str):
    for kind in (v.Slider, v.Checkbox, v.Select, v.TextField):
        found = rc.find(kind, label=label).widgets
        if found:
            assert len(found) == 1, f"{label}: {len(found)} inputs"
            return found[0]
    raise AssertionError(f"no input labelled {label}")


def alerts(rc) -> list[str]:
    return [str(c) for w in rc.find(v.Alert).widgets for c in w.children]


# ------------------------------------------------------------------ inputs come from the schema


def test_every_parameter_has_one_input_with_its_range_default_and_description():
    rc = render_page()
    text = page_html(rc)
    n_accused = len(BY_NAME["accused.trip_rate"].default)
    for p in SCHEMA:
        labels = [f"{p.name}[{j}]" for j in range(n_accused)] if p.per_accused else [p.name]
        defaults = p.default if p.per_accused else [p.default]
        for label, default in zip(labels, defaults):
            widget = input_widget(rc, label)
            if p.scalar_kind in ("float", "int"):
                assert isinstance(widget, v.Slider), label
                assert (widget.min, widget.max) == pytest.approx(p.slider_range), label
                assert widget.v_model == pytest.approx(default), label
            elif p.scalar_kind == "bool":
                assert isinstance(widget, v.Checkbox) and widget.v_model == bool(default), label
            elif p.choices:
                assert isinstance(widget, v.Select) and widget.items == list(p.choices), label
        assert p.doc in text, f"{p.name}: description missing"


@pytest.mark.parametrize("p", [p for p in SCHEMA if p.scalar_kind == "float"], ids=lambda p: p.name)
def test_float_sliders_have_between_100_and_1000_positions_and_hold_the_default(p):
    low, high = p.slider_range
    positions = (high - low) / inputs.slider_step(low, high)
    assert 100 <= positions <= 1000
    for d in (p.default if p.is_list else [p.default]):
        assert low <= d <= high


def test_int_slider_ranges_hold_the_default():
    for p in SCHEMA:
        if p.scalar_kind == "int":
            low, high = p.slider_range
            assert low <= p.default <= high, p.name


# ------------------------------------------------------------------ controls


def test_a_changed_slider_applies_on_reset_and_step_advances_the_month():
    rc = render_page()
    assert "(start 0.50)" in page_html(rc)
    rc.find(v.Slider, label="court.legitimacy0").widget.v_model = 0.7
    assert any("apply when you press Reset" in a for a in alerts(rc))
    assert "(start 0.50)" in page_html(rc)  # the running model is unchanged until Reset
    click(rc, "Reset")
    assert "(start 0.70)" in page_html(rc)
    assert not any("apply when you press Reset" in a for a in alerts(rc))
    for k in (1, 2):
        click(rc, "Step")
        assert steps_shown(rc) == k
    assert "month 1 (2 of 120 months run)" in page_html(rc)


def test_per_accused_element_slider_changes_only_that_element():
    rc = render_page()
    rc.find(v.Slider, label="accused.trip_rate[1]").widget.v_model = 2.0
    assert any("apply when you press Reset" in a for a in alerts(rc))
    click(rc, "Reset")
    assert alerts(rc) == []  # the running model now has the chosen parameters
    trip_rate = BY_NAME["accused.trip_rate"].default
    text = page_html(rc)
    assert f"2 (default {trip_rate[1]:.4g})" in text  # element 1 changed
    assert f"<b>{trip_rate[0]:.4g}</b>" in text  # element 0 kept


def test_an_inconsistent_value_is_refused_with_the_reason():
    rc = render_page()
    rc.find(v.Slider, label="scenario.n_states").widget.v_model = 20
    assert alerts(rc) == ["Changed settings apply when you press Reset."]
    rc.find(v.Slider, label="scenario.n_partners").widget.v_model = 30
    messages = " ".join(alerts(rc))
    assert "scenario.n_partners = 30 exceeds the 19 states" in messages
    assert rc.find(v.Slider, label="scenario.n_partners").widget.v_model == 10  # the previous value stays
    click(rc, "Reset")
    assert "of 20</div>" in page_html(rc)


def test_seed_is_shown_and_set_on_reset():
    rc = render_page()
    assert "seed 0" in page_html(rc)
    rc.find(v.TextField, label="Seed").widget.v_model = "7"
    click(rc, "Reset")
    assert "seed 7" in page_html(rc)


def test_reset_returns_to_month_0_with_only_the_warrants_logged():
    rc = render_page()
    for _ in range(2):
        click(rc, "Step")
    assert steps_shown(rc) == 2
    click(rc, "Reset")
    assert steps_shown(rc) == 0
    log = [w.unsafe_innerHTML for w in rc.find(HTMLWidget).widgets if "Event log" in w.unsafe_innerHTML]
    assert len(log) == 1 and "start (0 of 120 months run)" in log[0]
    assert log[0].count("<li") == 2 and log[0].count("issued an arrest warrant") == 2


def test_each_session_has_its_own_model():
    first, second = render_page(), render_page()
    click(first, "Step")
    assert steps_shown(first) == 1
    assert steps_shown(second) == 0


def test_no_mesa_defaults_are_on_show():
    rc = render_page()
    assert rc.find(v.Checkbox, label="Use Threads").widgets == []
    assert rc.find(v.Tab).widgets == [] and rc.find(v.Tabs).widgets == []  # Mesa's "Page 0" tab bar
    texts = [str(c) for w in rc.find(v.Html).widgets for c in (w.children or [])]
    assert not any("Page 0" in t or "Model Parameters" in t for t in texts)
    for label in ("Reset", "Step", "▶"):
        assert rc.find(v.Btn, children=[label]).widgets  # Mesa's controls stay
    assert rc.find(v.Slider, label="Render Interval (steps)").widgets


def test_scenario_chooser_offers_synthetic_and_each_historical_config():
    options = scenarios.scenarios()
    configs = sorted(p.name for p in scenarios.EXPERIMENTS.glob("scenario_*.toml"))
    assert [o.source for o in options] == ["", *configs] and options[0].label == scenarios.SYNTHETIC
    rc = render_page()
    select = rc.find(v.Select, label="Scenario").widget
    assert select.items == [o.label for o in options] and select.v_model == scenarios.SYNTHETIC


def test_a_historical_scenario_runs_on_the_real_roster_with_states_named():
    ukraine = next(o for o in scenarios.scenarios() if o.source == "scenario_2023_ukraine.toml")
    assert ukraine.label == "Ukraine 2023" and "real roster on 2023-03-17, home RUS" in ukraine.about
    rc = render_page()
    rc.find(v.Select, label="Scenario").widget.v_model = ukraine.label
    assert any("apply when you press Reset" in a for a in alerts(rc))
    click(rc, "Reset")
    text = page_html(rc)
    states = build_roster(Params({"scenario.roster": "real", "scenario.date": "2023-03-17", "scenario.home": "RUS",
                                  "scenario.partners": []})).n_states  # 195 on that date: 193 UN members and two
    assert f"of {states}</div>" in text and "experiments/scenario_2023_ukraine.toml" in text
    assert "0 parameter(s) changed from the scenario" in " ".join(
        str(c) for w in rc.find(v.Html).widgets for c in (w.children or []))
    # an element slider changes the scenario's value, not the schema default
    rc.find(v.Slider, label="accused.trip_rate[1]").widget.v_model = 0.5
    assert "0.5 (scenario 0.3)" in page_html(rc)


def test_scenarios_carry_the_names_readers_know_them_by():
    labels = [o.label for o in scenarios.scenarios()]
    assert labels == [scenarios.SYNTHETIC, "Darfur 2009", "Côte d'Ivoire 2011", "Libya 2011", "Darfur 2014",
                      "Georgia 2022", "Libya 2023", "Ukraine 2023", "Palestine 2024", "Ukraine 2024 (March)",
                      "Ukraine 2024 (June)", "Philippines 2025"]
    civ = next(o for o in scenarios.scenarios() if o.label == "Côte d'Ivoire 2011")
    assert civ.about.startswith("Laurent and Simone Gbagbo")
    assert "experiments/scenario_2011_cote_divoire.toml" in civ.about
    # a config without a description is named from its file's words
    assert scenarios.scenario_name(Path("scenario_2030_atlantis.toml"), "") == "Atlantis 2030"
    assert scenarios.scenario_name(Path("scenario_2030_atlantis.toml"), "no colon here") == "Atlantis 2030"


def test_the_map_names_the_hosts_of_recent_trips():
    from matplotlib.text import Annotation

    ukraine = next(o for o in scenarios.scenarios() if o.source == "scenario_2023_ukraine.toml")
    model = choices.AppModel(choices.Choices(seed=3).start_from(ukraine))
    while not eventlog.recent_trips(model):
        model.step()
    fig = drawing.draw_states(model)
    named = {a.get_text() for a in fig.axes[0].findobj(Annotation)}
    hosts = {model.roster.names[h] for _, _, h, _ in eventlog.recent_trips(model)}
    assert "home: Russia" in named and named - {"home: Russia"} and named - {"home: Russia"} <= hosts
    assert any(name in s for _, s in eventlog.log_lines(model) for name in hosts)


def test_every_tile_names_the_month_the_log_highlights():
    """After k steps the log's newest sentences are of month k-1 and are highlighted; the map, the run's
    summary and the log's header name that month too (they said 'month k')."""
    model = choices.AppModel(choices.Choices(overrides=SMALL))
    assert choices.month_label(model) == "start (0 of 24 months run)"
    for _ in range(5):
        model.step()
    assert choices.month_label(model) == "month 4 (5 of 24 months run)"
    _, rc = solara.render(solara.Column(children=[views.Summary(model), views.EventLog(model)]), handle_error=False)
    text = page_html(rc)
    assert text.count("month 4 (5 of 24 months run)") == 2 and "month 5 " not in text
    highlighted = re.findall(r'<li class="latest"[^>]*>Month (\d+):', text)
    assert highlighted and set(highlighted) == {"4"}
    assert re.findall(r"<li[^>]*>Month (\d+):", text)[0] == "4"  # the newest sentences are the highlighted ones
    title = drawing.draw_states(model).texts[0].get_text()
    assert title == "Month 4 (5 of 24 months run)"


def test_the_figures_text_is_readable_at_the_size_they_are_shown():
    """Every text of the map and the series is at least 11 px where the page shows the figure at its drawn
    size (100 px an inch); the labels were about 6 px."""
    from matplotlib.text import Text

    model = _travelling_model()
    for draw in (drawing.draw_states, drawing.draw_series):
        fig = draw(model)
        fig.canvas.draw()
        sizes = [t.get_fontsize() * pictures.SCREEN_DPI / 72 for t in fig.findobj(Text) if t.get_text().strip()]
        assert sizes and min(sizes) >= 11, (draw.__name__, min(sizes))
        assert pictures.css_width(fig) <= 480  # fits a tile of the grid beside the sidebar at 1400 px
    _, rc = solara.render(views.StatesView(model), handle_error=False)
    assert 'width="460"' in page_html(rc)


def test_the_custody_series_is_drawn_as_a_share():
    fig = drawing.draw_series(_travelling_model())
    share = fig.axes[3]
    assert share.get_title() == "accused in custody (share)"
    assert list(share.get_yticks()) == [0, 0.25, 0.5, 0.75, 1] and share.get_ylim()[1] <= 1.05


def test_start_up_warnings_are_filtered_at_their_source_and_others_still_show():
    """Importing the app shows no Mesa or Solara warning; the filters name their source, so a new
    warning of the same modules is not hidden."""
    code = ("import warnings, sim.app.app\n"
            "warnings.warn_explicit('another warning', UserWarning, 'x.py', 1, module='solara.validate_hooks')\n")
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "found despite early return" not in proc.stderr
    assert proc.stderr.count("Warning") == 1 and "another warning" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ what is drawn and logged


def test_app_run_is_replicate_0_of_simulate_with_the_same_seed():
    overrides = {**SMALL, "court.legitimacy0": 0.7, "accused.trip_rate[1]": 1.5}
    model = choices.AppModel(choices.Choices(seed=5, overrides=overrides)).run()
    frame = simulate(Params(overrides), replicates=1, seed=5, engine="mesa")
    for a, row in zip(model.accused, frame.itertuples()):
        assert (a.trips, a.trips_cancelled, a.route) == (row.trips, row.trips_cancelled, row.route)
    assert model.court.legitimacy == pytest.approx(frame["legitimacy_final"].iloc[0])


def _travelling_model() -> choices.AppModel:
    """Accused who never cancel and are often arrested, so every outcome shows up."""
    overrides = {**SMALL, "scenario.horizon_months": 60, "accused.max_risk": [1.0, 1.0],
                 "accused.risk_aversion": [0.0, 0.0], "accused.trip_rate": [2.0, 2.0], "arrest.intercept": -3.0,
                 "home.turnover_rate": 0.0}
    return choices.AppModel(choices.Choices(seed=2, overrides=overrides)).run()


def test_trips_on_the_map_agree_with_the_accused_and_their_custody():
    model = _travelling_model()
    trips = eventlog.recent_trips(model, months=model.month + 1)
    for a in model.accused:
        mine = [t for t in trips if t[1] == a.name]
        assert sum(t[3] != "cancelled" for t in mine) == a.trips
        assert sum(t[3] == "cancelled" for t in mine) == a.trips_cancelled
        arrested = [t for t in mine if t[3] == "arrested"]
        if a.route == "arrested_by_host":
            assert len(arrested) == 1 and arrested[0][0] == a.custody_month and mine[-1] == arrested[0]
        else:
            assert arrested == []
        for _t, _, host, outcome in mine:
            if outcome == "refused":
                assert model.roster.member[host] or model.state_vars["withdrawn"][host]
    assert any(t[3] == "arrested" for t in trips) and any(t[3] == "refused" for t in trips)


def test_recent_trips_keep_only_the_last_months():
    model = _travelling_model()
    assert {t[0] for t in eventlog.recent_trips(model, months=3)} <= {model.month - 1, model.month - 2, model.month - 3}


def test_event_log_is_newest_first_with_every_event_once_and_outreach_grouped():
    model = choices.AppModel(choices.Choices(overrides=SMALL))
    for _ in range(12):
        model.step()
    lines = eventlog.log_lines(model, limit=10**6)
    months = [t for t, _ in lines]
    assert months == sorted(months, reverse=True)
    sentences = [s for _, s in lines]
    for e in model.events:
        if e.event != "outreach":
            assert describe(e) in sentences
    outreach_months = {e.t for e in model.events if e.event == "outreach"}
    grouped = [s for s in sentences if "The Prosecutor pressed" in s]
    assert len(grouped) == len(outreach_months)
    assert len(lines) == len(model.events) - sum(e.event == "outreach" for e in model.events) + len(grouped)
    assert len(eventlog.log_lines(model, limit=5)) == 5


def test_states_are_laid_out_around_home_nearer_when_more_aligned():
    model = choices.AppModel(choices.Choices(overrides=SMALL))
    xy = drawing.state_positions(model)
    home = model.roster.home
    assert tuple(xy[home]) == (0.0, 0.0)
    radius = np.hypot(xy[:, 0], xy[:, 1])
    others = np.arange(len(xy)) != home
    assert np.all((radius[others] >= 0.3 - 1e-12) & (radius[others] <= 1.0 + 1e-12))
    align = model.state_vars["alignment"][others]
    assert np.all(np.diff(radius[others][np.argsort(align)]) <= 1e-12)


def test_figures_draw_for_the_real_roster_and_at_the_horizon():
    model = choices.AppModel(choices.Choices(overrides={"scenario.roster": "real", "scenario.horizon_months": 6})).run()
    for draw in (drawing.draw_states, drawing.draw_series):
        assert pictures.png_url(draw(model)).startswith("data:image/png;base64,")


# ------------------------------------------------------------------ serving and offline assets


def test_viz_refuses_a_busy_port_in_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} .* already in use"):
            app_server.viz_command(argparse.Namespace(host="127.0.0.1", port=port))


def test_solara_is_run_in_production_mode_on_the_given_address():
    cmd = app_server.solara_command("0.0.0.0", 9000)
    assert cmd[1:4] == ["-m", "solara", "run"] and "--production" in cmd
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0" and cmd[cmd.index("--port") + 1] == "9000"
    assert cmd[4] == "sim.app.app"  # a module: sim/app/__init__.py (the warning filters) runs first
    assert importlib.util.find_spec(cmd[4]) is not None


def _child_of(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("the server process was not started")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_sigterm_to_viz_stops_the_server_and_frees_the_port(tmp_path):
    """`python -m sim viz` passes SIGTERM on to its Solara child: both end, the port is free, no warning shown."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "viz.log"
    with open(log, "w") as out:
        viz = subprocess.Popen([sys.executable, "-m", "sim", "viz", "--port", str(port)], stdout=out,
                               stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
    try:
        child = _child_of(viz.pid)
        deadline = time.monotonic() + 90
        while app_server._port_free("127.0.0.1", port):
            assert time.monotonic() < deadline and viz.poll() is None, log.read_text()
            time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200
        viz.send_signal(signal.SIGTERM)  # to viz alone, not to a process group
        assert viz.wait(timeout=30) == 0
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the Solara server outlived `viz`"
        assert app_server._port_free("127.0.0.1", port)
    finally:
        if viz.poll() is None:
            viz.kill()
    text = log.read_text()
    assert "Warning" not in text and "Traceback" not in text, text


def test_required_assets_are_the_front_end_packages_that_solara_pins():
    solara_dir = Path(solara.__file__).parent
    template = (solara_dir / "server" / "templates" / "solara.html.j2").read_text()
    widgets = "".join(p.read_text() for p in (solara_dir / "widgets" / "vue").glob("*.vue"))
    folders = {a.folder for a in app_server.required_assets()}
    vuetify_app = [f for f in folders if f.startswith("@widgetti/solara-vuetify-app@")]
    assert len(vuetify_app) == 1 and f"/{vuetify_app[0]}/" in template
    for needed in ("requirejs@", "font-awesome@", "@widgetti/vue-grid-layout@"):
        assert any(f.startswith(needed) for f in folders), needed
    from solara.server.settings import assets

    for f in folders:
        assert f"/{f}/" in template + widgets + assets.fontawesome_path, f


def test_the_front_end_comes_with_the_install():
    """solara-assets (a dependency) puts every npm package the installed Solara's page asks for into Solara's
    cache folder at install time: no `npm`, no internet, no step by hand (fails where only Solara is installed)."""
    root = app_server.cache_dir()
    assert root.is_relative_to(Path(sys.prefix)), root  # the environment's own folder, not a user's setting
    assert app_server.missing_assets() == []
    vuetify_app = next(a for a in app_server.required_assets() if a.package.endswith("solara-vuetify-app"))
    assert (root / vuetify_app.folder / "dist" / "solara-vuetify-app8.min.js").stat().st_size > 1_000_000


def test_a_package_counts_as_installed_only_when_whole(tmp_path):
    asset = app_server.Asset("requirejs", "2.3.6")
    partial = tmp_path / "cdn" / "requirejs@2.3.6"
    partial.mkdir(parents=True)
    (partial / "require.js").write_text("//")  # what Solara's on-demand cache leaves: single files
    assert app_server.missing_assets([asset], tmp_path / "cdn") == [asset]
    (partial / "package.json").write_text("{}")
    assert app_server.missing_assets([asset], tmp_path / "cdn") == []
