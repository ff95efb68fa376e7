"""Figures of a results folder: one function per kind taking frames and returning a Figure.

Kinds: ``heatmap`` (enforcement probability over two swept parameters, 0.5 contour), ``curves``
(enforcement probability against one swept parameter, Wilson band, one line per accused),
``survival`` (Kaplan-Meier share not yet in custody for chosen points), ``routes`` (custody routes
as stacked bars), ``sobol`` and ``morris`` (sensitivity indices). ``draw_figures`` writes them.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.analysis import style
from sim.analysis.metrics import ALL, p_column, route_shares
from sim.analysis.survival import kaplan_meier
from sim.errors import UserError

KINDS = ("heatmap", "curves", "survival", "routes", "sobol", "morris")
MAX_FACETS = 6
MAX_SURVIVAL_POINTS = 4
MAX_LABELLED_BARS = 48


# ----------------------------------------------------------------------------- helpers
def _accused_values(summary: pd.DataFrame) -> list[str]:
    values = list(dict.fromkeys(summary["accused"].astype(str)))
    return sorted(values, key=lambda a: (a == ALL, int(a) if a != ALL else 0))


def _merge(summary: pd.DataFrame, points: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    frame = summary.assign(accused=summary["accused"].astype(str))
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
    return f"in custody within {horizon} months"


def _set_probability_axis(ax, label: str | None = None) -> None:
    ax.set_ylim(-0.02, 1.02)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_yticklabels(["0", ".25", ".5", ".75", "1"])
    if label:
        ax.set_ylabel(label)


# ----------------------------------------------------------------------------- heatmap
def heatmap_figure(summary: pd.DataFrame, points: pd.DataFrame, x: str, y: str, horizon: int,
                   n_replicates: int, head_of_state: list[int] | None = None) -> Figure:
    """Enforcement probability at ``horizon`` over a grid of ``x`` × ``y``, one panel per accused,
    with each cell's value and the 0.5 contour."""
    frame = _merge(summary, points, [x, y])
    xs, ys = np.sort(frame[x].unique()), np.sort(frame[y].unique())
    accused = _accused_values(frame)
    col = p_column(horizon)
    with style.rc():
        fig = style.new_figure("heatmap")
        axes = fig.subplots(1, len(accused), sharey=True, squeeze=False)[0]
        for ax, a in zip(axes, accused):
            sub = frame[frame["accused"] == a]
            grid = sub.pivot_table(index=y, columns=x, values=col, aggfunc="mean").reindex(index=ys, columns=xs)
            z = grid.to_numpy(dtype=float)
            mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5, z,
                                 vmin=0, vmax=1, cmap=style.SEQUENTIAL, shading="flat", rasterized=True)
            if len(xs) * len(ys) <= 144:
                for (i, j), v in np.ndenumerate(z):
                    if np.isfinite(v):
                        ax.text(j, i, f"{v:.2f}".lstrip("0") if v < 1 else "1", ha="center", va="center",
                                fontsize=6 if len(xs) > 8 else 6.5, color="white" if v < 0.55 else "#1A1A1A")
            if len(xs) > 1 and len(ys) > 1 and np.nanmin(z) < 0.5 < np.nanmax(z):
                ax.contour(np.arange(len(xs)), np.arange(len(ys)), z, levels=[0.5], colors="white",
                           linewidths=1.9)
                ax.contour(np.arange(len(xs)), np.arange(len(ys)), z, levels=[0.5], colors="#C00000",
                           linewidths=1.0, linestyles=[(0, (3, 2))])
            ax.set_title(style.accused_label(a, head_of_state))
            ax.set_xticks(range(len(xs)), [style.fmt_value(v) for v in xs])
            ax.set_yticks(range(len(ys)), [style.fmt_value(v) for v in ys])
            ax.grid(False)
            for s in ("top", "right"):
                ax.spines[s].set_visible(True)
            ax.set_aspect("auto")
        axes[0].set_ylabel(style.parameter_label(y, 36))
        fig.supxlabel(style.parameter_label(x, 70), fontsize=8.5)
        bar = fig.colorbar(mesh, ax=list(axes), shrink=0.9, pad=0.02, aspect=25)
        bar.set_label(f"enforcement probability\n({_horizon_text(horizon)};\ndashed red line: 0.5)")
        bar.ax.axhline(0.5, color="#C00000", lw=1.2, ls=(0, (3, 2)))
        bar.ax.tick_params(labelsize=7)
        _title(fig, f"Enforcement probability by month {horizon}", len(points),
               n_replicates)
    return fig


# ----------------------------------------------------------------------------- curves
def _facet_values(values: np.ndarray) -> np.ndarray:
    if len(values) <= MAX_FACETS:
        return values
    return values[np.unique(np.linspace(0, len(values) - 1, MAX_FACETS).round().astype(int))]


def curves_figure(summary: pd.DataFrame, points: pd.DataFrame, x: str, horizon: int, n_replicates: int,
                  facet: str | None = None, head_of_state: list[int] | None = None) -> Figure:
    """Enforcement probability at ``horizon`` against ``x`` with its 95% Wilson band, one line per
    accused; with ``facet``, one panel per value of that parameter (at most six, evenly chosen)."""
    frame = _merge(summary, points, [x] + ([facet] if facet else []))
    col = p_column(horizon)
    facets = _facet_values(np.sort(frame[facet].unique())) if facet else np.array([None])
    accused = _accused_values(frame)
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
                ax.fill_between(xv, line[f"{col}_low"], line[f"{col}_high"], color=color, alpha=0.18, lw=0)
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
        fig.supylabel(f"enforcement probability ({_horizon_text(horizon)})", fontsize=8.5)
        fig.supxlabel(style.parameter_label(x, 70), fontsize=8.5)
        handles, labels = axes[0].get_legend_handles_labels()
        handles.append(Patch(color="#888888", alpha=0.3, lw=0))
        labels.append("95% Wilson interval")
        labels = ["\n".join(textwrap.wrap(t, 18)) for t in labels]
        if facet is not None:
            labels.append("panels:\n" + style.parameter_label(facet, 22))
            handles.append(Patch(color="none"))
        fig.legend(handles, labels, loc="outside right center", labelspacing=1.0)
        _title(fig, f"Enforcement probability by month {horizon}", len(points), n_replicates)
    return fig


# ----------------------------------------------------------------------------- survival
def _short(name: str) -> str:
    """A parameter's name within its group (``home.turnover_rate`` -> ``turnover_rate``)."""
    return name.split(".", 1)[-1]


def point_label(points: pd.DataFrame, point: int, names: Sequence[str]) -> str:
    """The swept values of one point, 'v1, v2' in the order of ``names`` (or 'point i' when none)."""
    row = points.set_index("point").loc[point]
    if not names:
        return f"point {point}"
    return ", ".join(style.fmt_value(row[n]) for n in names)


def choose_points(summary: pd.DataFrame, horizon: int, k: int = MAX_SURVIVAL_POINTS) -> list[int]:
    """Points spanning the range of outcomes: lowest, quantiles and highest enforcement probability
    of accused 0 at ``horizon`` (all points when there are at most ``k``)."""
    first = summary[summary["accused"].astype(str) == _accused_values(summary)[0]]
    ranked = first.sort_values([p_column(horizon), "point"], kind="stable")["point"].to_numpy()
    if len(ranked) <= k:
        return sorted(int(p) for p in ranked)
    picks = ranked[np.unique(np.linspace(0, len(ranked) - 1, k).round().astype(int))]
    return [int(p) for p in picks]


def survival_figure(km: pd.DataFrame, labels: dict[int, str], n_points: int, n_replicates: int,
                    head_of_state: list[int] | None = None, band: str = "pointwise",
                    names: Sequence[str] = ()) -> Figure:
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
        handles = [Line2D([], [], color=style.SERIES_COLORS[i % len(style.SERIES_COLORS)], lw=1.6)
                   for i in range(len(chosen))]
        texts = [labels[p] for p in chosen]
        handles.append(Patch(color="#888888", alpha=0.3, lw=0))
        texts.append(f"95% {band} confidence band")
        title = (f"points ({', '.join(names)})" if names else
                 None if n_points == 1 else "design points (values in points.parquet)")
        fig.legend(handles, texts, loc="outside lower center", ncols=min(len(texts), 5), title=title,
                   title_fontsize=7.5)
        _title(fig, "Time to custody, Kaplan–Meier estimate", n_points, n_replicates)
    return fig


# ----------------------------------------------------------------------------- routes
def _bar_layout(points: pd.DataFrame, swept: Sequence[str], order: Sequence[int]):
    """x positions, tick labels and group labels for one bar per point."""
    if len(swept) == 2 and is_grid(points, swept):
        x, g = swept
        table = points.set_index("point").loc[list(order)]
        gvals = np.sort(table[g].unique())
        pos, ticks, groups, cursor = {}, [], [], 0.0
        for gv in gvals:
            members = table[table[g] == gv].sort_values(x)
            start = cursor
            for p, xv in zip(members.index, members[x]):
                pos[int(p)] = cursor
                ticks.append((cursor, style.fmt_tick(xv)))
                cursor += 1
            groups.append(((start + cursor - 1) / 2, f"{style.fmt_value(gv)}"))
            cursor += 0.8
        return pos, ticks, groups, x, g
    if len(swept) == 1:
        x = swept[0]
        table = points.set_index("point").loc[list(order)].sort_values(x)
        pos = {int(p): i for i, p in enumerate(table.index)}
        return pos, [(i, style.fmt_value(v)) for i, v in enumerate(table[x])], [], x, None
    pos = {int(p): i for i, p in enumerate(order)}
    ticks = [(i, str(p)) for p, i in pos.items()] if len(order) <= MAX_LABELLED_BARS else []
    return pos, ticks, [], None, None


def routes_figure(shares: pd.DataFrame, points: pd.DataFrame, swept: Sequence[str], horizon: int,
                  n_replicates: int, head_of_state: list[int] | None = None) -> Figure:
    """Share of replicates in custody by route at ``horizon``, one stacked bar per point (height =
    enforcement probability), one panel per accused."""
    accused = [a for a in _accused_values(shares) if a != ALL]
    grid_like = len(swept) in (1, 2) and (len(swept) == 1 or is_grid(points, swept))
    first = shares[shares["accused"] == accused[0]]
    if grid_like:
        order = list(points["point"].astype(int))
    else:  # many unordered points: sort bars by the first accused's enforcement probability
        total = first.set_index("point")[["share_arrested_by_host", "share_domestic_surrender"]].sum(axis=1)
        order = list(total.sort_values(kind="stable").index.astype(int))
    pos, ticks, groups, x, g = _bar_layout(points, swept if grid_like else [], order)
    routes = ("arrested_by_host", "domestic_surrender")
    with style.rc():
        fig = style.new_figure("routes")
        axes = fig.subplots(len(accused), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        width = 0.8 if len(pos) <= 60 else 1.0
        for ax, a in zip(axes, accused):
            sub = shares[shares["accused"] == a].set_index("point")
            xs = np.array([pos[int(p)] for p in sub.index])
            bottom = np.zeros(len(sub))
            for r in routes:
                v = sub[f"share_{r}"].to_numpy()
                ax.bar(xs, v, bottom=bottom, width=width, color=style.ROUTE_COLORS[r], lw=0,
                       label=style.ROUTE_LABELS[r])
                bottom += v
            _set_probability_axis(ax, f"{style.accused_label(a, head_of_state)}\nshare in custody")
            ax.set_ylim(0, 1)
            ax.grid(axis="x", visible=False)
        ax = axes[-1]
        if ticks:
            ax.set_xticks([t for t, _ in ticks], [s for _, s in ticks], fontsize=6.5 if len(ticks) > 24 else 7.5)
        else:
            ax.set_xticks([])
        pad = max(0.7, (6 - len(pos)) / 2)  # a few bars keep a bar's width, not the panel's
        ax.set_xlim(min(pos.values()) - pad, max(pos.values()) + pad)
        if groups:
            for center, text in groups:
                axes[0].text(center, 1.03, text, transform=axes[0].get_xaxis_transform(),
                             ha="center", va="bottom", fontsize=7.5, color="#333333")
            axes[0].text(-0.01, 1.03, f"{_short(g)} =", transform=axes[0].transAxes, ha="right", va="bottom",
                         fontsize=7.5, color="#333333")
            lines = [f"bars: {style.parameter_label(x, 200).splitlines()[0]} ({x})",
                     f"groups (values above): {style.parameter_label(g, 200).splitlines()[0]} ({g})"]
            ax.set_xlabel("\n".join(part for line in lines for part in textwrap.wrap(line, 96)), fontsize=8)
        elif x is not None:
            ax.set_xlabel(style.parameter_label(x, 90))
        elif len(pos) == 1:
            ax.set_xticks([])
        else:
            ax.set_xlabel("points, ordered by the enforcement probability of " +
                          style.accused_label(accused[0], head_of_state) +
                          ("" if ticks else " (ids in points.parquet)"))
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2)
        _title(fig, f"Routes to custody by month {horizon}", len(points), n_replicates)
    return fig


# ----------------------------------------------------------------------------- sensitivity
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


def _hbars(ax, frame: pd.DataFrame, columns, colors, labels, ranks: bool = False) -> None:
    """Horizontal bars, the largest at the top, with bootstrap whiskers and two-line labels."""
    y = np.arange(len(frame))
    h = 0.8 / len(columns)
    for k, (col, color, label) in enumerate(zip(columns, colors, labels)):
        off = (len(columns) - 1) / 2 * h - k * h
        ax.barh(y + off, frame[col], height=h, color=color, label=label, xerr=frame[f"{col}_conf"],
                error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "#333333"})
    n = len(frame)
    ax.set_yticks(y, [_param_tick(p, n - i if ranks else None) for i, p in enumerate(frame["parameter"])],
                  fontsize=6.3, linespacing=1.0)
    ax.set_ylim(-0.6, n - 0.4)
    ax.axvline(0, color="#333333", lw=0.7)
    ax.grid(axis="y", visible=False)


def sobol_figure(indices: pd.DataFrame, n_points: int, n_replicates: int) -> Figure:
    """First-order (S1) and total (ST) Sobol' indices per parameter with 95% bootstrap intervals,
    and the share of the outcome's variance that Monte Carlo noise alone would give S_T."""
    frame = indices.sort_values(["ST", "parameter"], ascending=[True, False], kind="stable")
    noise = _noise(indices, "noise_share")
    with style.rc():
        fig = style.new_figure("sobol")
        ax = fig.subplots()
        _hbars(ax, frame, ["ST", "S1"], ["#0072B2", "#E69F00"], ["total effect S$_T$", "first order S$_1$"])
        if noise is not None:
            ax.axvline(noise, color="#C00000", lw=1, ls="--", label=f"Monte Carlo noise share ({noise:.2f})")
        ax.set_xlabel("share of the outcome's variance (whiskers: 95% bootstrap interval)")
        ax.legend(loc="lower right")
        _title(fig, _sensitivity_title(indices, "Sobol'"), n_points, n_replicates)
    return fig


def morris_figure(indices: pd.DataFrame, n_points: int, n_replicates: int) -> Figure:
    """Morris elementary effects: μ* with its 95% interval, ranked (left), and σ against μ* (right);
    the dashed line and grey band mark the μ* that Monte Carlo noise alone gives a parameter
    without effect."""
    frame = indices.sort_values(["mu_star", "parameter"], ascending=[True, False], kind="stable")
    noise = _noise(indices, "noise_mu_star")
    n = len(frame)
    with style.rc():
        fig = style.new_figure("morris")
        bars, scatter = fig.subplots(1, 2, width_ratios=[1.5, 1])
        _hbars(bars, frame, ["mu_star"], ["#0072B2"], [None], ranks=True)
        bars.set_xlabel("μ*: mean absolute elementary effect\n(whiskers: 95% bootstrap interval)")
        top = max(frame["mu_star"].max(), frame["sigma"].max(), noise or 0, 1e-12) * 1.12
        if noise is not None:
            bars.axvline(noise, color="#C00000", lw=1, ls="--", label=f"noise level ({noise:.2g})")
            bars.legend(loc="lower right")
            scatter.axvspan(0, noise, color="#EEEEEE", lw=0, label="μ* within noise")
        scatter.plot([0, top], [0, top], color="#999999", lw=0.7, ls=":", label="σ = μ*")
        scatter.scatter(frame["mu_star"], frame["sigma"], s=14, color="#0072B2", zorder=3)
        for i, (_, r) in enumerate(frame.iterrows()):
            scatter.annotate(str(n - i), (r["mu_star"], r["sigma"]), fontsize=6, xytext=(2.5, 1.5),
                             textcoords="offset points", color="#333333")
        scatter.set_xlim(0, top)
        scatter.set_ylim(0, top)
        scatter.set_xlabel("μ* (numbers: ranks at left)")
        scatter.set_ylabel("σ: spread of the elementary effects\n(non-linearity and interactions)")
        scatter.legend(loc="upper left")
        _title(fig, _sensitivity_title(indices, "Morris"), n_points, n_replicates)
    return fig
