"""The Mesa model: one replicate, month by month, in the submodel order of ODD §3."""

from __future__ import annotations

from typing import Any

import mesa
from mesa.agent import AgentSet
import numpy as np
import pandas as pd

from sim.model import rules
from sim.engines.mesa.agents import NOT_PENDING, Accused, Court, Event, Prosecutor, State
from sim.model.outcomes import NEVER, NO_CUSTODY, ROUTES, SERIES_COLUMNS, Outcomes
from sim.model.params import Params, as_params
from sim.model.roster import build_roster


class TribunalModel(mesa.Model):
    """States, the court, its prosecutor and the accused under warrant; ``step()`` is one month.

    >>> model = TribunalModel({"scenario.n_states": 20, "scenario.horizon_months": 12}, seed=1)
    >>> while model.running: model.step()
    >>> model.month
    12
    """

    def __init__(self, params: Params | dict | None = None, *, seed: Any = None, rng: Any = None,
                 record_events: bool = True, **overrides: Any):
        if isinstance(seed, np.random.SeedSequence):
            seed, rng = None, seed
        super().__init__(seed=seed, rng=rng)
        base = as_params(params)
        self.params = base.replace(overrides) if overrides else base
        p = self.params
        self.record_events = record_events
        self.events: list[Event] = []
        self.month = 0
        self.findings = 0
        self.withdrawals = 0
        self.arrest_coef = rules.ArrestCoefficients.from_params(p)
        self.roster = build_roster(p)
        self._init_states()
        self.court = Court(self, p["court.legitimacy0"])
        self.prosecutor = Prosecutor(self)
        self.accused: list[Accused] = []
        sealed = self.rng.random(p.n_accused) < p["prosecutor.sealed_share"]
        for j in range(p.n_accused):
            a = Accused(self, j, bool(p["accused.head_of_state"][j]), p["accused.trip_rate"][j],
                        p["accused.risk_aversion"][j], p["accused.max_risk"][j], bool(sealed[j]))
            self.accused.append(a)
            self.log("warrant_issued", "the Court", a.name, "under seal" if a.sealed else "public")
            if a.sealed:
                self.log("warrant_sealed", "the Court", a.name, "the accused does not know of it")
        self.datacollector = mesa.DataCollector(model_reporters={
            "legitimacy": lambda m: m.court.legitimacy,
            "members": lambda m: int(m.state_vars["member"].sum()),
            "mean_compliance": lambda m: float(m.state_vars["compliance"].mean()),
            "share_in_custody": lambda m: sum(a.in_custody for a in m.accused) / len(m.accused),
        })
        self.datacollector.collect(self)

    def _init_states(self) -> None:
        """Draw every state's attributes (ODD §5.3) into the per-state arrays the agents read."""
        p, roster, rng = self.params, self.roster, self.rng
        n, kappa, member = roster.n_states, p["states.concentration"], roster.member
        alignment = rules.beta_draw(rng, np.where(roster.partner, p["states.alignment_partner"],
                                                  p["states.alignment"]), kappa, n)
        alignment[roster.home] = 1.0
        log_appeal = rng.normal(0.0, p["states.appeal_sd"], n) + np.where(roster.partner,
                                                                          np.log(p["states.partner_appeal"]), 0.0)
        self.state_vars = {
            "member": member.copy(),
            "region": roster.region.copy(),
            "partner": roster.partner.copy(),
            "sovereignty": rules.beta_draw(rng, np.where(member, p["states.sovereignty_member"],
                                                         p["states.sovereignty_nonmember"]), kappa, n),
            "compliance": rules.beta_draw(rng, np.where(member, p["states.compliance_member"],
                                                        p["states.compliance_nonmember"]), kappa, n),
            "capacity": rules.beta_draw(rng, np.full(n, p["states.capacity"]), kappa, n),
            "alignment": alignment,
            "log_appeal": log_appeal,
            "pressure": np.zeros(n),
            "findings": np.zeros(n, dtype=np.int64),
            "withdrawn": np.zeros(n, dtype=bool),
            "_withdraw_at": np.full(n, NOT_PENDING, dtype=np.int64),
        }
        self.states = AgentSet([State(self, i, roster.names[i], (roster.codes or roster.names)[i])
                                     for i in range(n)], random=self.random)
        self._state_list = list(self.states)
        self.home = self._state_list[roster.home]
        self.destinations = np.flatnonzero(np.arange(n) != roster.home)

    def state(self, index: int) -> State:
        return self._state_list[index]

    def log(self, event: str, actor: str, target: str, detail: str = "") -> None:
        if self.record_events:
            self.events.append(Event(self.month, event, actor, target, detail))

    def arrest_probabilities(self, accused: Accused) -> np.ndarray:
        """P_ij for every destination i (all states but home), from the current state of the world."""
        v, d = self.state_vars, self.destinations
        return rules.arrest_probability(self.arrest_coef, v["capacity"][d], v["member"][d], v["compliance"][d],
                                        self.court.legitimacy, v["pressure"][d], v["sovereignty"][d],
                                        v["alignment"][d], accused.head_of_state)

    # --- the submodels of ODD §7, in order ------------------------------------------------------
    def regime_change(self) -> None:
        p = self.params
        q = rules.regime_change_probability(p["home.turnover_rate"], p["home.engagement_effect"],
                                            p["prosecutor.home_engagement"])
        if self.rng.random() >= q:
            return
        self.log("regime_change", self.home.name, "", "a new government takes office")
        for a in self.accused:
            if not a.in_custody and self.rng.random() < p["home.surrender_prob"]:
                a.take_custody("domestic_surrender")
                self.log("surrender", self.home.name, a.name, "handed over to the Court")

    def trips(self) -> None:
        for a in self.accused:
            if not a.in_custody:
                a.take_turn()

    def norm_dynamics(self) -> None:
        p, v = self.params, self.state_vars
        c, region = v["compliance"], v["region"]
        counts = np.bincount(region)
        means = np.bincount(region, weights=c) / np.maximum(counts, 1)
        v["compliance"] = rules.norm_update(c, means[region], self.court.legitimacy, p["court.legitimacy0"],
                                            p["states.conformity"], p["states.legitimacy_pull"])

    def withdrawal(self) -> None:
        p, v, t = self.params, self.state_vars, self.month
        eligible = np.flatnonzero(v["member"] & (v["_withdraw_at"] == NOT_PENDING))
        hazard = rules.withdrawal_probability(v["sovereignty"][eligible], v["alignment"][eligible],
                                              v["compliance"][eligible], v["findings"][eligible],
                                              p["states.withdrawal_rate"], p["states.withdrawal_threshold"])
        notify = eligible[self.rng.random(len(eligible)) < hazard]
        v["_withdraw_at"][notify] = t + p["states.withdrawal_delay"]
        self.withdrawals += len(notify)
        for i in notify:
            self.log("withdrawal_notified", self.state(i).name, "the Court",
                     f"effective in month {t + p['states.withdrawal_delay']}")
        effective = np.flatnonzero(v["member"] & (v["_withdraw_at"] == t))
        v["member"][effective] = False
        v["withdrawn"][effective] = True
        for i in effective:
            self.log("withdrawal_effective", self.state(i).name, "the Court", "no longer a state party")

    def step(self) -> None:
        """One month: regime change, outreach, trips, unsealing, norms, withdrawal, legitimacy drift."""
        self.regime_change()
        self.prosecutor.outreach()
        self.trips()
        self.prosecutor.unseal()
        self.norm_dynamics()
        self.withdrawal()
        self.court.drift()
        self.month += 1
        self.datacollector.collect(self)
        if self.month >= self.params.horizon:
            self.running = False

    def run(self) -> "TribunalModel":
        """Step to the horizon and return the model."""
        while self.running:
            self.step()
        return self

    # --- outputs (ODD §4.11) --------------------------------------------------------------------
    def outcomes(self) -> Outcomes:
        """This replicate's outputs as a one-replicate Outcomes block."""
        acc = self.accused
        row = lambda f: np.array([[f(a) for a in acc]], dtype=np.int64)  # noqa: E731
        return Outcomes.of(
            custody_month=row(lambda a: NO_CUSTODY if a.custody_month is None else a.custody_month),
            detained_month=row(lambda a: NEVER), trips_at_issue=row(lambda a: 0),
            accessions=np.array([0]),
            route=row(lambda a: ROUTES.index(a.route)),
            trips=row(lambda a: a.trips), trips_to_members=row(lambda a: a.trips_to_members),
            trips_cancelled=row(lambda a: a.trips_cancelled),
            findings=np.array([self.findings]), withdrawals=np.array([self.withdrawals]),
            members_final=np.array([int(self.state_vars["member"].sum())]),
            legitimacy_final=np.array([self.court.legitimacy]))

    def series(self) -> pd.DataFrame:
        """Monthly series: the state at the end of each month t = 0..T-1."""
        frame = self.datacollector.get_model_vars_dataframe().iloc[1:].reset_index(drop=True)
        frame.insert(0, "month", np.arange(len(frame)))
        return frame[list(SERIES_COLUMNS)]

    def events_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.events, columns=list(Event._fields))
