"""The Mesa agents: states, the court, the prosecutor and the accused (ODD §2, ODD §7).

A state's variables live in its model's per-state arrays (``model.state_vars``), read and
written through the agent's attributes, so that month-wide submodels (pressure decay,
norm dynamics, withdrawal) run as array operations over the same ``sim.model.rules`` formulas
while every decision that involves one state and one accused stays the agent's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import mesa
import numpy as np

from sim.model import rules

if TYPE_CHECKING:
    from sim.engines.mesa.model import TribunalModel

NOT_PENDING = -1


class Event(NamedTuple):
    """One line of the event log (ODD §4.11)."""

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


class State(mesa.Agent):
    """A UN member state: statute membership, sovereignty, compliance, capacity, alignment, appeal."""

    member = _Column()
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

    def __init__(self, model: "TribunalModel", index: int, name: str, code: str):
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
        at = self._withdraw_at
        return None if at == NOT_PENDING else at

    def arrest_probability(self, accused: "Accused") -> float:
        """P_ij: the chance this state arrests ``accused`` if it visits now."""
        m = self.model
        return float(rules.arrest_probability(m.arrest_coef, self.capacity, self.member, self.compliance,
                                              m.court.legitimacy, self.pressure, self.sovereignty, self.alignment,
                                              accused.head_of_state))

    def host(self, accused: "Accused", arrest_prob: float) -> bool:
        """Receive a visit: arrest with probability P_ij; an arrest strengthens this state's norm."""
        m = self.model
        if m.rng.random() >= arrest_prob:
            return False
        self.compliance = float(rules.compliance_after_arrest(self.compliance, m.params["states.arrest_norm_gain"]))
        return True


class Court(mesa.Agent):
    """The court: its legitimacy rises with arrests, falls with defiance, and drifts back to L0."""

    def __init__(self, model: "TribunalModel", legitimacy: float):
        super().__init__(model)
        self.name = "the Court"
        self.legitimacy = legitimacy

    def record_arrest(self) -> None:
        self.legitimacy = float(rules.legitimacy_after_arrest(self.legitimacy, self.model.params["court.arrest_gain"]))

    def respond_to_refusal(self, host: State, accused: "Accused") -> None:
        """A state party failed to arrest: perhaps a non-compliance finding; legitimacy suffers either way."""
        m, p = self.model, self.model.params
        finding = bool(m.rng.random() < p["court.finding_prob"])
        if finding:
            host.findings += 1
            host.pressure = float(rules.add_pressure(host.pressure, p["court.finding_pressure"]))
            m.findings += 1
            m.log("finding", self.name, host.name, f"failure to arrest {accused.name}")
        self.legitimacy = float(rules.legitimacy_after_defiance(self.legitimacy, p["court.defiance_loss"], finding))

    def note_nonmember_visit(self) -> None:
        self.legitimacy = float(rules.legitimacy_after_nonmember_visit(self.legitimacy,
                                                                       self.model.params["court.nonmember_loss"]))

    def drift(self) -> None:
        p = self.model.params
        self.legitimacy = float(rules.legitimacy_drift(self.legitimacy, p["court.legitimacy0"], p["court.reversion"]))


class Prosecutor(mesa.Agent):
    """The prosecutor: monthly outreach to the states the accused are likeliest to visit; unsealing."""

    def __init__(self, model: "TribunalModel"):
        super().__init__(model)
        self.name = "the Prosecutor"
        self.targets: list[int] = []

    def outreach(self) -> None:
        """Decay every state's pressure, then push the B most attractive destinations (ODD §7.2)."""
        m, p = self.model, self.model.params
        pressure = m.state_vars["pressure"]
        pressure[:] = rules.decay_pressure(pressure, p["prosecutor.pressure_decay"])
        free = [a for a in m.accused if not a.in_custody]
        budget = p["prosecutor.outreach_budget"]
        self.targets = []
        if not free or budget <= 0:
            return
        dest = m.destinations
        attraction = np.logaddexp.reduce([a.destination_logits(m.arrest_probabilities(a)) for a in free], axis=0)
        if budget >= len(dest):
            chosen = dest
        else:
            chosen = dest[np.argpartition(-attraction, budget - 1)[:budget]]
        pressure[chosen] = rules.add_pressure(pressure[chosen], p["prosecutor.outreach_boost"])
        self.targets = sorted(int(i) for i in chosen)
        if m.record_events:
            for i in self.targets:
                m.log("outreach", self.name, m.state(i).name, f"pressure now {pressure[i]:.2f}")

    def unseal(self) -> None:
        for accused in self.model.accused:
            if accused.sealed and self.model.rng.random() < self.model.params["prosecutor.unseal_rate"]:
                accused.make_public("unsealed by the Chamber")


class Accused(mesa.Agent):
    """A person under warrant: plans trips, weighs perceived risk, may be arrested or surrendered."""

    def __init__(self, model: "TribunalModel", index: int, head_of_state: bool, trip_rate: float,
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
        self.route = "none"
        self.trips = self.trips_to_members = self.trips_cancelled = 0
        self.last_trip: tuple[int, int, str] | None = None

    @property
    def in_custody(self) -> bool:
        return self.custody_month is not None

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

    def make_public(self, how: str) -> None:
        self.sealed = False
        self.model.log("warrant_unsealed", "the Court", self.name, how)

    def take_turn(self) -> None:
        """Plan a trip, choose a host by attraction, cancel if too risky, else travel (ODD §7.3)."""
        m = self.model
        arrest_prob = m.arrest_probabilities(self)  # from the state as this accused's turn starts
        if m.rng.random() >= rules.trip_probability(self.trip_rate):
            return
        logits = self.destination_logits(arrest_prob)
        weights = np.exp(logits - logits.max())
        cdf = np.cumsum(weights)
        k = min(int(np.searchsorted(cdf, m.rng.random() * cdf[-1], side="right")), len(cdf) - 1)
        host = m.state(int(m.destinations[k]))
        risk = float(self.perceived_risk(arrest_prob[k]))
        if risk > self.max_risk:
            self.trips_cancelled += 1
            self.last_trip = (m.month, host.index, "cancelled")
            m.log("trip_cancelled", self.name, host.name, f"perceived risk {risk:.3f}")
            return
        member = bool(host.member)
        self.trips += 1
        self.trips_to_members += member
        m.log("trip", self.name, host.name, "state party" if member else "non-party")
        if host.host(self, float(arrest_prob[k])):
            self.take_custody("arrested_by_host")
            m.court.record_arrest()
            self.last_trip = (m.month, host.index, "arrested")
            m.log("arrest", host.name, self.name, "arrested_by_host")
            return
        self.last_trip = (m.month, host.index, "refused" if member else "visited")
        m.log("non_arrest", host.name, self.name, "state party" if member else "non-party")
        if member:
            m.court.respond_to_refusal(host, self)
        else:
            m.court.note_nonmember_visit()
