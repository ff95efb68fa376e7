"""The browser app: one run of the tribunal model month by month, with inputs generated from the parameter schema.

Start it with ``python -m sim viz`` (or ``solara run sim.app.app``). Every browser session gets
its own model; the scenario chooser and the sliders choose the parameters of the next run, which
Reset starts. Mesa supplies the controls (Reset, play, Step) and the step counter; the page layout
is the app's own, so none of Mesa's defaults (its "Page 0" tab, its "Use Threads" box) is shown.
The page is assembled here from modules that each do one job and import only downwards:
views (tiles) and inputs (the parameter panel) > drawing, eventlog, pictures > choices > scenarios.
"""

from __future__ import annotations

import solara
from mesa.visualization.solara_viz import ModelController, ShowSteps, make_initial_grid_layout

from sim.app.choices import AppModel, Choices
from sim.app.inputs import ParameterPanel
from sim.app.views import EventLog, SeriesView, StatesView, Summary

SIDEBAR_PX = 400  # Solara's sidebar (a navigation drawer) is as wide as its content, up to 600 px: hold it
# Parameter labels are dotted names (as in configs and --set): give them their own line above the slider.
# The sidebar keeps its width whatever its content (a long scenario name, an opened group): the page's
# tiles are laid out beside 400 px, and a wider drawer would cover them.
CSS = f"""
.sim-param .v-input__slot {{ flex-wrap: wrap; }}
.sim-param .v-input__slot > .v-label {{ width: 100%; margin-bottom: -4px; font-size: 0.9em; }}
.sim-param .v-slider {{ min-width: 100%; margin-left: 0 !important; }}
nav.v-navigation-drawer {{ width: {SIDEBAR_PX}px !important; min-width: 0 !important; max-width: {SIDEBAR_PX}px; }}
nav.v-navigation-drawer .v-card {{ min-width: 0; overflow-wrap: anywhere; }}
"""
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
