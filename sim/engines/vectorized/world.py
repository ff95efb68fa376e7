"""State of the vectorized core: the per-parameter layout (Setup) and one chunk's arrays (World)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model import rules
from sim.model.outcomes import NO_CUSTODY, Outcomes
from sim.model.params import Params
from sim.model.roster import build_roster

DTYPE = np.float32  # state arrays; tests/test_equivalence.py checks the distributions against the Mesa engine
TILE_CELLS = 49_152  # the monthly passes over every (replicate, state) work on tiles of about this many cells
# (192 KiB per float32 array): a tile's temporaries stay in the L2 cache and come from the allocator's free
# list. Tiling only regroups elementwise work, so results do not depend on it.


@dataclass(frozen=True)
class Setup:
    """What one parameter set fixes for every chunk: the column layout of states and per-accused constants.

    Columns are the states other than home, those that are members at the start first (only
    they can ever withdraw), each group sorted by region.
    """

    params: Params
    order: np.ndarray  # roster index of each column
    member0: np.ndarray  # (S,) bool, membership at the start
    partner: np.ndarray  # (S,) bool
    region_of_column: np.ndarray  # (S, regions) DTYPE 0/1: the region of each column
    region_size: np.ndarray  # (regions,) states per region, home included
    home_region: int
    segment_region: np.ndarray  # region of each run of adjacent columns of one region ("segment")
    segment_length: np.ndarray
    accused_logit: np.ndarray  # (F,) DTYPE: accused j's share of the arrest logit
    risk_aversion: np.ndarray  # (F,) DTYPE
    max_risk: np.ndarray  # (F,)
    plan_prob: np.ndarray  # (F,) 1 − exp(−λ_j)
    regime_change: float  # q of ODD §7.1
    coef: rules.ArrestCoefficients

    @classmethod
    def build(cls, params: Params) -> "Setup":
        roster = build_roster(params)
        others = np.flatnonzero(np.arange(roster.n_states) != roster.home)
        order = others[np.lexsort((roster.region[others], ~roster.member[others]))]
        present, region = np.unique(roster.region, return_inverse=True)
        col_region = region[order]
        start = np.flatnonzero(np.r_[True, col_region[1:] != col_region[:-1]]) if len(order) else np.array([], int)
        return cls(params=params, order=order, member0=roster.member[order].copy(),
                   partner=roster.partner[order].copy(),
                   region_of_column=(col_region[:, None] == np.arange(len(present))).astype(DTYPE),
                   region_size=np.bincount(region).astype(DTYPE), home_region=int(region[roster.home]),
                   segment_region=col_region[start], segment_length=np.diff(np.r_[start, len(order)]),
                   accused_logit=rules.arrest_logit_accused(rules.ArrestCoefficients.from_params(params),
                                                            np.asarray(params["accused.head_of_state"], DTYPE)),
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

    def tiles(self, n: int) -> list[slice]:
        """Row slices of a chunk of n replicates, each about TILE_CELLS cells."""
        rows = max(1, TILE_CELLS // max(1, self.n_states))
        return [slice(a, min(a + rows, n)) for a in range(0, n, rows)]


class World:
    """The state of one chunk of n replicates (ODD §2), drawn per ODD §5.3.

    Besides the state variables it keeps the parts of formulas that change rarely: each host's
    standing in the arrest logit (changes only when it withdraws), the destination appeal and
    the withdrawal pull (fixed for a run).
    """

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
        # Destination weights matter only relative to each other within a replicate, so the appeal is
        # shifted per row to make the largest possible weight (risk 0) exactly 1: no overflow in exp().
        appeal = rules.destination_appeal(log_appeal, self.alignment, p["accused.travel_alignment"])
        self.appeal = (appeal - appeal.max(axis=1, keepdims=True, initial=-np.inf)).astype(DTYPE)
        self.home_compliance = rules.beta_draw(rng, p["states.compliance_nonmember"], kappa, n).astype(DTYPE)
        self.member = np.broadcast_to(member.astype(DTYPE), shape).copy()  # 0/1, enters the arrest logit
        self.standing = rules.arrest_logit_standing(s.coef, self.member, self.sovereignty, self.alignment)
        m = s.n_members0
        self.withdrawal_pull = rules.withdrawal_pull(self.sovereignty[:, :m], self.alignment[:, :m],
                                                     p["states.withdrawal_threshold"])  # −inf once notified
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
        self.weights = np.empty((f, *shape), DTYPE)  # this month's destination weights, see _vector_step.outreach

    @property
    def n(self) -> int:
        return self.legitimacy.shape[0]

    @property
    def eligible(self) -> np.ndarray:
        """(R, S) bool: members with no withdrawal pending (only the initial members, the first columns)."""
        out = np.zeros(self.member.shape, bool)
        out[:, :self.setup.n_members0] = self.withdrawal_pull > -np.inf
        return out

    def odds_against(self, rows) -> np.ndarray:
        """Each host's factor of the odds against arrest (rules.arrest_odds_against), now, for ``rows``
        (a slice or an index array): the part of the arrest probabilities common to every accused."""
        return rules.arrest_odds_against(self.setup.coef, self.standing[rows], self.compliance[rows],
                                         self.pressure[rows], self.legitimacy[rows, None])

    def arrest_and_weights(self, rows, j: int, odds_against: np.ndarray | None = None, out=None):
        """Accused j's arrest probabilities P_ij and destination weights w_i·exp(β_t·a_i − ρ_j·r_ij)
        at every state of ``rows``, from the current state (weights written to ``out`` if given)."""
        s, p = self.setup, self.setup.params
        odds_against = self.odds_against(rows) if odds_against is None else odds_against
        prob = rules.arrest_probability_from_parts(self.capacity[rows], odds_against, s.accused_logit[j])
        sealed = self.sealed[rows, j]
        risk = rules.perceived_risk(prob, sealed[:, None], p["accused.sealed_awareness"]) if sealed.any() else prob
        logit = rules.destination_logit_from_appeal(self.appeal[rows], risk, s.risk_aversion[j])
        return prob, np.exp(logit, out=logit if out is None else out)

    def cell_arrest_probability(self, flat: np.ndarray, j: int) -> np.ndarray:
        """Accused j's P_ij now at single cells given as flat indices into the (R, S) arrays."""
        s = self.setup
        take = lambda a: a.reshape(-1).take(flat)  # noqa: E731
        odds_against = rules.arrest_odds_against(s.coef, take(self.standing), take(self.compliance),
                                                 take(self.pressure), self.legitimacy.take(flat // s.n_states))
        return rules.arrest_probability_from_parts(take(self.capacity), odds_against, s.accused_logit[j])

    def cell_weights(self, flat: np.ndarray, j: int) -> np.ndarray:
        """Accused j's destination weights now at single cells given as flat indices."""
        s, p = self.setup, self.setup.params
        prob = self.cell_arrest_probability(flat, j)
        sealed = self.sealed[:, j].take(flat // s.n_states) if self.sealed[:, j].any() else None
        risk = prob if sealed is None else rules.perceived_risk(prob, sealed, p["accused.sealed_awareness"])
        return np.exp(rules.destination_logit_from_appeal(self.appeal.reshape(-1).take(flat), risk, s.risk_aversion[j]))

    def destination_logits(self, rows: np.ndarray, j: int) -> np.ndarray:
        """log destination weights of accused j in ``rows`` (for rows whose weights underflow)."""
        s, p = self.setup, self.setup.params
        prob = rules.arrest_probability_from_parts(self.capacity[rows], self.odds_against(rows), s.accused_logit[j])
        risk = rules.perceived_risk(prob, self.sealed[rows, j][:, None], p["accused.sealed_awareness"])
        return rules.destination_logit_from_appeal(self.appeal[rows], risk, s.risk_aversion[j])

    def leave_statute(self, flat: np.ndarray) -> None:
        """Withdrawals taking effect at these cells: no longer members, so their standing changes."""
        self.member.reshape(-1)[flat] = 0
        take = lambda a: a.reshape(-1).take(flat)  # noqa: E731
        self.standing.reshape(-1)[flat] = rules.arrest_logit_standing(self.setup.coef, take(self.member),
                                                                      take(self.sovereignty), take(self.alignment))

    def take_custody(self, rows, j, route: int, t: int) -> None:
        """Custody is absorbing; a warrant becomes public when its person is taken into custody."""
        self.free[rows, j] = False
        self.sealed[rows, j] = False
        self.custody_month[rows, j] = t
        self.route[rows, j] = route

    def outcomes(self) -> Outcomes:
        return Outcomes.of(detained_month=np.full_like(self.custody_month, -1), trips_at_issue=np.zeros_like(self.trips),
                           accessions=np.zeros_like(self.findings), custody_month=self.custody_month, route=self.route, trips=self.trips,
                        trips_to_members=self.trips_to_members, trips_cancelled=self.trips_cancelled,
                        findings=self.findings, withdrawals=self.withdrawals,
                        members_final=np.count_nonzero(self.member, axis=1),
                        legitimacy_final=self.legitimacy.astype(np.float64))
