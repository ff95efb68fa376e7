"""State of the vectorized core: the per-parameter layout (Setup) and one chunk's arrays (World)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import rules
from sim.outcomes import NO_CUSTODY, Outcomes
from sim.params import Params
from sim.roster import build_roster

DTYPE = np.float32  # state arrays; tests/test_equivalence.py checks the distributions against the Mesa engine


@dataclass(frozen=True)
class Setup:
    """What one parameter set fixes for every chunk: the column layout of states and per-accused constants.

    Columns are the states other than home, those that are members at the start first (only
    they can ever withdraw), each group sorted by region, so that regional sums are sums
    over a few runs of adjacent columns ("segments").
    """

    params: Params
    order: np.ndarray  # roster index of each column
    member0: np.ndarray  # (S,) bool, membership at the start
    partner: np.ndarray  # (S,) bool
    segment_start: np.ndarray  # first column of each run of one region
    segment_length: np.ndarray
    segment_region: np.ndarray  # (segments, regions) 0/1: which region each run belongs to
    region_size: np.ndarray  # (regions,) states per region, home included
    home_region: int
    head_of_state: np.ndarray  # (F,) DTYPE
    risk_aversion: np.ndarray  # (F,) DTYPE
    max_risk: np.ndarray  # (F,)
    plan_prob: np.ndarray  # (F,) 1 − exp(−λ_j)
    regime_change: float  # q of §4.1
    coef: rules.ArrestCoefficients

    @classmethod
    def build(cls, params: Params) -> "Setup":
        roster = build_roster(params)
        others = np.flatnonzero(np.arange(roster.n_states) != roster.home)
        order = others[np.lexsort((roster.region[others], ~roster.member[others]))]
        present, region = np.unique(roster.region, return_inverse=True)
        col_region = region[order]
        start = np.flatnonzero(np.r_[True, col_region[1:] != col_region[:-1]]) if len(order) else np.array([], int)
        length = np.diff(np.r_[start, len(order)])
        onehot = (col_region[start][:, None] == np.arange(len(present))).astype(DTYPE)
        return cls(params=params, order=order, member0=roster.member[order].copy(),
                   partner=roster.partner[order].copy(), segment_start=start, segment_length=length,
                   segment_region=onehot, region_size=np.bincount(region).astype(DTYPE),
                   home_region=int(region[roster.home]),
                   head_of_state=np.asarray(params["accused.head_of_state"], DTYPE),
                   risk_aversion=np.asarray(params["accused.risk_aversion"], DTYPE),
                   max_risk=np.asarray(params["accused.max_risk"], float),
                   plan_prob=rules.trip_probability(params["accused.trip_rate"]),
                   regime_change=rules.regime_change_probability(params["home.turnover_rate"],
                                                                 params["home.engagement_effect"],
                                                                 params["prosecutor.home_engagement"]),
                   coef=rules.ArrestCoefficients.from_params(params))

    @property
    def n_states(self) -> int:
        return len(self.order)

    @property
    def n_members0(self) -> int:
        return int(self.member0.sum())

    @property
    def n_accused(self) -> int:
        return len(self.plan_prob)


class World:
    """The state of one chunk of n replicates (MODEL.md §2), drawn per §3."""

    def __init__(self, setup: Setup, rng: np.random.Generator, n: int):
        p, s = setup.params, setup
        shape, kappa, member = (n, s.n_states), p["states.concentration"], s.member0
        self.setup = setup

        def draw(mean):
            return rules.beta_draw(rng, mean, kappa, shape).astype(DTYPE)

        self.sovereignty = draw(np.where(member, p["states.sovereignty_member"], p["states.sovereignty_nonmember"]))
        self.compliance = draw(np.where(member, p["states.compliance_member"], p["states.compliance_nonmember"]))
        self.capacity = draw(np.full(s.n_states, p["states.capacity"]))
        self.alignment = draw(np.where(s.partner, p["states.alignment_partner"], p["states.alignment"]))
        log_appeal = rng.normal(0.0, p["states.appeal_sd"], shape) + np.where(s.partner,
                                                                              np.log(p["states.partner_appeal"]), 0.0)
        # Destination weights matter only relative to each other within a replicate, so log appeal is
        # shifted per row to make the largest possible weight (risk 0) exactly 1: no overflow in exp().
        calm = rules.destination_logit(log_appeal, self.alignment, 0.0, p["accused.travel_alignment"], 0.0)
        self.log_appeal = (log_appeal - calm.max(axis=1, keepdims=True, initial=-np.inf)).astype(DTYPE)
        self.home_compliance = rules.beta_draw(rng, p["states.compliance_nonmember"], kappa, n).astype(DTYPE)
        self.member = np.broadcast_to(member.astype(DTYPE), shape).copy()  # 0/1, enters the arrest logit
        self.eligible = np.broadcast_to(member, shape).copy()  # member with no withdrawal pending
        self.pressure = np.zeros(shape, DTYPE)
        self.state_findings = np.zeros(shape, DTYPE)
        self.pending: dict[int, np.ndarray] = {}  # month -> flat indices whose withdrawal takes effect then
        self.legitimacy = np.full(n, p["court.legitimacy0"], DTYPE)
        f = s.n_accused
        self.sealed = rng.random((n, f)) < p["prosecutor.sealed_share"]
        self.free = np.ones((n, f), bool)
        self.custody_month = np.full((n, f), NO_CUSTODY, np.int32)
        self.route = np.zeros((n, f), np.int8)
        self.trips = np.zeros((n, f), np.int32)
        self.trips_to_members = np.zeros((n, f), np.int32)
        self.trips_cancelled = np.zeros((n, f), np.int32)
        self.findings = np.zeros(n, np.int32)
        self.withdrawals = np.zeros(n, np.int32)
        self.cache: tuple[np.ndarray, np.ndarray] | None = None  # this month's (P, weights), see _outreach

    @property
    def n(self) -> int:
        return self.legitimacy.shape[0]

    def arrest_and_weights(self, rows, head_of_state, risk_aversion, sealed):
        """P_ij and destination weights w_i·exp(β_t·a_i − ρ_j·r_ij) for ``rows`` (an index array or
        ``slice(None)``) at every state, from the current state; accused arguments broadcast."""
        return self._arrest_and_weights(lambda a: a[rows], self.legitimacy[rows, None], head_of_state,
                                        risk_aversion, sealed)

    def cell_arrest_and_weights(self, flat, head_of_state, risk_aversion, sealed):
        """The same at single cells given as flat indices into the (R, S) arrays."""
        legitimacy = self.legitimacy.take(flat // self.setup.n_states)
        return self._arrest_and_weights(lambda a: a.reshape(-1).take(flat), legitimacy, head_of_state,
                                        risk_aversion, sealed)

    def _arrest_and_weights(self, get, legitimacy, head_of_state, risk_aversion, sealed):
        p = self.setup.params
        alignment = get(self.alignment)
        prob = rules.arrest_probability(self.setup.coef, get(self.capacity), get(self.member), get(self.compliance),
                                        legitimacy, get(self.pressure), get(self.sovereignty), alignment,
                                        head_of_state)
        risk = rules.perceived_risk(prob, sealed, p["accused.sealed_awareness"]) if np.any(sealed) else prob
        logit = rules.destination_logit(get(self.log_appeal), alignment, risk, p["accused.travel_alignment"],
                                        risk_aversion)
        return prob, np.exp(logit, out=logit)

    def destination_logits(self, rows: np.ndarray, j: int) -> np.ndarray:
        """log destination weights of accused j in ``rows`` (for rows whose weights underflow)."""
        s, p = self.setup, self.setup.params
        prob = rules.arrest_probability(s.coef, self.capacity[rows], self.member[rows], self.compliance[rows],
                                        self.legitimacy[rows, None], self.pressure[rows], self.sovereignty[rows],
                                        self.alignment[rows], s.head_of_state[j])
        risk = rules.perceived_risk(prob, self.sealed[rows, j][:, None], p["accused.sealed_awareness"])
        return rules.destination_logit(self.log_appeal[rows], self.alignment[rows], risk,
                                       p["accused.travel_alignment"], s.risk_aversion[j])

    def take_custody(self, rows, j, route: int, t: int) -> None:
        """Custody is absorbing; a warrant becomes public when its person is taken into custody."""
        self.free[rows, j] = False
        self.sealed[rows, j] = False
        self.custody_month[rows, j] = t
        self.route[rows, j] = route

    def outcomes(self) -> Outcomes:
        return Outcomes(custody_month=self.custody_month, route=self.route, trips=self.trips,
                        trips_to_members=self.trips_to_members, trips_cancelled=self.trips_cancelled,
                        findings=self.findings, withdrawals=self.withdrawals,
                        members_final=np.count_nonzero(self.member, axis=1),
                        legitimacy_final=self.legitimacy.astype(np.float64))
