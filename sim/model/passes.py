"""The protocol's passes over every state of one replicate, as NumPy array operations.

A pass applies rules of sim.model.rules to every state (column) of one replicate at once: the odds
against arrest, an accused's destination weights, the outreach ranking and boost, the inverse-CDF draw,
the norm dynamics, the candidates of per-state decisions and the monthly series. Decisions are not
made here: the protocol (sim.model.protocol) makes them, one state or one accused at a time.

The Mesa engine runs these NumPy forms; the fused engine compiles loop forms of the same passes
(sim.engines.fused.passes), which call the same rules element by element, and tests/test_protocol.py
checks that each pair agrees on random states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.model import rules

TINY = 1e-30  # total weights below this are redrawn in logs (float32 keeps full precision above ~1e-38)
F32 = np.float32


def decay_pressure(w: Any, p: Any) -> None:
    """ODD §7.2: every state's pressure decays, p_i ← p_i·(1 − decay)."""
    rules.decay_pressure(w.pressure, p.prosecutor.pressure_decay, out=w.pressure)


def arrest_odds(w: Any, p: Any) -> None:
    """Every host's factor of the odds against arrest now (rules.arrest_odds_against), into ``w.odds``."""
    w.odds[:] = rules.arrest_odds_against(p.arrest, w.standing, w.compliance, w.pressure, w.legitimacy)


def _risk(w: Any, p: Any, j: int) -> np.ndarray:
    """r_ij at every host, from ``w.odds`` (rules.arrest_probability_from_factor, rules.perceived_risk)."""
    prob = rules.arrest_probability_from_factor(w.capacity, w.odds, w.factor[j])
    return rules.perceived_risk(prob, w.sealed[j], p.accused.sealed_awareness)


def destination_weights(w: Any, p: Any, j: int) -> None:
    """Accused j's destination weights exp(appeal_i − ρ_j·r_ij) at every host, into ``w.weights[j]``."""
    np.exp(destination_logits(w, p, j), out=w.weights[j])


def destination_logits(w: Any, p: Any, j: int) -> np.ndarray:
    """log of accused j's destination weights (for replicates whose weights all underflow float32)."""
    return rules.destination_logit_from_appeal(w.appeal, _risk(w, p, j), p.accused.risk_aversion[j])


def attraction(w: Any, p: Any, active: np.ndarray) -> np.ndarray:
    """ODD §7.2: V_i = Σ_{free j} weight_ij (float32, accused in index order) into ``w.scratch``, or log V_i
    (log-sum-exp over the free accused) where every weight underflows float32."""
    total = w.scratch
    total[:] = 0.0
    for j in np.flatnonzero(active):
        total += w.weights[j]
    if total.max(initial=0) >= TINY:
        return total
    logits = np.stack([destination_logits(w, p, int(j)) for j in np.flatnonzero(active)])
    return np.logaddexp.reduce(logits, axis=0)


def outreach_targets(w: Any, p: Any, active: np.ndarray, budget: int) -> int:
    """ODD §7.2: the ``budget`` states of highest attraction (ties to the lower column, as rules.outreach_targets)
    into ``w.targets`` in column order; returns how many."""
    v = attraction(w, p, active)
    chosen = np.sort(np.argsort(-v, kind="stable")[:budget])  # a stable sort keeps the lower column among ties
    w.targets[:chosen.size] = chosen
    return int(chosen.size)


def every_state(w: Any) -> int:
    """Every state is a target (a budget that covers them all)."""
    n = w.targets.size
    w.targets[:] = np.arange(n)
    return n


def boost(w: Any, p: Any, n: int, active: np.ndarray) -> None:
    """ODD §7.2: the first ``n`` targets' pressure rises by the boost; where the weights were computed this month,
    the active accused's weights there follow the new pressure."""
    cells = w.targets[:n]
    w.pressure[cells] = rules.add_pressure(w.pressure[cells], p.prosecutor.outreach_boost)
    if not w.fresh:
        return
    odds = rules.arrest_odds_against(p.arrest, w.standing[cells], w.compliance[cells], w.pressure[cells],
                                     w.legitimacy)
    for j in np.flatnonzero(active):
        prob = rules.arrest_probability_from_factor(w.capacity[cells], odds, w.factor[j])
        risk = rules.perceived_risk(prob, w.sealed[j], p.accused.sealed_awareness)
        w.weights[j, cells] = np.exp(rules.destination_logit_from_appeal(w.appeal[cells], risk,
                                                                          p.accused.risk_aversion[j]))


def choose(weights: np.ndarray, u: float, cum: np.ndarray) -> int:
    """The inverse-CDF draw of one column with probability ∝ ``weights`` (float32 running sums): the first
    column whose running sum exceeds u·total, never past the last positive weight; −1 when the total is below
    TINY (the caller redraws in logs)."""
    np.cumsum(weights, out=cum)
    total = cum[-1] if cum.size else F32(0.0)
    if total < TINY:
        return -1
    goal = F32(u * np.float64(total))
    return int(min(np.count_nonzero(cum <= goal), np.count_nonzero(cum < total)))


def choose_in_logs(logits: np.ndarray, u: float, cum: np.ndarray) -> int:
    """``choose`` for a replicate whose weights underflow: weights exp(logit − the largest logit)."""
    return choose(np.exp(logits - logits.max()).astype(F32), u, cum)


def member_weights(w: Any, j: int, out: np.ndarray) -> None:
    """ODD §7.0.2: accused j's destination weights at current members, 0 elsewhere (rules.timed_host_weights)."""
    out[:] = rules.timed_host_weights(w.weights[j], w.member > 0)


def member_logits(w: Any, p: Any, j: int, out: np.ndarray) -> None:
    """log of ``member_weights``: −inf at non-members."""
    out[:] = np.where(w.member > 0, destination_logits(w, p, j), -np.inf)


def norms(w: Any, p: Any) -> None:
    """ODD §7.5: each region's mean compliance (home included; sums in float64, in column order), then every
    state's compliance pulled towards it and by the court's legitimacy."""
    w.pull[:] = 0.0
    if w.compliance.size:
        w.pull[w.segment_region] = np.add.reduceat(w.compliance.astype(np.float64), w.segment_start[:-1])
    w.pull[w.home_region] += w.home_compliance
    mean = (w.pull / w.region_size).astype(F32)
    conformity = p.states.conformity
    pull = rules.norm_pull(mean, w.legitimacy, p.court.legitimacy0, conformity, p.states.legitimacy_pull)
    by_column = np.repeat(pull[w.segment_region], np.diff(w.segment_start))
    rules.norm_update_from_pull(w.compliance, by_column, conformity, out=w.compliance)
    w.home_compliance = rules.norm_update_from_pull(w.home_compliance, pull[w.home_region], conformity)


def withdrawal_candidates(w: Any, out: np.ndarray) -> int:
    """ODD §7.6.1: the states whose withdrawal hazard is positive (members with none pending and c_i below their
    pull), into ``out`` in column order; returns how many."""
    found = np.flatnonzero(rules.may_withdraw(w.member > 0, w.withdraw_at >= 0) & (w.compliance < w.withdrawal_pull))
    out[:found.size] = found
    return int(found.size)


def withdrawal_hazards(w: Any, p: Any, n: int, out: np.ndarray) -> None:
    """ODD §7.6.1: the monthly hazard of notifying withdrawal (rules.withdrawal_probability_from_pull) of the first
    ``n`` candidates listed in ``w.picks``, into ``out[:n]``."""
    i = w.picks[:n]
    out[:n] = rules.withdrawal_probability_from_pull(w.withdrawal_pull[i], w.compliance[i], w.state_findings[i],
                                                     p.states.withdrawal_rate)


def accession_candidates(w: Any, out: np.ndarray) -> int:
    """ODD §7.6.2: the states that may deposit an accession, into ``out`` in column order; returns how many."""
    found = np.flatnonzero(rules.may_accede(w.member > 0, w.ever_member, w.join_pending, False))
    out[:found.size] = found
    return int(found.size)


def due(at: np.ndarray, t: int, out: np.ndarray) -> int:
    """The states whose withdrawal or accession takes effect in month t, into ``out``; returns how many."""
    found = np.flatnonzero(at == t)
    out[:found.size] = found
    return int(found.size)


def members(w: Any) -> int:
    """The current number of states parties (home is never one)."""
    return int(np.count_nonzero(w.member))


def monthly(w: Any, out: np.ndarray) -> None:
    """The monthly series after a month (sim.model.outcomes.SERIES): legitimacy, states parties, mean compliance
    of every state (home included), share of the accused in custody."""
    out[0] = w.legitimacy
    out[1] = np.count_nonzero(w.member)
    out[2] = (w.compliance.sum(dtype=np.float64) + np.float64(w.home_compliance)) / (w.compliance.size + 1)
    out[3] = np.count_nonzero(w.custody_month >= 0) / w.custody_month.size
