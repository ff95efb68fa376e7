"""The app's four tiles, redrawn after each of Mesa's steps and resets: the map, the monthly series,
the run's summary (who is where) and the event log in sentences. Each tile names the month as the
log does (``choices.month_label``)."""

from __future__ import annotations

import html

import solara
from mesa.visualization.utils import update_counter

from sim.app.choices import AppModel, month_label
from sim.app.drawing import draw_series, draw_states
from sim.app.eventlog import log_lines
from sim.app.pictures import SCREEN_DPI, SHARPNESS, Picture, css_width, png_url
from sim.engines.mesa.model import TribunalModel

LATEST = "#fff3cd"  # background of the log's sentences of the month on show

GUIDE = """<div style='font-size:0.8em;color:#555;margin-top:10px;line-height:1.35'><b>How to use</b>:
Step advances one month, &#9654; plays month after month (Render Interval skips drawing).
Choose a scenario and move sliders under <i>Parameters</i> (left), then press Reset to start a new run
with them; the same seed replays the same run. Months count from 0, as in the event log, whose sentences
of the month on show are highlighted. On the map each state sits in its regional sector,
nearer the home state (star) the more aligned with it; lines are the trips of the last six months, the
newest boldest, their hosts named.</div>"""


def _figure(draw, model: TribunalModel) -> tuple[str, int]:
    fig = draw(model)
    return png_url(fig, dpi=SCREEN_DPI * SHARPNESS), css_width(fig)


@solara.component
def StatesView(model: TribunalModel):
    update_counter.get()  # redraw after Mesa's step and reset
    url, width = solara.use_memo(lambda: _figure(draw_states, model), [model, model.month])
    Picture(url, "the states, the home state and recent trips", width)


@solara.component
def SeriesView(model: TribunalModel):
    update_counter.get()  # redraw after Mesa's step and reset
    url, width = solara.use_memo(lambda: _figure(draw_series, model), [model, model.month])
    Picture(url, "court legitimacy, states parties, mean compliance and custody by month", width)


@solara.component
def EventLog(model: TribunalModel):
    """Sentences of the event log; those of the month on show (the month just simulated) are highlighted."""
    update_counter.get()
    latest = model.month - 1
    rows = []
    for t, sentence in log_lines(model):
        mark = f' class="latest" style="background:{LATEST};padding:1px 4px"' if t == latest else \
            ' style="padding:1px 4px"'
        rows.append(f"<li{mark}>{html.escape(sentence)}</li>")
    head = f'<b>Event log</b> · <span class="month">{month_label(model)}</span> · {len(model.events)} events'
    body = "".join(rows) or "<li>No events yet.</li>"
    solara.HTML(tag="div", unsafe_innerHTML=f'{head}<ul class="event-log" style="list-style:none;padding-left:0;'
                f'font-size:0.85em;max-height:330px;overflow-y:auto;margin-top:6px">{body}</ul>',
                style={"width": "100%"})


@solara.component
def Summary(model: AppModel):
    """Who is where: each accused, the court, the states parties; and the seed of this run."""
    update_counter.get()
    rows = []
    for a in model.accused:
        status = (f"in custody since month {a.custody_month} ({a.route.replace('_', ' ')})" if a.in_custody
                  else "at large")
        rows.append(f"<tr><td>{html.escape(a.name)}</td><td>{'sealed' if a.sealed else 'public'}</td>"
                    f"<td>{status}</td><td>{a.trips} ({a.trips_to_members})</td><td>{a.trips_cancelled}</td></tr>")
    members = int(model.state_vars["member"].sum())
    text = (f'<b>Run</b> · seed {model.seed} · <span class="month">{month_label(model)}</span>'
            f"<table class='run-table' style='width:100%;font-size:0.85em;margin:6px 0'><tr><th align=left>accused</th>"
            f"<th align=left>warrant</th><th align=left>status</th><th align=left>trips (to parties)</th>"
            f"<th align=left>called off</th></tr>{''.join(rows)}</table>"
            f"<div style='font-size:0.85em'>Court legitimacy {model.court.legitimacy:.3f} "
            f"(start {model.params['court.legitimacy0']:.2f}) · non-compliance findings {model.findings} · "
            f"withdrawals notified {model.withdrawals} · states parties {members} of {model.roster.n_states}"
            f"</div>{GUIDE}")
    solara.HTML(tag="div", unsafe_innerHTML=text, style={"width": "100%"})
