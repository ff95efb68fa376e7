"""The vectorized core's state: the layout one call shares (Layout) and one chunk's arrays (World).

States other than home are columns, ordered by region so that the norm dynamics can broadcast a
region's pull over contiguous runs of columns; the home state is held apart (only its compliance
is ever used). Parameters are numbers when every row shares them, (R, 1) arrays when they differ
by row (batched points): every formula of sim.model.rules broadcasts either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.model import rules
from sim.model.batch import Batch
from sim.model.outcomes import NEVER, Outcomes
from sim.model.roster import Roster, build_roster
from sim.model.streams import Stream, betas, normals

DTYPE = np.float32  # state arrays; the equivalence tests check the distributions against the Mesa engine


@dataclass(frozen=True)
class Layout:
    """What every row of a call shares: the roster's columns and regions, the horizon, the accused."""

    roster: Roster
    order: np.ndarray  # roster index of each column (all states but home, by region)
    region_of_column: np.ndarray  # (S, regions) DTYPE 0/1
    region_size: np.ndarray  # (regions,) states per region, home included
    home_region: int
    segment_region: np.ndarray  # region of each run of adjacent columns of one region
    segment_length: np.ndarray
    horizon: int
    n_accused: int

    @classmethod
    def of(cls, batch: Batch) -> Layout:
        roster = build_roster(batch.params)
        others = np.flatnonzero(np.arange(roster.n_states) != roster.home)
        order = others[np.argsort(roster.region[others], kind="stable")]
        present, region = np.unique(roster.region, return_inverse=True)
        col_region = region[order]
        start = np.flatnonzero(np.r_[True, col_region[1:] != col_region[:-1]]) if len(order) else np.zeros(0, int)
        return cls(roster=roster, order=order,
                   region_of_column=(col_region[:, None] == np.arange(len(present))).astype(DTYPE),
                   region_size=np.bincount(region, minlength=len(present)).astype(DTYPE),
                   home_region=int(region[roster.home]), segment_region=col_region[start],
                   segment_length=np.diff(np.r_[start, len(order)]), horizon=batch.params.horizon,
                   n_accused=batch.params.n_accused)

    @property
    def n_states(self) -> int:
        return len(self.order)


class Coefficients:
    """The arrest decision's weights (numbers, or (R, 1) columns when they differ by row)."""

    NAMES = rules.ArrestCoefficients._fields
    intercept: rules.Values  # one attribute per name, set by __init__ (rules.ArrestWeights)
    duty: rules.Values
    compliance: rules.Values
    legitimacy: rules.Values
    pressure: rules.Values
    sovereignty: rules.Values
    alignment: rules.Values
    immunity: rules.Values

    def __init__(self, values: dict[str, Any]):
        self.values = values
        for k, v in values.items():
            setattr(self, k, v)

    @classmethod
    def of(cls, p: Parameters) -> Coefficients:
        return cls({k: p.col(f"arrest.{k}") for k in cls.NAMES})

    def take(self, rows: np.ndarray) -> Coefficients:
        """The coefficients of single cells in rows ``rows`` (flat gathers of row-varying ones)."""
        return Coefficients({k: v if np.ndim(v) == 0 else v[rows, 0] for k, v in self.values.items()})


class Parameters:
    """A chunk's view of the batch's parameters: ``col(name)`` broadcasts against (R, S), ``row(name)``
    against (R,), ``accused(name, j)`` is accused j's value against (R, S) (lists are per accused).

    Values are typed alike whether the rows share them or not (real numbers as DTYPE, integers as
    int64, scalars as NumPy scalars), so NumPy promotes an expression the same way in both cases and a
    row's numbers do not depend on which other points share its chunk.
    """

    def __init__(self, batch: Batch, rows: slice):
        self.batch, self.rows = batch, rows
        self._typed: dict[str, Any] = {}

    def _value(self, name: str) -> Any:
        if name not in self._typed:
            from sim.model.params import BY_NAME

            v = self.batch.value(name)
            kind = np.int64 if BY_NAME[name].scalar_kind in ("int", "bool") and not BY_NAME[name].is_list else DTYPE
            self._typed[name] = np.asarray(v, dtype=kind) if isinstance(v, np.ndarray) else kind(v)
        return self._typed[name]

    def row(self, name: str) -> Any:
        v = self._value(name)
        return v[self.rows] if isinstance(v, np.ndarray) and v.ndim >= 1 and not self._is_list(name) else v

    def col(self, name: str) -> Any:
        v = self.row(name)
        return v[:, None] if isinstance(v, np.ndarray) else v

    def per_accused(self, name: str) -> np.ndarray:
        """(F,) when shared by every row, else (R, F)."""
        v = np.asarray(self._value(name), dtype=DTYPE)
        return v[self.rows] if v.ndim == 2 else v

    def accused(self, name: str, j: int) -> Any:
        """Accused j's value: a number, or an (R, 1) column."""
        v = self.per_accused(name)
        return v[j] if v.ndim == 1 else v[:, j:j + 1]

    def at(self, name: str, rows: np.ndarray) -> Any:
        """A scalar parameter at the given rows of the chunk (for computations on single cells)."""
        v = self.row(name)
        return v[rows] if isinstance(v, np.ndarray) else v

    def accused_at(self, name: str, j: int, rows: np.ndarray) -> Any:
        v = self.per_accused(name)
        return v[j] if v.ndim == 1 else v[rows, j]

    def _is_list(self, name: str) -> bool:
        from sim.model.params import BY_NAME

        return BY_NAME[name].is_list

    def any_positive(self, name: str) -> bool:
        return bool(np.any(np.asarray(self.row(name)) > 0))


class World:
    """The state of one chunk of rows (ODD §2), drawn per ODD §5.3 from each row's own streams.

    Besides the state variables it keeps parts of formulas that change rarely: each host's standing
    in the arrest logit (changes only when it leaves or joins the statute), the destination appeal
    and the withdrawal pull (fixed for a run).
    """

    def __init__(self, layout: Layout, batch: Batch, rows: slice):
        self.layout, self.keys = layout, batch.keys[rows]
        self.p = p = Parameters(batch, rows)
        n, roster = len(self.keys), layout.roster
        self.coef = Coefficients.of(p)
        attributes = self._draw_attributes(roster, p)
        cols = layout.order
        column = lambda a: np.ascontiguousarray(a.take(cols, axis=1))  # noqa: E731 - flat views must be views
        self.sovereignty = column(attributes["sovereignty"])
        self.compliance = column(attributes["compliance"])
        self.capacity = column(attributes["capacity"])
        self.alignment = column(attributes["alignment"])
        self.home_compliance = attributes["compliance"][:, roster.home].copy()
        log_appeal = rules.log_appeal(column(normals(self.keys, Stream.APPEAL, roster.n_states)),
                                      roster.partner[cols], p.col("states.appeal_sd"), p.col("states.partner_appeal"))
        appeal = rules.destination_appeal(log_appeal, self.alignment, p.col("accused.travel_alignment"))
        # Destination weights matter only relative to each other within a row, so the appeal is shifted
        # per row to make the largest possible weight (risk 0) exactly 1: no overflow in exp().
        self.appeal = np.ascontiguousarray(appeal - appeal.max(axis=1, keepdims=True, initial=-np.inf), DTYPE)
        shape = (n, layout.n_states)
        self.member = np.broadcast_to(roster.member[cols].astype(DTYPE), shape).copy()  # 0/1 in the logit
        self.ever_member = self.member > 0
        self.standing = rules.arrest_logit_standing(self.coef, self.member, self.sovereignty,
                                                    self.alignment).astype(DTYPE)
        self.withdrawal_pull = rules.withdrawal_pull(self.sovereignty, self.alignment,
                                                     p.col("states.withdrawal_threshold")).astype(DTYPE)
        self.pressure = np.zeros(shape, DTYPE)
        self.state_findings = np.zeros(shape, DTYPE)
        self.withdraw_pending = np.zeros(shape, bool)
        self.join_pending = np.zeros(shape, bool)
        self.may_withdraw = rules.may_withdraw(self.member > 0, self.withdraw_pending)  # kept up to date
        self.due: dict[int, list[tuple[np.ndarray, bool]]] = {}  # month -> (flat cells, joins?) taking effect
        self.legitimacy = np.full(n, p.row("court.legitimacy0"), DTYPE)
        f = layout.n_accused
        self.sealed = np.zeros((n, f), bool)
        self.free = np.ones((n, f), bool)
        self.detained = np.zeros((n, f), bool)
        self.custody_month = np.full((n, f), NEVER, np.int32)
        self.detained_month = np.full((n, f), NEVER, np.int32)
        self.route = np.zeros((n, f), np.int8)
        self.trips = np.zeros((n, f), np.int32)
        self.trips_to_members = np.zeros((n, f), np.int32)
        self.trips_cancelled = np.zeros((n, f), np.int32)
        self.trips_at_issue = np.zeros((n, f), np.int32)
        self.findings = np.zeros(n, np.int32)
        self.withdrawals = np.zeros(n, np.int32)
        self.accessions = np.zeros(n, np.int32)
        self.weights = np.empty((f, *shape), DTYPE)  # this month's destination weights (see step.outreach)

    def _draw_attributes(self, roster: Roster, p: Parameters) -> dict[str, np.ndarray]:
        """ODD §5.3: every state's attributes (roster order, home included) from the rows' own streams."""
        means = rules.attribute_means(p.col, roster.member, roster.partner)
        kappa = p.col("states.concentration")
        streams = {"sovereignty": Stream.SOVEREIGNTY, "compliance": Stream.COMPLIANCE,
                   "capacity": Stream.CAPACITY, "alignment": Stream.ALIGNMENT}
        n, s = len(self.keys), roster.n_states
        out = {}
        for name, stream in streams.items():
            a, b, fixed = rules.beta_shapes(np.broadcast_to(means[name], (n, s)), kappa)
            a, b, fixed = (np.broadcast_to(x, (n, s)) for x in (a, b, fixed))
            values = betas(self.keys, stream, a, b)
            out[name] = np.where(np.isnan(fixed), values, fixed).astype(DTYPE)
        out["alignment"][:, roster.home] = rules.HOME_ALIGNMENT
        rules.apply_state_values(out, roster.codes, p.batch.params["scenario.states"])
        return out

    @property
    def n(self) -> int:
        return self.legitimacy.shape[0]

    @property
    def active(self) -> np.ndarray:
        """(R, F): accused who are free (neither in custody nor detained at home)."""
        return self.free & ~self.detained

    def odds_against(self, rows) -> np.ndarray:
        """Each host's factor of the odds against arrest now (rules.arrest_odds_against), for ``rows``:
        the part of the arrest probabilities common to every accused."""
        return rules.arrest_odds_against(self._coef_rows(rows), self.standing[rows], self.compliance[rows],
                                         self.pressure[rows],
                                         self.legitimacy[rows, None])

    def _coef_rows(self, rows) -> Coefficients:
        return Coefficients({k: v if np.ndim(v) == 0 else v[rows] for k, v in self.coef.values.items()})

    def accused_logit(self, j: int, rows=slice(None)):
        """Accused j's share of the arrest logit, −β_hos·head_of_state_j, for ``rows`` (number or (rows, 1))."""
        value = rules.arrest_logit_accused(self.coef, self.p.accused("accused.head_of_state", j))
        return value if np.ndim(value) == 0 else value[rows]

    def arrest_and_weights(self, rows, j: int, odds_against: np.ndarray | None = None, out=None):
        """Accused j's arrest probabilities P_ij and destination weights w_i·exp(β_t·a_i − ρ_j·r_ij) at every
        state of ``rows``, from the current state (weights written to ``out`` if given)."""
        p = self.p
        odds_against = self.odds_against(rows) if odds_against is None else odds_against
        prob = rules.arrest_probability_from_parts(self.capacity[rows], odds_against, self.accused_logit(j, rows))
        risk = self.perceived(prob, self.sealed[rows, j][:, None], rows)
        rho = p.accused("accused.risk_aversion", j)
        rho = rho if np.ndim(rho) == 0 else rho[rows]
        logit = rules.destination_logit_from_appeal(self.appeal[rows], risk, rho)
        return prob, np.exp(logit, out=logit if out is None else out)

    def perceived(self, prob, sealed, rows):
        """r_ij: the whole risk of a public warrant, a share of it under seal (rules.perceived_risk)."""
        if not np.any(sealed):
            return prob
        awareness = self._awareness(rows)
        return rules.perceived_risk(prob, sealed, awareness if np.ndim(awareness) == 0 else
                                    awareness.reshape(np.shape(sealed)))

    def cell_arrest_probability(self, flat: np.ndarray, j: int) -> np.ndarray:
        """Accused j's P_ij now at single cells given as flat indices into the (R, S) arrays."""
        row = flat // self.layout.n_states
        take = lambda a: a.reshape(-1).take(flat)  # noqa: E731
        coef = self.coef.take(row)
        odds = rules.arrest_odds_against(coef, take(self.standing), take(self.compliance), take(self.pressure),
                                         self.legitimacy.take(row))
        hos = self.p.accused_at("accused.head_of_state", j, row)
        return rules.arrest_probability_from_parts(take(self.capacity), odds, rules.arrest_logit_accused(coef, hos))

    def cell_weights(self, flat: np.ndarray, j: int) -> np.ndarray:
        """Accused j's destination weights now at single cells given as flat indices."""
        row = flat // self.layout.n_states
        prob = self.cell_arrest_probability(flat, j)
        sealed = self.sealed[:, j].take(row)
        risk = prob if not sealed.any() else rules.perceived_risk(prob, sealed,
                                                                  self.p.at("accused.sealed_awareness", row))
        rho = self.p.accused_at("accused.risk_aversion", j, row)
        return np.exp(rules.destination_logit_from_appeal(self.appeal.reshape(-1).take(flat), risk, rho))

    def destination_logits(self, rows: np.ndarray, j: int) -> np.ndarray:
        """log destination weights of accused j in ``rows`` (for rows whose weights underflow)."""
        prob = rules.arrest_probability_from_parts(self.capacity[rows], self.odds_against(rows),
                                                   self.accused_logit(j, rows))
        risk = rules.perceived_risk(prob, self.sealed[rows, j][:, None], self._awareness(rows))
        rho = self.p.accused("accused.risk_aversion", j)
        return rules.destination_logit_from_appeal(self.appeal[rows], risk, rho if np.ndim(rho) == 0 else rho[rows])

    def _awareness(self, rows):
        a = self.p.col("accused.sealed_awareness")
        return a if np.ndim(a) == 0 else a[rows]

    def set_membership(self, flat: np.ndarray, member: bool) -> None:
        """Withdrawals or accessions taking effect at these cells: membership, and so standing, change."""
        self.member.reshape(-1)[flat] = 1.0 if member else 0.0
        self.may_withdraw.reshape(-1)[flat] = rules.may_withdraw(member, self.withdraw_pending.reshape(-1)[flat])
        if member:
            self.ever_member.reshape(-1)[flat] = True
        take = lambda a: a.reshape(-1).take(flat)  # noqa: E731
        coef = self.coef.take(flat // self.layout.n_states)
        self.standing.reshape(-1)[flat] = rules.arrest_logit_standing(coef, take(self.member), take(self.sovereignty),
                                                                      take(self.alignment))

    def take_custody(self, rows, j, route: int, t: int) -> None:
        """Custody is absorbing; a warrant becomes public when its person is taken into custody."""
        self.free[rows, j] = False
        self.detained[rows, j] = False
        self.sealed[rows, j] = False
        self.custody_month[rows, j] = t
        self.route[rows, j] = route

    def detain(self, rows, j, t: int) -> None:
        """Detained at home by a new government: not in the court's custody, no trips, no outreach."""
        self.detained[rows, j] = True
        self.detained_month[rows, j] = t

    def outcomes(self) -> Outcomes:
        return Outcomes.of(custody_month=self.custody_month, route=self.route, detained_month=self.detained_month,
                           trips=self.trips, trips_to_members=self.trips_to_members,
                           trips_cancelled=self.trips_cancelled, trips_at_issue=self.trips_at_issue,
                           findings=self.findings, withdrawals=self.withdrawals, accessions=self.accessions,
                           members_final=np.count_nonzero(self.member, axis=1),
                           legitimacy_final=self.legitimacy.astype(np.float64))
