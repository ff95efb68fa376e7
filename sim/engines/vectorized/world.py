"""The NumPy core's state: one chunk's rows as (rows × states) arrays (World), started from their drawn start.

Columns are the layout's (sim.model.layout: every state but home, by region); the start of every row is
drawn by sim.model.initial, as for every engine. Parameters are numbers when every row shares them,
(R, 1) arrays when they differ by row (batched points): every formula of sim.model.rules broadcasts either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.model import initial, rules
from sim.model.batch import Batch, Parameters
from sim.model.initial import DTYPE
from sim.model.layout import Layout
from sim.model.outcomes import NEVER, OUTCOMES, Outcomes
from sim.model.streams import Stream, uniforms

DERIVED = ("in_custody", "members_final", "legitimacy_final")  # outcomes computed at the end, not kept


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


class World:
    """The state of one chunk of rows (ODD §2), drawn per ODD §5.3 from each row's own streams.

    Besides the state variables it keeps parts of formulas that change rarely: each host's standing
    in the arrest logit (changes only when it leaves or joins the statute), the destination appeal
    and the withdrawal pull (fixed for a run).
    """

    if TYPE_CHECKING:  # the outcome arrays are set from the schema (sim.model.outcomes), one per outcome
        def __getattr__(self, name: str) -> np.ndarray: ...

    def __init__(self, layout: Layout, batch: Batch, rows: slice):
        self.layout = layout
        self.p = p = Parameters(batch, rows)
        start = initial.draw(layout, batch, rows, p)
        self.keys, n = start.keys, start.n
        self.coef = Coefficients.of(p)
        self.sovereignty, self.compliance, self.capacity = start.sovereignty, start.compliance, start.capacity
        self.alignment, self.home_compliance, self.appeal = start.alignment, start.home_compliance, start.appeal
        self.invite_weight, self.regime_change = start.invite_weight, start.regime_change
        self.plan, self.invite = start.plan, start.invite
        self.member, self.standing, self.withdrawal_pull = start.member, start.standing, start.withdrawal_pull
        shape = (n, layout.n_states)
        self.ever_member = self.member > 0
        self.pressure = np.zeros(shape, DTYPE)
        self.state_findings = np.zeros(shape, DTYPE)
        self.withdraw_pending = np.zeros(shape, bool)
        self.join_pending = np.zeros(shape, bool)
        self.may_withdraw = rules.may_withdraw(self.member > 0, self.withdraw_pending)  # kept up to date
        self.due: dict[int, list[tuple[np.ndarray, bool]]] = {}  # month -> (flat cells, joins?) taking effect
        self.legitimacy = np.full(n, p.row("court.legitimacy0"), DTYPE)
        f = layout.n_accused
        self.sealed = rules.happens(uniforms(self.keys, Stream.SEALED, 0, f), p.col("prosecutor.sealed_share"))
        self.free = np.ones((n, f), bool)
        self.detained = np.zeros((n, f), bool)
        for o in OUTCOMES:  # every outcome kept during the run, named as in the schema (none happened yet)
            if o.name not in DERIVED:
                dims = (n,) if o.per_run else (n, f)
                dtype = np.int8 if o.kind == "route" else np.int32
                setattr(self, o.name, np.full(dims, NEVER if o.kind == "month" else 0, dtype))
        self.weights = np.empty((f, *shape), DTYPE)  # this month's destination weights (see step.outreach)
        self.travellers = np.zeros((n, f), bool)  # who plans a trip this month (step.outreach draws it)

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
        """The outcomes of ODD §9, named as in sim.model.outcomes."""
        values = {o.name: getattr(self, o.name) for o in OUTCOMES if o.name not in DERIVED}
        return Outcomes.of(**values, members_final=np.count_nonzero(self.member, axis=1),
                           legitimacy_final=self.legitimacy.astype(np.float64))
