"""The browser app: one run of the tribunal model month by month, with inputs generated from the parameter schema.

Start it with ``python -m sim viz`` (or ``solara run sim.app.app``). Every browser session gets
its own model; the scenario chooser and the sliders choose the parameters of the next run, which
Reset starts. Mesa supplies the controls (Reset, play, Step) and the step counter; the page layout
is the app's own, so none of Mesa's defaults (its "Page 0" tab, its "Use Threads" box) is shown.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa.visualization.solara_viz import ModelController, ShowSteps, make_initial_grid_layout
from mesa.visualization.utils import update_counter

from sim.analysis.plots import place_labels
from sim.engines.mesa.model import TribunalModel
from sim.engines.mesa.story import describe
from sim.errors import UserError
from sim.experiments.config import model_overrides, read_toml
from sim.model.params import BY_NAME, GROUPS, SCHEMA, Param, Params, split_name
from sim.model.seeding import run_seed  # the stream of `python -m sim run --seed N`

GROUP_TITLES = {"scenario": "Scenario", "states": "States", "accused": "Accused", "arrest": "Arrest decision",
                "court": "Court", "prosecutor": "Prosecutor", "home": "Home government"}
RECENT_MONTHS = 6  # trips drawn on the map, fading with age
LOG_LIMIT = 400  # sentences shown in the event log (newest first)
MAX_NAMED_HOSTS = 8  # hosts of recent trips named on the map
OUTCOME_STYLE = {  # trip outcome -> (colour, line style, label)
    "arrested": ("#1a9641", "-", "arrest"),
    "refused": ("#d7191c", "-", "state party refused"),
    "visited": ("#7b3294", "-", "visit to a non-party"),
    "cancelled": ("#7f7f7f", ":", "trip called off"),
}


# ---------------------------------------------------------------- scenarios, choices and the model Reset builds

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"  # the historical scenario configs
SYNTHETIC = "Synthetic roster (the defaults)"


@dataclass(frozen=True)
class Scenario:
    """A starting point for the inputs: a label, the values its config sets, the config file."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def scenario_label(path: Path, overrides: dict[str, Any]) -> str:
    """``scenario_2023_ukraine.toml`` -> '2023 Ukraine (real roster on 2023-03-17, home RUS)'."""
    words = path.stem.removeprefix("scenario_").replace("_", " ").split()
    name = " ".join(w if w.isdigit() else w.capitalize() for w in words)
    if overrides.get("scenario.roster") == "real":
        date, home = overrides.get("scenario.date", "?"), overrides.get("scenario.home", "?")
        return f"{name} (real roster on {date}, home {home})"
    return name


def scenarios(folder: Path = EXPERIMENTS) -> list[Scenario]:
    """The synthetic defaults, then each historical scenario of ``experiments/scenario_*.toml``: the
    values of its [scenario] and [parameters] tables (a config the model refuses is left out)."""
    found = [Scenario(SYNTHETIC)]
    for path in sorted(folder.glob("scenario_*.toml")):
        try:
            overrides = model_overrides(read_toml(path))
            Params(overrides)
        except UserError:
            continue
        found.append(Scenario(scenario_label(path, overrides), overrides, path.name))
    return found


@dataclass(frozen=True)
class Choices:
    """What the next run uses: the scenario it starts from, the seed, and the inputs changed from the
    scenario's values (dotted names, ``accused.trip_rate[0]`` for a list element)."""

    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    scenario: Scenario = field(default_factory=lambda: Scenario(SYNTHETIC))

    def base(self) -> Params:
        """The scenario's parameters (the schema's defaults for the synthetic roster)."""
        return Params(self.scenario.overrides)

    def params(self) -> Params:
        return self.base().replace(self.overrides)

    def default(self, name: str) -> Any:
        """An input's value before any change: the scenario's (or the schema's default)."""
        return value_of(self.base(), name)

    def set(self, name: str, value: Any) -> Choices:
        """A copy with one input changed; a value equal to the scenario's is dropped. Invalid -> UserError."""
        overrides = {k: v for k, v in self.overrides.items() if k != name}
        if value != self.default(name):
            overrides[name] = value
        chosen = replace(self, overrides=overrides)
        chosen.params()  # validate now, with the user's name
        return chosen

    def start_from(self, scenario: Scenario) -> Choices:
        """The scenario's values, no changes; the seed stays."""
        return replace(self, overrides={}, scenario=scenario)


class AppModel(TribunalModel):
    """The model the app runs: built from the session's Choices (a value or a solara.Reactive of one).

    Mesa's Reset calls ``AppModel(choices=...)`` with the session's reactive choices, so a
    Reset picks up whatever the inputs say at that moment.
    """

    def __init__(self, choices: Choices | solara.Reactive[Choices] | None = None):
        if isinstance(choices, solara.Reactive):
            choices = choices.value
        choices = choices or Choices()
        super().__init__(choices.params(), rng=run_seed(choices.seed))
        self.seed = choices.seed


# ---------------------------------------------------------------- inputs from the schema


def inputs_of(p: Param, n_accused: int) -> list[str]:
    """The input names for one parameter: itself, or one per accused (``accused.trip_rate[0]``, ...)."""
    if p.per_accused:
        return [f"{p.name}[{j}]" for j in range(n_accused)]
    return [p.name]


def _split(name: str) -> tuple[Param, int | None]:
    base, index = split_name(name)
    return BY_NAME[base], index


def value_of(params: Params, name: str) -> Any:
    p, j = _split(name)
    return params[p.name] if j is None else params[p.name][j]


def slider_step(low: float, high: float) -> float:
    """A round step giving about 100-1000 positions over [low, high]."""
    return 10.0 ** math.floor(math.log10((high - low) / 100))


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@solara.component
def ParameterInput(name: str, choices: solara.Reactive[Choices], error: solara.Reactive[str | None]):
    """One input for one parameter (or list element): widget chosen by kind, range by the schema."""
    p, _ = _split(name)
    value = value_of(choices.value.params(), name)
    default = choices.value.default(name)

    def on_value(new: Any) -> None:
        try:
            choices.set(choices.value.set(name, new))
            error.set(None)
        except UserError as exc:
            error.set(str(exc))

    with solara.Column(classes=["sim-param"], gap="0px"):
        _input(p, name, value, default, on_value)
        _caption(p, value, default, "default" if not choices.value.scenario.overrides else "scenario")


def _input(p: Param, label: str, value: Any, default: Any, on_value) -> None:
    """The widget for one input, labelled with its dotted name (as written in configs and --set)."""
    kind = p.scalar_kind
    if kind == "float":
        low, high = p.slider_range
        step = slider_step(low, high)

        def on_float(x: float) -> None:
            # the browser snaps an off-grid default (1/12) to the grid when the slider appears: keep the default
            on_value(default if abs(x - default) < step / 2 else x)

        solara.SliderFloat(label, value=float(value), min=low, max=high, step=step, on_value=on_float)
    elif kind == "int":
        low, high = p.slider_range
        solara.SliderInt(label, value=int(value), min=int(low), max=int(high), on_value=on_value)
    elif kind == "bool":
        solara.Checkbox(label=label, value=bool(value), on_value=lambda v: on_value(int(v)))
    elif p.choices:
        solara.Select(label, values=list(p.choices), value=value, on_value=on_value)
    elif p.is_list:
        solara.InputText(label, value=fmt(value), continuous_update=False,
                         on_value=lambda text: on_value([s.strip() for s in text.split(",") if s.strip()]))
    else:
        solara.InputText(label, value=str(value), continuous_update=False, on_value=on_value)


def _caption(p: Param, value: Any, default: Any, origin: str) -> None:
    changed = value != default
    note = f"{fmt(value)} ({origin} {fmt(default)})" if changed else fmt(value)
    unit = f" ({p.unit})" if p.unit else ""
    solara.HTML(tag="div", unsafe_innerHTML=f"<b>{html.escape(note)}</b> · {html.escape(p.doc + unit)}",
                style={"font-size": "0.78em", "color": "#c0392b" if changed else "#666",
                       "margin": "-6px 0 10px 0", "line-height": "1.25"})


@solara.component
def ScenarioPicker(choices: solara.Reactive[Choices], options: list[Scenario]):
    """Where the inputs start: the synthetic defaults or a historical scenario on the real roster."""
    by_label = {o.label: o for o in options}

    def pick(label: str) -> None:
        choices.set(choices.value.start_from(by_label[label]))

    solara.Select("Scenario", values=list(by_label), value=choices.value.scenario.label, on_value=pick)
    source = choices.value.scenario.source
    solara.HTML(tag="div", unsafe_innerHTML=html.escape(
        f"Roster and parameters of experiments/{source}; the inputs below start from them." if source else
        "The schema's defaults on a synthetic roster of states."),
        style={"font-size": "0.78em", "color": "#666", "margin": "-6px 0 8px 0"})


@solara.component
def ParameterPanel(choices: solara.Reactive[Choices], model: solara.Reactive[AppModel]):
    """The scenario, the seed and every schema parameter, grouped by agent, with their descriptions."""
    error = solara.use_reactive(None)
    options = solara.use_memo(scenarios, [])
    n_accused = choices.value.params().n_accused
    with solara.Card("Parameters"):
        ScenarioPicker(choices, options)
        solara.InputInt("Seed", value=choices.value.seed, continuous_update=True,
                        on_value=lambda s: choices.set(replace(choices.value, seed=max(0, int(s)))))
        current = model.value
        pending = choices.value.params() != current.params or choices.value.seed != current.seed
        if pending:
            solara.Warning("Changed settings apply when you press Reset.", dense=True)
        else:
            solara.Text(f"Running: seed {current.seed}, {len(choices.value.overrides)} parameter(s) changed "
                        "from the " + ("defaults." if not choices.value.scenario.overrides else "scenario."),
                        style={"font-size": "0.85em"})
        if error.value:
            solara.Error(error.value, dense=True)
        with solara.v.ExpansionPanels(multiple=True, accordion=True, flat=True):
            for group in GROUPS:
                names = [n for p in SCHEMA if p.group == group for n in inputs_of(p, n_accused)]
                changed = sum(n in choices.value.overrides for n in names)
                title = GROUP_TITLES.get(group, group) + (f" ({changed} changed)" if changed else "")
                with solara.v.ExpansionPanel():
                    solara.v.ExpansionPanelHeader(children=[title])
                    with solara.v.ExpansionPanelContent():
                        for n in names:
                            ParameterInput(n, choices, error)
        solara.Button("Restore defaults" if not choices.value.scenario.overrides else "Restore the scenario",
                      text=True, small=True, on_click=lambda: choices.set(replace(choices.value, overrides={})))


# ---------------------------------------------------------------- what the panels draw


def state_positions(model: TribunalModel) -> np.ndarray:
    """(S, 2) positions: home at the centre, one sector per region, closer to home the more aligned."""
    region = model.state_vars["region"]
    n_regions = len(model.roster.region_names)
    alignment = model.state_vars["alignment"]
    xy = np.zeros((model.roster.n_states, 2))
    for r in range(n_regions):
        idx = np.flatnonzero(region == r)
        idx = idx[idx != model.roster.home]
        if len(idx) == 0:
            continue
        start, width = 2 * np.pi * r / n_regions, 2 * np.pi / n_regions
        angle = start + width * (0.08 + 0.84 * (np.arange(len(idx)) + 0.5) / len(idx))
        radius = 0.3 + 0.7 * (1 - alignment[idx])
        xy[idx] = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    return xy


def recent_trips(model: TribunalModel, months: int = RECENT_MONTHS) -> list[tuple[int, str, int, str]]:
    """Trips of the last ``months`` months from the event log: (month, accused, state index, outcome)."""
    index = {name: i for i, name in enumerate(model.roster.names)}
    since = model.month - months
    trips: list[tuple[int, str, int, str]] = []
    for e in model.events:
        if e.t < since:
            continue
        if e.event == "trip_cancelled":
            trips.append((e.t, e.actor, index[e.target], "cancelled"))
        elif e.event == "trip":
            trips.append((e.t, e.actor, index[e.target], "visited"))
        elif e.event in ("arrest", "non_arrest") and trips and trips[-1][3] == "visited":
            t, who, host, _ = trips[-1]
            outcome = "arrested" if e.event == "arrest" else ("refused" if e.detail == "state party" else "visited")
            trips[-1] = (t, who, host, outcome)
    return trips


def png_url(fig: Figure) -> str:
    """The figure as a PNG data URL (what the page's <img> shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@solara.component
def Picture(url: str, alt: str):
    """An image scaled to fit its tile of Mesa's grid (about 370 px high)."""
    solara.HTML(tag="div", unsafe_innerHTML=f'<img src="{url}" alt="{html.escape(alt)}" '
                'style="display:block;max-width:100%;max-height:370px;margin:auto">', style={"width": "100%"})


def draw_states(model: TribunalModel) -> Figure:
    """The states around the home state: shape = statute membership, colour = compliance, size = appeal;
    lines = trips of the last months (newest boldest), coloured by what the host did."""
    v = model.state_vars
    xy = state_positions(model)
    home = model.roster.home
    others = np.arange(model.roster.n_states) != home
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.add_axes((0.0, 0.0, 0.66, 0.92))
    cax = fig.add_axes((0.70, 0.60, 0.025, 0.3))
    size = 14 + 26 * np.clip(np.exp(v["log_appeal"]), 0, 6)
    pending = v["_withdraw_at"] >= 0
    norm: dict[str, Any] = dict(cmap="RdYlGn", vmin=0, vmax=1)
    for is_member, marker in ((True, "o"), (False, "s")):
        sel = others & (v["member"] == is_member)
        sc = ax.scatter(xy[sel, 0], xy[sel, 1], s=size[sel], c=v["compliance"][sel], marker=marker,
                        edgecolors=np.where(pending[sel], "#ff7f00", "#333333").tolist(),
                        linewidths=np.where(pending[sel], 2.0, 0.5).tolist(), zorder=3, **norm)
    fig.colorbar(sc, cax=cax, label="compliance")
    head_of_state = {a.name: a.head_of_state for a in model.accused}
    trips = recent_trips(model)
    for t, who, host, outcome in trips:
        colour, style, _ = OUTCOME_STYLE[outcome]
        age = model.month - 1 - t
        alpha = 1.0 if age == 0 else 0.55 * (1 - age / RECENT_MONTHS) + 0.1
        width = 2.4 if head_of_state[who] else 1.4
        ax.plot([0, xy[host, 0]], [0, xy[host, 1]], style, color=colour, alpha=alpha, lw=width, zorder=2)
        if age == 0 and outcome in ("arrested", "refused"):
            ax.scatter(xy[host, 0], xy[host, 1], s=260, marker="o" if outcome == "arrested" else "X", facecolors="none"
                       if outcome == "arrested" else colour, edgecolors=colour, linewidths=2.5, zorder=4)
    hosts = list(dict.fromkeys(host for _, _, host, _ in reversed(trips)))  # the newest trip's host first
    ax.set_xlim(-1.42, 1.42)
    ax.set_ylim(-1.3, 1.3)
    place_labels(ax, xy[hosts, 0], xy[hosts, 1], [model.roster.names[h] for h in hosts], fontsize=7,
                 limit=MAX_NAMED_HOSTS)  # hosts by name, where a name fits without covering another
    ax.scatter([0], [0], s=420, marker="*", color="black", zorder=5)
    ax.annotate(f"home: {model.home.name}", (0, 0), xytext=(0, -16), textcoords="offset points",
                ha="center", va="top", fontsize=9, weight="bold")
    for r, name in enumerate(model.roster.region_names):
        mid = 2 * np.pi * (r + 0.5) / len(model.roster.region_names)
        ax.text(1.16 * np.cos(mid), 1.14 * np.sin(mid), textwrap.fill(name, 14), ha="center", va="center",
                fontsize=7.5, color="#444", linespacing=1.0)
    ax.set_xlim(-1.42, 1.42)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    handles = [Line2D([], [], marker="o", ls="", mfc="#bbb", mec="#333", label="state party"),
               Line2D([], [], marker="s", ls="", mfc="#bbb", mec="#333", label="non-party"),
               Line2D([], [], marker="s", ls="", mfc="white", mec="#ff7f00", mew=2, label="withdrawal notified"),
               *[Line2D([], [], color=c, ls=s, lw=2, label=lab) for c, s, lab in OUTCOME_STYLE.values()]]
    fig.legend(handles=handles, loc="lower left", fontsize=8, frameon=False, bbox_to_anchor=(0.67, 0.02),
               title="size: appeal", title_fontsize=8, alignment="left")
    fig.text(0.01, 0.97, f"Month {model.month} of {model.params.horizon}", fontsize=11, weight="bold", va="top")
    fig.text(0.01, 0.91, "nearer the centre: more aligned with home", fontsize=8, color="#555", va="top")
    return fig


def draw_series(model: TribunalModel) -> Figure:
    """Court legitimacy, states parties, mean compliance and accused in custody, month by month."""
    data = model.datacollector.get_model_vars_dataframe()
    months = np.arange(len(data))
    horizon = model.params.horizon
    fig = Figure(figsize=(6.4, 4.4))
    axes = fig.subplots(2, 2, sharex=True, gridspec_kw=dict(left=0.08, right=0.98, top=0.93, bottom=0.11,
                                                            hspace=0.28, wspace=0.22))
    panels = [("legitimacy", "court legitimacy", (0, 1)), ("members", "states parties", None),
              ("mean_compliance", "mean compliance", (0, 1)), ("share_in_custody", "share of the accused in custody",
                                                               (-0.02, 1.02))]
    for ax, (column, title, ylim) in zip(axes.flat, panels):
        ax.plot(months, data[column].to_numpy(), drawstyle="steps-post" if column == "share_in_custody" else "default",
                color="#2c7fb8", lw=1.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, horizon)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
    axes[0, 0].axhline(model.params["court.legitimacy0"], color="#999", ls="--", lw=1)
    axes[0, 1].yaxis.get_major_locator().set_params(integer=True)  # states parties: a count
    axes[1, 1].set_yticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])  # a share of the accused
    for ax in axes[1]:
        ax.set_xlabel("month")
    return fig


def log_lines(model: TribunalModel, limit: int = LOG_LIMIT) -> list[tuple[int, str]]:
    """The event log as (month, sentence), newest month first; a month's outreach in one sentence."""
    by_month: dict[int, list[str]] = {}
    outreach: dict[int, list[str]] = {}
    for e in model.events:
        if e.event == "outreach":
            if e.t not in outreach:
                outreach[e.t] = []
                by_month.setdefault(e.t, []).append("")  # the month's outreach sentence goes here
            outreach[e.t].append(e.target)
        else:
            by_month.setdefault(e.t, []).append(describe(e))
    lines = []
    for t in sorted(by_month, reverse=True):
        for sentence in by_month[t]:
            if not sentence:
                targets = outreach[t]
                sentence = (f"Month {t}: The Prosecutor pressed {len(targets)} "
                            f"state{'s' if len(targets) > 1 else ''} to cooperate ({', '.join(targets)}).")
            lines.append((t, sentence))
    return lines[:limit]


@solara.component
def StatesView(model: TribunalModel):
    update_counter.get()  # redraw after Mesa's step and reset
    url = solara.use_memo(lambda: png_url(draw_states(model)), [model, model.month])
    Picture(url, "the states, the home state and recent trips")


@solara.component
def SeriesView(model: TribunalModel):
    update_counter.get()  # redraw after Mesa's step and reset
    url = solara.use_memo(lambda: png_url(draw_series(model)), [model, model.month])
    Picture(url, "court legitimacy, states parties, mean compliance and custody by month")


@solara.component
def EventLog(model: TribunalModel):
    """Sentences of the event log; the month just simulated is highlighted."""
    update_counter.get()
    lines = log_lines(model)
    latest = model.month - 1
    rows = []
    for t, sentence in lines:
        colour = "#fff3cd" if t == latest else "transparent"
        rows.append(f'<li style="background:{colour};padding:1px 4px">{html.escape(sentence)}</li>')
    total = len(model.events)
    head = f"<b>Event log</b> · month {model.month} of {model.params.horizon} · {total} events"
    body = "".join(rows) or "<li>No events yet.</li>"
    solara.HTML(tag="div", unsafe_innerHTML=f'{head}<ul class="event-log" style="list-style:none;padding-left:0;'
                f'font-size:0.85em;max-height:330px;overflow-y:auto;margin-top:6px">{body}</ul>',
                style={"width": "100%"})


@solara.component
def Summary(model: AppModel):
    """Who is where: each accused, the court, the states parties; and the seed of this run."""
    update_counter.get()
    rows = []
    for a in model.accused:
        status = (f"in custody since month {a.custody_month} ({a.route.replace('_', ' ')})" if a.in_custody
                  else "at large")
        rows.append(f"<tr><td>{html.escape(a.name)}</td><td>{'sealed' if a.sealed else 'public'}</td>"
                    f"<td>{status}</td><td>{a.trips} ({a.trips_to_members})</td><td>{a.trips_cancelled}</td></tr>")
    members = int(model.state_vars["member"].sum())
    text = (f"<b>Run</b> · seed {model.seed} · month {model.month} of {model.params.horizon}"
            f"<table style='width:100%;font-size:0.85em;margin:6px 0'><tr><th align=left>accused</th>"
            f"<th align=left>warrant</th><th align=left>status</th><th align=left>trips (to parties)</th>"
            f"<th align=left>called off</th></tr>{''.join(rows)}</table>"
            f"<div style='font-size:0.85em'>Court legitimacy {model.court.legitimacy:.3f} "
            f"(start {model.params['court.legitimacy0']:.2f}) · non-compliance findings {model.findings} · "
            f"withdrawals notified {model.withdrawals} · states parties {members} of {model.roster.n_states}"
            f"</div>{GUIDE}")
    solara.HTML(tag="div", unsafe_innerHTML=text, style={"width": "100%"})


# Parameter labels are dotted names (as in configs and --set): give them their own line above the slider.
CSS = """
.sim-param .v-input__slot { flex-wrap: wrap; }
.sim-param .v-input__slot > .v-label { width: 100%; margin-bottom: -4px; font-size: 0.9em; }
.sim-param .v-slider { min-width: 100%; margin-left: 0 !important; }
"""
GUIDE = """<div style='font-size:0.8em;color:#555;margin-top:10px;line-height:1.35'><b>How to use</b>:
Step advances one month, &#9654; plays month after month (Render Interval skips drawing).
Choose a scenario and move sliders under <i>Parameters</i> (left), then press Reset to start a new run
with them; the same seed replays the same run. On the map each state sits in its regional sector,
nearer the home state (star) the more aligned with it; lines are the trips of the last six months, the
newest boldest, their hosts named.</div>"""
TILES = (StatesView, SeriesView, Summary, EventLog)
PLAY_INTERVAL_MS = 151


@solara.component
def Page():
    """One session: its own choices and model; Mesa's controls (Reset, play, Step) drive it."""
    choices = solara.use_reactive(Choices())
    first = solara.use_memo(lambda: AppModel(choices.value), [])
    model = solara.use_reactive(first)
    solara.use_effect(lambda: lambda: _stop(model), [])
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    render_interval = solara.use_reactive(1)
    threads = solara.use_reactive(False)  # Mesa's controller reads it as a reactive; the app steps in one thread
    layout, set_layout = solara.use_state(make_initial_grid_layout(len(TILES)))
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle("Tribunal cooperation")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            solara.SliderInt("Play Interval (ms)", value=play_interval, min=1, max=500, step=10)
            solara.SliderInt("Render Interval (steps)", value=render_interval, min=1, max=100, step=2)
            ModelController(model, model_parameters={"choices": choices}, play_interval=play_interval,
                            render_interval=render_interval, use_threads=threads)
        with solara.Card("Information"):
            ShowSteps(model.value)
        ParameterPanel(choices, model)
    solara.GridDraggable(items=[tile(model.value) for tile in TILES], grid_layout=layout, resizable=True,
                         draggable=True, on_grid_layout=set_layout)


def _stop(model: solara.Reactive[AppModel]) -> None:
    """On page close: end the run, so Mesa's play loop (which checks ``running``) stops stepping."""
    model.peek().running = False


page = Page
