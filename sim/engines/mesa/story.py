"""One Mesa run told in words: an event as a sentence, and the run's short account."""

from __future__ import annotations

from sim.engines.mesa.agents import Event
from sim.engines.mesa.model import TribunalModel

_SENTENCES = {
    "warrant_issued": "the Court issued an arrest warrant for {target} ({detail})",
    "warrant_sealed": "the warrant for {target} is under seal: {detail}",
    "warrant_unsealed": "the warrant for {target} became public ({detail})",
    "outreach": "the Prosecutor pressed {target} to cooperate ({detail})",
    "trip": "{actor} travelled to {target} ({detail})",
    "trip_cancelled": "{actor} called off a trip to {target} ({detail})",
    "arrest": "{actor} arrested {target} and surrendered them to the Court",
    "non_arrest": "{actor} ({detail}) did not arrest {target}",
    "finding": "the Court found {target} in non-compliance ({detail})",
    "withdrawal_notified": "{actor} notified its withdrawal from the Statute, {detail}",
    "withdrawal_effective": "{actor} left the Statute: {detail}",
    "regime_change": "the government of {actor} changed: {detail}",
    "surrender": "the new government of {actor} handed {target} over to the Court",
}


def describe(event: Event) -> str:
    """An event as one English sentence, e.g. 'Month 12: the head of state travelled to State 7 (state party).'"""
    text = _SENTENCES.get(event.event, "{actor} {event} {target} {detail}").format(**event._asdict())
    return f"Month {event.t}: {text[0].upper()}{text[1:]}."


def account(model: TribunalModel) -> str:
    """A short readable account of a finished (or running) replicate."""
    lines = [f"{model.month} months, {model.roster.n_states} states "
             f"({int(model.roster.member.sum())} states parties at the start), home: {model.home.name}."]
    for a in model.accused:
        fate = (f"in custody from month {a.custody_month} ({a.route.replace('_', ' ')})" if a.in_custody
                else "still at large")
        lines.append(f"- {a.name[0].upper()}{a.name[1:]}: {fate}; {a.trips} trips "
                     f"({a.trips_to_members} to states parties), {a.trips_cancelled} called off.")
    lines.append(f"- Non-compliance findings: {model.findings}; withdrawals notified: {model.withdrawals}; "
                 f"states parties at the end: {int(model.state_vars['member'].sum())}.")
    lines.append(f"- Court legitimacy: {model.params['court.legitimacy0']:.2f} at the start, "
                 f"{model.court.legitimacy:.2f} at the end.")
    key = [e for e in model.events if e.event in ("arrest", "surrender", "finding", "withdrawal_notified",
                                                   "regime_change", "warrant_unsealed")]
    if key:
        lines.append("Key events:")
        lines.extend(f"  {describe(e)}" for e in key[:20])
        if len(key) > 20:
            lines.append(f"  ... and {len(key) - 20} more in the event log.")
    return "\n".join(lines)
