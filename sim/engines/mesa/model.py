"""The Mesa model: one replicate, month by month, in the submodel order of ODD §3."""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.agent import AgentSet

from sim.engines.mesa.agents import NOT_PENDING, Accused, Court, Event, Prosecutor, State
from sim.model import rules
from sim.model.outcomes import NEVER, ROUTES, SERIES_COLUMNS, Outcomes
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
        self.accessions = 0
        self.fallen_at_issue = False  # ODD §7.0.1: the government had fallen when the warrants were issued
        self.arrest_coef = rules.ArrestCoefficients.from_params(p)
        self.roster = build_roster(p)
        self._init_states()
        self.court = Court(self, p["court.legitimacy0"])
        self.prosecutor = Prosecutor(self)
        self.accused: list[Accused] = []
        sealed = rules.happens(self.rng.random(p.n_accused), p["prosecutor.sealed_share"])
        for j in range(p.n_accused):
            a = Accused(self, j, bool(p["accused.head_of_state"][j]), p["accused.trip_rate"][j],
                        p["accused.risk_aversion"][j], p["accused.max_risk"][j], bool(sealed[j]))
            self.accused.append(a)
            self.log("warrant_issued", "the Court", a.name, "under seal" if a.sealed else "public")
            if a.sealed:
                self.log("warrant_sealed", "the Court", a.name, "the accused does not know of it")
        self._submodels = {"warrant_at_issue": self.warrant_at_issue, "regime_change": self.regime_change,
                           "outreach": self.prosecutor.outreach, "trips": self.trips,
                           "unsealing": self.prosecutor.unseal, "norms": self.norm_dynamics,
                           "withdrawal": self.withdrawal, "accession": self.accession, "drift": self.court.drift}
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
        means = rules.attribute_means(p.__getitem__, member, roster.partner)
        # the draw order (alignment, appeal, sovereignty, compliance, capacity) is this engine's stream contract
        alignment = rules.beta_draw(rng, means["alignment"], kappa, n)
        alignment[roster.home] = rules.HOME_ALIGNMENT
        log_appeal = rules.log_appeal(rng.standard_normal(n), roster.partner, p["states.appeal_sd"],
                                      p["states.partner_appeal"])
        self.state_vars = {
            "member": member.copy(),
            "ever_member": member.copy(),
            "region": roster.region.copy(),
            "partner": roster.partner.copy(),
            "sovereignty": rules.beta_draw(rng, means["sovereignty"], kappa, n),
            "compliance": rules.beta_draw(rng, means["compliance"], kappa, n),
            "capacity": rules.beta_draw(rng, means["capacity"], kappa, n),
            "alignment": alignment,
            "log_appeal": log_appeal,
            "pressure": np.zeros(n),
            "findings": np.zeros(n, dtype=np.int64),
            "withdrawn": np.zeros(n, dtype=bool),
            "_withdraw_at": np.full(n, NOT_PENDING, dtype=np.int64),
            "_join_at": np.full(n, NOT_PENDING, dtype=np.int64),
        }
        rules.apply_state_values(self.state_vars, roster.codes, p["scenario.states"])
        self.states = AgentSet([State(self, i, roster.names[i], (roster.codes or roster.names)[i])
                                     for i in range(n)], random=self.random)
        self._state_list = list(self.states)
        self.home = self._state_list[roster.home]
        self.is_home = np.arange(n) == roster.home
        self.destinations = np.flatnonzero(~self.is_home)
        self.membership_changed()

    def state(self, index: int) -> State:
        return self._state_list[index]

    def log(self, event: str, actor: str, target: str, detail: str = "") -> None:
        if self.record_events:
            self.events.append(Event(self.month, event, actor, target, detail))

    def arrest_probabilities(self, accused: Accused) -> np.ndarray:
        """P_ij for every destination i (all states but home), from the current state of the world
        (rules.arrest_probability, with each host's standing share of z_ij kept between membership changes)."""
        v, d, coef = self.state_vars, self.destinations, self.arrest_coef
        odds = rules.arrest_odds_against(coef, self._standing, v["compliance"][d], v["pressure"][d],
                                         self.court.legitimacy)
        return rules.arrest_probability_from_parts(self._capacity, odds,
                                                   rules.arrest_logit_accused(coef, accused.head_of_state))

    def membership_changed(self) -> None:
        """Recompute what depends on statute membership (and the fixed s, a, k): call after any change of member."""
        v, d = self.state_vars, self.destinations
        self._standing = rules.arrest_logit_standing(self.arrest_coef, v["member"][d], v["sovereignty"][d],
                                                     v["alignment"][d])
        self._capacity = v["capacity"][d]

    # --- the submodels of ODD §7, in the order of ODD §3 -------------------------------------------------
    # A v1.3 mechanism at its default (off) draws no random number, so v1.2 runs are reproduced exactly.
    def warrant_at_issue(self) -> None:
        """ODD §7.0 (month 0, before anything): perhaps a fallen government, then perhaps timed warrants."""
        p = self.params
        if self.month != 0:
            return
        if p["home.fallen_at_issue"] > 0 and rules.happens(self.rng.random(), p["home.fallen_at_issue"]):
            self.fallen_at_issue = True
            self.log("regime_change", self.home.name, "", "the government the accused served had fallen "
                                                          "before the warrants were issued")
            for a in self.accused:
                if a.free:
                    self.home.new_government_decides(a)
        if p["prosecutor.timed_share"] > 0 and self.state_vars["member"][self.destinations].any():
            for a in self.accused:
                if a.free and rules.happens(self.rng.random(), p["prosecutor.timed_share"]):
                    a.timed_stay()

    def regime_change(self) -> None:
        """ODD §7.1: detained accused may be handed over; then perhaps a new government decides each free
        accused's fate."""
        p = self.params
        if p["home.detained_surrender_rate"] > 0:
            for a in self.accused:
                if a.detained:
                    self.home.may_hand_over_detained(a)
        q = rules.regime_change_probability(p["home.turnover_rate"], p["home.engagement_effect"],
                                            p["prosecutor.home_engagement"])
        if not rules.happens(self.rng.random(), q):
            return
        self.log("regime_change", self.home.name, "", "a new government takes office")
        for a in self.accused:
            if a.free:
                self.home.new_government_decides(a)

    def trips(self) -> None:
        for a in self.accused:
            if a.free:
                a.take_turn()

    def norm_dynamics(self) -> None:
        p, v = self.params, self.state_vars
        c, region = v["compliance"], v["region"]
        means = rules.regional_means(c, region, len(self.roster.region_names))[0]
        v["compliance"] = rules.norm_update(c, means[region], self.court.legitimacy, p["court.legitimacy0"],
                                            p["states.conformity"], p["states.legitimacy_pull"])

    def withdrawal(self) -> None:
        """ODD §7.6: members notify withdrawal; withdrawals due this month take effect."""
        p, v, t = self.params, self.state_vars, self.month
        eligible = np.flatnonzero(rules.may_withdraw(v["member"], v["_withdraw_at"] != NOT_PENDING))
        hazard = rules.withdrawal_probability(v["sovereignty"][eligible], v["alignment"][eligible],
                                              v["compliance"][eligible], v["findings"][eligible],
                                              p["states.withdrawal_rate"], p["states.withdrawal_threshold"])
        notify = eligible[rules.happens(self.rng.random(len(eligible)), hazard)]
        v["_withdraw_at"][notify] = t + p["states.withdrawal_delay"]
        self.withdrawals += len(notify)
        for i in notify.tolist():
            self.log("withdrawal_notified", self.state(i).name, "the Court",
                     f"effective in month {t + p['states.withdrawal_delay']}")
        effective = np.flatnonzero(v["member"] & (v["_withdraw_at"] == t))
        v["member"][effective] = False
        v["withdrawn"][effective] = True
        if effective.size:
            self.membership_changed()
        for i in effective.tolist():
            self.log("withdrawal_effective", self.state(i).name, "the Court", "no longer a state party")

    def accession(self) -> None:
        """ODD §7.6 (after withdrawal): never-member non-members deposit accessions; accessions due take effect."""
        p, v, t = self.params, self.state_vars, self.month
        rate, delay = p["states.accession_rate"], p["states.accession_delay"]
        if rate <= 0:  # off: no draws, and nothing is ever pending
            return
        eligible = np.flatnonzero(rules.may_accede(v["member"], v["ever_member"], v["_join_at"] != NOT_PENDING,
                                                   self.is_home))
        chance = rules.accession_probability(rate, v["compliance"][eligible], v["alignment"][eligible])
        deposit = eligible[rules.happens(self.rng.random(len(eligible)), chance)]
        v["_join_at"][deposit] = t + delay
        self.accessions += len(deposit)
        for i in deposit.tolist():
            self.log("accession_deposited", self.state(i).name, "the Court", f"in force in month {t + delay}")
        effective = np.flatnonzero(~v["member"] & (v["_join_at"] == t))
        v["member"][effective] = True
        v["ever_member"][effective] = True
        if effective.size:
            self.membership_changed()
        for i in effective.tolist():
            self.log("accession_effective", self.state(i).name, "the Court", "now a state party")

    def step(self) -> None:
        """One month in the order of rules.SUBMODELS (the warrant at issue in month 0 only)."""
        for name in rules.SUBMODELS:
            self._submodels[name]()
        self.month += 1
        self.datacollector.collect(self)
        if self.month >= self.params.horizon:
            self.running = False

    def run(self) -> TribunalModel:
        """Step to the horizon and return the model."""
        while self.running:
            self.step()
        return self

    # --- outputs (ODD §9) -------------------------------------------------------------------
    def outcomes(self) -> Outcomes:
        """This replicate's outputs as a one-replicate Outcomes block."""
        acc = self.accused
        row = lambda f: np.array([[f(a) for a in acc]], dtype=np.int64)  # noqa: E731
        return Outcomes.of(
            custody_month=row(lambda a: NEVER if a.custody_month is None else a.custody_month),
            detained_month=row(lambda a: NEVER if a.detained_month is None else a.detained_month),
            trips_at_issue=row(lambda a: a.trips_at_issue), accessions=np.array([self.accessions]),
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
