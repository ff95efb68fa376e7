"""Each row's state at the start of a run (ODD §5.3), drawn once for every engine from the rows' own streams.

The draws are vectorized over the rows of a chunk (Beta and normal variates of sim.model.streams), so the
Mesa engine, the NumPy core and the fused engine start every replicate from the same numbers. Arrays are in
the layout's column order (every state but home, by region, sim.model.layout); the home state's compliance
is kept apart. Parts of formulas that are fixed for a run are computed here once: each host's standing in
the arrest logit, the destination appeal, the weights of invitations, the withdrawal pull, and the
replicate's monthly probability of a change of home government (v1.4: with its own hazard η_r).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.model import rules, streams, values
from sim.model.batch import Batch, Parameters
from sim.model.layout import Layout
from sim.model.roster import Roster
from sim.model.streams import Stream


class Sampler(NamedTuple):
    """Where the start's variates come from: sim.model.streams, or the same numbers faster (the fused engine's
    compiled sampler, sim.engines.fused.draws.SAMPLER, tests/test_fused.py)."""

    betas: Callable[[np.ndarray, int, np.ndarray, np.ndarray], np.ndarray] = streams.betas
    normals: Callable[[np.ndarray, int, int], np.ndarray] = streams.normals


STREAMS = Sampler()

DTYPE = np.float32  # the state arrays of every engine
ATTRIBUTE_STREAMS = {"sovereignty": Stream.SOVEREIGNTY, "compliance": Stream.COMPLIANCE,
                     "capacity": Stream.CAPACITY, "alignment": Stream.ALIGNMENT}


@dataclass
class Initial:
    """The start of ``n`` rows: (n, S) arrays in column order, (n,) per-row values."""

    keys: np.ndarray  # (n,) uint64 stream keys
    attributes: dict[str, np.ndarray]  # (n, states) in roster order, home included: what was drawn, and log appeal
    member: np.ndarray  # 0/1 as DTYPE (it enters the arrest logit)
    sovereignty: np.ndarray
    compliance: np.ndarray
    capacity: np.ndarray
    alignment: np.ndarray
    home_compliance: np.ndarray  # (n,)
    appeal: np.ndarray  # log w_i + β_t·a_i, shifted per row so that the largest is 0 (no overflow in exp)
    invite_weight: np.ndarray  # w_i / max w_i: the weights of a host of invitations (ODD §7.3.0)
    standing: np.ndarray  # β0 + β_duty·member_i − β_s·s_i − β_a·a_i (changes only with membership)
    withdrawal_pull: np.ndarray  # s_i + a_i − θ_w (fixed for a run)
    regime_change: np.ndarray  # (n,) q = min(1, η_r(1 + γ_e·e)), the monthly chance of a new home government
    plan: np.ndarray  # (n, F) float64: 1 − e^(−λ_j), the chance that j plans a trip in a month
    factor: np.ndarray  # (n, F) e^(β_hos·head_of_state_j): accused j's factor of the odds against arrest
    invite: np.ndarray  # (n,) float64: 1 − e^(−ν), a head of state's monthly chance of an invitation (v1.5)

    @property
    def n(self) -> int:
        return len(self.keys)


def draw(layout: Layout, batch: Batch, rows: slice, p: Parameters | None = None, sampler: Sampler = STREAMS) -> Initial:
    """ODD §5.3 for the rows ``rows`` of ``batch`` (every number from the row's own streams, drawn by ``sampler``)."""
    p = Parameters(batch, rows) if p is None else p
    keys, roster, cols = batch.keys[rows], layout.roster, layout.order
    attributes = _attributes(keys, roster, p, sampler)
    column = lambda a: np.ascontiguousarray(a.take(cols, axis=1))  # noqa: E731
    sovereignty, compliance = column(attributes["sovereignty"]), column(attributes["compliance"])
    capacity, alignment = column(attributes["capacity"]), column(attributes["alignment"])
    log_appeal = rules.log_appeal(column(sampler.normals(keys, Stream.APPEAL, roster.n_states)), roster.partner[cols],
                                  p.col("states.appeal_sd"), p.col("states.partner_appeal"))
    attributes["log_appeal"] = np.zeros((len(keys), roster.n_states), DTYPE)  # home's appeal is never drawn
    attributes["log_appeal"][:, cols] = log_appeal
    appeal = rules.destination_appeal(log_appeal, alignment, p.col("accused.travel_alignment"))
    member = np.broadcast_to(roster.member[cols].astype(DTYPE), (len(keys), layout.n_states)).copy()
    coef = values.GROUP_TYPES["arrest"](*(p.col(f"arrest.{k}") for k in values.GROUP_TYPES["arrest"]._fields))
    standing = rules.arrest_logit_standing(coef, member, sovereignty, alignment).astype(DTYPE)
    turnover = rules.replicate_turnover(p.row("home.turnover_rate"), p.row("home.turnover_sd"),
                                        streams.normals(keys, Stream.TURNOVER, 1)[:, 0].astype(DTYPE))
    q = rules.regime_change_probability(turnover, p.row("home.engagement_effect"), p.row("prosecutor.home_engagement"))
    return Initial(
        keys=keys, attributes=attributes, member=member, sovereignty=sovereignty, compliance=compliance,
        capacity=capacity, alignment=alignment, home_compliance=attributes["compliance"][:, roster.home].copy(),
        appeal=_shifted(appeal), invite_weight=np.exp(_shifted(log_appeal)).astype(DTYPE), standing=standing,
        withdrawal_pull=rules.withdrawal_pull(sovereignty, alignment,
                                              p.col("states.withdrawal_threshold")).astype(DTYPE),
        regime_change=np.broadcast_to(np.asarray(q, DTYPE), (len(keys),)).copy(),
        plan=_per_accused(rules.trip_probability(p.per_accused("accused.trip_rate")), len(keys)),
        factor=_per_accused(np.exp(-rules.arrest_logit_accused(coef, p.per_accused("accused.head_of_state"))),
                            len(keys)),
        invite=np.broadcast_to(rules.trip_probability(p.row("accused.invitation_rate")), (len(keys),)).copy())


def _per_accused(values: np.ndarray, n: int) -> np.ndarray:
    """(F,) or (n, F) values as a contiguous (n, F) table."""
    return np.ascontiguousarray(np.broadcast_to(values, (n, values.shape[-1])))


def _shifted(logits: np.ndarray) -> np.ndarray:
    """Logits minus each row's largest: only ratios of weights matter within a row, and exp() cannot overflow."""
    return np.ascontiguousarray(logits - logits.max(axis=1, keepdims=True, initial=-np.inf), DTYPE)


def _attributes(keys: np.ndarray, roster: Roster, p: Parameters, sampler: Sampler) -> dict[str, np.ndarray]:
    """ODD §5.3: every state's attributes (roster order, home included) from the rows' own streams."""
    means = rules.attribute_means(p.col, roster.member, roster.partner)
    kappa = p.col("states.concentration")
    n, s = len(keys), roster.n_states
    out = {}
    for name, stream in ATTRIBUTE_STREAMS.items():
        a, b, fixed = (np.broadcast_to(x, (n, s)) for x in rules.beta_shapes(means[name], kappa))  # rows may share
        values = sampler.betas(keys, stream, a, b)
        out[name] = np.where(np.isnan(fixed), values, fixed).astype(DTYPE)
    out["alignment"][:, roster.home] = rules.HOME_ALIGNMENT
    rules.apply_state_values(out, roster.codes, p.batch.params["scenario.states"])
    return out
