"""The app's two figures, redrawn each month: the map of the states around the home state with the
accused's recent trips, and the monthly series. Sized for their tiles: shown at ``pictures.SCREEN_DPI``,
every text is at least MIN_TEXT_PT points (about 11 px)."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.analysis.plots import place_labels
from sim.app.choices import month_label
from sim.app.eventlog import RECENT_MONTHS, recent_trips
from sim.engines.mesa.model import TribunalModel

FIGURE_SIZE = (4.6, 3.4)  # inches, shown at 100 px an inch: fits a tile of Mesa's grid at 1400 px of window
MIN_TEXT_PT = 8.0
MAX_NAMED_HOSTS = 8  # hosts of recent trips named on the map
OUTCOME_STYLE = {  # trip outcome -> (colour, line style, label)
    "arrested": ("#1a9641", "-", "arrest"),
    "refused": ("#d7191c", "-", "state party refused"),
    "visited": ("#7b3294", "-", "visit to a non-party"),
    "cancelled": ("#7f7f7f", ":", "trip called off"),
}


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


def draw_states(model: TribunalModel) -> Figure:
    """The states around the home state: shape = statute membership, colour = compliance, size = appeal;
    lines = trips of the last months (newest boldest), coloured by what the host did."""
    v = model.state_vars
    xy = state_positions(model)
    home = model.roster.home
    others = np.arange(model.roster.n_states) != home
    fig = Figure(figsize=FIGURE_SIZE)
    ax = fig.add_axes((0.0, 0.0, 0.64, 0.86))
    cax = fig.add_axes((0.68, 0.58, 0.025, 0.3))
    size = 8 + 16 * np.clip(np.exp(v["log_appeal"]), 0, 6)
    pending = v["_withdraw_at"] >= 0
    norm: dict[str, Any] = dict(cmap="RdYlGn", vmin=0, vmax=1)
    for is_member, marker in ((True, "o"), (False, "s")):
        sel = others & (v["member"] == is_member)
        sc = ax.scatter(xy[sel, 0], xy[sel, 1], s=size[sel], c=v["compliance"][sel], marker=marker,
                        edgecolors=np.where(pending[sel], "#ff7f00", "#333333").tolist(),
                        linewidths=np.where(pending[sel], 1.6, 0.4).tolist(), zorder=3, **norm)
    bar = fig.colorbar(sc, cax=cax)
    bar.set_label("compliance", fontsize=MIN_TEXT_PT)
    bar.ax.tick_params(labelsize=MIN_TEXT_PT)
    head_of_state = {a.name: a.head_of_state for a in model.accused}
    trips = recent_trips(model)
    for t, who, host, outcome in trips:
        colour, style, _ = OUTCOME_STYLE[outcome]
        age = model.month - 1 - t
        alpha = 1.0 if age == 0 else 0.55 * (1 - age / RECENT_MONTHS) + 0.1
        width = 2.0 if head_of_state[who] else 1.2
        ax.plot([0, xy[host, 0]], [0, xy[host, 1]], style, color=colour, alpha=alpha, lw=width, zorder=2)
        if age == 0 and outcome in ("arrested", "refused"):
            ax.scatter(xy[host, 0], xy[host, 1], s=180, marker="o" if outcome == "arrested" else "X", facecolors="none"
                       if outcome == "arrested" else colour, edgecolors=colour, linewidths=2.0, zorder=4)
    hosts = list(dict.fromkeys(host for _, _, host, _ in reversed(trips)))  # the newest trip's host first
    ax.set_xlim(-1.42, 1.42)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.scatter([0], [0], s=300, marker="*", color="black", zorder=5)
    ax.annotate(f"home: {model.roster.names[home]}", (0, 0), xytext=(0, -12), textcoords="offset points",
                ha="center", va="top", fontsize=MIN_TEXT_PT + 1, weight="bold")
    regions = [ax.text(1.17 * np.cos(mid), 1.15 * np.sin(mid), textwrap.fill(name, 12), ha="center", va="center",
                       fontsize=MIN_TEXT_PT, color="#444", linespacing=1.0)
               for r, name in enumerate(model.roster.region_names)
               for mid in [2 * np.pi * (r + 0.5) / len(model.roster.region_names)]]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # fix the layout (the equal aspect) first, so names are placed where they will be drawn
    taken = [r.get_window_extent(canvas.get_renderer()).expanded(1.1, 1.4) for r in regions]
    place_labels(ax, xy[hosts, 0], xy[hosts, 1], [model.roster.names[h] for h in hosts], fontsize=MIN_TEXT_PT,
                 limit=MAX_NAMED_HOSTS, avoid=taken)  # hosts by name, where one covers no other name nor a region's
    handles = [Line2D([], [], marker="o", ls="", mfc="#bbb", mec="#333", label="state party"),
               Line2D([], [], marker="s", ls="", mfc="#bbb", mec="#333", label="non-party"),
               Line2D([], [], marker="s", ls="", mfc="white", mec="#ff7f00", mew=2, label="withdrawal notified"),
               *[Line2D([], [], color=c, ls=s, lw=2, label=lab) for c, s, lab in OUTCOME_STYLE.values()]]
    fig.legend(handles=handles, loc="lower left", fontsize=MIN_TEXT_PT, frameon=False, bbox_to_anchor=(0.62, 0.0),
               title="size: appeal", title_fontsize=MIN_TEXT_PT, alignment="left", handlelength=1.6,
               borderaxespad=0.2, labelspacing=0.3)
    fig.text(0.01, 0.985, month_label(model).capitalize(), fontsize=MIN_TEXT_PT + 2, weight="bold", va="top")
    fig.text(0.01, 0.915, "nearer the centre: more aligned with home", fontsize=MIN_TEXT_PT, color="#555", va="top")
    return fig


def draw_series(model: TribunalModel) -> Figure:
    """Court legitimacy, states parties, mean compliance and accused in custody, month by month."""
    data = model.datacollector.get_model_vars_dataframe()
    months = np.arange(len(data))
    horizon = model.params.horizon
    fig = Figure(figsize=FIGURE_SIZE)
    axes = fig.subplots(2, 2, sharex=True, gridspec_kw=dict(left=0.1, right=0.98, top=0.92, bottom=0.13,
                                                            hspace=0.34, wspace=0.28))
    panels = [("legitimacy", "court legitimacy", (0, 1)), ("members", "states parties", None),
              ("mean_compliance", "mean compliance", (0, 1)), ("share_in_custody", "accused in custody (share)",
                                                               (-0.02, 1.02))]
    for ax, (column, title, ylim) in zip(axes.flat, panels):
        ax.plot(months, data[column].to_numpy(), drawstyle="steps-post" if column == "share_in_custody" else "default",
                color="#2c7fb8", lw=1.6)
        ax.set_title(title, fontsize=MIN_TEXT_PT + 1)
        ax.set_xlim(0, horizon)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=MIN_TEXT_PT)
    axes[0, 0].axhline(model.params["court.legitimacy0"], color="#999", ls="--", lw=1)
    axes[0, 1].yaxis.get_major_locator().set_params(integer=True)  # states parties: a count
    axes[1, 1].set_yticks([0, 0.25, 0.5, 0.75, 1], ["0", ".25", ".5", ".75", "1"])  # a share of the accused
    for ax in axes[1]:
        ax.set_xlabel("month", fontsize=MIN_TEXT_PT)
    return fig
