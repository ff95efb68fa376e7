"""The protocol's passes over every state as compiled loops (the loop forms of sim.model.passes).

Each function has the name, arguments and effect of its NumPy form in sim.model.passes and applies the same
rules (compiled in float32, ``compiled.RULES``) element by element, with ``exp32`` for NumPy's exp so that the
loops vectorise; tests/test_protocol.py checks every pair on random states. Working arrays are read into
locals before a loop, so that the compiler sees plain arrays.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.engines.fused.compiled import OPTIONS, exp32
from sim.engines.fused.compiled import RULES as R
from sim.model import passes as numpy_form

TINY = np.float32(numpy_form.TINY)
F32 = np.float32
jit = numba.njit(**OPTIONS)
fast = numba.njit(fastmath={"reassoc"}, **OPTIONS)  # sums in any order (vectorised)


@jit
def decay_pressure(w, p):
    pressure, decay = w.pressure, p.prosecutor.pressure_decay
    for i in range(pressure.size):
        pressure[i] = R.decay_pressure(pressure[i], decay)


@jit
def arrest_odds(w, p):
    odds, standing, compliance, pressure, legitimacy = w.odds, w.standing, w.compliance, w.pressure, w.legitimacy
    for i in range(odds.size):
        odds[i] = exp32(R.arrest_log_odds_against(p.arrest, standing[i], compliance[i], pressure[i], legitimacy))


@jit
def _weight_logit(capacity, odds, factor, sealed, awareness, appeal, rho):
    return R.destination_logit_from_appeal(
        appeal, R.perceived_risk(R.arrest_probability_from_factor(capacity, odds, factor), sealed, awareness), rho)


@jit
def destination_weights(w, p, j):
    out, capacity, odds, appeal = w.weights[j], w.capacity, w.odds, w.appeal
    factor, sealed, awareness, rho = w.factor[j], w.sealed[j], p.accused.sealed_awareness, p.accused.risk_aversion[j]
    for i in range(out.size):
        out[i] = exp32(_weight_logit(capacity[i], odds[i], factor, sealed, awareness, appeal[i], rho))


@jit
def destination_logits(w, p, j):
    capacity, odds, appeal = w.capacity, w.odds, w.appeal
    factor, sealed, awareness, rho = w.factor[j], w.sealed[j], p.accused.sealed_awareness, p.accused.risk_aversion[j]
    out = np.empty(odds.size, np.float32)
    for i in range(out.size):
        out[i] = _weight_logit(capacity[i], odds[i], factor, sealed, awareness, appeal[i], rho)
    return out


@jit
def attraction(w, p, active):
    weights, total = w.weights, w.scratch
    for i in range(total.size):
        total[i] = 0.0
    strong = False
    for j in range(active.size):
        if active[j]:
            row = weights[j]
            for i in range(total.size):
                total[i] += row[i]
    for i in range(total.size):
        strong |= total[i] >= TINY
    if strong:
        return total
    total[:] = -np.inf  # log-sum-exp over the free accused
    for j in range(active.size):
        if active[j]:
            logits = destination_logits(w, p, j)
            for i in range(total.size):
                top, low = max(total[i], logits[i]), min(total[i], logits[i])
                total[i] = top + np.log1p(exp32(low - top)) if top > -np.inf else top
    return total


@jit
def outreach_targets(w, p, active, budget):
    return top(attraction(w, p, active), budget, w.targets, w.picks)


@jit
def top(v, budget, targets, columns):
    """The columns of the ``budget`` largest values of ``v`` into ``targets`` (decreasing), ties to the lower column
    (rules.outreach_targets for one row); ``columns`` is a working array. Returns how many.

    Only columns at or above a floor can be chosen, where at least ``budget`` values reach the floor: the least
    value at the columns ``targets`` held before (last month's targets, which stay near the top: about 12 columns
    reach it at the defaults); when fewer than ``budget`` reach it, every column is a candidate. Among the
    candidates in column order, insertion into a sorted head, then each later column displaces the last kept only
    if strictly larger."""
    n = v.size
    if budget >= n:
        for i in range(n):
            targets[i] = i
        return n
    if budget <= 0:
        return 0
    if budget > 64:  # a stable sort of −V keeps the lower column first among equals
        order = np.argsort(-v, kind="mergesort")
        for k in range(budget):
            targets[k] = order[k]
        return budget
    floor = np.inf
    for k in range(budget):
        i = targets[k]
        floor = min(floor, v[i]) if 0 <= i < n else -np.inf
    m = 0
    for i in range(n):
        m += np.int64(v[i] >= floor)
    if m >= budget:
        m = 0
        for i in range(n):  # the candidates, in column order
            columns[m] = i
            m += np.int64(v[i] >= floor)
    else:
        for i in range(n):
            columns[i] = i
        m = n
    for c in range(budget):
        i = columns[c]
        k = c
        while k > 0 and v[targets[k - 1]] < v[i]:
            targets[k] = targets[k - 1]
            k -= 1
        targets[k] = i
    least = v[targets[budget - 1]]
    for c in range(budget, m):
        i = columns[c]
        if v[i] > least:
            k = budget - 1
            while k > 0 and v[targets[k - 1]] < v[i]:
                targets[k] = targets[k - 1]
                k -= 1
            targets[k] = i
            least = v[targets[budget - 1]]
    return budget


@jit
def every_state(w):
    targets = w.targets
    for i in range(targets.size):
        targets[i] = i
    return targets.size


@jit
def boost(w, p, n, active):
    pressure, targets, weights, boost_by = w.pressure, w.targets, w.weights, p.prosecutor.outreach_boost
    for k in range(n):
        i = targets[k]
        pressure[i] = R.add_pressure(pressure[i], boost_by)
    if not w.fresh:
        return
    standing, compliance, capacity, appeal, factor, sealed = w.standing, w.compliance, w.capacity, w.appeal, w.factor, \
        w.sealed
    coef, legitimacy, awareness, rho, odds = p.arrest, w.legitimacy, p.accused.sealed_awareness, \
        p.accused.risk_aversion, w.cum  # w.cum: the targets' odds (a working array, free here)
    for k in range(n):
        i = targets[k]
        odds[k] = exp32(R.arrest_log_odds_against(coef, standing[i], compliance[i], pressure[i], legitimacy))
    for j in range(active.size):
        if active[j]:
            row, factor_j, sealed_j, rho_j = weights[j], factor[j], sealed[j], rho[j]
            for k in range(n):
                i = targets[k]
                row[i] = exp32(_weight_logit(capacity[i], odds[k], factor_j, sealed_j, awareness, appeal[i], rho_j))


@jit
def choose(weights, u, cum):
    total = F32(0.0)
    for i in range(weights.size):
        total += weights[i]
        cum[i] = total
    if total < TINY:
        return -1
    goal = F32(u * np.float64(total))
    at_most, below = 0, 0
    for i in range(weights.size):
        at_most += cum[i] <= goal
        below += cum[i] < total
    return min(at_most, below)


@jit
def choose_in_logs(logits, u, cum):
    top = logits.max()
    for i in range(logits.size):
        logits[i] = exp32(logits[i] - top)
    return choose(logits, u, cum)


@jit
def member_weights(w, j, out):
    weights, member = w.weights[j], w.member
    for i in range(out.size):
        out[i] = R.timed_host_weights(weights[i], member[i] > 0)


@jit
def member_logits(w, p, j, out):
    logits, member = destination_logits(w, p, j), w.member
    for i in range(out.size):
        out[i] = logits[i] if member[i] > 0 else -np.inf


@fast
def _sum64(x, start, stop):
    total = 0.0
    for i in range(start, stop):
        total += np.float64(x[i])
    return total


@jit
def norms(w, p):
    compliance, start, region, sums, size = w.compliance, w.segment_start, w.segment_region, w.pull, w.region_size
    conformity, legitimacy, legitimacy0, drawn = p.states.conformity, w.legitimacy, p.court.legitimacy0, \
        p.states.legitimacy_pull
    home = w.home_region
    for g in range(sums.size):
        sums[g] = 0.0
    for k in range(region.size):
        sums[region[k]] = _sum64(compliance, start[k], start[k + 1])
    sums[home] += np.float64(w.home_compliance)
    for k in range(region.size):
        g = region[k]
        pull = R.norm_pull(F32(sums[g] / size[g]), legitimacy, legitimacy0, conformity, drawn)
        for i in range(start[k], start[k + 1]):
            compliance[i] = R.norm_update_from_pull(compliance[i], pull, conformity)
    pull = R.norm_pull(F32(sums[home] / size[home]), legitimacy, legitimacy0, conformity, drawn)
    w.home_compliance = R.norm_update_from_pull(w.home_compliance, pull, conformity)


@jit
def withdrawal_candidates(w, out):
    member, pending, compliance, pull = w.member, w.withdraw_at, w.compliance, w.withdrawal_pull
    n = 0
    for i in range(member.size):
        if R.may_withdraw(member[i] > 0, pending[i] >= 0) and compliance[i] < pull[i]:
            out[n] = i
            n += 1
    return n


@jit
def withdrawal_hazards(w, p, n, out):
    picks, pull, compliance, findings, rate = w.picks, w.withdrawal_pull, w.compliance, w.state_findings, \
        p.states.withdrawal_rate
    for k in range(n):
        i = picks[k]
        out[k] = R.withdrawal_probability_from_pull(pull[i], compliance[i], findings[i], rate)


@jit
def accession_candidates(w, out):
    member, ever, pending = w.member, w.ever_member, w.join_pending
    n = 0
    for i in range(member.size):
        if R.may_accede(member[i] > 0, ever[i], pending[i], False):
            out[n] = i
            n += 1
    return n


@jit
def due(at, t, out):
    n = 0
    for i in range(at.size):
        n += at[i] == t
    if n == 0:
        return 0
    n = 0
    for i in range(at.size):
        out[n] = i
        n += at[i] == t
    return n


@jit
def members(w):
    member = w.member
    n = 0
    for i in range(member.size):
        n += member[i] > 0
    return n


@fast
def monthly(w, out):
    compliance = w.compliance
    total = 0.0
    for i in range(compliance.size):
        total += np.float64(compliance[i])
    custody = 0
    for j in range(w.custody_month.size):
        custody += w.custody_month[j] >= 0
    out[0] = w.legitimacy
    out[1] = members(w)
    out[2] = (total + np.float64(w.home_compliance)) / (compliance.size + 1)
    out[3] = custody / w.custody_month.size
