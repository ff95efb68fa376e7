"""The sweep explorer's logic, without widgets: folder kinds, outcome choices, per-point values with
their intervals, slicing and brushing of the design, and the cells or curve points drawn.

Everything here takes frames (or a loaded ``Results``) and returns frames, so it is tested without
a browser. Outcome choices are derived from the summary's columns and the output schema
(``sim.model.outcomes``); runs are read lazily, only the columns (and points) a choice needs.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.analysis import style
from sim.analysis.metrics import ALL, accused_key, enforced, p_column, wilson_interval
from sim.analysis.plots import is_grid
from sim.analysis.survival import kaplan_meier
from sim.errors import UserError
from sim.experiments.results import Results
from sim.model.outcomes import OUTCOMES, ROUTES
from sim.studies.forecast.study import COUNTS, FORECAST, ROUTES_FILE, ForecastFolder

Z95 = 1.959963984540054  # the 97.5% standard normal quantile: 95% intervals of means
MAX_LEVELS = 12  # an axis shows a parameter's values when it has at most this many, else bins
BINS = 8
EVERY = "all"  # the choice of all accused (the frames hold ALL, -1)
MODES = ("all", "nearest", "range")  # what a parameter off the axes does: any value, a slice, a range
KM_COLUMNS = ["point", "replicate", "accused", "in_custody", "custody_month"]


# ----------------------------------------------------------------------------- folder kinds (plug-ins)
@dataclass(frozen=True)
class FolderKind:
    """One kind of results folder the explorer knows: when it applies, a line about it and an optional table.

    A new study (discovery, comparison, ...) plugs in with ``register_kind``; the page shows every
    kind that applies to the folder, in registration order.
    """

    name: str
    applies: Callable[[Results], bool]
    describe: Callable[[Results], str]
    table: Callable[[Results], pd.DataFrame | None] = field(default=lambda results: None)


KINDS: list[FolderKind] = []


def register_kind(kind: FolderKind) -> FolderKind:
    """Add (or replace, by name) a folder kind."""
    KINDS[:] = [k for k in KINDS if k.name != kind.name] + [kind]
    return kind


def kinds_of(results: Results) -> list[FolderKind]:
    return [k for k in KINDS if k.applies(results)]


def _describe_sweep(results: Results) -> str:
    swept = results.swept
    sampler = (results.manifest.get("experiment") or {}).get("sampler") or (
        ("grid" if is_grid(results.points, swept) else "sampled") if swept else "single-point")
    return (f"{style.replicates_text(len(results.points), results.n_replicates)}; {sampler} design over "
            f"{', '.join(swept) or 'nothing'}; horizons {', '.join(map(str, results.horizons))} months")


def _sensitivity_table(results: Results) -> pd.DataFrame | None:
    """The indices, measure by measure in the study's order, most influential first within each."""
    table = results.sensitivity
    if table is None:
        return None
    key = "ST" if "ST" in table.columns else "mu_star"
    shown = [c for c in ("measure", "parameter", "mu_star", "mu_star_conf", "sigma", "noise_mu_star", "S1",
                         "S1_conf", "ST", "ST_conf", "noise_share") if c in table.columns]
    order = {m: i for i, m in enumerate(dict.fromkeys(table["measure"]))} if "measure" in table.columns else {}
    ranked = table.assign(_m=table["measure"].map(order) if order else 0, _k=-table[key])
    return ranked.sort_values(["_m", "_k"], kind="stable")[shown].reset_index(drop=True)


def _describe_sensitivity(results: Results) -> str:
    table = results.sensitivity
    assert table is not None
    method = str(table["method"].iloc[0]) if "method" in table.columns and len(table) else "sensitivity"
    what = str(table["outcome_label"].iloc[0]) if "outcome_label" in table.columns and len(table) else "an outcome"
    return f"{method} indices of the {what} (sensitivity.csv), most influential first"


def _describe_discovery(results: Results) -> str:
    box = results.discovery
    assert box is not None
    return (f"a PRIM box on {len(box)} parameter(s) ({', '.join(box['parameter'])}), drawn on the heatmap "
            "where its parameters are on the axes")


register_kind(FolderKind("sweep", lambda r: True, _describe_sweep))
register_kind(FolderKind("sensitivity", lambda r: r.sensitivity is not None, _describe_sensitivity,
                         _sensitivity_table))
register_kind(FolderKind("discovery", lambda r: r.discovery is not None, _describe_discovery,
                         lambda r: r.discovery))


# ----------------------------------------------------------------------------- outcome choices
@dataclass(frozen=True)
class Measure:
    """One outcome the explorer can show per point: a share of replicates (Wilson intervals) or a
    mean over replicates (normal 95% intervals)."""

    key: str
    label: str
    kind: str  # "share" or "mean"
    source: str  # "summary" (read from summary.csv) or "runs" (computed from runs.parquet)
    column: str = ""  # the runs column a mean is of
    horizon: int | None = None
    route: str | None = None
    per_run: bool = False  # the same for every accused of a replicate: shown once per run
    month: bool = False  # a month that may not happen: averaged where it did

    @property
    def runs_columns(self) -> list[str]:
        if self.source == "summary":
            return []
        if self.route is not None:
            return ["point", "replicate", "accused", "in_custody", "custody_month", "route"]
        return ["point", "replicate", "accused", self.column]


def _plain(doc: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*$", "", doc)


def measures(summary_columns: Sequence[str], runs_columns: Sequence[str]) -> list[Measure]:
    """Every outcome a folder can show: the summary's probabilities of custody by each horizon, each
    custody route's share by each horizon, and the mean of every count, real or month outcome of the
    output schema that runs.parquet holds."""
    found = sorted(int(m[1]) for c in summary_columns if (m := re.fullmatch(r"p_enforced_(\d+)", c)))
    out = [Measure(p_column(h), f"probability of custody by month {h}", "share", "summary", horizon=h)
           for h in found]
    have = set(runs_columns)
    if {"route", "custody_month", "in_custody"} <= have:
        for route in ROUTES:
            if route == "none":
                continue
            out += [Measure(f"p_{route}_{h}", f"share {style.ROUTE_LABELS[route]} by month {h}", "share", "runs",
                            horizon=h, route=route) for h in found]
    for o in OUTCOMES:
        if o.name not in have or o.kind not in ("count", "real", "month"):
            continue
        month = o.kind == "month"
        label = f"mean {_plain(o.doc)}" + (" (where it happened)" if month else "") + (" (per run)" if o.per_run
                                                                                           else "")
        out.append(Measure(f"mean_{o.name}", label, "mean", "runs", column=o.name, per_run=o.per_run, month=month))
    return out


def accused_text(measure: Measure, accused: str, head_of_state: list[int] | None) -> str:
    """Whom a value is about; "all accused" says what it means for this measure: every one in custody
    (the probabilities of custody), or the counts summed over the accused (per-run outcomes are the run's)."""
    label = style.accused_label(accused, head_of_state)
    if str(accused) != ALL or measure.per_run:
        return label
    if measure.source == "summary":
        return f"{label} ({style.ALL_MEANS})"
    return f"{label} ({'the last one taken, where every one was' if measure.month else 'summed over the accused'})"


def accused_options(measure: Measure, summary: pd.DataFrame) -> list[str]:
    """The accused a measure can be shown for, as choices: "all" only for per-run outcomes, no "all" for a route."""
    values = [str(a) for a in sorted({int(a) for a in summary["accused"]} - {ALL})]
    if measure.per_run:
        return [EVERY]
    if measure.route is not None:
        return values
    return [*values, EVERY]


# ----------------------------------------------------------------------------- per-point values
def _share_table(point: pd.Series, hit: pd.Series) -> pd.DataFrame:
    grouped = pd.DataFrame({"point": point.to_numpy(), "hit": hit.to_numpy(dtype=float)}).groupby("point", sort=True)
    k, n = grouped["hit"].sum(), grouped["hit"].size()
    low, high = wilson_interval(k.to_numpy(), n.to_numpy())
    return pd.DataFrame({"point": k.index.astype(int), "n": n.to_numpy(), "value": (k / n).to_numpy(), "low": low,
                         "high": high, "k": k.to_numpy(), "sd": np.nan})


def _mean_table(point: pd.Series, value: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"point": point.to_numpy(), "v": value.to_numpy(dtype=float)}).dropna()
    grouped = frame.groupby("point", sort=True)["v"]
    n, mean, sd = grouped.size(), grouped.mean(), grouped.std(ddof=1)
    half = Z95 * sd / np.sqrt(n)
    return pd.DataFrame({"point": n.index.astype(int), "n": n.to_numpy(), "value": mean.to_numpy(),
                         "low": (mean - half).to_numpy(), "high": (mean + half).to_numpy(), "k": np.nan,
                         "sd": sd.to_numpy()})


def point_values(results: Results, measure: Measure, accused: str) -> pd.DataFrame:
    """One row per point: n replicates, the value, its 95% interval (low, high), and k (shares) or sd (means)."""
    accused = str(accused)
    code = accused_key(accused)
    if accused not in accused_options(measure, results.summary):
        raise UserError(f"{measure.label} cannot be shown for accused {accused!r}; "
                        f"choose one of {', '.join(accused_options(measure, results.summary))}")
    if measure.source == "summary":
        rows = results.summary[results.summary["accused"] == code].sort_values("point")
        col = measure.key
        return pd.DataFrame({"point": rows["point"].astype(int).to_numpy(), "n": rows["n"].to_numpy(),
                             "value": rows[col].to_numpy(), "low": rows[f"{col}_low"].to_numpy(),
                             "high": rows[f"{col}_high"].to_numpy(), "k": (rows[col] * rows["n"]).round().to_numpy(),
                             "sd": np.nan})
    runs = results.read_runs(measure.runs_columns)
    number = runs["accused"].to_numpy()
    if measure.route is not None:
        assert measure.horizon is not None
        mine = runs[number == code]
        hit = pd.Series(enforced(mine, measure.horizon) & (mine["route"] == measure.route).to_numpy())
        return _share_table(mine["point"], hit)
    value = runs[measure.column].astype("Float64").astype(float)
    if measure.per_run:  # one row per replicate: accused 0's
        first = number == number.min()
        return _mean_table(runs.loc[first, "point"], value[first])
    if code != ALL:
        mine = number == code
        return _mean_table(runs.loc[mine, "point"], value[mine])
    per = runs[["point", "replicate"]].assign(v=value.to_numpy())
    grouped = per.groupby(["point", "replicate"], sort=True)["v"]
    # the month the last accused was taken, where every accused was; else summed, as summary.csv's "all" rows
    whole = grouped.max().where(grouped.count() == grouped.size()) if measure.month else grouped.sum()
    whole = whole.reset_index()
    return _mean_table(whole["point"], whole["v"])


# ----------------------------------------------------------------------------- slicing and brushing
@dataclass(frozen=True)
class Filter:
    """What a swept parameter off the axes does: any value ("all"), the design value nearest to
    ``value`` ("nearest"), or values in [low, high] ("range")."""

    name: str
    mode: str = "all"
    value: float | None = None
    low: float | None = None
    high: float | None = None


def default_axes(swept: Sequence[str], box: pd.DataFrame | None) -> list[str]:
    """The swept parameters in the order the axes take them: those a discovery's PRIM box restricts first
    (so the box is on the first heatmap), then the others, each group in the design's order."""
    restricted = set(box["parameter"]) if box is not None and "parameter" in box else set()
    return [n for n in swept if n in restricted] + [n for n in swept if n not in restricted]


def default_filter(points: pd.DataFrame, name: str, grid: bool) -> Filter:
    """A grid parameter starts sliced at its lowest value; a sampled one brushed to its whole range."""
    values = points[name].astype(float)
    if grid:
        return Filter(name, "nearest", value=float(values.min()))
    return Filter(name, "range", low=float(values.min()), high=float(values.max()))


def nearest_level(values: pd.Series, target: float) -> float:
    levels = np.unique(values.to_numpy(dtype=float))
    return float(levels[np.argmin(np.abs(levels - target))])


def apply_filters(points: pd.DataFrame, filters: Sequence[Filter]) -> pd.DataFrame:
    """The points that every filter keeps."""
    keep = np.ones(len(points), dtype=bool)
    for f in filters:
        if f.mode not in MODES:
            raise UserError(f"filter mode must be one of {', '.join(MODES)}, got {f.mode!r}")
        values = points[f.name].to_numpy(dtype=float)
        if f.mode == "nearest" and f.value is not None:
            keep &= np.isclose(values, nearest_level(points[f.name], f.value), rtol=1e-9, atol=1e-12)
        elif f.mode == "range":
            low = -math.inf if f.low is None else f.low
            high = math.inf if f.high is None else f.high
            span = 1e-9 * max(1.0, abs(low), abs(high))
            keep &= (values >= low - span) & (values <= high + span)
    return points[keep]


# ----------------------------------------------------------------------------- axes and cells
@dataclass(frozen=True)
class Axis:
    """A parameter on an axis: its levels (values, or bins when it has many), their labels and the
    position of every point's level (``codes``, indexed by point id)."""

    name: str
    centres: np.ndarray
    labels: list[str]
    edges: np.ndarray | None  # bin edges when binned, else None
    codes: pd.Series

    def position(self, value: float) -> float:
        """Where a parameter value lies on the axis in level units (cells at 0, 1, ...)."""
        if self.edges is not None:
            return float(np.interp(value, self.edges, np.arange(len(self.edges)) - 0.5))
        c = self.centres
        if len(c) == 1:
            return 0.0
        if value < c[0]:  # beyond the first or last level: extend its spacing
            return float((value - c[0]) / (c[1] - c[0]))
        if value > c[-1]:
            return float(len(c) - 1 + (value - c[-1]) / (c[-1] - c[-2]))
        return float(np.interp(value, c, np.arange(len(c))))


def make_axis(points: pd.DataFrame, name: str, max_levels: int = MAX_LEVELS, bins: int = BINS) -> Axis:
    """Levels of ``name`` over the whole design (so slicing others never moves the axis)."""
    values = points.set_index("point")[name].astype(float)
    levels = np.unique(values.to_numpy())
    if len(levels) <= max_levels:
        codes = values.map({v: i for i, v in enumerate(levels)}).astype(int)
        return Axis(name, levels, [style.fmt_value(v) for v in levels], None, codes)
    edges = np.linspace(levels[0], levels[-1], bins + 1)
    codes = pd.Series(np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, bins - 1),
                      index=values.index)
    centres = (edges[:-1] + edges[1:]) / 2
    labels = [f"{lo:.3g}–{hi:.3g}" for lo, hi in itertools.pairwise(edges)]
    return Axis(name, centres, labels, edges, codes)


def cells(values: pd.DataFrame, kind: str, x: Axis, y: Axis | None = None) -> pd.DataFrame:
    """Pool the points of each (x level, y level): shares add up their replicates (Wilson interval of
    the pooled count), means pool their replicates (mean and standard error of all of them).
    Columns xi, yi (-1 without y), points, n, value, low, high."""
    frame = values.assign(xi=values["point"].map(x.codes).to_numpy(),
                          yi=values["point"].map(y.codes).to_numpy() if y is not None else -1)
    frame = frame[frame["n"] > 0]
    rows = []
    for (xi, yi), g in frame.groupby(["xi", "yi"], sort=True):
        n = float(g["n"].sum())
        if kind == "share":
            k = float(g["k"].sum())
            low, high = wilson_interval(k, n)
            rows.append((xi, yi, len(g), n, k / n, float(low), float(high)))
            continue
        mean = float((g["n"] * g["value"]).sum() / n)
        within = ((g["n"] - 1) * g["sd"].fillna(0) ** 2).sum()
        between = (g["n"] * (g["value"] - mean) ** 2).sum()
        se = math.sqrt((within + between) / (n - 1) / n) if n > 1 else math.nan
        rows.append((xi, yi, len(g), n, mean, mean - Z95 * se, mean + Z95 * se))
    return pd.DataFrame(rows, columns=["xi", "yi", "points", "n", "value", "low", "high"])


def box_limits(box: pd.DataFrame | None, name: str) -> tuple[float, float] | None:
    """The PRIM box's [low, high] on one parameter, or None when the box does not restrict it."""
    if box is None:
        return None
    rows = box[box["parameter"] == name]
    if rows.empty:
        return None
    return float(rows["low"].max()), float(rows["high"].min())


# ----------------------------------------------------------------------------- one point
def point_parameters(results: Results, point: int) -> pd.DataFrame:
    """A point's swept values (then its other columns: seed, spawn key, blocks), as name/value rows."""
    table = results.points.set_index("point")
    if point not in table.index:
        raise UserError(f"point {point} is not in this folder (ids 0..{int(table.index.max())})")
    names = [*results.swept, *[c for c in table.columns if c not in results.swept]]
    # each value from its own column, so an integer (a seed) stays an integer and is printed as one
    return pd.DataFrame({"parameter": names, "value": pd.Series([table[n].loc[point] for n in names], dtype=object)})


def point_survival(results: Results, point: int) -> pd.DataFrame:
    """Kaplan-Meier curves of one point (every accused and all accused), from that point's runs only."""
    runs = results.read_runs(KM_COLUMNS, points=[int(point)])
    if runs.empty:
        raise UserError(f"point {point} has no runs in {results.folder / 'runs.parquet'}")
    length = results.run_length()
    return kaplan_meier(runs, int(length.loc[point]))


def point_choices(results: Results, kept: pd.DataFrame, limit: int = 500) -> dict[int, str]:
    """The kept points by id, each labelled by its swept values (at most ``limit``)."""
    names = results.swept
    out = {}
    for _, row in kept.head(limit).iterrows():
        values = ", ".join(f"{n.split('.', 1)[-1]} {float(row[n]):.4g}" for n in names)
        out[int(row["point"])] = f"{int(row['point'])}: {values}" if values else str(int(row["point"]))
    return out


# ----------------------------------------------------------------------------- forecast folders
FORECAST_SHOWN = ("horizon_date", "horizon_month", "p", "p_q05", "p_q50", "p_q95", "p_sd_between", "mc_se",
                  "mc_share", "consistent_share", "draws_used", "draws_set_aside")


def forecast_rows(found: ForecastFolder, person: str) -> pd.DataFrame:
    """One accused's rows of forecast.csv: by each horizon, the forecast, the posterior's band apart from the
    Monte Carlo error."""
    table = found.tables[FORECAST]
    return table[table["accused"] == person][list(FORECAST_SHOWN)].reset_index(drop=True)


def forecast_routes(found: ForecastFolder, person: str) -> pd.DataFrame:
    """One accused's probability of custody by each route and horizon (routes.csv), with its posterior band."""
    routes = found.tables[ROUTES_FILE]
    return routes[routes["accused"] == person].drop(columns="accused").reset_index(drop=True)


def forecast_counts(found: ForecastFolder, person: str) -> pd.DataFrame:
    """One accused's counts between the forecast's date and each horizon: median [90% interval] per measure."""
    counts = found.tables[COUNTS]
    mine = counts[counts["accused"] == person]
    rows = []
    for measure, g in mine.groupby("measure", sort=False):
        row = {"between the forecast's date and": measure}
        for _, r in g.iterrows():
            row[str(r["horizon_date"])] = f"{r['median']:g} [{r['q05']:g}, {r['q95']:g}]"
        rows.append(row)
    return pd.DataFrame(rows)


def describe_forecast(found: ForecastFolder) -> str:
    """A line about a forecast folder: situation, date, draws and source."""
    f = found.manifest.get("forecast") or {}
    return (f"forecast of {', '.join(found.persons)} from the warrants of {f.get('issue')} given the record to "
            f"{f.get('date')}; {f.get('draws')} draws ({f.get('source')}) x {f.get('replicates')} replicates")
