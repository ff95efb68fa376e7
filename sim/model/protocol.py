"""The month, written once: one replicate's decisions in the order of ODD §3, for every engine.

Each decision is written here once: its guard (who may decide), its random number (a slot of a
counter-based stream, sim.model.streams.draw(key, stream, month, slot)), its rule (sim.model.rules) and
its bookkeeping (what changes, what is counted, what is logged). ``SUBMODELS`` is the order of a month,
and ``month`` is generated from it.

- The Mesa engine (sim.engines.mesa) runs this module as Python over one replicate's state, with the
  passes over every state as NumPy operations (sim.model.passes); its agents are named views of that
  state and call these functions as their own decisions; ``note`` records the events of its log.
- The fused engine (sim.engines.fused) compiles this module with numba, the passes as loops
  (sim.engines.fused.passes), ``note`` as nothing, and runs replicates in parallel.
- The NumPy core (sim.engines.vectorized) takes the same decisions for many replicates at once as array
  operations; tests/test_protocol.py checks that all three give the same replicates.

A replicate's state (``STATE``) is a plain object here and a numba structure when compiled: its arrays
over the states other than home are in the layout's column order (sim.model.layout), which is also the
slot of a state in the streams; its arrays over the accused are indexed by accused j.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np

from sim.model import passes, rules
from sim.model.outcomes import NEVER, OUTCOMES, ROUTE_CODE
from sim.model.streams import Stream
from sim.model.streams import draw_python as draw  # the compiled protocol binds streams.draw (compiled)

SUBMODELS = ("warrant_at_issue", "regime_change", "outreach", "trips", "unsealing", "norms", "withdrawal",
             "accession", "drift")  # ODD §3 (the warrant at issue in month 0 only)
ARRESTED_BY_HOST = ROUTE_CODE["arrested_by_host"]
DOMESTIC_SURRENDER = ROUTE_CODE["domestic_surrender"]
COURT, PROSECUTOR, HOME, NOBODY = -1, -2, -3, -4  # actors and targets of events that are not a state or an accused
TRIP, TIMED_STAY, SUMMIT = 0.0, 2.0, 4.0  # the kinds of a visit (the value of a trip event, plus 1 to a state party)


class Event(IntEnum):
    """The events of the log (ODD §9): (month, event, actor, target, value) as numbers; the Mesa engine names
    the actor and target (a state's column, an accused, or one of COURT, PROSECUTOR, HOME, NOBODY)."""

    WARRANT_ISSUED = 0  # value: 1 under seal
    WARRANT_UNSEALED = 1  # value: 1 on custody, 0 by the Chamber
    OUTREACH = 2  # value: the target's pressure after the boost
    TRIP = 3  # value: the kind of trip (TRIP, TIMED_STAY, SUMMIT), plus 1 to a state party
    TRIP_CANCELLED = 4  # value: the perceived risk
    ARREST = 5
    NON_ARREST = 6  # value: 1 by a state party
    FINDING = 7
    WITHDRAWAL_NOTIFIED = 8  # value: the month it takes effect
    WITHDRAWAL_EFFECTIVE = 9
    REGIME_CHANGE = 10  # value: 1 the government had fallen before the warrants were issued
    SURRENDER = 11  # value: the month detention at home began, or −1
    TIMED_WARRANT = 12
    DETENTION = 13
    ACCESSION_DEPOSITED = 14  # value: the month it takes effect
    ACCESSION_EFFECTIVE = 15
    INVITATION = 16  # value: the perceived risk at the host
    INVITATION_DECLINED = 17  # value: the perceived risk at the host


# The state of one replicate: (name, dtype, shape) with shape "" for a number, or the axes it spans:
# S the states other than home (columns), F the accused, G the regions, "segments" the layout's runs of a region.
STATE: tuple[tuple[str, str, str], ...] = (
    ("key", "u8", ""),
    # the states (ODD §2): attributes, then what changes
    ("member", "f4", "S"), ("ever_member", "b1", "S"), ("standing", "f4", "S"), ("compliance", "f4", "S"),
    ("capacity", "f4", "S"), ("sovereignty", "f4", "S"), ("alignment", "f4", "S"), ("appeal", "f4", "S"),
    ("invite_weight", "f4", "S"), ("withdrawal_pull", "f4", "S"), ("pressure", "f4", "S"),
    ("state_findings", "f4", "S"), ("withdraw_at", "i4", "S"), ("join_at", "i4", "S"), ("join_pending", "b1", "S"),
    ("home_compliance", "f4", ""), ("regime_change", "f4", ""), ("pending", "i8", ""),
    # regions
    ("segment_start", "i8", "segments"), ("segment_region", "i8", "segments"), ("region_size", "f4", "G"),
    ("home_region", "i8", ""),
    # the court
    ("legitimacy", "f4", ""),
    # the accused
    ("sealed", "b1", "F"), ("detained", "b1", "F"), ("plan", "f8", "F"), ("factor", "f4", "F"), ("invite", "f8", ""),
    # outcomes (ODD §9), named as in sim.model.outcomes
    ("custody_month", "i4", "F"), ("route", "i4", "F"), ("detained_month", "i4", "F"), ("trips", "i4", "F"),
    ("trips_to_members", "i4", "F"), ("trips_cancelled", "i4", "F"), ("trips_at_issue", "i4", "F"),
    ("invitations", "i4", "F"), ("invitations_declined", "i4", "F"), ("findings", "i4", ""),
    ("withdrawals", "i4", ""), ("accessions", "i4", ""), ("regime_changes", "i4", ""),
    ("regime_change_month", "i4", ""),
    # working arrays of the month
    ("odds", "f4", "S"), ("weights", "f4", "FS"), ("scratch", "f4", "S"), ("cum", "f4", "S"),
    ("targets", "i8", "S"), ("picks", "i8", "S"), ("pull", "f8", "G"), ("free", "b1", "F"), ("fresh", "b1", ""),
    ("touched", "b1", ""),
)


class Replicate:
    """One replicate's state as a plain object (the Mesa engine); ``events`` is its log, or None."""

    __slots__ = (*(name for name, _, _ in STATE), "events")

    def __init__(self) -> None:
        self.events: list[tuple[int, int, int, int, float]] | None = None


def note(w: Any, event: int, t: int, actor: int, target: int, value: float) -> None:
    """Record an event in ``w.events`` when it is kept (the Mesa engine); compiled, this does nothing."""
    if w.events is not None:
        w.events.append((t, int(event), int(actor), int(target), float(value)))


# --- the start ----------------------------------------------------------------------------------------------------

def begin(w: Any, p: Any, start: Any, shared: Any, r: int) -> None:
    """Row ``r`` of a chunk's drawn start (sim.model.initial) as replicate ``w`` at the start of month 0: the warrants
    issued (each under seal with probability ``prosecutor.sealed_share``), nobody in custody, no pressure, no finding,
    nothing pending (ODD §5.3). ``shared`` holds the layout's regions."""
    s, f = start.member.shape[1], start.plan.shape[1]
    w.key = start.keys[r]
    w.member, w.standing, w.compliance = start.member[r].copy(), start.standing[r].copy(), start.compliance[r].copy()
    w.capacity, w.sovereignty, w.alignment = start.capacity[r], start.sovereignty[r], start.alignment[r]
    w.appeal, w.invite_weight, w.withdrawal_pull = start.appeal[r], start.invite_weight[r], start.withdrawal_pull[r]
    w.ever_member = w.member > 0
    w.pressure = np.zeros(s, np.float32)
    w.state_findings = np.zeros(s, np.float32)
    w.withdraw_at = np.full(s, NEVER, np.int32)
    w.join_at = np.full(s, NEVER, np.int32)
    w.join_pending = np.zeros(s, np.bool_)
    w.home_compliance = start.home_compliance[r]
    w.regime_change = start.regime_change[r]
    w.pending = 0
    w.segment_start, w.segment_region = shared.segment_start, shared.segment_region
    w.region_size, w.home_region = shared.region_size, shared.home_region
    w.legitimacy = p.court.legitimacy0
    w.sealed = np.zeros(f, np.bool_)
    for j in range(f):  # the warrants, issued at the start of month 0, some under seal (ODD §5.3)
        w.sealed[j] = rules.happens(draw(w.key, Stream.SEALED, 0, j), p.prosecutor.sealed_share)
        note(w, Event.WARRANT_ISSUED, 0, COURT, j, 1.0 if w.sealed[j] else 0.0)
    w.detained = np.zeros(f, np.bool_)
    w.plan, w.factor, w.invite = start.plan[r], start.factor[r], start.invite[r]
    w.custody_month = np.full(f, NEVER, np.int32)
    w.route = np.zeros(f, np.int32)
    w.detained_month = np.full(f, NEVER, np.int32)
    w.trips = np.zeros(f, np.int32)
    w.trips_to_members = np.zeros(f, np.int32)
    w.trips_cancelled = np.zeros(f, np.int32)
    w.trips_at_issue = np.zeros(f, np.int32)
    w.invitations = np.zeros(f, np.int32)
    w.invitations_declined = np.zeros(f, np.int32)
    w.findings, w.withdrawals, w.accessions, w.regime_changes = 0, 0, 0, 0
    w.regime_change_month = NEVER
    w.odds = np.empty(s, np.float32)
    w.weights = np.empty((f, s), np.float32)
    w.scratch = np.empty(s, np.float32)
    w.cum = np.empty(s, np.float32)
    w.targets = np.empty(s, np.int64)
    w.picks = np.empty(s, np.int64)
    w.pull = np.empty(shared.region_size.size, np.float64)
    w.free = np.zeros(f, np.bool_)
    w.fresh, w.touched = False, False


# --- the accused ----------------------------------------------------------------------------------------------------

def active(w: Any, j: int) -> bool:
    """Free: neither in the court's custody nor detained at home (travels, attracts outreach)."""
    return w.custody_month[j] == NEVER and not w.detained[j]


def take_custody(w: Any, j: int, route: int, t: int) -> None:
    """Custody is absorbing; a warrant becomes public when its person is taken into custody."""
    w.custody_month[j] = t
    w.route[j] = route
    w.detained[j] = False
    if w.sealed[j]:
        w.sealed[j] = False
        note(w, Event.WARRANT_UNSEALED, t, COURT, j, 1.0)


def cell_probability(w: Any, p: Any, i: int, j: int) -> Any:
    """P_ij now at host i (ODD §7.3.1)."""
    odds = rules.arrest_odds_against(p.arrest, w.standing[i], w.compliance[i], w.pressure[i], w.legitimacy)
    return rules.arrest_probability_from_factor(w.capacity[i], odds, w.factor[j])


def perceived(w: Any, p: Any, prob: Any, j: int) -> Any:
    """r_ij from P_ij (ODD §7.3.2)."""
    return rules.perceived_risk(prob, w.sealed[j], p.accused.sealed_awareness)


# --- ODD §7.0 the warrant at issue ------------------------------------------------------------------------------

def warrant_at_issue(w: Any, p: Any, t: int) -> None:
    """Month 0: a government already fallen when the warrants are issued (ODD §7.1's consequences now); warrants
    timed to a stay in a state party."""
    if t != 0:
        return
    if rules.happens(draw(w.key, Stream.FALLEN, 0, 0), p.home.fallen_at_issue):
        note(w, Event.REGIME_CHANGE, 0, HOME, NOBODY, 1.0)
        new_government(w, p, Stream.FALLEN_FATE, 0)
    if p.prosecutor.timed_share > 0:
        for j in range(w.sealed.size):
            if active(w, j) and rules.happens(draw(w.key, Stream.TIMED, 0, j), p.prosecutor.timed_share):
                timed_stay(w, p, j)


def timed_stay(w: Any, p: Any, j: int) -> None:
    """ODD §7.0.2: j's warrant is issued under seal while j stays in a state party, drawn ∝ j's destination weight
    (sealed risk) among the current members; no cancellation: the stay is a trip and a visit. With no state party
    there is no timed warrant."""
    if passes.members(w) == 0:
        return
    w.sealed[j] = True
    passes.arrest_odds(w, p)
    passes.destination_weights(w, p, j)
    passes.member_weights(w, j, w.scratch)
    u = draw(w.key, Stream.TIMED_HOST, 0, j)
    host = passes.choose(w.scratch, u, w.cum)
    if host < 0:
        passes.member_logits(w, p, j, w.scratch)
        host = passes.choose_in_logs(w.scratch, u, w.cum)
    w.trips_at_issue[j] += 1
    note(w, Event.TIMED_WARRANT, 0, COURT, j, host)
    prob = rules.timed_arrest_probability(p.prosecutor.timed_arrest, cell_probability(w, p, host, j))
    visit(w, p, 0, j, host, prob, Stream.TIMED_ARREST, Stream.TIMED_FINDING, TIMED_STAY)


# --- ODD §7.1 regime change at home ---------------------------------------------------------------------------

def regime_change(w: Any, p: Any, t: int) -> None:
    """Accused detained at home may be handed over; then a new home government may take office (with this
    replicate's probability) and decide each free accused's fate."""
    if p.home.detained_surrender_rate > 0:
        for j in range(w.sealed.size):
            if w.detained[j] and rules.happens(draw(w.key, Stream.DETAINED_SURRENDER, t, j),
                                               p.home.detained_surrender_rate):
                take_custody(w, j, DOMESTIC_SURRENDER, t)
                note(w, Event.SURRENDER, t, HOME, j, w.detained_month[j])
    if rules.happens(draw(w.key, Stream.REGIME, t, 0), w.regime_change):
        w.regime_changes += 1
        if w.regime_change_month == NEVER:
            w.regime_change_month = t
        note(w, Event.REGIME_CHANGE, t, HOME, NOBODY, 0.0)
        new_government(w, p, Stream.REGIME_FATE, t)


def new_government(w: Any, p: Any, stream: int, t: int) -> None:
    """ODD §7.1's consequences: one uniform per free accused; handed over, detained at home, or left free."""
    for j in range(w.sealed.size):
        if active(w, j):
            fate = rules.fate_at_regime_change(draw(w.key, stream, t, j), p.home.surrender_prob, p.home.detain_prob)
            if fate == rules.SURRENDERED:
                take_custody(w, j, DOMESTIC_SURRENDER, t)
                note(w, Event.SURRENDER, t, HOME, j, -1.0)
            elif fate == rules.DETAINED:
                w.detained[j] = True
                w.detained_month[j] = t
                note(w, Event.DETENTION, t, HOME, j, 0.0)


# --- ODD §7.2 outreach ------------------------------------------------------------------------------------------

def outreach(w: Any, p: Any, t: int) -> None:
    """Pressure decays; the prosecutor boosts the B states most attractive to the free accused (every state when B
    covers them all, none when nobody is free). Leaves the active accused's destination weights in ``w.weights``
    (``w.fresh``) when it ranked."""
    passes.decay_pressure(w, p)
    w.fresh, w.touched = False, False
    f, s = w.sealed.size, w.pressure.size
    active_now = w.free
    for j in range(f):
        active_now[j] = active(w, j)
    if not active_now.any():
        return
    budget = int(p.prosecutor.outreach_budget)
    n = 0
    if budget >= s:
        n = passes.every_state(w)
    elif budget > 0:
        passes.arrest_odds(w, p)
        for j in range(f):
            if active_now[j]:
                passes.destination_weights(w, p, j)
        w.fresh = True
        n = passes.outreach_targets(w, p, active_now, budget)
    passes.boost(w, p, n, active_now)
    for k in range(n):
        note(w, Event.OUTREACH, t, PROSECUTOR, w.targets[k], w.pressure[w.targets[k]])


# --- ODD §7.3 trips, invitations, arrests and findings -----------------------------------------------------

def trips(w: Any, p: Any, t: int) -> None:
    """Each accused in index order takes its turn (each sees what the earlier ones changed)."""
    for j in range(w.sealed.size):
        turn(w, p, t, j)


def turn(w: Any, p: Any, t: int, j: int) -> None:
    """ODD §7.3 for a free accused j: perhaps an invitation (heads of state, v1.5), perhaps a planned trip. Both use
    P_ij and r_ij as j's turn starts; a trip too risky is called off; at a visit the host arrests or refuses."""
    if not active(w, j):
        return
    invited = p.accused.head_of_state[j] > 0 and w.invite > 0 and \
        rules.happens(draw(w.key, Stream.INVITE, t, j), w.invite)
    plans = rules.happens(draw(w.key, Stream.PLAN, t, j), w.plan[j])
    if not (invited or plans):
        return
    host, prob_host = -1, 0.0
    if plans:  # ODD §7.3.4: the destination, by the weights as j's turn starts
        if w.touched or not w.fresh:
            passes.arrest_odds(w, p)
            passes.destination_weights(w, p, j)
        u = draw(w.key, Stream.DESTINATION, t, j)
        host = passes.choose(w.weights[j], u, w.cum)
        if host < 0:
            passes.arrest_odds(w, p)
            host = passes.choose_in_logs(passes.destination_logits(w, p, j), u, w.cum)
        prob_host = cell_probability(w, p, host, j)
    if invited:  # ODD §7.3.0
        w.invitations[j] += 1
        summit = passes.choose(w.invite_weight, draw(w.key, Stream.INVITE_HOST, t, j), w.cum)
        prob = cell_probability(w, p, summit, j)
        risk = perceived(w, p, prob, j)
        note(w, Event.INVITATION, t, summit, j, risk)
        if rules.cancels(risk, p.accused.max_risk[j]):
            w.invitations_declined[j] += 1
            note(w, Event.INVITATION_DECLINED, t, j, summit, risk)
        else:
            visit(w, p, t, j, summit, prob, Stream.INVITE_ARREST, Stream.INVITE_FINDING, SUMMIT)
            if not active(w, j):
                return
    if plans:  # ODD §7.3.5-8
        risk = perceived(w, p, prob_host, j)
        if rules.cancels(risk, p.accused.max_risk[j]):
            w.trips_cancelled[j] += 1
            note(w, Event.TRIP_CANCELLED, t, j, host, risk)
            return
        visit(w, p, t, j, host, prob_host, Stream.ARREST, Stream.FINDING, TRIP)


def visit(w: Any, p: Any, t: int, j: int, host: int, arrest_prob: Any, arrest_stream: int, finding_stream: int,
          kind: float) -> None:
    """ODD §7.3.6-8: the trip of kind ``kind`` (counted); the host arrests with ``arrest_prob``, else a state party's
    refusal may bring a finding; the court's legitimacy and the host's compliance, pressure and findings follow."""
    member = w.member[host] > 0
    w.trips[j] += 1
    w.trips_to_members[j] += member
    note(w, Event.TRIP, t, j, host, kind + (1.0 if member else 0.0))
    arrested = rules.happens(draw(w.key, arrest_stream, t, j), arrest_prob)
    finding = rules.refused(arrested, member) and rules.happens(draw(w.key, finding_stream, t, j),
                                                                p.court.finding_prob)
    w.legitimacy = np.float32(rules.legitimacy_after_visit(w.legitimacy, arrested, member, finding,
                                                           p.court.arrest_gain, p.court.defiance_loss,
                                                           p.court.nonmember_loss))
    if arrested or finding:
        w.compliance[host], w.pressure[host], w.state_findings[host] = rules.host_after_visit(
            w.compliance[host], w.pressure[host], w.state_findings[host], arrested, finding,
            p.states.arrest_norm_gain, p.court.finding_pressure)
    w.touched = True
    if arrested:
        note(w, Event.ARREST, t, host, j, 0.0)
        take_custody(w, j, ARRESTED_BY_HOST, t)
    else:
        note(w, Event.NON_ARREST, t, host, j, 1.0 if member else 0.0)
    if finding:
        w.findings += 1
        note(w, Event.FINDING, t, COURT, host, j)


# --- ODD §7.4 unsealing, ODD §7.5 norms, ODD §7.6 withdrawal and accession, ODD §7.7 drift ------------------

def unsealing(w: Any, p: Any, t: int) -> None:
    """Each sealed warrant becomes public with probability ``prosecutor.unseal_rate``."""
    for j in range(w.sealed.size):
        if w.sealed[j] and rules.happens(draw(w.key, Stream.UNSEAL, t, j), p.prosecutor.unseal_rate):
            w.sealed[j] = False
            note(w, Event.WARRANT_UNSEALED, t, COURT, j, 0.0)


def norms(w: Any, p: Any, t: int) -> None:
    """Compliance moves towards its regional mean (home included) and with the court's legitimacy."""
    passes.norms(w, p)


def withdrawal(w: Any, p: Any, t: int) -> None:
    """Members notify withdrawal with their hazard; notified withdrawals take effect ``withdrawal_delay`` months
    later (the same month for a delay of 0)."""
    if p.states.withdrawal_rate > 0:
        n = passes.withdrawal_candidates(w, w.picks)
        passes.withdrawal_hazards(w, p, n, w.scratch)  # rules.withdrawal_probability_from_pull of each candidate
        for k in range(n):
            i = w.picks[k]
            if rules.happens(draw(w.key, Stream.WITHDRAW, t, i), w.scratch[k]):
                w.withdraw_at[i] = t + int(p.states.withdrawal_delay)
                w.withdrawals += 1
                w.pending += 1
                note(w, Event.WITHDRAWAL_NOTIFIED, t, i, COURT, w.withdraw_at[i])
    if w.pending > 0:
        take_effect(w, p, t, w.withdraw_at, 0.0, Event.WITHDRAWAL_EFFECTIVE)


def accession(w: Any, p: Any, t: int) -> None:
    """Never-members (not home) deposit accessions with their hazard, using compliance after this month's norms;
    accessions take effect ``accession_delay`` months later."""
    if p.states.accession_rate > 0:
        for k in range(passes.accession_candidates(w, w.picks)):
            i = w.picks[k]
            hazard = rules.accession_probability(p.states.accession_rate, w.compliance[i], w.alignment[i])
            if rules.happens(draw(w.key, Stream.ACCEDE, t, i), hazard):
                w.join_at[i] = t + int(p.states.accession_delay)
                w.join_pending[i] = True
                w.accessions += 1
                w.pending += 1
                note(w, Event.ACCESSION_DEPOSITED, t, i, COURT, w.join_at[i])
    if w.pending > 0:
        take_effect(w, p, t, w.join_at, 1.0, Event.ACCESSION_EFFECTIVE)


def take_effect(w: Any, p: Any, t: int, at: np.ndarray, member: float, event: int) -> None:
    """The withdrawals (member 0) or accessions (member 1) due in month t: membership, and so the host's standing
    in the arrest logit, change."""
    for k in range(passes.due(at, t, w.picks)):
        i = w.picks[k]
        w.member[i] = member
        w.ever_member[i] = w.ever_member[i] or member > 0
        w.standing[i] = rules.arrest_logit_standing(p.arrest, w.member[i], w.sovereignty[i], w.alignment[i])
        w.pending -= 1
        note(w, event, t, i, COURT, 0.0)


def drift(w: Any, p: Any, t: int) -> None:
    """The court's legitimacy reverts towards L0."""
    w.legitimacy = np.float32(rules.legitimacy_drift(w.legitimacy, p.court.legitimacy0, p.court.reversion))


# --- the month and the run ----------------------------------------------------------------------------------------

def _month_source() -> str:
    calls = "".join(f"    {name}(w, p, t)\n" for name in SUBMODELS)
    return f"def month(w, p, t):\n    \"\"\"Month t: {', '.join(SUBMODELS)}.\"\"\"\n{calls}"


exec(compile(_month_source(), f"<{__name__}.month>", "exec"), globals())
month: Any = globals()["month"]  # defined just above, from SUBMODELS


ACCUSED_OUTCOMES = tuple(o.name for o in OUTCOMES if not o.per_run and o.kind != "flag")  # whole numbers, (R, F, k)
RUN_OUTCOMES = tuple(o.name for o in OUTCOMES if o.per_run and o.kind != "real")  # whole numbers, (R, k)


def _record_source() -> str:
    lines = [f"    accused[:, {k}] = w.{name}\n" for k, name in enumerate(ACCUSED_OUTCOMES)]
    lines += [f"    run[{k}] = passes.members(w)\n" if name == "members_final" else f"    run[{k}] = w.{name}\n"
              for k, name in enumerate(RUN_OUTCOMES)]
    doc = "The replicate's whole-number outcomes into ``accused`` (F, k) and ``run`` (k,), in the schema's order."
    return f"def record(w, accused, run):\n    \"\"\"{doc}\"\"\"\n{''.join(lines)}"


exec(compile(_record_source(), f"<{__name__}.record>", "exec"), globals())
record: Any = globals()["record"]  # defined just above, from the outcome schema


def run(w: Any, p: Any, horizon: int, series: np.ndarray) -> None:
    """Every month to the horizon; the monthly series into ``series`` (T, 4) when it has rows."""
    for t in range(horizon):
        month(w, p, t)
        if series.shape[0]:
            passes.monthly(w, series[t])
