"""The Mesa agents: named views of one replicate's state that take their decisions through the protocol.

A replicate's state lives in one protocol object (sim.model.protocol, ``model.world``); each agent reads
and shows its own part of it (a state's compliance, the court's legitimacy, an accused's custody) and
acts by calling the protocol's step for its decision, so the Mesa engine takes exactly the decisions of the
other engines, on the same random numbers.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import mesa
import numpy as np

from sim.model import protocol, rules
from sim.model.layout import Layout
from sim.model.outcomes import NEVER, ROUTES
from sim.model.params import Params

SURRENDER_DETAIL = "handed over to the Court"  # a new government's handover; one from detention says since when


class Event(NamedTuple):
    """One line of the event log (ODD §9), with the actor and target named."""

    t: int
    event: str
    actor: str
    target: str
    detail: str


class Owner(Protocol):
    """What the agents read of the model that owns them (sim.engines.mesa.model.Any): the replicate's
    state, its parameters and layout, the month (the agents know their model only through this)."""

    world: Any  # the protocol's state of the replicate (sim.model.protocol.STATE)
    values: Any  # its parameters as named values (sim.model.values)
    params: Params
    layout: Layout
    attributes: dict[str, np.ndarray]
    month: int


def _never(month: int) -> int | None:
    return None if month == NEVER else int(month)


class State(mesa.Agent):
    """A state: statute membership, sovereignty, compliance, capacity, alignment, appeal (ODD §2); the home
    state's government decides the accused's fate when it changes (ODD §7.1)."""

    model: Owner  # the model that owns the agent, as the agents see it

    def __init__(self, model: Any, index: int, name: str, code: str):
        super().__init__(model)
        self.index = index  # in the roster
        self.column = int(model.layout.column_of[index])  # in the protocol's arrays (−1 for home)
        self.name = name
        self.code = code

    @property
    def is_home(self) -> bool:
        return self.column < 0

    def _value(self, name: str) -> Any:
        return getattr(self.model.world, name)[self.column]

    @property
    def member(self) -> bool:
        return not self.is_home and bool(self._value("member") > 0)

    @property
    def compliance(self) -> float:
        return float(self.model.world.home_compliance if self.is_home else self._value("compliance"))

    @property
    def sovereignty(self) -> float:
        return float(self.model.attributes["sovereignty"][self.index])

    @property
    def capacity(self) -> float:
        return float(self.model.attributes["capacity"][self.index])

    @property
    def alignment(self) -> float:
        return float(self.model.attributes["alignment"][self.index])

    @property
    def appeal(self) -> float:
        return float(np.exp(self.model.attributes["log_appeal"][self.index]))

    @property
    def pressure(self) -> float:
        return 0.0 if self.is_home else float(self._value("pressure"))

    @property
    def findings(self) -> int:
        return 0 if self.is_home else int(self._value("state_findings"))

    @property
    def withdraw_at(self) -> int | None:
        return None if self.is_home else _never(self._value("withdraw_at"))

    @property
    def join_at(self) -> int | None:
        return None if self.is_home else _never(self._value("join_at"))

    def arrest_probability(self, accused: Accused) -> float:
        """P_ij: the chance this state arrests ``accused`` if it visits now (ODD §7.3.1)."""
        if self.is_home:
            return 0.0
        return float(protocol.cell_probability(self.model.world, self.model.values, self.column, accused.index))

    def government(self) -> None:
        """ODD §7.1 (the home state): a detained accused may be handed over; a new government may take office."""
        protocol.regime_change(self.model.world, self.model.values, self.model.month)


class Court(mesa.Agent):
    """The court: issues the warrants; its legitimacy rises with arrests, falls with defiance, drifts to L0."""

    model: Owner  # the model that owns the agent, as the agents see it

    def __init__(self, model: Any):
        super().__init__(model)
        self.name = "the Court"

    @property
    def legitimacy(self) -> float:
        return float(self.model.world.legitimacy)

    def issue_warrants(self) -> None:
        """ODD §7.0 (month 0): the warrants, some under seal; a fallen government; warrants timed to a stay."""
        protocol.warrant_at_issue(self.model.world, self.model.values, self.model.month)

    def drift(self) -> None:
        """ODD §7.7: legitimacy reverts towards L0."""
        protocol.drift(self.model.world, self.model.values, self.model.month)


class Prosecutor(mesa.Agent):
    """The prosecutor: monthly outreach to the states the accused are likeliest to visit; unsealing."""

    model: Owner  # the model that owns the agent, as the agents see it

    def __init__(self, model: Any):
        super().__init__(model)
        self.name = "the Prosecutor"

    @property
    def targets(self) -> list[int]:
        """The roster indices of this month's outreach targets."""
        return [self.model.layout.order[e[3]] for e in self.model.world.events or ()
                if e[1] == protocol.Event.OUTREACH and e[0] == self.model.month - 1]

    def outreach(self) -> None:
        """ODD §7.2: pressure decays; the B most attractive destinations are pressed to cooperate."""
        protocol.outreach(self.model.world, self.model.values, self.model.month)

    def unseal(self) -> None:
        """ODD §7.4: each sealed warrant becomes public with probability ``prosecutor.unseal_rate``."""
        protocol.unsealing(self.model.world, self.model.values, self.model.month)


class Accused(mesa.Agent):
    """A person under warrant: plans trips, answers invitations, weighs perceived risk, may be arrested,
    surrendered or detained at home."""

    model: Owner  # the model that owns the agent, as the agents see it

    def __init__(self, model: Any, index: int, head_of_state: bool):
        super().__init__(model)
        self.index = index
        self.head_of_state = head_of_state
        self.name = "the head of state" if head_of_state else "the senior official"
        if model.params["accused.head_of_state"].count(int(head_of_state)) > 1:
            self.name += f" #{index}"
        self.trip_rate = model.params["accused.trip_rate"][index]
        self.risk_aversion = model.params["accused.risk_aversion"][index]
        self.max_risk = model.params["accused.max_risk"][index]

    def _count(self, name: str) -> int:
        return int(getattr(self.model.world, name)[self.index])

    @property
    def sealed(self) -> bool:
        return bool(self.model.world.sealed[self.index])

    @property
    def custody_month(self) -> int | None:
        return _never(self.model.world.custody_month[self.index])

    @property
    def detained_month(self) -> int | None:
        return _never(self.model.world.detained_month[self.index])

    @property
    def route(self) -> str:
        return ROUTES[self.model.world.route[self.index]]

    @property
    def in_custody(self) -> bool:
        return self.custody_month is not None

    @property
    def detained(self) -> bool:
        """Detained at home by a new government and not (yet) handed to the court."""
        return bool(self.model.world.detained[self.index])

    @property
    def free(self) -> bool:
        """Neither in the court's custody nor detained at home: travels and attracts outreach."""
        return bool(protocol.active(self.model.world, self.index))

    trips = property(lambda self: self._count("trips"))
    trips_to_members = property(lambda self: self._count("trips_to_members"))
    trips_cancelled = property(lambda self: self._count("trips_cancelled"))
    trips_at_issue = property(lambda self: self._count("trips_at_issue"))
    invitations = property(lambda self: self._count("invitations"))
    invitations_declined = property(lambda self: self._count("invitations_declined"))

    @property
    def last_trip(self) -> tuple[int, int, str] | None:
        """(month, host's roster index, what happened) of this accused's latest trip or called-off trip."""
        events = self.model.world.events or []
        order = self.model.layout.order
        for k in range(len(events) - 1, -1, -1):
            t, code, actor, target, value = events[k]
            if code == protocol.Event.TRIP_CANCELLED and actor == self.index:
                return t, int(order[target]), "cancelled"
            if code == protocol.Event.TRIP and actor == self.index:
                after = [e for e in events[k + 1:] if e[0] == t and e[3] == self.index
                         and e[1] in (protocol.Event.ARREST, protocol.Event.NON_ARREST)]
                member = int(value) % 2 == 1
                what = "arrested" if after and after[0][1] == protocol.Event.ARREST else \
                    ("refused" if member else "visited")
                return t, int(order[target]), what
        return None

    def perceived_risk(self, arrest_prob: Any) -> Any:
        """r_ij from P_ij: the whole risk of a public warrant, a share of it under seal (ODD §7.3.2)."""
        return rules.perceived_risk(arrest_prob, self.sealed, self.model.params["accused.sealed_awareness"])

    def take_turn(self) -> None:
        """ODD §7.3: an invitation perhaps (a head of state), a planned trip perhaps; the host decides."""
        protocol.turn(self.model.world, self.model.values, self.model.month, self.index)
