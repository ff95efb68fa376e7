"""The fused kernel: every month of a row in one pass of compiled code, rows in parallel (numba prange).

It mirrors sim.engines.vectorized.step decision by decision: the same submodels in the same order, every
formula a call to sim.model.rules (compiled in float32, ``compiled.RULES``), and every random number the
same slot of the same counter-based stream, so a row gives the NumPy core's outcomes up to float rounding
(exp32 for NumPy's exp, other summation orders). A row depends on nothing but its own key and parameters,
so neither threads nor chunks nor batches change a number.

A row's state arrays are the columns of one row of the World the engine drew (states other than home, in
layout order); parameters come as one row of a float64 table (``ROW_PARAMS``) and an (F, ``ACCUSED_PARAMS``)
table, so rows of different points run at full speed in one call.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.engines.fused.compiled import OPTIONS, exp32, sources_digest, uniform
from sim.engines.fused.compiled import RULES as R
from sim.model.outcomes import NEVER, ROUTE_CODE
from sim.model.streams import Stream

ROW_PARAMS = ("arrest.intercept", "arrest.duty", "arrest.compliance", "arrest.legitimacy", "arrest.pressure",
              "arrest.sovereignty", "arrest.alignment", "arrest.immunity",
              "court.legitimacy0", "court.arrest_gain", "court.finding_prob", "court.finding_pressure",
              "court.defiance_loss", "court.nonmember_loss", "court.reversion",
              "prosecutor.outreach_budget", "prosecutor.pressure_decay", "prosecutor.outreach_boost",
              "prosecutor.sealed_share", "prosecutor.unseal_rate", "prosecutor.timed_share",
              "home.surrender_prob", "home.fallen_at_issue", "home.detain_prob", "home.detained_surrender_rate",
              "states.arrest_norm_gain", "states.conformity", "states.legitimacy_pull", "states.withdrawal_rate",
              "states.withdrawal_delay", "states.accession_rate", "states.accession_delay",
              "accused.sealed_awareness", "regime_change")  # the last: q of ODD §7.1 (rules.regime_change_probability)
ACCUSED_PARAMS = ("plan", "accused.risk_aversion", "accused.max_risk", "accused_factor")
# plan: 1 − e^(−λ_j) (rules.trip_probability); accused_factor: e^(−arrest_logit_accused) (rules.arrest_probability_*)
ACCUSED_OUTCOMES = ("custody_month", "route", "detained_month", "trips", "trips_to_members", "trips_cancelled",
                    "trips_at_issue")
RUN_OUTCOMES = ("findings", "withdrawals", "accessions", "members_final")
SERIES = ("legitimacy", "members", "mean_compliance", "share_in_custody")

(I_INTERCEPT, I_DUTY, I_COMPLIANCE, I_LEGITIMACY, I_PRESSURE, I_SOVEREIGNTY, I_ALIGNMENT, I_IMMUNITY,
 I_L0, I_ARREST_GAIN, I_FINDING_PROB, I_FINDING_PRESSURE, I_DEFIANCE_LOSS, I_NONMEMBER_LOSS, I_REVERSION,
 I_BUDGET, I_DECAY, I_BOOST, I_SEALED_SHARE, I_UNSEAL_RATE, I_TIMED_SHARE,
 I_SURRENDER, I_FALLEN, I_DETAIN, I_DETAINED_SURRENDER,
 I_NORM_GAIN, I_CONFORMITY, I_LEGITIMACY_PULL, I_WITHDRAWAL_RATE, I_WITHDRAWAL_DELAY, I_ACCESSION_RATE,
 I_ACCESSION_DELAY, I_AWARENESS, I_REGIME) = range(len(ROW_PARAMS))
A_PLAN, A_RHO, A_MAX_RISK, A_FACTOR = range(len(ACCUSED_PARAMS))
O_CUSTODY, O_ROUTE, O_DETAINED, O_TRIPS, O_TO_MEMBERS, O_CANCELLED, O_AT_ISSUE = range(len(ACCUSED_OUTCOMES))
O_FINDINGS, O_WITHDRAWALS, O_ACCESSIONS, O_MEMBERS = range(len(RUN_OUTCOMES))

ARRESTED_BY_HOST = ROUTE_CODE["arrested_by_host"]
DOMESTIC_SURRENDER = ROUTE_CODE["domestic_surrender"]
TINY = np.float32(1e-30)  # as sim.engines.vectorized.step.TINY: below it, weights are redrawn in logs
F32 = np.float32
(SEALED, FALLEN, FALLEN_FATE, TIMED, TIMED_HOST, TIMED_ARREST, TIMED_FINDING, DETAINED_SURRENDER, REGIME,
 REGIME_FATE, PLAN, DESTINATION, ARREST, FINDING, UNSEAL, WITHDRAW, ACCEDE) = (
    int(s) for s in (Stream.SEALED, Stream.FALLEN, Stream.FALLEN_FATE, Stream.TIMED, Stream.TIMED_HOST,
                     Stream.TIMED_ARREST, Stream.TIMED_FINDING, Stream.DETAINED_SURRENDER, Stream.REGIME,
                     Stream.REGIME_FATE, Stream.PLAN, Stream.DESTINATION, Stream.ARREST, Stream.FINDING,
                     Stream.UNSEAL, Stream.WITHDRAW, Stream.ACCEDE))
jit = numba.njit(**OPTIONS)


# --- the arrays of one row -------------------------------------------------------------------------------------

@jit
def _coefficients(pr):
    return R.ArrestCoefficients(F32(pr[I_INTERCEPT]), F32(pr[I_DUTY]), F32(pr[I_COMPLIANCE]), F32(pr[I_LEGITIMACY]),
                                F32(pr[I_PRESSURE]), F32(pr[I_SOVEREIGNTY]), F32(pr[I_ALIGNMENT]),
                                F32(pr[I_IMMUNITY]))


@jit
def _odds(coef, standing, compliance, pressure, legitimacy, odds):
    """Every host's odds against arrest now (rules.arrest_odds_against), shared by the accused."""
    for i in range(odds.size):
        odds[i] = exp32(R.arrest_log_odds_against(coef, standing[i], compliance[i], pressure[i], legitimacy))


@jit
def _risk(capacity, odds, factor, sealed, awareness):
    """Accused j's perceived risk at one host (rules.arrest_probability_from_factor, rules.perceived_risk)."""
    return R.perceived_risk_one(R.arrest_probability_from_factor(capacity, odds, factor), sealed, awareness)


@jit
def _weights(appeal, capacity, odds, factor, sealed, awareness, rho, out):
    """Accused j's destination weights w_i·exp(β_t·a_i − ρ_j·r_ij) at every host."""
    for i in range(out.size):
        out[i] = exp32(R.destination_logit_from_appeal(appeal[i], _risk(capacity[i], odds[i], factor, sealed,
                                                                       awareness), rho))


@jit
def _logits(appeal, capacity, odds, factor, sealed, awareness, rho, out):
    """log of ``_weights`` (for rows whose weights all underflow float32)."""
    for i in range(out.size):
        out[i] = R.destination_logit_from_appeal(appeal[i], _risk(capacity[i], odds[i], factor, sealed, awareness),
                                                 rho)


@jit
def _cell_probability(coef, i, standing, compliance, pressure, capacity, legitimacy, factor):
    """Accused j's P_ij now at host i."""
    odds = exp32(R.arrest_log_odds_against(coef, standing[i], compliance[i], pressure[i], legitimacy))
    return R.arrest_probability_from_factor(capacity[i], odds, factor)


@jit
def _draw(weight, u, cum):
    """step._draw for one row: the first column whose running (float32) sum exceeds u·total, never past the last
    positive weight; −1 when the total is below TINY."""
    total = F32(0.0)
    for i in range(weight.size):
        total += weight[i]
        cum[i] = total
    if total < TINY:
        return -1
    goal = F32(u * np.float64(total))
    at_most, below = 0, 0
    for i in range(weight.size):
        at_most += cum[i] <= goal
        below += cum[i] < total
    return min(at_most, below)


@jit
def _draw_from_logits(logits, u, cum):
    """The draw of a row whose weights underflow: weights exp(logit − max logit)."""
    top = logits.max()
    for i in range(logits.size):
        logits[i] = exp32(logits[i] - top)
    return _draw(logits, u, cum)


# --- one row ---------------------------------------------------------------------------------------------------

@jit
def _take_custody(acc, free, detained, sealed, j, route, t):
    free[j] = False
    detained[j] = False
    sealed[j] = False
    acc[j, O_CUSTODY] = t
    acc[j, O_ROUTE] = route


@jit
def _new_government(key, pr, stream, t, acc, free, detained, sealed):
    """ODD §7.1's consequences: each free accused surrendered, detained at home or left free."""
    for j in range(free.size):
        if free[j] and not detained[j]:
            fate = R.fate_at_regime_change_one(uniform(key, stream, t, j), pr[I_SURRENDER], pr[I_DETAIN])
            if fate == R.SURRENDERED:
                _take_custody(acc, free, detained, sealed, j, DOMESTIC_SURRENDER, t)
            elif fate == R.DETAINED:
                detained[j] = True
                acc[j, O_DETAINED] = t


@jit
def _visit(key, pr, t, j, host, prob, member, arrest_stream, finding_stream, legitimacy, compliance, pressure,
           state_findings, acc, run, free, detained, sealed):
    """ODD §7.3.6-8: arrest with P_ij, else a member's refusal may bring a finding; returns the new legitimacy."""
    arrested = R.happens(uniform(key, arrest_stream, t, j), prob)
    finding = (not arrested) and member and R.happens(uniform(key, finding_stream, t, j), pr[I_FINDING_PROB])
    legitimacy = F32(R.legitimacy_after_visit_one(legitimacy, arrested, member, finding, F32(pr[I_ARREST_GAIN]),
                                                  pr[I_DEFIANCE_LOSS], F32(pr[I_NONMEMBER_LOSS])))
    if arrested or finding:
        c, p, n = R.host_after_visit_one(compliance[host], pressure[host], state_findings[host], arrested, finding,
                                         F32(pr[I_NORM_GAIN]), F32(pr[I_FINDING_PRESSURE]))
        compliance[host], pressure[host], state_findings[host] = c, p, n
    if finding:
        run[O_FINDINGS] += 1
    if arrested:
        _take_custody(acc, free, detained, sealed, j, ARRESTED_BY_HOST, t)
    return legitimacy


@jit
def _timed_stay(key, pr, pa, j, coef, member, standing, compliance, capacity, appeal, pressure, state_findings,
                legitimacy, odds, weight, scratch, cum, acc, run, free, detained, sealed):
    """ODD §7.0.2: the warrant of accused j is issued under seal while j is in a state party, drawn ∝ its destination
    weight among the current members; the stay is a visit (4.3.6-8). Returns the new legitimacy."""
    has_member = False
    for i in range(member.size):
        has_member |= member[i] > 0
    if not has_member:  # with no state party there is no timed warrant: nothing is sealed
        return legitimacy
    sealed[j] = True
    awareness, factor, rho = F32(pr[I_AWARENESS]), F32(pa[j, A_FACTOR]), F32(pa[j, A_RHO])
    _odds(coef, standing, compliance, pressure, legitimacy, odds)
    _weights(appeal, capacity, odds, factor, True, awareness, rho, weight)
    for i in range(member.size):
        weight[i] = R.timed_host_weights_one(weight[i], member[i] > 0)
    u = uniform(key, TIMED_HOST, 0, j)
    host = _draw(weight, u, cum)
    if host < 0:
        _logits(appeal, capacity, odds, factor, True, awareness, rho, scratch)
        for i in range(member.size):
            scratch[i] = scratch[i] if member[i] > 0 else -np.inf
        host = _draw_from_logits(scratch, u, cum)
    acc[j, O_TRIPS] += 1
    acc[j, O_TO_MEMBERS] += 1
    acc[j, O_AT_ISSUE] = 1
    prob = _cell_probability(coef, host, standing, compliance, pressure, capacity, legitimacy, factor)
    return _visit(key, pr, 0, j, host, prob, True, TIMED_ARREST, TIMED_FINDING, legitimacy, compliance, pressure,
                  state_findings, acc, run, free, detained, sealed)


@jit
def _row(key, pr, pa, member, standing, compliance, capacity, sovereignty, alignment, appeal, withdrawal_pull,
         home_compliance, segment_start, segment_region, region_size, home_region, horizon, acc, run, series):
    """Every month of one row (ODD §7 in rules.SUBMODELS order); returns the final legitimacy."""
    s, f = member.size, pa.shape[0]
    coef = _coefficients(pr)
    awareness, l0 = F32(pr[I_AWARENESS]), F32(pr[I_L0])
    budget = int(pr[I_BUDGET])
    pressure = np.zeros(s, np.float32)
    state_findings = np.zeros(s, np.float32)
    withdraw_at = np.full(s, -1, np.int32)
    join_at = np.full(s, -1, np.int32)
    ever_member = member > 0
    join_pending = np.zeros(s, np.bool_)
    odds = np.empty(s, np.float32)
    weights = np.empty((f, s), np.float32)
    scratch = np.empty(s, np.float32)
    cum = np.empty(s, np.float32)
    targets = np.empty(s, np.int64)
    free = np.ones(f, np.bool_)
    detained = np.zeros(f, np.bool_)
    sealed = np.zeros(f, np.bool_)
    travels = np.zeros(f, np.bool_)
    pull = np.empty(region_size.size, np.float32)
    for j in range(f):
        acc[j, O_CUSTODY] = NEVER
        acc[j, O_DETAINED] = NEVER
    legitimacy = l0
    pending = 0  # withdrawals and accessions notified and not yet in effect
    for t in range(horizon):
        if t == 0:  # ODD §7.0 the warrant at issue
            for j in range(f):
                if R.happens(uniform(key, SEALED, 0, j), pr[I_SEALED_SHARE]):
                    sealed[j] = True
            if R.happens(uniform(key, FALLEN, 0, 0), pr[I_FALLEN]):
                _new_government(key, pr, FALLEN_FATE, 0, acc, free, detained, sealed)
            if pr[I_TIMED_SHARE] > 0:
                for j in range(f):
                    travels[j] = R.happens(uniform(key, TIMED, 0, j), pr[I_TIMED_SHARE])
                for j in range(f):
                    if travels[j] and free[j] and not detained[j]:
                        legitimacy = _timed_stay(key, pr, pa, j, coef, member, standing, compliance, capacity,
                                                 appeal, pressure, state_findings, legitimacy, odds, weights[j],
                                                 scratch, cum, acc, run, free, detained, sealed)

        # ODD §7.1 regime change at home
        if pr[I_DETAINED_SURRENDER] > 0:
            for j in range(f):
                if detained[j] and R.happens(uniform(key, DETAINED_SURRENDER, t, j), pr[I_DETAINED_SURRENDER]):
                    _take_custody(acc, free, detained, sealed, j, DOMESTIC_SURRENDER, t)
        if R.happens(uniform(key, REGIME, t, 0), pr[I_REGIME]):
            _new_government(key, pr, REGIME_FATE, t, acc, free, detained, sealed)

        # ODD §7.3.3 plans, then ODD §7.2 outreach
        any_active, any_travel = False, False
        for j in range(f):
            active = free[j] and not detained[j]
            any_active |= active
            travels[j] = active and R.happens(uniform(key, PLAN, t, j), pa[j, A_PLAN])
            any_travel |= travels[j]
        for i in range(s):
            pressure[i] = R.decay_pressure(pressure[i], F32(pr[I_DECAY]))
        rank = any_active and 0 < budget < s
        n_targets = s if any_active and budget >= s else 0
        if rank or any_travel:
            _odds(coef, standing, compliance, pressure, legitimacy, odds)
            for j in range(f):
                if free[j] and not detained[j]:
                    _weights(appeal, capacity, odds, F32(pa[j, A_FACTOR]), sealed[j], awareness, F32(pa[j, A_RHO]),
                             weights[j])
            if rank:
                n_targets = _rank(weights, free, detained, sealed, budget, targets, scratch, cum, appeal, capacity,
                                  odds, pa, awareness)
        boost = F32(pr[I_BOOST])
        for k in range(n_targets):
            i = targets[k] if rank else k
            pressure[i] = R.add_pressure(pressure[i], boost)
            for j in range(f):
                if travels[j]:
                    prob = _cell_probability(coef, i, standing, compliance, pressure, capacity, legitimacy,
                                             F32(pa[j, A_FACTOR]))
                    weights[j, i] = exp32(R.destination_logit_from_appeal(
                        appeal[i], R.perceived_risk_one(prob, sealed[j], awareness), F32(pa[j, A_RHO])))

        # ODD §7.3 trips, arrests and findings, accused in index order
        touched = False  # an earlier accused travelled this month: the state has changed, weights are recomputed
        for j in range(f):
            if not travels[j]:
                continue
            factor, rho = F32(pa[j, A_FACTOR]), F32(pa[j, A_RHO])
            if touched:
                _odds(coef, standing, compliance, pressure, legitimacy, odds)
                _weights(appeal, capacity, odds, factor, sealed[j], awareness, rho, weights[j])
            u = uniform(key, DESTINATION, t, j)
            host = _draw(weights[j], u, cum)
            if host < 0:
                _odds(coef, standing, compliance, pressure, legitimacy, odds)
                _logits(appeal, capacity, odds, factor, sealed[j], awareness, rho, scratch)
                host = _draw_from_logits(scratch, u, cum)
            prob = _cell_probability(coef, host, standing, compliance, pressure, capacity, legitimacy, factor)
            if R.cancels(R.perceived_risk_one(prob, sealed[j], awareness), F32(pa[j, A_MAX_RISK])):
                acc[j, O_CANCELLED] += 1
                continue
            to_member = member[host] > 0
            acc[j, O_TRIPS] += 1
            acc[j, O_TO_MEMBERS] += to_member
            legitimacy = _visit(key, pr, t, j, host, prob, to_member, ARREST, FINDING, legitimacy, compliance,
                                pressure, state_findings, acc, run, free, detained, sealed)
            touched = True

        # ODD §7.4 unsealing
        for j in range(f):
            if sealed[j] and R.happens(uniform(key, UNSEAL, t, j), pr[I_UNSEAL_RATE]):
                sealed[j] = False

        # ODD §7.5 norm dynamics
        home_compliance = _norms(compliance, home_compliance, legitimacy, l0, pr, segment_start, segment_region,
                                 region_size, home_region, pull)

        # ODD §7.6 withdrawal, then accession
        if pr[I_WITHDRAWAL_RATE] > 0:
            rate, delay = F32(pr[I_WITHDRAWAL_RATE]), int(pr[I_WITHDRAWAL_DELAY])
            for i in range(s):
                if compliance[i] < withdrawal_pull[i] and R.may_withdraw_one(member[i] > 0, withdraw_at[i] >= 0):
                    hazard = R.withdrawal_probability_from_pull(withdrawal_pull[i], compliance[i],
                                                                state_findings[i], rate)
                    if R.happens(uniform(key, WITHDRAW, t, i), hazard):
                        withdraw_at[i] = t + delay
                        run[O_WITHDRAWALS] += 1
                        pending += 1
        if pending:
            pending -= _in_effect(withdraw_at, t, F32(0.0), member, ever_member, standing, coef, sovereignty, alignment)
        if pr[I_ACCESSION_RATE] > 0:
            rate, delay = F32(pr[I_ACCESSION_RATE]), int(pr[I_ACCESSION_DELAY])
            for i in range(s):
                if R.may_accede_one(member[i] > 0, ever_member[i], join_pending[i], False):
                    hazard = R.accession_probability(rate, compliance[i], alignment[i])
                    if R.happens(uniform(key, ACCEDE, t, i), hazard):
                        join_at[i] = t + delay
                        join_pending[i] = True
                        run[O_ACCESSIONS] += 1
                        pending += 1
        if pending:
            pending -= _in_effect(join_at, t, F32(1.0), member, ever_member, standing, coef, sovereignty, alignment)

        # ODD §7.7 legitimacy drift
        legitimacy = F32(R.legitimacy_drift(legitimacy, l0, F32(pr[I_REVERSION])))
        if series.shape[0]:
            _monthly(series[t], legitimacy, member, compliance, home_compliance, acc)
    members = 0
    for i in range(s):
        members += member[i] > 0
    run[O_MEMBERS] = members
    return legitimacy


@jit
def _in_effect(at, t, value, member, ever_member, standing, coef, sovereignty, alignment):
    """ODD §7.6: the withdrawals (value 0) or accessions (value 1) due in month t take effect; returns how many."""
    n = 0
    for i in range(member.shape[0]):
        if at[i] == t:
            member[i] = value
            ever_member[i] = ever_member[i] or value > 0
            standing[i] = R.arrest_logit_standing(coef, member[i], sovereignty[i], alignment[i])
            n += 1
    return n


@jit
def _rank(weights, free, detained, sealed, budget, targets, attraction, scratch, appeal, capacity, odds, pa,
          awareness):
    """ODD §7.2's targets in a row that ranks: the ``budget`` highest V_i = Σ_{free j} weight_ij (in logs where every
    weight underflows float32), rules.outreach_targets_one."""
    s = attraction.size
    attraction[:] = 0.0
    for j in range(weights.shape[0]):
        if free[j] and not detained[j]:
            for i in range(s):
                attraction[i] += weights[j, i]
    strong = False
    for i in range(s):
        strong |= attraction[i] >= TINY
    if not strong:  # step._log_attraction: log-sum-exp over the free accused
        attraction[:] = -np.inf
        for j in range(weights.shape[0]):
            if free[j] and not detained[j]:
                _logits(appeal, capacity, odds, F32(pa[j, A_FACTOR]), sealed[j], awareness, F32(pa[j, A_RHO]),
                        scratch)
                for i in range(s):
                    top = max(attraction[i], scratch[i])
                    low = min(attraction[i], scratch[i])
                    attraction[i] = top + np.log1p(exp32(low - top)) if top > -np.inf else top
    return R.outreach_targets_one(attraction, budget, targets)


@jit
def _norms(compliance, home_compliance, legitimacy, l0, pr, segment_start, segment_region, region_size, home_region,
           pull):
    """ODD §7.5: compliance moves towards its regional mean (home included); returns the home state's compliance."""
    conformity, legitimacy_pull = F32(pr[I_CONFORMITY]), F32(pr[I_LEGITIMACY_PULL])
    pull[:] = 0.0
    for k in range(segment_region.size):
        pull[segment_region[k]] += _sum(compliance, segment_start[k], segment_start[k + 1])
    pull[home_region] += home_compliance
    for g in range(pull.size):
        pull[g] = R.norm_pull(pull[g] / region_size[g], legitimacy, l0, conformity, legitimacy_pull)
    for k in range(segment_region.size):
        g = pull[segment_region[k]]
        for i in range(segment_start[k], segment_start[k + 1]):
            compliance[i] = R.norm_update_from_pull(compliance[i], g, conformity)
    return F32(R.norm_update_from_pull(home_compliance, pull[home_region], conformity))


@numba.njit(fastmath={"reassoc"}, **OPTIONS)
def _sum(x, start, stop):
    """Σ x[start:stop] in float32, in any order (vectorised)."""
    total = F32(0.0)
    for i in range(start, stop):
        total += x[i]
    return total


@numba.njit(fastmath={"reassoc"}, **OPTIONS)
def _monthly(out, legitimacy, member, compliance, home_compliance, acc):
    """The series of engine.monthly for one row after a month."""
    members, total = 0, 0.0
    for i in range(member.size):
        members += member[i] > 0
        total += np.float64(compliance[i])
    custody = 0
    for j in range(acc.shape[0]):
        custody += acc[j, O_CUSTODY] >= 0
    out[0] = legitimacy
    out[1] = members
    out[2] = (total + home_compliance) / (member.size + 1)
    out[3] = custody / acc.shape[0]


def _kernel(digest: str):
    """The parallel kernel; ``digest`` (of the sources it is compiled from) keys numba's cache of it."""

    @numba.njit(parallel=True, cache=True, **OPTIONS)
    def run_rows(keys, row_params, accused_params, member, standing, compliance, capacity, sovereignty, alignment,
                 appeal, withdrawal_pull, home_compliance, segment_start, segment_region, region_size, home_region,
                 horizon, accused_out, run_out, legitimacy_out, series_out):
        """Every row to the horizon, rows in parallel; outcomes, and the series if ``series_out`` is (R, T, 4)
        rather than (R, 0, 4), in place."""
        digest  # noqa: B018 - part of the cache key
        for r in numba.prange(keys.size):
            legitimacy_out[r] = _row(keys[r], row_params[r], accused_params[r], member[r], standing[r], compliance[r],
                                     capacity[r], sovereignty[r], alignment[r], appeal[r], withdrawal_pull[r],
                                     home_compliance[r], segment_start, segment_region, region_size, home_region,
                                     horizon, accused_out[r], run_out[r], series_out[r])
    return run_rows


run_rows = _kernel(sources_digest())
