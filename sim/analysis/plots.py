"""Figures of a results folder: one function per kind taking frames and returning a Figure.

Kinds: ``heatmap`` (probability of custody by month H over two swept parameters, 0.5 contour), ``curves``
(the same against one swept parameter, Wilson band, one line per accused),
``survival`` (Kaplan-Meier share not yet in custody for chosen points), ``routes`` (custody routes
as stacked bars), ``sobol`` and ``morris`` (sensitivity indices of the first measure) and ``ranking``
(every measure side by side). ``draw_figures`` writes them.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.analysis import style
from sim.analysis.metrics import ALL, accused_codes, p_column, wilson_interval
from sim.names import FIGURE_KINDS

KINDS = FIGURE_KINDS
MAX_FACETS = 6
MAX_SURVIVAL_POINTS = 4


# ----------------------------------------------------------------------------- helpers
def _accused_values(summary: pd.DataFrame) -> list[int]:
    """The accused of a frame in order: 0, 1, ... then all accused (``ALL``)."""
    values = [int(a) for a in dict.fromkeys(accused_codes(summary["accused"]))]
    return sorted(values, key=lambda a: (a == ALL, a))


def _merge(summary: pd.DataFrame, points: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    frame = summary.assign(accused=accused_codes(summary["accused"]))
    return frame.merge(points[["point", *names]], on="point", how="left", validate="many_to_one")


def is_grid(points: pd.DataFrame, names: Sequence[str]) -> bool:
    """True when the points are exactly the Cartesian product of their values of ``names``."""
    if not names or any(n not in points.columns for n in names):
        return False
    size = int(np.prod([points[n].nunique() for n in names]))
    return size == len(points) and not points.duplicated(list(names)).any()


def _title(fig: Figure, text: str, n_points: int, n_replicates: int) -> None:
    """Figure title with the number of points and replicates behind every estimate."""
    full = f"{text} ({style.replicates_text(n_points, n_replicates)})"
    fig.suptitle("\n".join(textwrap.wrap(full, 82)), x=0.01, ha="left")


def _horizon_text(horizon: int) -> str:
    return f"custody_month < {horizon}, months from 0"


def _all_note(accused: Sequence[int | str]) -> str:
    """'; all accused: every one in custody' where a figure shows the "all accused" line or panel."""
    return f"; {style.ALL_LABEL}: {style.ALL_MEANS}" if any(style.is_all(a) for a in accused) else ""


def _set_probability_axis(ax, label: str | None = None) -> None:
    ax.set_ylim(-0.02, 1.02)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_yticklabels(["0", ".25", ".5", ".75", "1"])
    if label:
        ax.set_ylabel(label)


# ----------------------------------------------------------------------------- heatmap
HALF = 0.5
MAX_CELL_TEXT = 144  # cells per panel up to which values are printed


def boundary_segments(z: np.ndarray, level: float = HALF) -> list[list[tuple[float, float]]]:
    """Cell edges between a cell at or above ``level`` and its neighbour below it (cells centred on
    integer coordinates, so edges lie at half-integers and never cross a cell's centre or label)."""
    above = z >= level
    known = np.isfinite(z)
    segments = []
    rows, cols = z.shape
    for i in range(rows):
        for j in range(cols):
            if j + 1 < cols and known[i, j] and known[i, j + 1] and above[i, j] != above[i, j + 1]:
                segments.append([(j + 0.5, i - 0.5), (j + 0.5, i + 0.5)])
            if i + 1 < rows and known[i, j] and known[i + 1, j] and above[i, j] != above[i + 1, j]:
                segments.append([(j - 0.5, i + 0.5), (j + 0.5, i + 0.5)])
    return segments


def _share_text(v: float) -> str:
    """A share in two or three characters: .42, 1, 0."""
    return "1" if v >= 0.995 else "0" if v < 0.005 else f"{v:.2f}".lstrip("0")


# What each band is: the Monte Carlo error of a share of replicates, and (over a posterior) the parameters' spread.
WILSON_LABEL = "Monte Carlo 95% (Wilson: the replicates' noise only)"
POSTERIOR_LABEL = "posterior 90% (how the probability varies with the parameters)"


def cell_text(value: float, low: float, high: float, interval: bool) -> str:
    """The value of a cell and, when there is room, its 95% interval below it: '.42\n.39–.45'."""
    if not np.isfinite(value):
        return ""
    head = _share_text(value)
    if not interval or not (np.isfinite(low) and np.isfinite(high)):
        return head
    return f"{head}\n{_share_text(low)}–{_share_text(high)}"


def heatmap_figure(summary: pd.DataFrame, points: pd.DataFrame, x: str, y: str, horizon: int,
                   n_replicates: int, head_of_state: list[int] | None = None) -> Figure:
    """Probability of custody by month ``horizon`` over a grid of ``x`` × ``y``, one panel per accused:
    each cell's value with its Monte Carlo 95% Wilson interval (over a posterior: the posterior's 90% band), and
    the 0.5 boundary along the cell edges."""
    frame = _merge(summary, points, [x, y])
    xs, ys = np.sort(frame[x].unique()), np.sort(frame[y].unique())
    accused = _accused_values(frame)
    col = p_column(horizon)
    cells = len(xs) * len(ys)
    interval = len(xs) * len(accused) <= 18 and len(ys) <= 8  # room for a second line in each cell
    posterior = f"{col}_param_low" in frame.columns  # over a posterior, cells show its spread, not the MC error
    with style.rc():
        fig = style.new_figure("heatmap")
        axes = fig.subplots(1, len(accused), sharey=True, squeeze=False)[0]
        for ax, a in zip(axes, accused):
            sub = frame[frame["accused"] == a]
            ends = (f"{col}_param_low", f"{col}_param_high") if posterior else (f"{col}_low", f"{col}_high")
            grids = [sub.pivot_table(index=y, columns=x, values=c, aggfunc="mean").reindex(index=ys, columns=xs)
                     .to_numpy(dtype=float) for c in (col, *ends)]
            z, low, high = grids
            mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5, z,
                                 vmin=0, vmax=1, cmap=style.SEQUENTIAL, shading="flat", rasterized=True)
            if cells <= MAX_CELL_TEXT:
                for (i, j), v in np.ndenumerate(z):
                    ax.text(j, i, cell_text(v, low[i, j], high[i, j], interval), ha="center", va="center",
                            fontsize=5.2 if interval else 6 if len(xs) > 8 else 6.5, linespacing=1.15,
                            color="white" if v < 0.55 else "#1A1A1A")
            segments = boundary_segments(z)
            if segments:
                ax.add_collection(LineCollection(segments, colors="white", linewidths=2.6, gid="half-boundary-halo",
                                                 capstyle="round"))
                ax.add_collection(LineCollection(segments, colors="#C00000", linewidths=1.3, gid="half-boundary",
                                                 capstyle="round"))
            ax.set_xlim(-0.5, len(xs) - 0.5)
            ax.set_ylim(-0.5, len(ys) - 0.5)
            ax.set_title(style.accused_label(a, head_of_state))
            ax.set_xticks(range(len(xs)), [style.fmt_value(v) for v in xs])
            ax.set_yticks(range(len(ys)), [style.fmt_value(v) for v in ys])
            ax.grid(False)
            for side in ("top", "right"):
                ax.spines[side].set_visible(True)
            ax.set_aspect("auto")
        axes[0].set_ylabel(style.parameter_label(y, 36))
        fig.supxlabel(style.parameter_label(x, 70), fontsize=8.5)
        bar = fig.colorbar(mesh, ax=list(axes), shrink=0.9, pad=0.02, aspect=25)
        cell_note = ((f"cells: value, {POSTERIOR_LABEL}" if posterior else f"cells: value, {WILSON_LABEL}")
                     if interval and cells <= MAX_CELL_TEXT else "intervals in summary.csv")
        bar.set_label(f"probability of custody by month {horizon}\n({_horizon_text(horizon)})\n{cell_note}\n"
                      "red edges: 0.5 boundary",
                      fontsize=6.5, linespacing=1.25)
        bar.ax.axhline(HALF, color="#C00000", lw=1.3)
        bar.ax.tick_params(labelsize=7)
        _title(fig, f"Probability of custody by month {horizon}{_all_note(accused)}", len(points), n_replicates)
    return fig


# ----------------------------------------------------------------------------- curves
def _facet_values(values: np.ndarray) -> np.ndarray:
    if len(values) <= MAX_FACETS:
        return values
    return values[np.unique(np.linspace(0, len(values) - 1, MAX_FACETS).round().astype(int))]


def curves_figure(summary: pd.DataFrame, points: pd.DataFrame, x: str, horizon: int, n_replicates: int,
                  facet: str | None = None, head_of_state: list[int] | None = None) -> Figure:
    """Probability of custody by month ``horizon`` against ``x`` with its Monte Carlo 95% Wilson band (and, over a
    posterior, the posterior's 90% band around it), one line per accused; with ``facet``, one panel per value of
    that parameter (at most six, evenly chosen)."""
    frame = _merge(summary, points, [x] + ([facet] if facet else []))
    col = p_column(horizon)
    facets = _facet_values(np.sort(frame[facet].unique())) if facet else np.array([None])
    accused = _accused_values(frame)
    posterior = f"{col}_param_low" in frame.columns
    ncols = min(len(facets), 3)
    nrows = int(np.ceil(len(facets) / ncols))
    with style.rc():
        fig = style.new_figure("curves")
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
        for ax, fv in zip(axes, facets):
            sub = frame if facet is None else frame[frame[facet] == fv]
            for a in accused:
                line = sub[sub["accused"] == a].sort_values(x)
                color = style.accused_color(a)
                xv = line[x].to_numpy(dtype=float)
                if posterior:
                    ax.fill_between(xv, line[f"{col}_param_low"], line[f"{col}_param_high"], color=color, alpha=0.12,
                                    lw=0)
                ax.fill_between(xv, line[f"{col}_low"], line[f"{col}_high"], color=color,
                                alpha=0.35 if posterior else 0.18, lw=0)
                ax.plot(xv, line[col], color=color, marker="o", ms=3,
                        ls="--" if a == ALL else "-", label=style.accused_label(a, head_of_state))
            _set_probability_axis(ax)
            ax.axhline(0.5, color="#999999", lw=0.7, ls=":")
            if facet is not None:
                ax.set_title(f"{_short(facet)} = {style.fmt_value(fv)}", fontsize=8)
        for k, ax in enumerate(axes):
            if k >= len(facets):
                ax.set_visible(False)
            elif k + ncols >= len(facets):  # lowest visible panel of its column shows the x ticks
                ax.xaxis.set_tick_params(labelbottom=True)
        fig.supylabel(f"probability of custody by month {horizon} ({_horizon_text(horizon)})", fontsize=8.5)
        fig.supxlabel(style.parameter_label(x, 70), fontsize=8.5)
        handles, labels = axes[0].get_legend_handles_labels()
        if posterior:
            handles.append(Patch(color="#888888", alpha=0.18, lw=0))
            labels.append(POSTERIOR_LABEL)
        handles.append(Patch(color="#888888", alpha=0.45 if posterior else 0.3, lw=0))
        labels.append(WILSON_LABEL)
        labels = ["\n".join(textwrap.wrap(t, 18)) for t in labels]
        if facet is not None:
            labels.append("panels:\n" + style.parameter_label(facet, 22))
            handles.append(Patch(color="none"))
        fig.legend(handles, labels, loc="outside right center", labelspacing=1.0)
        _title(fig, f"Probability of custody by month {horizon}{_all_note(accused)}", len(points), n_replicates)
    return fig


# ----------------------------------------------------------------------------- survival
def _short(name: str) -> str:
    """A parameter's name within its group (``home.turnover_rate`` -> ``turnover_rate``)."""
    return name.split(".", 1)[-1]


MAX_LABEL_NAMES = 3


def label_names(points: pd.DataFrame, chosen: Sequence[int], swept: Sequence[str],
                k: int = MAX_LABEL_NAMES) -> list[str]:
    """The swept parameters that tell the ``chosen`` points apart: all when at most ``k``, else the ``k``
    whose values spread most across them (relative to the design's range), in the order of ``swept``."""
    names = [n for n in swept if n in points.columns]
    if len(names) <= k:
        return names
    table = points.set_index("point")
    span = (table[names].max() - table[names].min()).replace(0, np.nan)
    spread = (table.loc[list(chosen), names].max() - table.loc[list(chosen), names].min()) / span
    top = set(spread.fillna(0).sort_values(ascending=False, kind="stable").index[:k])
    return [n for n in names if n in top]


def point_label(points: pd.DataFrame, point: int, names: Sequence[str], keyed: bool = False) -> str:
    """A point by its parameter values: 'v1, v2' in the order of ``names`` (the legend's title names
    them), or 'name1 v1, name2 v2' with ``keyed``; never a bare point id while a parameter tells it apart."""
    row = points.set_index("point").loc[point]
    if not names:
        return "all replicates" if len(points) == 1 else f"point {point}"
    if keyed:
        return ", ".join(f"{_short(n)} {float(row[n]):.3g}" for n in names)
    return ", ".join(style.fmt_value(row[n]) for n in names)


def choose_points(summary: pd.DataFrame, horizon: int, k: int = MAX_SURVIVAL_POINTS) -> list[int]:
    """Points spanning the range of outcomes: lowest, quantiles and highest probability of custody
    of accused 0 at ``horizon`` (all points when there are at most ``k``)."""
    first = summary[accused_codes(summary["accused"]) == _accused_values(summary)[0]]
    ranked = first.sort_values([p_column(horizon), "point"], kind="stable")["point"].to_numpy()
    if len(ranked) <= k:
        return sorted(int(p) for p in ranked)
    picks = ranked[np.unique(np.linspace(0, len(ranked) - 1, k).round().astype(int))]
    return [int(p) for p in picks]


def survival_figure(km: pd.DataFrame, labels: dict[int, str], n_points: int, n_replicates: int,
                    head_of_state: list[int] | None = None, band: str = "pointwise",
                    names: Sequence[str] = (), swept_total: int | None = None) -> Figure:
    """Share of replicates not yet in custody against months since the warrant (Kaplan-Meier, 95%
    band), one panel per accused, one line per chosen point."""
    accused = _accused_values(km)
    chosen = list(labels)
    with style.rc():
        fig = style.new_figure("survival")
        axes = fig.subplots(1, len(accused), sharex=True, sharey=True, squeeze=False)[0]
        for ax, a in zip(axes, accused):
            for i, p in enumerate(chosen):
                c = km[(km["accused"] == a) & (km["point"] == p)]
                color = style.SERIES_COLORS[i % len(style.SERIES_COLORS)]
                ax.fill_between(c["month"], c["surv_low"], c["surv_high"], step="post", color=color, alpha=0.18,
                                lw=0)
                ax.step(c["month"], c["surv"], where="post", color=color, lw=1.4)
            _set_probability_axis(ax)
            ax.set_xlim(0, km["month"].max())
            ax.set_title(style.accused_label(a, head_of_state))
            ax.set_xlabel("months since the warrant")
        axes[0].set_ylabel("share not yet in custody")
        handles: list[Artist] = [Line2D([], [], color=style.SERIES_COLORS[i % len(style.SERIES_COLORS)], lw=1.6)
                                 for i in range(len(chosen))]
        texts = [labels[p] for p in chosen]
        handles.append(Patch(color="#888888", alpha=0.3, lw=0))
        texts.append(f"95% {band} confidence band")
        if names and swept_total is not None and swept_total > len(names):
            title = f"points: the {len(names)} of {swept_total} swept parameters that differ most among them"
        elif names:
            title = f"points ({', '.join(names)})"
        else:
            title = None
        columns = 5
        if max(len(t) for t in texts) > 28:  # values of several parameters: two lines each, three columns
            columns, texts = 3, ["\n".join(textwrap.wrap(t, 36)) for t in texts]
        fig.legend(handles, texts, loc="outside lower center", ncols=min(len(texts), columns), title=title,
                   title_fontsize=7.5)
        _title(fig, f"Time to custody, Kaplan–Meier estimate{_all_note(accused)}", n_points, n_replicates)
    return fig


# ----------------------------------------------------------------------------- routes
ROUTES_SHOWN = ("arrested_by_host", "domestic_surrender")
MAX_BARS = 48  # points drawn one by one; a larger design is pooled in bins of its first swept parameter
MAX_BINS = 10


def _bar_layout(points: pd.DataFrame, swept: Sequence[str]):
    """x positions (point id -> x), tick labels and group labels for one bar group per point."""
    table = points.set_index("point")
    if len(swept) == 2 and is_grid(points, swept):
        x, g = swept
        pos, ticks, groups, cursor = {}, [], [], 0.0
        for gv in np.sort(table[g].unique()):
            members = table[table[g] == gv].sort_values(x)
            start = cursor
            for p, xv in zip(members.index, members[x]):
                pos[int(p)] = cursor
                ticks.append((cursor, style.fmt_tick(xv)))
                cursor += 1
            groups.append(((start + cursor - 1) / 2, f"{style.fmt_value(gv)}"))
            cursor += 0.8
        return pos, ticks, groups
    if len(swept) == 1:
        ordered = table.sort_values(swept[0])
        return ({int(p): i for i, p in enumerate(ordered.index)},
                [(i, style.fmt_tick(v)) for i, v in enumerate(ordered[swept[0]])], [])
    return {int(p): i for i, p in enumerate(table.index)}, [], []


def route_bins(points: pd.DataFrame, name: str, max_bins: int = MAX_BINS) -> tuple[pd.Series, list[str]]:
    """Bin number per point id over ``name`` (its values when few, else equal-width bins) and a
    label per bin ('.1–.18'); every bin label names the values it holds."""
    values = points.set_index("point")[name].astype(float)
    levels = np.sort(values.unique())
    if len(levels) <= max_bins:
        return values.map({v: i for i, v in enumerate(levels)}).astype(int), [style.fmt_tick(v) for v in levels]
    edges = np.linspace(levels[0], levels[-1], max_bins + 1)
    number = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, max_bins - 1)
    labels = [f"{style.fmt_tick(float(f'{lo:.3g}'))}–{style.fmt_tick(float(f'{hi:.3g}'))}"
              for lo, hi in itertools.pairwise(edges)]
    return pd.Series(number, index=values.index), labels


def _route_counts(shares: pd.DataFrame, key: pd.Series | None) -> pd.DataFrame:
    """Replicates in each route per (accused, bar), pooling the points of a bar when ``key`` maps them."""
    frame = shares.assign(bar=shares["point"].astype(int) if key is None else shares["point"].map(key))
    for r in ROUTES_SHOWN:
        frame[r] = (frame[f"share_{r}"] * frame["n"]).round()
    out = frame.groupby(["accused", "bar"], sort=True).agg(n=("n", "sum"), points=("point", "nunique"),
                                                         **{r: (r, "sum") for r in ROUTES_SHOWN}).reset_index()
    for r in ROUTES_SHOWN:
        out[f"{r}_low"], out[f"{r}_high"] = wilson_interval(out[r], out["n"])
        out[r] = out[r] / out["n"]
    return out


def routes_figure(shares: pd.DataFrame, points: pd.DataFrame, swept: Sequence[str], horizon: int,
                  n_replicates: int, head_of_state: list[int] | None = None) -> Figure:
    """Share of replicates in custody by each route at ``horizon`` with 95% Wilson intervals, one pair
    of bars per point (a larger or unordered design: per bin of its first swept parameter, points
    pooled), one panel per accused."""
    accused = [a for a in _accused_values(shares) if a != ALL]
    shares = shares[shares["accused"].isin(accused)]
    one_by_one = len(points) <= MAX_BARS and (len(swept) == 1 or (len(swept) == 2 and is_grid(points, swept)))
    if one_by_one or not swept:
        pos, ticks, groups = _bar_layout(points, swept if one_by_one else [])
        counts = _route_counts(shares, None)
        binned = None
    else:
        key, labels = route_bins(points, swept[0])
        counts = _route_counts(shares, key)
        pos = {b: b for b in range(len(labels))}
        ticks, groups, binned = list(enumerate(labels)), [], swept[0]
    with style.rc():
        fig = style.new_figure("routes")
        axes = fig.subplots(len(accused), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        width = 0.38 if len(pos) <= 60 else 0.45
        for ax, a in zip(axes, accused):
            sub = counts[counts["accused"] == a]
            xs = np.array([pos[int(b)] for b in sub["bar"]], dtype=float)
            for k, r in enumerate(ROUTES_SHOWN):
                v = sub[r].to_numpy()
                err = np.vstack([v - sub[f"{r}_low"].to_numpy(), sub[f"{r}_high"].to_numpy() - v])
                ax.bar(xs + (k - 0.5) * width, v, width=width, color=style.ROUTE_COLORS[r], lw=0,
                       label=style.ROUTE_LABELS[r], yerr=err,
                       error_kw={"elinewidth": 0.6, "capsize": 1.2 if len(pos) <= 24 else 0, "ecolor": "#333333"})
            _set_probability_axis(ax, f"{style.accused_label(a, head_of_state)}\nshare of replicates")
            ax.set_ylim(0, 1)
            ax.grid(axis="x", visible=False)
        ax = axes[-1]
        if ticks:
            ax.set_xticks([t for t, _ in ticks], [lab for _, lab in ticks], fontsize=6.5 if len(ticks) > 24 else 7.5)
        else:
            ax.set_xticks([])
        pad = max(0.7, (6 - len(pos)) / 2)  # a few bars keep a bar's width, not the panel's
        ax.set_xlim(min(pos.values()) - pad, max(pos.values()) + pad)
        if groups:
            x, g = swept
            for center, text in groups:
                axes[0].text(center, 1.03, text, transform=axes[0].get_xaxis_transform(),
                             ha="center", va="bottom", fontsize=7.5, color="#333333")
            axes[0].text(-0.01, 1.03, f"{_short(g)} =", transform=axes[0].transAxes, ha="right", va="bottom",
                         fontsize=7.5, color="#333333")
            lines = [f"bars: {style.parameter_label(x, 200).splitlines()[0]} ({x})",
                     f"groups (values above): {style.parameter_label(g, 200).splitlines()[0]} ({g})"]
            ax.set_xlabel("\n".join(part for line in lines for part in textwrap.wrap(line, 96)), fontsize=8)
        elif binned is not None:
            per_bin = counts[counts["accused"] == accused[0]]["points"]
            ax.set_xlabel("\n".join(textwrap.wrap(
                f"{style.parameter_label(binned, 200).splitlines()[0]} ({binned}), in bins: the points of a bin "
                f"pooled ({int(per_bin.min())}–{int(per_bin.max())} points per bin"
                + (", other swept parameters vary within it)" if len(swept) > 1 else ")"), 96)), fontsize=8)
        elif swept:
            ax.set_xlabel(style.parameter_label(swept[0], 90))
        else:
            ax.set_xticks([])
        handles, labels = axes[0].get_legend_handles_labels()
        handles.append(Line2D([], [], color="#333333", lw=0.8))
        labels.append(WILSON_LABEL)
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
        _title(fig, f"Routes to custody by month {horizon}", len(points), n_replicates)
    return fig


# ----------------------------------------------------------------------------- sensitivity
def first_measure(indices: pd.DataFrame) -> pd.DataFrame:
    """The rows of the study's first measure (sensitivity.csv holds one block of rows per measure)."""
    if "measure" not in indices.columns or indices.empty:
        return indices
    return indices[indices["measure"] == indices["measure"].iloc[0]]


def _sensitivity_title(indices: pd.DataFrame, method: str) -> str:
    row = indices.iloc[0]
    what = str(row.get("outcome_label", row.get("outcome", "outcome")))
    return f"{method} sensitivity of the {what}"


def _param_tick(name: str, rank: int | None = None, width: int = 50) -> str:
    """Two short lines: the schema description and the dotted name, with the rank when given."""
    text = style.parameter_label(name, 10_000).splitlines()[0] + f" ({name})"
    head = f"{rank}. " if rank is not None else ""
    return "\n".join(textwrap.wrap(head + text, width))


def _noise(indices: pd.DataFrame, column: str) -> float | None:
    if column not in indices.columns:
        return None
    value = float(indices[column].iloc[0])
    return value if np.isfinite(value) else None


def _whiskers(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Bar whiskers: the interval's ends (``col_low``, ``col_high``) when given, else ± ``col_conf``."""
    if f"{col}_low" in frame.columns and f"{col}_high" in frame.columns:
        return np.vstack([frame[col] - frame[f"{col}_low"], frame[f"{col}_high"] - frame[col]]).clip(min=0)
    return frame[f"{col}_conf"].to_numpy()


def _hbars(ax, frame: pd.DataFrame, columns, colors, labels, ranks: bool = False) -> None:
    """Horizontal bars, the largest at the top, with bootstrap whiskers and labels that fit their rows
    (two lines: description and dotted name; one line, the dotted name, when rows are too narrow)."""
    y = np.arange(len(frame))
    h = 0.8 / len(columns)
    for k, (col, color, label) in enumerate(zip(columns, colors, labels)):
        off = (len(columns) - 1) / 2 * h - k * h
        ax.barh(y + off, frame[col], height=h, color=color, label=label, xerr=_whiskers(frame, col),
                error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "#333333"})
    n = len(frame)
    row_points = 250 / max(n, 1)  # the axes are about 250 pt high
    two_lines = row_points >= 15
    size = 6.3 if two_lines else max(3.5, min(6.3, 0.8 * row_points))
    ticks = [(_param_tick(p, n - i if ranks else None) if two_lines else
              (f"{n - i}. " if ranks else "") + p) for i, p in enumerate(frame["parameter"])]
    ax.set_yticks(y, ticks, fontsize=size, linespacing=1.0)
    ax.set_ylim(-0.6, n - 0.4)
    ax.axvline(0, color="#333333", lw=0.7)
    ax.grid(axis="y", visible=False)


MAX_SCATTER_LABELS = 10
_OFFSETS = ((3, 2), (3, -8), (-9, 2), (-9, -8), (3, 9), (-4, 9), (8, -3), (-14, -3))  # points from the marker


def place_labels(ax, xs: np.ndarray, ys: np.ndarray, texts: Sequence[str], fontsize: float,
                 limit: int = MAX_SCATTER_LABELS, avoid: Sequence = ()) -> list[int]:
    """Label the first ``limit`` markers (in the given order) at the first of a few offsets where the
    label overlaps no other label, marker or box of ``avoid`` (display-space Bboxes, e.g. a legend's)
    and stays inside the axes; skip a marker with no such place. Returns the indices labelled. (Call
    after the figure's layout is drawn.)"""
    fig = ax.figure
    scale = fig.dpi / 72
    centres = ax.transData.transform(np.column_stack([xs, ys]))
    box = ax.get_window_extent()
    marker = 3.2 * scale
    taken = [(cx - marker, cy - marker, cx + marker, cy + marker) for cx, cy in centres]
    own = len(taken)
    taken += [(b.x0, b.y0, b.x1, b.y1) for b in avoid]
    placed = []
    for i in range(min(limit, len(texts))):
        w, h = len(texts[i]) * fontsize * 0.62 * scale, fontsize * scale
        cx, cy = centres[i]
        for dx, dy in _OFFSETS:
            x0, y0 = cx + dx * scale, cy + dy * scale
            rect = (x0, y0, x0 + w, y0 + h)
            inside = box.x0 <= rect[0] and rect[2] <= box.x1 and box.y0 <= rect[1] and rect[3] <= box.y1
            clear = all(rect[2] <= t[0] or t[2] <= rect[0] or rect[3] <= t[1] or t[3] <= rect[1]
                        for k, t in enumerate(taken) if k != i or k >= own)
            if inside and clear:
                ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                            color="#333333", va="bottom", ha="left")
                taken.append(rect)
                placed.append(i)
                break
    return placed


def sobol_figure(indices: pd.DataFrame, n_points: int, n_replicates: int) -> Figure:
    """First-order (S1) and total (ST) Sobol' indices per parameter with 95% bootstrap intervals,
    and the share of the outcome's variance that Monte Carlo noise alone would give S_T."""
    indices = first_measure(indices)
    frame = indices.sort_values(["ST", "parameter"], ascending=[True, False], kind="stable")
    shown = sobol_shown(frame)
    noise = _noise(indices, "noise_share")
    below = int((frame[["S1", "ST"]] < 0).to_numpy().sum())
    with style.rc():
        fig = style.new_figure("sobol")
        ax = fig.subplots()
        _hbars(ax, shown, ["ST", "S1"], ["#0072B2", "#E69F00"], ["total effect S$_T$", "first order S$_1$"])
        ends = [c for c in ("ST_high", "S1_high", "ST", "S1") if c in shown.columns]
        ax.set_xlim(0, max(1e-3, float(shown[ends].max().max())) * 1.1)
        ax.set_xlabel("share of the outcome's variance, replicate noise removed\n(whiskers: 95% bootstrap interval)")
        ax.legend(loc="lower right")
        _title(fig, _sensitivity_title(indices, "Sobol'"), n_points, n_replicates)
        reading = ("Reading: S$_T$ is the share of the outcome's variance a parameter accounts for, alone and with "
                   "others; S$_1$ alone. A parameter whose S$_T$ interval reaches 0 is not told apart from noise. "
                   f"Indices cannot be negative: {below} estimate(s) below 0 (noise) are drawn at 0, "
                   "whiskers cut at 0. ")
        if noise is not None:
            reading += (f"Replicate noise made up {noise:.2f} of the outcome's variance across runs; it is "
                        "removed before the indices are computed (docs/figures.md).")
        # a figure-level label, so the constrained layout keeps room for it under the axis label
        fig.supxlabel("\n".join(textwrap.wrap(reading, 150)), fontsize=6.3, color="#333333", x=0.01, ha="left")
    return fig


def sobol_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """Sobol' indices as drawn: estimates and interval bounds below 0 (noise: an index is a share of a
    variance, never negative) at 0."""
    cols = [c for c in ("S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high") if c in frame.columns]
    return frame.assign(**{c: frame[c].clip(lower=0.0) for c in cols})


def morris_figure(indices: pd.DataFrame, n_points: int, n_replicates: int) -> Figure:
    """Morris elementary effects: μ* with its 95% interval, ranked (left), and σ against μ* (right);
    the red ticks mark the μ* that replicate noise alone gives each parameter (``noise_mu_star``)."""
    indices = first_measure(indices)
    frame = indices.sort_values(["mu_star", "parameter"], ascending=[True, False], kind="stable")
    noise = frame["noise_mu_star"].to_numpy(float) if "noise_mu_star" in frame.columns else None
    n = len(frame)
    with style.rc():
        fig = style.new_figure("morris")
        bars, scatter = fig.subplots(1, 2, width_ratios=[1.5, 1])
        _hbars(bars, frame, ["mu_star"], ["#0072B2"], [None], ranks=True)
        bars.set_xlabel("μ*: mean absolute elementary effect\n(whiskers: 95% bootstrap interval)")
        top = max(frame["mu_star"].max(), frame["sigma"].max(),
                  float(np.nanmax(noise)) if noise is not None else 0, 1e-12) * 1.12
        if noise is not None and np.isfinite(noise).any():
            bars.scatter(noise, np.arange(n), marker="|", s=60, color="#C00000", zorder=4,
                         label="μ* of replicate noise alone")
            bars.legend(loc="lower right")
            scatter.axvspan(0, float(np.nanmedian(noise)), color="#EEEEEE", lw=0, label="μ* within noise (median)")
        scatter.plot([0, top], [0, top], color="#999999", lw=0.7, ls=":", label="σ = μ*")
        scatter.scatter(frame["mu_star"], frame["sigma"], s=14, color="#0072B2", zorder=3)
        scatter.set_xlim(0, top)
        scatter.set_ylim(0, top)
        scatter.set_xlabel("μ*\n(numbers: ranks at left)")
        scatter.set_ylabel("σ: spread of the elementary effects\n(non-linearity and interactions)")
        legend = scatter.legend(loc="upper left")
        _title(fig, _sensitivity_title(indices, "Morris"), n_points, n_replicates)
        fig.canvas.draw()  # fix the layout first, so labels are placed where they will be drawn
        ranked = frame.iloc[::-1]  # the largest μ* first: rank 1 gets the first choice of place
        labelled = place_labels(scatter, ranked["mu_star"].to_numpy(), ranked["sigma"].to_numpy(),
                                [str(k + 1) for k in range(n)], fontsize=6, avoid=[legend.get_window_extent()])
        if len(labelled) < n:
            scatter.set_xlabel(f"μ*\n(numbers: ranks, {len(labelled)} of {n})")
    return fig


SHORT = {"p_enforced": "custody", "p_arrested": "arrest abroad"}


def _measure_tick(row: pd.Series) -> str:
    """A measure in a few words: what, by when, whose (e.g. "custody by 60, accused 0")."""
    outcome = str(row["outcome"])
    text = f"{SHORT[outcome]} by {int(row['horizon'])}" if outcome in SHORT else outcome.replace("_", " ")
    accused = row.get("accused", ALL)
    if style.is_all(accused):
        return f"{text}, {style.ALL_LABEL}" if outcome in SHORT else text
    return f"{text}, accused {int(accused)}"


def ranking_figure(indices: pd.DataFrame, n_points: int, n_replicates: int) -> Figure:
    """Every measure of the study side by side: each parameter's index (Morris μ*, Sobol' S_T) as a share
    of the largest one for that measure; cells whose index is not distinguishable from noise are hatched."""
    method = str(indices["method"].iloc[0])
    key = "ST" if method == "sobol" else "mu_star"
    measures = list(dict.fromkeys(indices.get("measure", indices["outcome"])))
    column = "measure" if "measure" in indices.columns else "outcome"
    wide = indices.pivot_table(index="parameter", columns=column, values=key, sort=False, dropna=False)[measures]
    scaled = wide / wide.max(axis=0).where(wide.max(axis=0) > 0, 1.0)
    if method == "sobol":
        low = indices.pivot_table(index="parameter", columns=column, values="ST_low", sort=False,
                                  dropna=False)[measures]
        weak = low <= 0
    elif "above_noise" in indices.columns:
        flag = indices.assign(_w=~indices["above_noise"].astype(bool))
        weak = flag.pivot_table(index="parameter", columns=column, values="_w", sort=False, aggfunc="max",
                                dropna=False)[measures]
    else:
        weak = pd.DataFrame(False, index=wide.index, columns=measures)
    order = scaled.max(axis=1).sort_values(ascending=False, kind="stable").index
    scaled, weak = scaled.loc[order], weak.loc[order].astype(bool)
    labels = {m: _measure_tick(indices.loc[indices[column] == m].iloc[0]) for m in measures}
    with style.rc():
        fig = style.new_figure("ranking")
        ax = fig.subplots()
        image = ax.imshow(scaled.to_numpy(float), aspect="auto", cmap="Blues", vmin=0, vmax=1,
                          interpolation="nearest")
        rows, cols = np.nonzero(weak.to_numpy())
        ax.scatter(cols, rows, marker="x", s=8, color="#999999", lw=0.6,
                   label="not distinguishable from noise" if method == "morris" else "S$_T$ interval reaches 0")
        n = len(scaled)
        size = max(3.5, min(6.3, 0.75 * 380 / max(n, 1)))
        ax.set_yticks(np.arange(n), [f"{i + 1}. {p}" for i, p in enumerate(scaled.index)], fontsize=size)
        ax.set_xticks(np.arange(len(measures)), [labels[m] for m in measures], fontsize=6, rotation=90)
        ax.tick_params(axis="x", labeltop=True, labelbottom=False, top=True, bottom=False)
        ax.grid(visible=False)
        bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label(("S$_T$" if method == "sobol" else "μ*") + " as a share of the measure's largest")
        if len(rows):
            fig.legend(loc="outside lower center", fontsize=6, frameon=False)
        name = "Sobol'" if method == "sobol" else "Morris"
        joint = any(lab.endswith(style.ALL_LABEL) for lab in labels.values())
        _title(fig, f"{name} ranking of the parameters over {len(measures)} outcome(s)"
               + (f"; {style.ALL_LABEL}: {style.ALL_MEANS}" if joint else ""), n_points, n_replicates)
    return fig


# ----------------------------------------------------------------------------- paired comparisons
MAX_ALTERNATIVES = 4


def paired_figure(paired: pd.DataFrame, n_replicates: int, head_of_state: list[int] | None = None,
                  titles: dict[str, str] | None = None) -> Figure:
    """Each alternative's paired difference in the probability of custody from the base by horizon, one
    panel per alternative (titled by ``titles``, else its name in words) and one colour per accused: the
    95% paired interval (bars) over the unpaired one (grey), which independent runs would have given."""
    names = list(dict.fromkeys(paired["alternative"]))[:MAX_ALTERNATIVES]
    accused = list(dict.fromkeys(int(a) for a in accused_codes(paired["accused"])))
    horizons = sorted(paired["horizon"].unique())
    with style.rc():
        fig = style.new_figure("paired")
        axes = np.atleast_1d(fig.subplots(1, len(names), sharey=True, squeeze=False)[0])
        width = 0.8 / max(len(accused), 1)
        x = np.arange(len(horizons))
        for ax, name in zip(axes, names):
            mine = paired[paired["alternative"] == name]
            for k, who in enumerate(accused):
                rows = mine[accused_codes(mine["accused"]) == who].set_index("horizon").reindex(horizons)
                at = x - 0.4 + width * (k + 0.5)
                ax.vlines(at, rows["unpaired_low"], rows["unpaired_high"], color="#BBBBBB", lw=4,
                          label="unpaired 95% interval" if k == 0 else None)
                ax.errorbar(at, rows["diff"], yerr=[rows["diff"] - rows["diff_low"], rows["diff_high"] - rows["diff"]],
                            fmt="o", ms=3.5, lw=1.2, capsize=2, color=style.accused_color(who),
                            label=style.accused_label(who, head_of_state))
            ax.axhline(0, color="#333333", lw=0.7)
            ax.set_xticks(x, [str(h) for h in horizons])
            ax.set_xlabel("by month")
            title = (titles or {}).get(name) or words(name)
            ax.set_title("\n".join(textwrap.wrap(title, 58 // len(names) + 20)), fontsize=8)
        axes[0].set_ylabel("difference in the probability\nof custody by the month\n(alternative − base,\n"
                           "95% paired interval)")
        handles, labels = axes[0].get_legend_handles_labels()
        labels = [f"{style.ALL_LABEL}\n({style.ALL_MEANS})" if lab == style.ALL_LABEL else lab for lab in labels]
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4))
        extra = f", first {MAX_ALTERNATIVES} of {paired['alternative'].nunique()} alternatives" \
            if paired["alternative"].nunique() > MAX_ALTERNATIVES else ""
        k = paired["alternative"].nunique()
        text = (f"Paired differences from the base on common random numbers: the base and {k} "
                f"alternative{'s' if k > 1 else ''} × {n_replicates:,} replicates{extra}")
        fig.suptitle("\n".join(textwrap.wrap(text, 82)), x=0.01, ha="left")
    return fig


ACRONYMS = {"au", "eu", "un", "us", "uk", "icc", "asp", "csto", "nato", "brics", "sco", "cis", "oic"}


def words(name: str) -> str:
    """An identifier in words: ``mongolia_compliant`` -> 'Mongolia compliant', ``without_au`` -> 'Without AU'."""
    parts = [w.upper() if w in ACRONYMS else w for w in name.replace("-", "_").split("_") if w]
    text = " ".join(parts)
    return text[:1].upper() + text[1:]
