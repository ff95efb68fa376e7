"""Figures of a PRIM trajectory (sim.analysis.discovery): the coverage-density trade-off and a box's limits."""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.analysis import style
from sim.analysis.discovery import Peeling, box_limits
from sim.errors import UserError
from sim.model.params import UnknownParameter


def _label(name: str) -> str:
    """A parameter's schema description and name, or the bare name of a column outside the schema."""
    try:
        return style.parameter_label(name, 40)
    except UnknownParameter:
        return name


def _p_text(p: float) -> str:
    return "" if not np.isfinite(p) else f" (p {p:.2g})" if p >= 1e-3 else " (p < .001)"


def tradeoff_figure(peeling: Peeling, chosen: int | None = None, title: str = "PRIM peeling trajectory") -> Figure:
    """Density against coverage of every box on the trajectory, coloured by the number of restricted
    parameters (the trade-off a box is chosen on); the chosen box is ringed."""
    t = peeling.trajectory
    levels = sorted(int(r) for r in t["res_dim"].unique())
    cmap = colormaps[style.SEQUENTIAL]
    colors = {r: cmap(0.9 * i / max(len(levels) - 1, 1)) for i, r in enumerate(levels)}
    with style.rc():
        fig = style.new_figure("tradeoff")
        ax = fig.subplots()
        ax.plot(t["coverage"], t["density"], color="#BBBBBB", lw=0.7, zorder=1)
        ax.scatter(t["coverage"], t["density"], c=[colors[int(r)] for r in t["res_dim"]], s=16, zorder=2,
                   edgecolors="none")
        handles = [Line2D([], [], ls="", marker="o", color=colors[r], label=str(r)) for r in levels]
        if chosen is not None:
            row = t[t["box"] == chosen]
            if row.empty:
                raise UserError(f"box {chosen} is not on the trajectory (0..{t['box'].max()})")
            ax.scatter(row["coverage"], row["density"], s=90, facecolors="none", edgecolors="#C00000", lw=1.2,
                       zorder=3)
            ax.annotate(f"box {chosen}", (row["coverage"].item(), row["density"].item()), xytext=(6, 6),
                        textcoords="offset points", color="#C00000", fontsize=7.5)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("coverage: share of the cases of interest inside the box")
        ax.set_ylabel("density: share of the box's\npoints that are of interest")
        fig.legend(handles=handles, title="restricted\nparameters", loc="outside right center", title_fontsize=7.5)
        points = f"{int(t['n'].iloc[0]):,} points"
        text = f"{title} ({len(t)} boxes on the peeling trajectory" + ("" if points in title else f", {points}") + ")"
        fig.suptitle("\n".join(textwrap.wrap(text, 72)), x=0.01, ha="left")
    return fig


def box_limits_figure(peeling: Peeling, box: int) -> Figure:
    """Each restricted parameter's range in the box within its full range (scaled to 0-1), with the
    limits' values and quasi-p-values; the title gives the box's coverage, density and mass."""
    limits = box_limits(peeling, box)
    row = peeling.trajectory.set_index("box").loc[box]
    with style.rc():
        fig = style.new_figure("box_limits")
        ax = fig.subplots()
        n = len(limits)
        for i, r in enumerate(limits.itertuples(index=False)):
            y = n - 1 - i
            span = r.maximum - r.minimum
            lo, hi = (r.lower - r.minimum) / span, (r.upper - r.minimum) / span
            ax.plot([0, 1], [y, y], color="#DDDDDD", lw=6, solid_capstyle="butt", zorder=1)
            ax.plot([lo, hi], [y, y], color="#0072B2", lw=6, solid_capstyle="butt", zorder=2)
            ax.annotate(style.fmt_value(r.lower) + _p_text(r.p_lower), (lo, y), xytext=(0, -9), ha="left",
                        textcoords="offset points", fontsize=6.8, va="top")
            ax.annotate(style.fmt_value(r.upper) + _p_text(r.p_upper), (hi, y), xytext=(0, 7), ha="right",
                        textcoords="offset points", fontsize=6.8, va="bottom")
        ax.set_yticks(np.arange(n)[::-1], [_label(p) for p in limits["parameter"]], fontsize=6.5)
        ax.set_ylim(-0.8, max(n, 1) - 0.2)
        ax.set_xlim(-0.05, 1.05)
        ax.set_xticks([0, 0.5, 1], ["minimum", "", "maximum"])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("range within the sampled range (bar: the box; p: quasi-p-value of the limit)")
        text = (f"Box {box}: coverage {row['coverage']:.2f}, density {row['density']:.2f}, mass {row['mass']:.2f}, "
                f"{n} restricted parameter{'s' if n != 1 else ''}")
        fig.suptitle("\n".join(textwrap.wrap(text, 90)), x=0.01, ha="left")
    return fig
