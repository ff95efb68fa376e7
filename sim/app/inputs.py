"""The app's inputs, generated from the parameter schema: the scenario chooser, the seed, and one
widget per parameter (or list element), grouped by agent, each with its range, default and description."""

from __future__ import annotations

import html
import math
from dataclasses import replace
from typing import Any

import solara

from sim.app.choices import AppModel, Choices, inputs_of, param_of, value_of
from sim.app.scenarios import Scenario, scenarios
from sim.errors import UserError
from sim.model.params import GROUPS, SCHEMA, Param

GROUP_TITLES = {"scenario": "Scenario", "states": "States", "accused": "Accused", "arrest": "Arrest decision",
                "court": "Court", "prosecutor": "Prosecutor", "home": "Home government"}
CAPTION = {"font-size": "0.78em", "color": "#666", "margin": "-6px 0 8px 0", "line-height": "1.25"}


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
    p, _ = param_of(name)
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
                style={**CAPTION, "color": "#c0392b" if changed else "#666", "margin": "-6px 0 10px 0"})


@solara.component
def ScenarioPicker(choices: solara.Reactive[Choices], options: list[Scenario]):
    """Where the inputs start: the synthetic defaults or a historical scenario on the real roster."""
    by_label = {o.label: o for o in options}

    def pick(label: str) -> None:
        choices.set(choices.value.start_from(by_label[label]))

    solara.Select("Scenario", values=list(by_label), value=choices.value.scenario.label, on_value=pick)
    scenario = choices.value.scenario
    about = scenario.about + (" The inputs below start from its values." if scenario.source else "")
    solara.HTML(tag="div", unsafe_innerHTML=html.escape(about), style=CAPTION)


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
