"""One month of MODEL.md §4 for a chunk of replicates at once (the vectorized core's submodels).

Each submodel updates a World (sim._vector_world) in place through the formulas of sim.rules.
Random draws come from the chunk's one Generator in a fixed order, so a chunk's results depend
only on its seed; the order differs from the Mesa engine's, which MODEL.md §3 allows.
"""

from __future__ import annotations

import numpy as np

from sim import rules
from sim._vector_world import DTYPE, Setup, World
from sim.outcomes import ROUTES

ARRESTED_BY_HOST = ROUTES.index("arrested_by_host")
DOMESTIC_SURRENDER = ROUTES.index("domestic_surrender")
TINY = 1e-30  # weights below this are recomputed in logs (float32 keeps full precision above ~1e-38)
DRAW_BLOCK = 16  # destination draw: pick a block of states by its summed weight, then a state inside it


def step(w: World, s: Setup, rng: np.random.Generator, t: int) -> None:
    """Month t: regime change, outreach, trips, unsealing, norms, withdrawal, legitimacy drift."""
    regime_change(w, s, rng, t)
    travellers = plans(w, s, rng)
    outreach(w, s, travellers)
    trips(w, s, rng, t, travellers)
    unseal(w, s, rng)
    norm_dynamics(w, s)
    withdrawal(w, s, rng, t)
    drift(w, s)


def regime_change(w: World, s: Setup, rng: np.random.Generator, t: int) -> None:
    """§4.1: a new home government hands each free accused over with probability π."""
    changed = np.flatnonzero(rng.random(w.n) < s.regime_change)
    if changed.size == 0:
        return
    handed = w.free[changed] & (rng.random((changed.size, s.n_accused)) < s.params["home.surrender_prob"])
    r, j = np.nonzero(handed)
    w.take_custody(changed[r], j, DOMESTIC_SURRENDER, t)


def outreach(w: World, s: Setup, travellers: np.ndarray) -> None:
    """§4.2: pressure decays; the B most attractive destinations for the free accused get a boost.

    Leaves in ``w.cache`` each accused's arrest probabilities and destination weights at every
    state, as they stand after the boost, for the rows in ``travellers`` (R, F) that need them.
    """
    p = s.params
    w.pressure = rules.decay_pressure(w.pressure, p["prosecutor.pressure_decay"])
    w.cache = None
    budget, n_states = p["prosecutor.outreach_budget"], s.n_states
    active = w.free.any(axis=1)
    if budget <= 0 or not active.any():
        return
    boost = p["prosecutor.outreach_boost"]
    if budget >= n_states:
        target = np.broadcast_to(active[:, None], w.pressure.shape)
        w.pressure = rules.add_pressure(w.pressure, np.multiply(target, boost, dtype=DTYPE))
        return
    prob, weight = w.arrest_and_weights(slice(None), s.head_of_state[:, None, None], s.risk_aversion[:, None, None],
                                        w.sealed.T[:, :, None])  # (F, R, S)
    for j in range(s.n_accused):
        weight[j, ~w.free[:, j]] = 0.0  # only free accused attract outreach; the others do not travel
    attraction = weight.sum(axis=0) if s.n_accused > 1 else weight[0].copy()
    kth = n_states - budget
    threshold = np.partition(attraction, kth, axis=1)[:, kth]
    weak = np.flatnonzero(active & (threshold < TINY))
    if weak.size:  # rare: every candidate's weight underflows float32; rank those rows in logs
        attraction[weak] = _log_attraction(w, s, weak)
        threshold[weak] = np.partition(attraction[weak], kth, axis=1)[:, kth]
    target = attraction >= threshold[:, None]
    target &= active[:, None]
    if np.count_nonzero(target) != budget * np.count_nonzero(active):
        _break_ties(target, attraction, threshold, budget)
    flat = np.flatnonzero(target)
    pressure = w.pressure.reshape(-1)
    pressure[flat] = rules.add_pressure(pressure[flat], boost)
    rows = flat // n_states
    for j in range(s.n_accused):  # the boost changed P and weights at the targets: recompute them there
        need = travellers[rows, j]
        at = flat[need]
        pj, wj = w.cell_arrest_and_weights(at, s.head_of_state[j], s.risk_aversion[j], w.sealed[rows[need], j])
        prob[j].reshape(-1)[at] = pj
        weight[j].reshape(-1)[at] = wj
    w.cache = (prob, weight)


def _log_attraction(w: World, s: Setup, rows: np.ndarray) -> np.ndarray:
    """log V for the given rows, with the log-sum-exp taken over the free accused."""
    logits = np.stack([w.destination_logits(rows, j) for j in range(s.n_accused)])
    logits[~w.free[rows].T] = -np.inf
    top = logits.max(axis=0)
    return top + np.log(np.exp(logits - top).sum(axis=0))


def _break_ties(target: np.ndarray, attraction: np.ndarray, threshold: np.ndarray, budget: int) -> None:
    """Keep exactly ``budget`` targets per row when values tie at the threshold (MODEL.md: any tie-break)."""
    for r in np.flatnonzero(np.count_nonzero(target, axis=1) > budget):
        above = attraction[r] > threshold[r]
        at = np.flatnonzero(attraction[r] == threshold[r])
        target[r] = above
        target[r, at[: budget - int(above.sum())]] = True


def plans(w: World, s: Setup, rng: np.random.Generator) -> np.ndarray:
    """§4.3.3: which free accused plan a trip this month (drawn before outreach; the draws are independent)."""
    return w.free & (rng.random(w.free.shape) < s.plan_prob)


def trips(w: World, s: Setup, rng: np.random.Generator, t: int, travellers: np.ndarray) -> None:
    """§4.3: each free accused in index order (with its plan drawn) picks a host, may cancel, travels,
    may be arrested."""
    touched = np.zeros(w.n, bool)  # rows where an earlier accused travelled this month
    for j in range(s.n_accused):
        rows = np.flatnonzero(travellers[:, j])
        if rows.size:
            travelled = _turn(w, s, rng, t, j, rows, touched[rows])
            touched[travelled] = True


def _turn(w: World, s: Setup, rng, t: int, j: int, rows: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """Accused j's trip in each of ``rows``; returns the rows where a trip took place."""
    p = s.params
    weight, prob_at = _turn_weights(w, s, j, rows, touched)
    u = rng.random(rows.size)
    host = _draw(weight, u)
    weak = np.flatnonzero(host < 0)
    if weak.size:  # rare: every weight in the row underflows float32; draw from weights scaled in logs
        logit = w.destination_logits(rows[weak], j)
        host[weak] = _draw(np.exp(logit - logit.max(axis=1, keepdims=True)), u[weak])
    prob_host = prob_at(host)
    risk = rules.perceived_risk(prob_host, w.sealed[rows, j], p["accused.sealed_awareness"])
    go = risk <= s.max_risk[j]
    w.trips_cancelled[rows[~go], j] += 1
    rows, host, prob_host = rows[go], host[go], prob_host[go]
    member = w.member[rows, host] > 0
    w.trips[rows, j] += 1
    w.trips_to_members[rows, j] += member
    arrested = rng.random(rows.size) < prob_host
    a_rows, a_host = rows[arrested], host[arrested]
    w.take_custody(a_rows, j, ARRESTED_BY_HOST, t)
    w.legitimacy[a_rows] = rules.legitimacy_after_arrest(w.legitimacy[a_rows], p["court.arrest_gain"])
    w.compliance[a_rows, a_host] = rules.compliance_after_arrest(w.compliance[a_rows, a_host],
                                                                 p["states.arrest_norm_gain"])
    refused = ~arrested & member
    r_rows, r_host = rows[refused], host[refused]
    finding = rng.random(r_rows.size) < p["court.finding_prob"]
    f_rows, f_host = r_rows[finding], r_host[finding]
    w.state_findings[f_rows, f_host] += 1
    w.pressure[f_rows, f_host] = rules.add_pressure(w.pressure[f_rows, f_host], p["court.finding_pressure"])
    w.findings[f_rows] += 1
    w.legitimacy[r_rows] = rules.legitimacy_after_defiance(w.legitimacy[r_rows], p["court.defiance_loss"], finding)
    v_rows = rows[~arrested & ~member]
    w.legitimacy[v_rows] = rules.legitimacy_after_nonmember_visit(w.legitimacy[v_rows], p["court.nonmember_loss"])
    return rows


def _turn_weights(w: World, s: Setup, j: int, rows: np.ndarray, touched: np.ndarray):
    """Destination weights of accused j in ``rows`` and a function giving P_ij at chosen hosts,
    from the state as j's turn starts.

    Rows untouched by earlier accused this month reuse the outreach's values; the others
    (and every row when outreach computed nothing) are recomputed.
    """
    hos, rho = s.head_of_state[j], s.risk_aversion[j]
    if w.cache is None:
        prob, weight = w.arrest_and_weights(rows, hos, rho, w.sealed[rows, j][:, None])
        return weight, lambda host: prob[np.arange(rows.size), host]
    cached_prob, weight = w.cache[0][j].reshape(-1), w.cache[1][j][rows]
    fresh = np.flatnonzero(touched)
    if fresh.size == 0:
        return weight, lambda host: cached_prob.take(rows * s.n_states + host)
    again = rows[fresh]
    fresh_prob, weight[fresh] = w.arrest_and_weights(again, hos, rho, w.sealed[again, j][:, None])

    def prob_at(host):
        out = cached_prob.take(rows * s.n_states + host)
        out[fresh] = fresh_prob[np.arange(fresh.size), host[fresh]]
        return out

    return weight, prob_at


def _draw(weight: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one column per row with probability ∝ weight, one uniform per row.

    Two levels: a block of DRAW_BLOCK columns by its summed weight, then a column inside it.
    Rows whose total weight is below TINY get −1 (the caller redraws them from rescaled weights).
    """
    n, cols = weight.shape
    starts = np.arange(0, cols, DRAW_BLOCK)
    block = np.add.reduceat(weight, starts, axis=1)
    cum = np.cumsum(block, axis=1, dtype=np.float64)
    total = cum[:, -1]
    goal = u * total
    b = np.minimum(np.count_nonzero(cum <= goal[:, None], axis=1), len(starts) - 1)
    local = np.arange(n)
    rest = goal - np.where(b > 0, cum[local, b - 1], 0.0)
    inner_cols = starts[b][:, None] + np.arange(DRAW_BLOCK)
    inner = np.where(inner_cols < cols, weight[local[:, None], np.minimum(inner_cols, cols - 1)], 0.0)
    inner_cum = np.cumsum(inner, axis=1, dtype=np.float64)
    last = np.minimum(DRAW_BLOCK, cols - starts[b]) - 1
    offset = np.minimum(np.count_nonzero(inner_cum <= rest[:, None], axis=1), last)
    return np.where(total < TINY, -1, starts[b] + offset)


def unseal(w: World, s: Setup, rng: np.random.Generator) -> None:
    """§4.4: each sealed warrant becomes public with probability ``prosecutor.unseal_rate``."""
    if w.sealed.any():
        w.sealed &= rng.random(w.sealed.shape) >= s.params["prosecutor.unseal_rate"]


def norm_dynamics(w: World, s: Setup) -> None:
    """§4.5: compliance moves towards its regional mean (home included) and with the court's legitimacy."""
    p = s.params
    sums = np.add.reduceat(w.compliance, s.segment_start, axis=1) @ s.segment_region
    sums[:, s.home_region] += w.home_compliance
    means = sums / s.region_size
    region_mean = np.repeat(means @ s.segment_region.T, s.segment_length, axis=1)
    args = (p["court.legitimacy0"], p["states.conformity"], p["states.legitimacy_pull"])
    w.compliance = rules.norm_update(w.compliance, region_mean, w.legitimacy[:, None], *args)
    w.home_compliance = rules.norm_update(w.home_compliance, means[:, s.home_region], w.legitimacy, *args)


def withdrawal(w: World, s: Setup, rng: np.random.Generator, t: int) -> None:
    """§4.6: members notify withdrawal; notified withdrawals take effect ``withdrawal_delay`` months later."""
    p = s.params
    m = s.n_members0  # states that were members at the start come first: only they can ever withdraw
    if p["states.withdrawal_rate"] > 0 and m:
        hazard = rules.withdrawal_probability(w.sovereignty[:, :m], w.alignment[:, :m], w.compliance[:, :m],
                                              w.state_findings[:, :m], p["states.withdrawal_rate"],
                                              p["states.withdrawal_threshold"])
        candidates = np.flatnonzero(w.eligible[:, :m] & (hazard > 0))
        notify = candidates[rng.random(candidates.size) < hazard.reshape(-1)[candidates]]
        if notify.size:
            rows, cols = np.divmod(notify, m)
            w.eligible[rows, cols] = False
            np.add.at(w.withdrawals, rows, 1)
            flat = rows * s.n_states + cols
            due = t + p["states.withdrawal_delay"]
            w.pending[due] = np.concatenate([w.pending.get(due, flat[:0]), flat])
    effective = w.pending.pop(t, None)
    if effective is not None:
        w.member.reshape(-1)[effective] = 0


def drift(w: World, s: Setup) -> None:
    """§4.7: legitimacy reverts towards L0."""
    w.legitimacy = rules.legitimacy_drift(w.legitimacy, s.params["court.legitimacy0"], s.params["court.reversion"])
