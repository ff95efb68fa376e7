"""The fan chart of a forecast: the probability of custody by each date from the forecast's date, the
posterior's 50% and 90% bands, the Monte Carlo band drawn apart, and the record to date marked."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.analysis import style
from sim.data.situation import RecordToDate

COLOR = "#0072B2"
MC_COLOR = "#D55E00"
Z95 = 1.959964


def _days(values: Sequence[str] | pd.Series) -> np.ndarray:
    """Dates (ISO text) as matplotlib's date numbers."""
    return np.asarray(date2num(pd.to_datetime(pd.Series(list(values))).dt.to_pydatetime()), dtype=float)


def _day(value: dt.date | str) -> float:
    return float(date2num(dt.date.fromisoformat(value) if isinstance(value, str) else value))


def fan_figure(fan: pd.DataFrame, person: str, record: RecordToDate, source: str, draws: int, replicates: int,
               horizon_dates: Sequence[str] = ()) -> Figure:
    """One accused's fan chart from its rows of fan.csv (month, date, p, mc_se, p_q05 ... p_q95)."""
    fan = fan.sort_values("month")
    x = _days(fan["date"])
    p = fan["p"].to_numpy(float)
    with style.rc():
        fig = style.new_figure("fan")
        ax = fig.add_subplot()
        issue, today = _day(record.issue), _day(record.date)
        ax.axvspan(issue, today, color="#EEEEEE", lw=0, zorder=0)
        ax.axvline(today, color="#555555", lw=0.9)
        ax.text(0.01, 0.97, _record_words(record), transform=ax.transAxes, ha="left", va="top", fontsize=6.8,
                color="#333333", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5})
        ax.fill_between(x, fan["p_q05"], fan["p_q95"], color=COLOR, alpha=0.15, lw=0, step="post")
        ax.fill_between(x, fan["p_q25"], fan["p_q75"], color=COLOR, alpha=0.32, lw=0, step="post")
        ax.step(x, p, where="post", color=COLOR, lw=1.6)
        se = fan["mc_se"].to_numpy(float)
        for sign in (-1, 1):
            ax.step(x, np.clip(p + sign * Z95 * se, 0, 1), where="post", color=MC_COLOR, lw=0.7, ls=(0, (2, 1.5)))
        for day in horizon_dates:
            at = _day(day)
            row = min(int(np.searchsorted(x, at, side="right")) - 1, len(p) - 1)
            if 0 <= row < len(p):
                ax.axvline(at, color="#999999", lw=0.7, ls=":")
                ax.annotate(f"{p[row]:.2f} [{fan['p_q05'].iloc[row]:.2f}, {fan['p_q95'].iloc[row]:.2f}]",
                            (at, p[row]), xytext=(-4, 6), textcoords="offset points", ha="right", fontsize=7)
        top = float(np.nanmax(fan["p_q95"])) if len(fan) else 1.0
        ax.set_ylim(0, min(1.0, max(0.1, top * 1.25)))
        ends = [float(x[-1]) if len(x) else today, *(_day(d) for d in horizon_dates)]
        ax.set_xlim(issue, max(ends) + 60)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylabel("probability of custody by the date")
        handles = [Line2D([], [], color=COLOR, lw=1.6), Patch(color=COLOR, alpha=0.45, lw=0),
                   Patch(color=COLOR, alpha=0.15, lw=0), Line2D([], [], color=MC_COLOR, lw=0.7, ls=(0, (2, 1.5))),
                   Patch(color="#EEEEEE", lw=0)]
        labels = ["forecast p (posterior mean)", "posterior 50% band", "posterior 90% band",
                  "Monte Carlo 95% (p ± 1.96 mc_se)", "the record to date"]
        fig.legend(handles, ["\n".join(textwrap.wrap(t, 22)) for t in labels], loc="outside right center",
                   labelspacing=1.0)
        what = (f"{draws:,} draws of the posterior ({source}) × {replicates:,} replicates" if source != "defaults"
                else f"the scenario's parameters, {draws:,} × {replicates:,} replicates")
        fig.suptitle(f"{person}: probability of custody, given the record to {record.date.isoformat()}")
        ax.set_title("\n".join(textwrap.wrap(f"{what}; labels: p [posterior 90%] by each horizon", 110)),
                     fontsize=7.5, color="#444444", loc="left")
    return fig


def _record_words(record: RecordToDate) -> str:
    change = (f"government changed {record.regime_change}" if record.regime_changed
              else "no change of government")
    return "\n".join(textwrap.wrap(f"the record to date (shaded): {record.month} months at large since "
                                   f"{record.issue.isoformat()}, {change}", 34))
