"""The explorer's figures: a heatmap or curves of one outcome over the chosen axes (with intervals and
the PRIM box), and one point's Kaplan-Meier curves. Frames in, a Figure out (sim.analysis.style)."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.analysis import style
from sim.analysis.metrics import ALL
from sim.analysis.plots import cell_text
from sim.app.exploration import Axis, Measure

SIZE = (7.0, 4.3)  # inches, drawn at 100 dpi in the page
BOX_COLOR = "#E41A1C"


def _figure(size: tuple[float, float] = SIZE) -> Figure:
    return Figure(figsize=size, dpi=100, layout="constrained")


def _title(fig: Figure, text: str) -> None:
    fig.suptitle("\n".join(textwrap.wrap(text, 88)), x=0.01, ha="left", fontsize=9)


def _text(measure: Measure, value: float, low: float, high: float, interval: bool) -> str:
    if measure.kind == "share":
        return cell_text(value, low, high, interval)
    if not np.isfinite(value):
        return ""
    head = f"{value:.3g}"
    return f"{head}\n{low:.3g}–{high:.3g}" if interval and np.isfinite(low) and np.isfinite(high) else head


def heatmap(table: pd.DataFrame, measure: Measure, accused: str, x: Axis, y: Axis, title: str,
            box: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None)) -> Figure:
    """One cell per (x level, y level) of the kept points: colour and text the value, a second line
    its 95% interval; the PRIM box (limits on x and y) as a red rectangle; empty cells blank."""
    nx, ny = len(x.centres), len(y.centres)
    z, low, high = (np.full((ny, nx), np.nan) for _ in range(3))
    for r in table.itertuples():
        z[r.yi, r.xi], low[r.yi, r.xi], high[r.yi, r.xi] = r.value, r.low, r.high
    share = measure.kind == "share"
    finite = z[np.isfinite(z)]
    vmin, vmax = (0.0, 1.0) if share else (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    with style.rc():
        fig = _figure()
        ax = fig.subplots()
        mesh = ax.pcolormesh(np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5, np.ma.masked_invalid(z),
                             vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1, cmap=style.SEQUENTIAL)
        interval = nx <= 10 and ny <= 10
        if nx * ny <= 144:
            mid = (vmin + vmax) / 2
            for (i, j), v in np.ndenumerate(z):
                text = _text(measure, v, float(low[i, j]), float(high[i, j]), interval)
                ax.text(j, i, text, ha="center", va="center", fontsize=7 if interval else 6.5,
                        color="white" if v < mid else "#1A1A1A", linespacing=1.15)
        bx, by = box
        if bx is not None or by is not None:
            x0, x1 = (x.position(bx[0]), x.position(bx[1])) if bx else (-0.5, nx - 0.5)
            y0, y1 = (y.position(by[0]), y.position(by[1])) if by else (-0.5, ny - 0.5)
            x0, x1, y0, y1 = max(x0, -0.5), min(x1, nx - 0.5), max(y0, -0.5), min(y1, ny - 0.5)
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=3.2, zorder=4))
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=BOX_COLOR, lw=1.6, zorder=5,
                                   gid="prim-box"))
        ax.set_xticks(range(nx), x.labels, rotation=30 if x.edges is not None else 0, ha="right" if x.edges is not
                      None else "center")
        ax.set_yticks(range(ny), y.labels)
        ax.set_xlim(-0.5, nx - 0.5)
        ax.set_ylim(-0.5, ny - 0.5)
        ax.grid(False)
        ax.set_xlabel(style.parameter_label(x.name, 80) + (" (bins)" if x.edges is not None else ""))
        ax.set_ylabel(style.parameter_label(y.name, 40) + (" (bins)" if y.edges is not None else ""))
        bar = fig.colorbar(mesh, ax=ax, shrink=0.9, pad=0.02)
        notes = [measure.label] + (["cells: value, 95% interval"] if interval else []) + (
            ["red frame: PRIM box (discovery)"] if bx is not None or by is not None else [])
        bar.set_label("\n".join(notes), fontsize=7)
        _title(fig, title)
    return fig


def curves(table: pd.DataFrame, measure: Measure, accused: str, x: Axis, y: Axis | None, title: str) -> Figure:
    """The outcome against the x levels with its 95% band; one line per y level when y is given."""
    with style.rc():
        fig = _figure()
        ax = fig.subplots()
        groups = [(-1, table)] if y is None else list(table.groupby("yi", sort=True))
        for k, (yi, part) in enumerate(groups):
            part = part.sort_values("xi")
            xs = x.centres[part["xi"].to_numpy(dtype=int)]
            color = style.SERIES_COLORS[k % len(style.SERIES_COLORS)] if y is not None else style.accused_color(
                accused if accused != ALL else ALL)
            label = None if y is None else f"{y.name.split('.', 1)[-1]} = {y.labels[int(yi)]}"
            ax.fill_between(xs, part["low"], part["high"], color=color, alpha=0.18, lw=0)
            ax.plot(xs, part["value"], color=color, marker="o", ms=3.5, label=label)
        if measure.kind == "share":
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(style.parameter_label(x.name, 80) + (" (bin centres)" if x.edges is not None else ""))
        ax.set_ylabel("\n".join([measure.label[:60], "(band: 95% interval)"]), fontsize=8)
        if y is not None:  # beside the axes, never on a curve
            fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=7,
                       title=style.parameter_label(y.name, 30), title_fontsize=7)
        _title(fig, title)
    return fig


def survival(km: pd.DataFrame, title: str, head_of_state: list[int] | None) -> Figure:
    """One point's Kaplan-Meier share not yet in custody, one line per accused and all accused, 95% band."""
    with style.rc():
        fig = _figure((7.0, 3.0))
        ax = fig.subplots()
        for a, c in km.groupby("accused", sort=False):
            color = style.accused_color(a)
            ax.fill_between(c["month"], c["surv_low"], c["surv_high"], step="post", color=color, alpha=0.18, lw=0)
            ax.step(c["month"], c["surv"], where="post", color=color, lw=1.5, ls="--" if a == ALL else "-",
                    label=style.accused_label(a, head_of_state) + (f"\n({style.ALL_MEANS})" if a == ALL else ""))
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, km["month"].max())
        ax.set_xlabel("months since the warrant")
        ax.set_ylabel("share not yet in custody")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=7)  # beside, not on
        _title(fig, title)
    return fig
