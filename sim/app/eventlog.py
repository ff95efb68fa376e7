"""The app's reading of the model's event log: the trips of the last months (for the map) and the
log as sentences, newest month first (for the log panel)."""

from __future__ import annotations

from sim.engines.mesa.model import TribunalModel
from sim.engines.mesa.story import describe

RECENT_MONTHS = 6  # trips drawn on the map, fading with age
LOG_LIMIT = 400  # sentences shown in the event log (newest first)


def recent_trips(model: TribunalModel, months: int = RECENT_MONTHS) -> list[tuple[int, str, int, str]]:
    """Trips of the last ``months`` months from the event log: (month, accused, state index, outcome)."""
    index = {name: i for i, name in enumerate(model.roster.names)}
    since = model.month - months
    trips: list[tuple[int, str, int, str]] = []
    for e in model.events:
        if e.t < since:
            continue
        if e.event == "trip_cancelled":
            trips.append((e.t, e.actor, index[e.target], "cancelled"))
        elif e.event == "trip":
            trips.append((e.t, e.actor, index[e.target], "visited"))
        elif e.event in ("arrest", "non_arrest") and trips and trips[-1][3] == "visited":
            t, who, host, _ = trips[-1]
            outcome = "arrested" if e.event == "arrest" else ("refused" if e.detail == "state party" else "visited")
            trips[-1] = (t, who, host, outcome)
    return trips


def log_lines(model: TribunalModel, limit: int = LOG_LIMIT) -> list[tuple[int, str]]:
    """The event log as (month, sentence), newest month first; a month's outreach in one sentence."""
    by_month: dict[int, list[str]] = {}
    outreach: dict[int, list[str]] = {}
    for e in model.events:
        if e.event == "outreach":
            if e.t not in outreach:
                outreach[e.t] = []
                by_month.setdefault(e.t, []).append("")  # the month's outreach sentence goes here
            outreach[e.t].append(e.target)
        else:
            by_month.setdefault(e.t, []).append(describe(e))
    lines = []
    for t in sorted(by_month, reverse=True):
        for sentence in by_month[t]:
            if not sentence:
                targets = outreach[t]
                sentence = (f"Month {t}: The Prosecutor pressed {len(targets)} "
                            f"state{'s' if len(targets) > 1 else ''} to cooperate ({', '.join(targets)}).")
            lines.append((t, sentence))
    return lines[:limit]
