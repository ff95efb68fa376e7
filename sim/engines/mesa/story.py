"""One Mesa run told in words: an event as a sentence, and the run's short account."""

from __future__ import annotations

from sim.engines.mesa.agents import SURRENDER_DETAIL, Accused, Event
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
    "timed_warrant": "the warrant for {target} was timed to an arrest at hand: {detail}",
    "detention": "the new government of {actor} kept {target} in detention at home instead of handing them over",
    "accession_deposited": "{actor} deposited an instrument of accession to the Statute, {detail}",
    "accession_effective": "{actor} joined the Statute: {detail}",
    "invitation": "{actor} invited {target} to a summit or state visit ({detail})",
    "invitation_declined": "{actor} declined the invitation of {target} ({detail})",
}
_HANDOVER_FROM_DETENTION = "the government of {actor} handed {target} over to the Court, {detail}"
KEY_EVENTS = ("timed_warrant", "arrest", "surrender", "detention", "finding", "withdrawal_notified",
              "accession_deposited", "regime_change", "warrant_unsealed", "invitation_declined")


def describe(event: Event) -> str:
    """An event as one English sentence, e.g. 'Month 12: the head of state travelled to State 7 (state party).'"""
    template = _SENTENCES.get(event.event, "{actor} {event} {target} {detail}")
    if event.event == "surrender" and event.detail != SURRENDER_DETAIL:
        template = _HANDOVER_FROM_DETENTION
    text = template.format(**event._asdict())
    return f"Month {event.t}: {text[0].upper()}{text[1:]}."


def _fate(a: Accused) -> str:
    """Where an accused stands: in custody (and how), detained at home, or at large."""
    detained = f"detained at home from month {a.detained_month}" if a.detained_month is not None else ""
    if a.in_custody:
        custody = f"in custody from month {a.custody_month} ({a.route.replace('_', ' ')})"
        return f"{custody}, after being {detained}" if detained else custody
    return detained or "still at large"


def account(model: TribunalModel) -> str:
    """A short readable account of a finished (or running) replicate."""
    lines = [f"{model.month} months, {model.roster.n_states} states "
             f"({int(model.roster.member.sum())} states parties at the start), home: {model.home.name}."]
    for a in model.accused:
        at_issue = f", {a.trips_at_issue} at the warrant's issue" if a.trips_at_issue else ""
        invited = (f"; {a.invitations} invitations, {a.invitations_declined} declined" if a.invitations else "")
        lines.append(f"- {a.name[0].upper()}{a.name[1:]}: {_fate(a)}; {a.trips} trips "
                     f"({a.trips_to_members} to states parties{at_issue}), {a.trips_cancelled} called off{invited}.")
    lines.append(f"- Changes of government at home: {model.regime_changes}; "
                 f"non-compliance findings: {model.findings}; withdrawals notified: {model.withdrawals}; "
                 f"accessions deposited: {model.accessions}; "
                 f"states parties at the end: {int(model.state_vars['member'].sum())}.")
    lines.append(f"- Court legitimacy: {model.params['court.legitimacy0']:.2f} at the start, "
                 f"{model.court.legitimacy:.2f} at the end.")
    key = [e for e in model.events if e.event in KEY_EVENTS]
    if key:
        lines.append("Key events:")
        lines.extend(f"  {describe(e)}" for e in key[:20])
        if len(key) > 20:
            lines.append(f"  ... and {len(key) - 20} more in the event log.")
    return "\n".join(lines)
