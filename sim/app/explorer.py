"""The sweep explorer (``python -m sim explore FOLDER``): a finished sweep, study or forecast folder in the browser.

Choose an outcome and an accused, one or two swept parameters as axes (a heatmap or curves), and for
every other swept parameter a slice (the design value nearest a slider) or a range (a range slider);
each value shows its 95% interval, a PRIM box of a discovery result is drawn on the heatmap, and a
chosen point shows its parameters and its Kaplan-Meier curves. The folder is read through
``load_results`` and never rerun; runs are read lazily (only the columns or the point needed). The
logic is in sim/app/exploration.py, the figures in sim/app/explorer_figures.py.
"""

from __future__ import annotations

import html
import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import solara

from sim.analysis import style
from sim.analysis.metrics import ALL
from sim.analysis.plots import is_grid
from sim.analysis.plots_forecast import fan_figure
from sim.app import explorer_figures as figures
from sim.app.exploration import (
    Filter,
    Measure,
    accused_options,
    accused_text,
    apply_filters,
    box_limits,
    cells,
    default_axes,
    default_filter,
    describe_forecast,
    forecast_counts,
    forecast_routes,
    forecast_rows,
    kinds_of,
    make_axis,
    measures,
    nearest_level,
    point_choices,
    point_parameters,
    point_survival,
    point_values,
)
from sim.app.pictures import Picture, png_url
from sim.errors import UserError
from sim.experiments.results import Results, load_results
from sim.studies.forecast.study import FAN, ForecastFolder, read_forecast_folder

FOLDER_ENV = "SIM_EXPLORE_FOLDER"  # set by `python -m sim explore FOLDER` for the server process
NONE = "(none)"
VIEWS = ["heatmap", "curves"]
MODE_LABELS = {"all": "all values", "nearest": "slice", "range": "range"}
MODES_BY_LABEL = {label: mode for mode, label in MODE_LABELS.items()}
FIGURE_ALT = "explorer figure"
SURVIVAL_ALT = "Kaplan-Meier curves of the chosen point"
CSS = """
.sim-filter .v-input__slot { flex-wrap: wrap; }
.sim-filter .v-input__slot > .v-label { width: 100%; font-size: 0.85em; }
.sim-table td, .sim-table th { padding: 1px 8px; font-size: 0.82em; text-align: left; vertical-align: top; }
.sim-table td { overflow-wrap: anywhere; }
.sim-table-box { max-width: 100%; overflow-x: auto; }
"""


@lru_cache(maxsize=4)
def loaded(folder: str) -> Results:
    """A folder's results, read once per server process (every session shares them)."""
    return load_results(Path(folder))


@lru_cache(maxsize=4)
def forecast_of(folder: str) -> ForecastFolder | None:
    """A forecast's folder, read once per server process (None: the folder is a sweep's or a study's)."""
    return read_forecast_folder(Path(folder))


@lru_cache(maxsize=64)
def values_of(folder: str, key: str, accused: str) -> pd.DataFrame:
    """Per-point values of one outcome and accused, computed once per server process."""
    results = loaded(folder)
    measure = next(m for m in measures(results.summary.columns, results.runs_columns) if m.key == key)
    return point_values(results, measure, accused)


def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<div class='sim-table-box'><table class='sim-table'><tr>{head}</tr>{body}</table></div>"


def _cell(value) -> str:
    """A table cell: integers (seeds, counts) in full, other numbers to 4 significant digits."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):d}"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return f"{int(number):d}" if number.is_integer() and abs(number) >= 1e4 else f"{number:.4g}"
    return str(value)


@solara.component
def FilterInput(results: Results, f: Filter, on_filter):
    """One swept parameter off the axes: all values, a slice (slider over its design values) or a range."""
    values = results.points[f.name].astype(float)
    levels = sorted(float(v) for v in values.unique())
    with solara.Column(classes=["sim-filter"], gap="0px"):
        solara.ToggleButtonsSingle(value=MODE_LABELS[f.mode], values=list(MODE_LABELS.values()), dense=True,
                                   on_value=lambda label: on_filter(_switch(f, MODES_BY_LABEL[label], levels)))
        if f.mode == "nearest":
            current = nearest_level(values, f.value if f.value is not None else levels[0])
            solara.SliderValue(f.name, value=current, values=levels,
                               on_value=lambda v: on_filter(replace(f, value=float(v))))
        elif f.mode == "range":
            low, high = levels[0], levels[-1]
            step = (high - low) / 200 if high > low else 1.0
            solara.SliderRangeFloat(f.name, value=(f.low if f.low is not None else low,
                                                   f.high if f.high is not None else high),
                                    min=low, max=high, step=step,
                                    on_value=lambda lh: on_filter(replace(f, low=float(lh[0]), high=float(lh[1]))))
        else:
            solara.Text(f"{f.name}: every value", style={"font-size": "0.85em"})


def _switch(f: Filter, mode: str, levels: list[float]) -> Filter:
    if mode == "nearest":
        return replace(f, mode=mode, value=f.value if f.value is not None else levels[0])
    if mode == "range":
        return replace(f, mode=mode, low=levels[0] if f.low is None else f.low,
                       high=levels[-1] if f.high is None else f.high)
    return replace(f, mode=mode)


@solara.component
def PointDetails(results: Results, point: int):
    """A point's parameters, its summary rows and its Kaplan-Meier curves (its runs only are read)."""
    params = point_parameters(results, point)
    rows = results.summary[results.summary["point"] == point]
    shown = ["accused", "n", *[c for c in rows.columns if c.startswith("p_enforced_") and not
                               c.endswith(("_low", "_high"))]]
    km = solara.use_memo(lambda: point_survival(results, point), [point])
    title = f"Point {point}: time to custody, Kaplan–Meier (95% band), {int(rows['n'].max())} replicates"
    url = solara.use_memo(lambda: png_url(figures.survival(km, title, style.head_of_state(results.parameters))),
                          [point])
    with solara.Row(gap="24px", style={"flex-wrap": "wrap"}):
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>Point {point}</b>{_table_html(params)}")
        table = rows[shown].round(3).astype({"accused": object})
        table.loc[table["accused"] == ALL, "accused"] = "all"
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>Summary</b>{_table_html(table)}")
    Picture(url, SURVIVAL_ALT)


@solara.component
def Explorer(folder: str):
    results = loaded(folder)
    swept = results.swept
    options = solara.use_memo(lambda: measures(results.summary.columns, results.runs_columns), [])
    by_label = {m.label: m for m in options}
    longest = [m for m in options if m.source == "summary"][-1]  # custody by the longest horizon
    measure_label = solara.use_reactive(longest.label)
    measure: Measure = by_label[measure_label.value]
    who = accused_options(measure, results.summary)
    accused_choice = solara.use_reactive(who[0])
    accused = accused_choice.value if accused_choice.value in who else who[0]
    view = solara.use_reactive(VIEWS[0] if len(swept) >= 2 else VIEWS[1])
    axes = default_axes(swept, results.discovery)  # a discovery's box starts on the axes
    x = solara.use_reactive(axes[0] if axes else NONE)
    y = solara.use_reactive(axes[1] if len(axes) >= 2 else NONE)
    grid = is_grid(results.points, swept)
    filters = solara.use_reactive({n: default_filter(results.points, n, grid) for n in swept})
    point = solara.use_reactive(int(results.points["point"].iloc[0]))
    xaxis = solara.use_memo(lambda: make_axis(results.points, x.value) if x.value != NONE else None, [x.value])
    yaxis = solara.use_memo(lambda: make_axis(results.points, y.value) if y.value != NONE else None, [y.value])
    hos = style.head_of_state(results.parameters)

    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle(f"Sweep explorer: {results.folder.name}")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Outcome"):
            solara.Select("Outcome", values=list(by_label), value=measure_label)
            solara.Select("Accused", values=who, value=accused, on_value=accused_choice.set)
            solara.Text(f"shown for: {accused_text(measure, accused, hos)}", style={"font-size": "0.85em"})
        if swept:
            with solara.Card("Axes"):
                solara.ToggleButtonsSingle(value=view, values=VIEWS)
                solara.Select("x axis", values=swept, value=x.value, on_value=lambda v: _set_x(x, y, v))
                solara.Select("y axis" if view.value == "heatmap" else "lines by", value=y.value,
                              values=[NONE, *[n for n in swept if n != x.value]], on_value=y.set)
            off = [n for n in swept if n not in (x.value, y.value)]
            if off:
                with solara.Card("Other parameters"):
                    for name in off:
                        FilterInput(results, filters.value[name],
                                    lambda f: filters.set({**filters.value, f.name: f})).key(name)
    with solara.Column(style={"width": "100%"}):
        for kind in kinds_of(results):
            solara.HTML(tag="div", unsafe_innerHTML=f"<b>{html.escape(kind.name)}</b>: "
                        f"{html.escape(kind.describe(results))}", style={"font-size": "0.9em"})
        if not swept:
            solara.Info("This folder has a single design point: its Kaplan–Meier curves are below.")
            PointDetails(results, point.value)
            return
        off = [n for n in swept if n not in (x.value, y.value)]
        kept = apply_filters(results.points, [filters.value[n] for n in off])
        values = values_of(str(results.folder), measure.key, accused)
        kept_values = values[values["point"].isin(kept["point"])]
        assert xaxis is not None
        table = cells(kept_values, measure.kind, xaxis, yaxis)
        sliced = "; ".join(_filter_text(filters.value[n]) for n in off)
        title = (f"{measure.label}, {accused_text(measure, accused, hos)}: {len(kept)} of {len(results.points)} points"
                 + (f" ({sliced})" if sliced else ""))
        if table.empty:
            solara.Warning("No design point is left with these slices and ranges; widen them.")
        elif view.value == "heatmap" and yaxis is None:
            solara.Info("A heatmap needs a y axis: choose one, or the curves view.")
        else:
            def draw():
                if view.value == "heatmap":
                    box = (box_limits(results.discovery, x.value), box_limits(results.discovery, y.value))
                    return figures.heatmap(table, measure, accused, xaxis, yaxis, title, box)
                return figures.curves(table, measure, accused, xaxis, yaxis, title)
            Picture(png_url(draw()), f"{FIGURE_ALT}: {title}")
        labelled = point_choices(results, kept)
        with solara.Row(style={"align-items": "center"}):
            if labelled:
                solara.Select("Point (kept by the slices)", values=list(labelled.values()),
                              value=labelled.get(point.value),
                              on_value=lambda text: point.set(int(text.split(":", 1)[0])))
            solara.InputInt("Point id", value=point.value, continuous_update=True,
                            on_value=lambda p: _set_point(results, point, p))
        PointDetails(results, point.value)
        for kind in kinds_of(results):
            table_of_kind = kind.table(results)
            if table_of_kind is not None:
                solara.HTML(tag="div", unsafe_innerHTML=f"<b>{html.escape(kind.name)}</b>"
                            f"{_table_html(table_of_kind)}")


@solara.component
def ForecastExplorer(found: ForecastFolder):
    """A forecast's folder: for the chosen accused, the fan chart, the forecast by each horizon (the posterior's
    band apart from the Monte Carlo error), the counts to each horizon and the record to date."""
    person = solara.use_reactive(found.persons[0])
    f = found.manifest.get("forecast") or {}
    record = solara.use_memo(found.record, [])
    fan = found.tables[FAN]

    def draw():
        mine = fan[fan["accused"] == person.value]
        return fan_figure(mine, person.value, record, str(f.get("source")), int(f.get("draws", 0)),
                          int(f.get("replicates", 0)), f.get("horizon_dates", []))

    url = solara.use_memo(lambda: png_url(draw()), [person.value])
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle(f"Forecast: {found.folder.name}")
    with solara.Sidebar(), solara.Column(), solara.Card("Accused"):
        solara.Select("Accused", values=found.persons, value=person)
    with solara.Column(style={"width": "100%"}):
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>forecast</b>: {html.escape(describe_forecast(found))}",
                    style={"font-size": "0.9em"})
        Picture(url, f"{FIGURE_ALT}: fan chart of {person.value}")
        solara.HTML(tag="div", unsafe_innerHTML="<b>Probability of custody by each horizon</b> (p: the forecast; "
                    "p_q05..p_q95: the posterior's spread; mc_se: the Monte Carlo error, apart)"
                    + _table_html(forecast_rows(found, person.value)))
        solara.HTML(tag="div", unsafe_innerHTML="<b>By route</b> (arrested by a host abroad; handed over after a "
                    "change of government at home)" + _table_html(forecast_routes(found, person.value)))
        solara.HTML(tag="div", unsafe_innerHTML="<b>Counts to each horizon</b> (median [90% interval])"
                    + _table_html(forecast_counts(found, person.value)))
        rec = found.tables["record_to_date.csv"][["person", "status", "since", "observed_to_month", "why_not",
                                                  "regime_changed", "regime_change_date"]]
        solara.HTML(tag="div", unsafe_innerHTML=f"<b>The record to date</b> ({record.date}){_table_html(rec)}")


def _set_x(x: solara.Reactive[str], y: solara.Reactive[str], name: str) -> None:
    """A new x axis; the y axis is freed when it was the same parameter."""
    x.set(name)
    if y.value == name:
        y.set(NONE)


def _set_point(results: Results, point: solara.Reactive[int], value: int) -> None:
    if value in set(results.points["point"]):
        point.set(int(value))


def _filter_text(f: Filter) -> str:
    short = f.name.split(".", 1)[-1]
    if f.mode == "nearest":
        return f"{short} = {f.value:.4g}" if f.value is not None else short
    if f.mode == "range":
        return f"{short} in [{f.low:.4g}, {f.high:.4g}]"
    return f"any {short}"


@solara.component
def Page():
    folder = os.environ.get(FOLDER_ENV)
    if not folder:
        solara.Error("No results folder: start the explorer with `python -m sim explore FOLDER`.")
        return
    try:
        found = forecast_of(folder)
        if found is not None:
            ForecastExplorer(found)
            return
        loaded(folder)
    except UserError as exc:
        solara.Error(str(exc))
        return
    Explorer(folder)


page = Page
