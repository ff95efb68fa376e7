"""The Mesa model: one replicate, month by month, its agents acting in the order of the protocol's SUBMODELS."""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.agent import AgentSet

from sim.engines.mesa.agents import SURRENDER_DETAIL, Accused, Court, Event, Prosecutor, State
from sim.model import initial, passes, protocol, rules, values
from sim.model.batch import Batch
from sim.model.layout import Layout
from sim.model.outcomes import OUTCOMES, SERIES_COLUMNS, Outcomes
from sim.model.params import Params, as_params
from sim.model.seeding import root_seed

_E = protocol.Event


class TribunalModel(mesa.Model):
    """States, the court, its prosecutor and the accused under warrant; ``step()`` is one month.

    Replicate ``replicate`` of point ``point`` of ``seed`` (the same replicate every engine gives for that
    seed, point and replicate; ``sim run --seed N`` is replicate 0 of point 0). ``record_events`` keeps the
    event log, ``collect`` the monthly series (Mesa's DataCollector).

    >>> model = TribunalModel({"scenario.n_states": 20, "scenario.horizon_months": 12}, seed=1)
    >>> while model.running: model.step()
    >>> model.month
    12
    """

    def __init__(self, params: Params | dict | None = None, *, seed: Any = 0, point: int = 0,
                 replicate: int = 0, record_events: bool = True, collect: bool = True,
                 start: tuple[Layout, initial.Initial, int] | None = None, **overrides: Any):
        root = root_seed(seed if seed is not None else 0)
        super().__init__(seed=int(root.generate_state(1)[0]))  # Mesa's own generator (agent shuffles): unused here
        base = as_params(params)
        self.params = p = base.replace(overrides) if overrides else base
        self.record_events, self.collect = record_events, collect
        if start is None:
            batch = Batch.of({point: p}, [point], [replicate], root)
            layout = Layout.of(p)
            start = (layout, initial.draw(layout, batch, slice(0, 1)), 0)
        self.layout, begun, row = start
        self.roster = self.layout.roster
        self.values = values.of(p)
        self.attributes = {k: v[row] for k, v in begun.attributes.items()}
        self.world: Any = protocol.Replicate()  # the replicate's state (protocol.STATE's fields)
        self.world.events = [] if record_events else None
        with np.errstate(over="ignore"):  # the streams' 64-bit hashing wraps around by design
            protocol.begin(self.world, self.values, begun, self.layout, row)
        self.month = 0
        self._named: list[Event] = []
        self.states = AgentSet([State(self, i, self.roster.names[i], (self.roster.codes or self.roster.names)[i])
                                for i in range(self.roster.n_states)], random=self.random)
        self._state_list = list(self.states)
        self.home = self._state_list[self.roster.home]
        self.court = Court(self)
        self.prosecutor = Prosecutor(self)
        self.accused = [Accused(self, j, bool(p["accused.head_of_state"][j])) for j in range(p.n_accused)]
        self.accused_agents = AgentSet(self.accused, random=self.random)
        self._submodels = {"warrant_at_issue": self.court.issue_warrants, "regime_change": self.home.government,
                           "outreach": self.prosecutor.outreach, "trips": self.trips,
                           "unsealing": self.prosecutor.unseal, "norms": self.norms, "withdrawal": self.withdrawal,
                           "accession": self.accession, "drift": self.court.drift}
        self._monthly = np.zeros(len(SERIES_COLUMNS) - 1)
        passes.monthly(self.world, self._monthly)
        self.datacollector = mesa.DataCollector(model_reporters={
            name: (lambda m, k=k: m._monthly[k]) for k, name in enumerate(SERIES_COLUMNS[1:])})
        self.datacollector.collect(self)

    # --- the month -------------------------------------------------------------------------------------
    def trips(self) -> None:
        """ODD §7.3: each accused in index order takes its turn."""
        self.accused_agents.do("take_turn")

    def norms(self) -> None:
        """ODD §7.5: every state's compliance moves towards its region's mean and with the court's legitimacy."""
        protocol.norms(self.world, self.values, self.month)

    def withdrawal(self) -> None:
        """ODD §7.6: members notify withdrawal; withdrawals due take effect."""
        protocol.withdrawal(self.world, self.values, self.month)

    def accession(self) -> None:
        """ODD §7.6: never-members deposit accessions; accessions due take effect."""
        protocol.accession(self.world, self.values, self.month)

    def step(self) -> None:
        """One month: each submodel of protocol.SUBMODELS, taken by the agent it belongs to."""
        with np.errstate(over="ignore"):  # the streams' 64-bit hashing wraps around by design
            for name in protocol.SUBMODELS:
                self._submodels[name]()
        self.month += 1
        if self.collect:
            passes.monthly(self.world, self._monthly)
            self.datacollector.collect(self)
        if self.month >= self.params.horizon:
            self.running = False

    def run(self) -> TribunalModel:
        """Step to the horizon and return the model."""
        while self.running:
            self.step()
        return self

    # --- views -------------------------------------------------------------------------------------------
    def state(self, index: int) -> State:
        return self._state_list[index]

    @property
    def destinations(self) -> np.ndarray:
        """The roster indices of every state but home, in roster order."""
        return np.sort(self.layout.order)

    def arrest_probabilities(self, accused: Accused) -> np.ndarray:
        """P_ij now at every destination (``destinations`` order): the chance each would arrest ``accused``."""
        w = self.world
        odds = rules.arrest_odds_against(self.values.arrest, w.standing, w.compliance, w.pressure, w.legitimacy)
        prob = rules.arrest_probability_from_factor(w.capacity, odds, w.factor[accused.index])
        return prob[np.argsort(self.layout.order)]

    @property
    def findings(self) -> int:
        return int(self.world.findings)

    @property
    def withdrawals(self) -> int:
        return int(self.world.withdrawals)

    @property
    def accessions(self) -> int:
        return int(self.world.accessions)

    @property
    def regime_changes(self) -> int:
        return int(self.world.regime_changes)

    @property
    def fallen_at_issue(self) -> bool:
        """ODD §7.0.1: the government the accused served had fallen when the warrants were issued."""
        return any(e[1] == _E.REGIME_CHANGE and e[4] == 1.0 for e in self.world.events or ())

    @property
    def state_vars(self) -> dict[str, np.ndarray]:
        """Every state's variables in roster order (home included), for drawing and inspection."""
        w, lay, n = self.world, self.layout, self.roster.n_states
        cols = lay.order

        def spread(values: np.ndarray, home: Any, dtype: Any) -> np.ndarray:
            out = np.full(n, home, dtype)
            out[cols] = values
            return out

        compliance = spread(w.compliance, w.home_compliance, np.float64)
        return {"member": spread(w.member > 0, False, bool), "ever_member": spread(w.ever_member, False, bool),
                "region": self.roster.region.copy(), "partner": self.roster.partner.copy(),
                "sovereignty": self.attributes["sovereignty"].astype(np.float64),
                "compliance": compliance, "capacity": self.attributes["capacity"].astype(np.float64),
                "alignment": self.attributes["alignment"].astype(np.float64),
                "log_appeal": self.attributes["log_appeal"].astype(np.float64),
                "pressure": spread(w.pressure, 0.0, np.float64), "findings": spread(w.state_findings, 0, np.int64),
                "withdrawn": spread((w.withdraw_at >= 0) & (w.withdraw_at < self.month), False, bool),
                "_withdraw_at": spread(w.withdraw_at, -1, np.int64), "_join_at": spread(w.join_at, -1, np.int64)}

    @property
    def events(self) -> list[Event]:
        """The event log (ODD §9) with actors and targets named."""
        raw = self.world.events or []
        for e in raw[len(self._named):]:
            self._named.extend(self._describe(*e))
        return self._named

    def _who(self, code: int) -> str:
        if code >= 0:
            raise ValueError(code)
        return {protocol.COURT: "the Court", protocol.PROSECUTOR: "the Prosecutor", protocol.HOME: self.home.name,
                protocol.NOBODY: ""}[code]

    def _state_name(self, column: int) -> str:
        return self.roster.names[self.layout.order[column]] if column >= 0 else self._who(column)

    def _describe(self, t: int, code: int, actor: int, target: int, value: float) -> list[Event]:
        """One protocol event as the log's named events."""
        e, court = _E(code), "the Court"
        acc = lambda j: self.accused[j].name  # noqa: E731
        place = lambda member: "state party" if member else "non-party"  # noqa: E731
        if e == _E.WARRANT_ISSUED:
            issued = Event(t, "warrant_issued", court, acc(target), "under seal" if value else "public")
            return [issued, Event(t, "warrant_sealed", court, acc(target), "the accused does not know of it")] \
                if value else [issued]
        if e == _E.WARRANT_UNSEALED:
            how = "on custody" if value else "unsealed by the Chamber"
            return [Event(t, "warrant_unsealed", court, acc(target), how)]
        if e == _E.OUTREACH:
            return [Event(t, "outreach", "the Prosecutor", self._state_name(target), f"pressure now {value:.2f}")]
        if e == _E.TRIP:
            kind, member = divmod(int(value), 2)
            detail = {0: place(member), 1: "state party, at the warrant's issue", 2: f"a summit, {place(member)}"}[kind]
            return [Event(t, "trip", acc(actor), self._state_name(target), detail)]
        if e == _E.TRIP_CANCELLED:
            return [Event(t, "trip_cancelled", acc(actor), self._state_name(target), f"perceived risk {value:.3f}")]
        if e == _E.ARREST:
            return [Event(t, "arrest", self._state_name(actor), acc(target), "arrested_by_host")]
        if e == _E.NON_ARREST:
            return [Event(t, "non_arrest", self._state_name(actor), acc(target), place(value))]
        if e == _E.FINDING:
            return [Event(t, "finding", court, self._state_name(target), f"failure to arrest {acc(int(value))}")]
        if e == _E.WITHDRAWAL_NOTIFIED:
            return [Event(t, "withdrawal_notified", self._state_name(actor), court, f"effective in month {int(value)}")]
        if e == _E.WITHDRAWAL_EFFECTIVE:
            return [Event(t, "withdrawal_effective", self._state_name(actor), court, "no longer a state party")]
        if e == _E.REGIME_CHANGE:
            detail = ("the government the accused served had fallen before the warrants were issued" if value
                      else "a new government takes office")
            return [Event(t, "regime_change", self.home.name, "", detail)]
        if e == _E.SURRENDER:
            detail = SURRENDER_DETAIL if value < 0 else f"after detention at home since month {int(value)}"
            return [Event(t, "surrender", self.home.name, acc(target), detail)]
        if e == _E.TIMED_WARRANT:
            return [Event(t, "timed_warrant", court, acc(target),
                          f"issued under seal during a stay in {self._state_name(int(value))}")]
        if e == _E.DETENTION:
            return [Event(t, "detention", self.home.name, acc(target), "detained at home by the new government")]
        if e == _E.ACCESSION_DEPOSITED:
            return [Event(t, "accession_deposited", self._state_name(actor), court, f"in force in month {int(value)}")]
        if e == _E.ACCESSION_EFFECTIVE:
            return [Event(t, "accession_effective", self._state_name(actor), court, "now a state party")]
        if e == _E.INVITATION:
            return [Event(t, "invitation", self._state_name(actor), acc(target), f"perceived risk {value:.3f}")]
        return [Event(t, "invitation_declined", acc(actor), self._state_name(target), f"perceived risk {value:.3f}")]

    # --- outputs (ODD §9) -------------------------------------------------------------------
    def outcomes(self) -> Outcomes:
        """This replicate's outputs as a one-replicate Outcomes block."""
        w = self.world
        out: dict[str, np.ndarray] = {}
        for o in OUTCOMES:
            if o.name == "in_custody":
                continue
            if o.name == "members_final":
                out[o.name] = np.array([passes.members(w)])
            elif o.name == "legitimacy_final":
                out[o.name] = np.array([np.float64(w.legitimacy)])
            elif o.per_run:
                out[o.name] = np.array([getattr(w, o.name)], dtype=np.int64)
            else:
                out[o.name] = np.asarray(getattr(w, o.name), dtype=np.int8 if o.kind == "route" else np.int64)[None, :]
        return Outcomes.of(**out)

    def series(self) -> pd.DataFrame:
        """Monthly series: the state at the end of each month t = 0..T-1."""
        frame = self.datacollector.get_model_vars_dataframe().iloc[1:].reset_index(drop=True)
        frame.insert(0, "month", np.arange(len(frame)))
        frame["members"] = frame["members"].astype(np.int64)
        return frame[list(SERIES_COLUMNS)]

    def events_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.events, columns=list(Event._fields))
