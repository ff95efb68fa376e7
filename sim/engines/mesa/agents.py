"""The Mesa agents: states, the court, the prosecutor and the accused (ODD §2 and ODD §7).

A state's variables live in its model's per-state arrays (``model.state_vars``), read and
written through the agent's attributes, so that month-wide submodels (pressure decay,
norm dynamics, withdrawal, accession) run as array operations over the same ``sim.model.rules``
while every decision that involves one state and one accused stays the agent's own. Each
decision is a ``rules`` call on a uniform the agent draws: the agents own when they decide and
what follows, ``rules`` what the decision is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import mesa
import numpy as np

from sim.model import rules

if TYPE_CHECKING:
    from sim.engines.mesa.model import TribunalModel

NOT_PENDING = -1
SURRENDER_DETAIL = "handed over to the Court"  # a new government's handover; one from detention says since when


class Event(NamedTuple):
    """One line of the event log (ODD §9)."""

    t: int
    event: str
    actor: str
    target: str
    detail: str


class _Column:
    """An agent attribute stored in the model's per-state array of the same name."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, agent, owner=None):
        if agent is None:
            return self
        return agent.model.state_vars[self.name][agent.index].item()

    def __set__(self, agent, value):
        agent.model.state_vars[self.name][agent.index] = value


def _step_or_none(at: int) -> int | None:
    return None if at == NOT_PENDING else at


class State(mesa.Agent):
    """A state: statute membership, sovereignty, compliance, capacity, alignment, appeal; the home
    state's government also decides the fate of the accused when it changes (ODD §7.0-4.1)."""

    member = _Column()
    ever_member = _Column()
    region = _Column()
    partner = _Column()
    sovereignty = _Column()
    compliance = _Column()
    capacity = _Column()
    alignment = _Column()
    log_appeal = _Column()
    pressure = _Column()
    findings = _Column()
    withdrawn = _Column()
    _withdraw_at = _Column()
    _join_at = _Column()

    def __init__(self, model: TribunalModel, index: int, name: str, code: str):
        super().__init__(model)
        self.index = index
        self.name = name
        self.code = code

    @property
    def is_home(self) -> bool:
        return self.index == self.model.roster.home

    @property
    def appeal(self) -> float:
        return float(np.exp(self.log_appeal))

    @property
    def withdraw_at(self) -> int | None:
        return _step_or_none(self._withdraw_at)

    @property
    def join_at(self) -> int | None:
        return _step_or_none(self._join_at)

    def arrest_probability(self, accused: Accused) -> float:
        """P_ij: the chance this state arrests ``accused`` if it visits now."""
        m = self.model
        return float(rules.arrest_probability(m.arrest_coef, self.capacity, self.member, self.compliance,
                                              m.court.legitimacy, self.pressure, self.sovereignty, self.alignment,
                                              accused.head_of_state))

    def decides_arrest(self, arrest_prob: float) -> bool:
        """ODD §7.3.6: a visited state arrests with probability P_ij."""
        return bool(rules.happens(self.model.rng.random(), arrest_prob))

    def after_visit(self, arrested: bool, finding: bool) -> None:
        """ODD §7.3.6-7: an arrest strengthens this state's norm; a finding adds pressure and counts against it."""
        p = self.model.params
        compliance, pressure, findings = rules.host_after_visit(self.compliance, self.pressure, self.findings,
                                                                arrested, finding, p["states.arrest_norm_gain"],
                                                                p["court.finding_pressure"])
        self.compliance, self.pressure, self.findings = float(compliance), float(pressure), int(findings)

    # --- the home government (ODD §7.0.1 and ODD §7.1) ---------------------------------------------
    def new_government_decides(self, accused: Accused) -> None:
        """A new home government hands a free accused to the court, detains them at home, or neither:
        one uniform per accused (rules.fate_at_regime_change)."""
        m, p = self.model, self.model.params
        fate = rules.fate_at_regime_change(m.rng.random(), p["home.surrender_prob"], p["home.detain_prob"])
        if fate == rules.SURRENDERED:
            accused.take_custody("domestic_surrender")
            m.log("surrender", self.name, accused.name, SURRENDER_DETAIL)
        elif fate == rules.DETAINED:
            accused.detain()
            m.log("detention", self.name, accused.name, "detained at home by the new government")

    def may_hand_over_detained(self, accused: Accused) -> None:
        """ODD §7.1: an accused detained at home is handed to the court with probability ψ each month."""
        m = self.model
        if rules.happens(m.rng.random(), m.params["home.detained_surrender_rate"]):
            accused.take_custody("domestic_surrender")
            m.log("surrender", self.name, accused.name, f"after detention at home since month {accused.detained_month}")


class Court(mesa.Agent):
    """The court: its legitimacy rises with arrests, falls with defiance, and drifts back to L0."""

    def __init__(self, model: TribunalModel, legitimacy: float):
        super().__init__(model)
        self.name = "the Court"
        self.legitimacy = legitimacy

    def decides_finding(self, arrested: bool, member: bool) -> bool:
        """ODD §7.3.7: after a state party's refusal, a non-compliance finding with probability φ (drawn only then)."""
        if arrested or not member:
            return False
        return bool(rules.makes_finding(self.model.rng.random(), arrested, member,
                                        self.model.params["court.finding_prob"]))

    def after_visit(self, arrested: bool, member: bool, finding: bool) -> None:
        """ODD §7.3.6-8: an arrest raises legitimacy; a refusal (less with a finding) or a non-member's visit
        lowers it."""
        p = self.model.params
        self.legitimacy = float(rules.legitimacy_after_visit(self.legitimacy, arrested, member, finding,
                                                             p["court.arrest_gain"], p["court.defiance_loss"],
                                                             p["court.nonmember_loss"]))

    def drift(self) -> None:
        p = self.model.params
        self.legitimacy = float(rules.legitimacy_drift(self.legitimacy, p["court.legitimacy0"], p["court.reversion"]))


class Prosecutor(mesa.Agent):
    """The prosecutor: monthly outreach to the states the accused are likeliest to visit; unsealing."""

    def __init__(self, model: TribunalModel):
        super().__init__(model)
        self.name = "the Prosecutor"
        self.targets: list[int] = []

    def outreach(self) -> None:
        """Decay every state's pressure, then push the B most attractive destinations (ODD §7.2)."""
        m, p = self.model, self.model.params
        pressure = m.state_vars["pressure"]
        pressure[:] = rules.decay_pressure(pressure, p["prosecutor.pressure_decay"])
        free = [a for a in m.accused if a.free]
        self.targets = []
        if not free:
            return
        logits = np.stack([a.destination_logits(m.arrest_probabilities(a)) for a in free])
        attraction = rules.log_outreach_attraction(logits, np.ones(len(free), dtype=bool))
        chosen = m.destinations[rules.outreach_targets(attraction[None, :], p["prosecutor.outreach_budget"], True)[0]]
        pressure[chosen] = rules.add_pressure(pressure[chosen], p["prosecutor.outreach_boost"])
        self.targets = [int(i) for i in chosen]
        if m.record_events:
            for i in self.targets:
                m.log("outreach", self.name, m.state(i).name, f"pressure now {pressure[i]:.2f}")

    def unseal(self) -> None:
        """ODD §7.4: each sealed warrant becomes public with probability ``prosecutor.unseal_rate``."""
        for accused in self.model.accused:
            if accused.sealed and rules.happens(self.model.rng.random(), self.model.params["prosecutor.unseal_rate"]):
                accused.make_public("unsealed by the Chamber")


class Accused(mesa.Agent):
    """A person under warrant: plans trips, weighs perceived risk, may be arrested, surrendered or detained at home."""

    def __init__(self, model: TribunalModel, index: int, head_of_state: bool, trip_rate: float,
                 risk_aversion: float, max_risk: float, sealed: bool):
        super().__init__(model)
        self.index = index
        self.head_of_state = head_of_state
        self.name = "the head of state" if head_of_state else "the senior official"
        if model.params["accused.head_of_state"].count(int(head_of_state)) > 1:
            self.name += f" #{index}"
        self.trip_rate = trip_rate
        self.risk_aversion = risk_aversion
        self.max_risk = max_risk
        self.sealed = sealed
        self.custody_month: int | None = None
        self.detained_month: int | None = None
        self.route = "none"
        self.trips = self.trips_to_members = self.trips_cancelled = self.trips_at_issue = 0
        self.last_trip: tuple[int, int, str] | None = None

    @property
    def in_custody(self) -> bool:
        return self.custody_month is not None

    @property
    def detained(self) -> bool:
        """Detained at home by a new government and not (yet) handed to the court."""
        return self.detained_month is not None and not self.in_custody

    @property
    def free(self) -> bool:
        """Neither in the court's custody nor detained at home: travels and attracts outreach."""
        return self.custody_month is None and self.detained_month is None

    def perceived_risk(self, arrest_prob):
        return rules.perceived_risk(arrest_prob, self.sealed, self.model.params["accused.sealed_awareness"])

    def destination_logits(self, arrest_prob):
        """Log attraction of every destination given its arrest probability for this accused."""
        m = self.model
        return rules.destination_logit(m.state_vars["log_appeal"][m.destinations],
                                       m.state_vars["alignment"][m.destinations], self.perceived_risk(arrest_prob),
                                       m.params["accused.travel_alignment"], self.risk_aversion)

    def take_custody(self, route: str) -> None:
        self.custody_month = self.model.month
        self.route = route
        if self.sealed:
            self.make_public("on custody")

    def detain(self) -> None:
        self.detained_month = self.model.month

    def make_public(self, how: str) -> None:
        self.sealed = False
        self.model.log("warrant_unsealed", "the Court", self.name, how)

    def _draw(self, weights: np.ndarray) -> int:
        """An index drawn with probability proportional to ``weights`` (one uniform, inverse CDF)."""
        cdf = np.cumsum(weights)
        return min(int(np.searchsorted(cdf, self.model.rng.random() * cdf[-1], side="right")), len(cdf) - 1)

    def take_turn(self) -> None:
        """Plan a trip, choose a host by attraction, cancel if too risky, else travel (ODD §7.3)."""
        m = self.model
        arrest_prob = m.arrest_probabilities(self)  # from the state as this accused's turn starts
        if not rules.happens(m.rng.random(), rules.trip_probability(self.trip_rate)):
            return
        logits = self.destination_logits(arrest_prob)
        k = self._draw(np.exp(logits - logits.max()))
        host = m.state(int(m.destinations[k]))
        risk = float(self.perceived_risk(arrest_prob[k]))
        if rules.cancels(risk, self.max_risk):
            self.trips_cancelled += 1
            self.last_trip = (m.month, host.index, "cancelled")
            m.log("trip_cancelled", self.name, host.name, f"perceived risk {risk:.3f}")
            return
        self.visit(host, float(arrest_prob[k]))

    def timed_stay(self) -> None:
        """ODD §7.0.2: the warrant is issued under seal while this accused stays in a state party, drawn among
        the current members by destination weight (sealed risk); no cancellation: the stay is a trip."""
        m = self.model
        member = m.state_vars["member"][m.destinations]
        self.sealed = True
        arrest_prob = m.arrest_probabilities(self)
        logits = self.destination_logits(arrest_prob)
        with np.errstate(over="ignore"):  # non-members' weights may overflow; they are set to 0
            weights = rules.timed_host_weights(np.exp(logits - logits[member].max()), member)
        k = self._draw(weights)
        host = m.state(int(m.destinations[k]))
        m.log("timed_warrant", "the Court", self.name, f"issued under seal during a stay in {host.name}")
        self.trips_at_issue += 1
        self.visit(host, float(arrest_prob[k]), "state party, at the warrant's issue")

    def visit(self, host: State, arrest_prob: float, detail: str | None = None) -> None:
        """ODD §7.3.6-8: the trip happens; the host arrests or not; the court responds; both bear the consequences."""
        m = self.model
        member = bool(host.member)
        self.trips += 1
        self.trips_to_members += member
        m.log("trip", self.name, host.name, detail or ("state party" if member else "non-party"))
        arrested = host.decides_arrest(arrest_prob)
        if arrested:
            self.take_custody("arrested_by_host")
            self.last_trip = (m.month, host.index, "arrested")
            m.log("arrest", host.name, self.name, "arrested_by_host")
        else:
            self.last_trip = (m.month, host.index, "refused" if member else "visited")
            m.log("non_arrest", host.name, self.name, "state party" if member else "non-party")
        finding = m.court.decides_finding(arrested, member)
        if finding:
            m.findings += 1
            m.log("finding", m.court.name, host.name, f"failure to arrest {self.name}")
        host.after_visit(arrested, finding)
        m.court.after_visit(arrested, member, finding)
