"""The model's formulas (docs/ODD.md), each written once for every engine.

Every function takes numbers or NumPy arrays (any broadcastable shapes) and returns the same kind: the
per-replicate protocol (sim.model.protocol) calls them on one state's or one accused's values, as Python
or compiled by numba (sim.engines.fused.compiled, which compiles this module's functions with float32
constants), the NumPy core on (replicates × states) arrays. So a rule of the month is pure arithmetic,
``where``, ``minimum``/``maximum`` and the logical ufuncs: no ``np.asarray``, no array-only branches. The rules
of the initial state (ODD §5.3: Beta shapes, attribute means, appeal, plan probabilities) and the selection of
outreach targets over rows run once per chunk in NumPy (sim.model.initial, the NumPy core).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias

import numpy as np

from sim.model.params import Params

Values: TypeAlias = float | np.floating | np.ndarray  # a number, or an array broadcasting with the other arguments
Mask: TypeAlias = bool | np.bool_ | np.ndarray  # a decision, or an array of them
Broadcast: TypeAlias = Any  # what a formula gives: a number or an array as NumPy broadcasts (mypy cannot follow)


_NUMBERS = (bool, int, float, np.bool_, np.float32, np.float64, np.int32, np.int64)


def where(condition: Mask, a: Values, b: Values) -> Broadcast:
    """``a`` where ``condition`` holds, else ``b`` (np.where for arrays; one of the two for a single decision,
    which is also what the compiled rules use)."""
    if type(condition) in _NUMBERS and type(a) in _NUMBERS and type(b) in _NUMBERS:
        return a if condition else b
    return np.where(condition, a, b)


def probability_from_odds_against(odds_against: Values, scale: Values = 1.0) -> Broadcast:
    """scale / (1 + o): ``scale`` times the probability of an event whose odds against are o."""
    return scale / (1.0 + odds_against)


def sigmoid(z: Values, scale: Values = 1.0) -> Broadcast:
    """scale · σ(z), with σ(z) = 1 / (1 + e^(−z))."""
    return probability_from_odds_against(np.exp(-z), scale)


def beta_draw(rng: np.random.Generator, mean: Values, concentration: float,
              size: int | tuple[int, ...] | None = None) -> Broadcast:
    """Beta(mκ, (1−m)κ) draws; a mean ≤ 0 gives exactly 0 and a mean ≥ 1 exactly 1 (ODD §5.3)."""
    a, b, fixed = beta_shapes(mean, concentration)
    draws = rng.beta(a, b, size=size)
    exact = ~np.isnan(fixed)
    return np.where(exact, fixed, draws) if exact.any() else draws


class ArrestCoefficients(NamedTuple):
    """The log-odds weights of the arrest decision (ODD §7.3.1)."""

    intercept: float
    duty: float
    compliance: float
    legitimacy: float
    pressure: float
    sovereignty: float
    alignment: float
    immunity: float

    @classmethod
    def from_params(cls, params: Params) -> ArrestCoefficients:
        return cls(**params.group("arrest"))


class ArrestWeights(Protocol):
    """What the arrest formulas read: ArrestCoefficients, or the vectorized engine's weights (numbers, or
    columns when they differ by row)."""

    @property
    def intercept(self) -> Values: ...
    @property
    def duty(self) -> Values: ...
    @property
    def compliance(self) -> Values: ...
    @property
    def legitimacy(self) -> Values: ...
    @property
    def pressure(self) -> Values: ...
    @property
    def sovereignty(self) -> Values: ...
    @property
    def alignment(self) -> Values: ...
    @property
    def immunity(self) -> Values: ...


def arrest_logit_standing(coef: ArrestWeights, member: Values, sovereignty: Values, alignment: Values) -> Broadcast:
    """Host i's share of z_ij that changes only when it leaves the statute:
    β0 + β_duty·member_i − β_s·s_i − β_a·a_i."""
    return coef.intercept + coef.duty * member - coef.sovereignty * sovereignty - coef.alignment * alignment


def arrest_logit_accused(coef: ArrestWeights, head_of_state: Values) -> Broadcast:
    """Accused j's share of z_ij: −β_hos·head_of_state_j."""
    return -coef.immunity * head_of_state


def arrest_log_odds_against(coef: ArrestWeights, standing: Values, compliance: Values, pressure: Values,
                            legitimacy: Values) -> Broadcast:
    """−z_common, where z_common = standing_i + β_c·c_i + β_p·p_i + β_L·L is the share of z_ij common to
    every accused (the exponent of ``arrest_odds_against``)."""
    return -coef.compliance * compliance - standing - coef.pressure * pressure - coef.legitimacy * legitimacy


def arrest_odds_against(coef: ArrestWeights, standing: Values, compliance: Values, pressure: Values,
                        legitimacy: Values) -> Broadcast:
    """e^(−z_common): host i's factor of every accused's odds against arrest there."""
    return np.exp(arrest_log_odds_against(coef, standing, compliance, pressure, legitimacy))


def arrest_probability_from_factor(capacity: Values, odds_against: Values, accused_factor: Values) -> Broadcast:
    """P_ij = k_i / (1 + e^(−z_common)·e^(−accused j's share)), from the odds against arrest of
    ``arrest_odds_against`` and accused j's factor e^(−``arrest_logit_accused``)."""
    return probability_from_odds_against(odds_against * accused_factor, capacity)


def arrest_probability_from_parts(capacity: Values, odds_against: Values, accused_logit: Values) -> Broadcast:
    """P_ij = k_i · σ(z_ij) = k_i / (1 + e^(−z_ij)), where e^(−z_ij) = ``arrest_odds_against``
    times e^(−accused j's share)."""
    factor: Values = np.exp(-accused_logit)
    if np.ndim(factor) == 0:
        factor = float(factor)  # a weak Python scalar keeps float32 arrays float32 (NEP 50)
    if np.all(factor == 1):
        return probability_from_odds_against(odds_against, capacity)
    return arrest_probability_from_factor(capacity, odds_against, factor)


def arrest_probability(coef: ArrestWeights, capacity: Values, member: Values, compliance: Values, legitimacy: Values,
                       pressure: Values, sovereignty: Values, alignment: Values, head_of_state: Values) -> Broadcast:
    """P_ij = k_i · σ(z_ij): the probability that host i arrests visiting accused j (ODD §7.3.1).

    z_ij = β0 + β_duty·member_i + β_c·c_i + β_L·L + β_p·p_i − β_s·s_i − β_a·a_i − β_hos·head_of_state_j,
    assembled from its parts so that the vectorized core can keep the parts that change rarely and share
    the exponential between accused.
    """
    odds_against = arrest_odds_against(coef, arrest_logit_standing(coef, member, sovereignty, alignment), compliance,
                                       pressure, legitimacy)
    return arrest_probability_from_parts(capacity, odds_against, arrest_logit_accused(coef, head_of_state))


def perceived_risk(arrest_prob: Values, sealed: Mask, sealed_awareness: Values) -> Broadcast:
    """r_ij: the accused sees the full risk of a public warrant, a share of it under seal."""
    return where(sealed, arrest_prob * sealed_awareness, arrest_prob)


def destination_appeal(log_appeal: Values, alignment: Values, travel_alignment: float) -> Broadcast:
    """log w_i + β_t·a_i: the log destination weight of state i at zero risk (fixed for a run)."""
    return log_appeal + travel_alignment * alignment


def destination_logit_from_appeal(appeal: Values, risk: Values, risk_aversion: Values) -> Broadcast:
    """log of the destination weight, from ``destination_appeal``: appeal_i − ρ_j·r_ij."""
    return appeal - risk_aversion * risk


def destination_logit(log_appeal: Values, alignment: Values, risk: Values, travel_alignment: float,
                      risk_aversion: Values) -> Broadcast:
    """log of the destination weight w_i · exp(β_t·a_i − ρ_j·r_ij) (kept in logs to avoid underflow)."""
    return destination_logit_from_appeal(destination_appeal(log_appeal, alignment, travel_alignment), risk,
                                         risk_aversion)


def trip_probability(trip_rate: Values) -> Broadcast:
    """1 − exp(−λ): the chance a Poisson(λ) planner plans at least one trip this month."""
    return -np.expm1(-np.asarray(trip_rate, dtype=float))


def regime_change_probability(turnover_rate: Values, engagement_effect: Values, engagement: Values) -> Broadcast:
    """q = min(1, η(1 + γ_e·e)) (ODD §7.1), for numbers or arrays."""
    return np.minimum(1.0, turnover_rate * (1.0 + engagement_effect * engagement))


def replicate_turnover(turnover_rate: Values, turnover_sd: Values, normal: Values) -> Broadcast:
    """v1.4, ODD §5.3: a replicate's own home hazard η_r = η·exp(σ_η·z − σ_η²/2), z ~ N(0, 1); its mean over
    replicates is η, and σ_η = 0 gives η exactly (exp(0) = 1)."""
    return turnover_rate * np.exp(turnover_sd * normal - 0.5 * turnover_sd * turnover_sd)


def timed_arrest_probability(arranged: Values, arrest_prob: Values) -> Broadcast:
    """v1.4, ODD §7.0.2: the arrest on a timed stay, θ + (1 − θ)·P_ij: arranged with the host with probability θ,
    otherwise the host decides as on any visit (θ = 0 gives P_ij exactly)."""
    return arranged + (1.0 - arranged) * arrest_prob


def decay_pressure(pressure: Values, decay: float, out: np.ndarray | None = None) -> Broadcast:
    """p ← p·(1 − decay) (into ``out`` if given)."""
    if out is None:
        return pressure * (1.0 - decay)
    return np.multiply(pressure, 1.0 - decay, out=out)


def add_pressure(pressure: Values, boost: Values) -> Broadcast:
    """p ← min(1, p + boost)."""
    return np.minimum(1.0, pressure + boost)


def legitimacy_after_arrest(legitimacy: Values, gain: Values) -> Broadcast:
    """L ← L + δ_arrest·(1 − L)."""
    return legitimacy + gain * (1.0 - legitimacy)


def legitimacy_after_defiance(legitimacy: Values, loss: Values, finding: Mask) -> Broadcast:
    """L ← L − δ_defy·L, halved when the court makes a finding (in the precision of L and δ_defy: a boolean finding
    must not widen float32 to float64 in one engine and not in another)."""
    return legitimacy - where(finding, 0.5 * loss, loss) * legitimacy


def legitimacy_after_nonmember_visit(legitimacy: Values, loss: Values) -> Broadcast:
    """L ← L − δ_nm·L."""
    return legitimacy - loss * legitimacy


def legitimacy_drift(legitimacy: Values, legitimacy0: float, reversion: float) -> Broadcast:
    """L ← clip(L + κ_L·(L0 − L), 0, 1)."""
    return np.minimum(np.maximum(legitimacy + reversion * (legitimacy0 - legitimacy), 0.0), 1.0)


def compliance_after_arrest(compliance: Values, gain: Values) -> Broadcast:
    """c_i ← min(1, c_i + gain) for the arresting host."""
    return np.minimum(1.0, compliance + gain)


def norm_pull(region_mean: Values, legitimacy: Values, legitimacy0: float, conformity: float,
              legitimacy_pull: float) -> Broadcast:
    """μ·c̄_region + ν·(L − L0): the monthly pull on c_i, the same for every state of a region."""
    return conformity * region_mean + legitimacy_pull * (legitimacy - legitimacy0)


def norm_update_from_pull(compliance: Values, pull: Values, conformity: float,
                          out: np.ndarray | None = None) -> Broadcast:
    """c_i ← clip((1 − μ)·c_i + pull, 0, 1), with the pull of ``norm_pull`` (into ``out`` if given)."""
    if out is None:
        return np.minimum(np.maximum((1.0 - conformity) * compliance + pull, 0.0), 1.0)
    return np.clip((1.0 - conformity) * compliance + pull, 0.0, 1.0, out=out)


def norm_update(compliance: Values, region_mean: Values, legitimacy: Values, legitimacy0: float, conformity: float,
                legitimacy_pull: float) -> Broadcast:
    """c_i ← clip(c_i + μ·(c̄_region − c_i) + ν·(L − L0), 0, 1)."""
    return norm_update_from_pull(compliance, norm_pull(region_mean, legitimacy, legitimacy0, conformity,
                                                       legitimacy_pull), conformity)


def withdrawal_pull(sovereignty: Values, alignment: Values, threshold: float) -> Broadcast:
    """s_i + a_i − θ_w: how far a member's sovereignty and alignment exceed the threshold (fixed for a run)."""
    return sovereignty + alignment - threshold


def withdrawal_probability_from_pull(pull: Values, compliance: Values, findings: Values, rate: float) -> Broadcast:
    """min(1, ω·max(0, pull − c)·(1 + n)), with the pull of ``withdrawal_pull``; zero unless c < pull."""
    return np.minimum(1.0, rate * np.maximum(0.0, pull - compliance) * (1.0 + findings))


def withdrawal_probability(sovereignty: Values, alignment: Values, compliance: Values, findings: Values, rate: float,
                           threshold: float) -> Broadcast:
    """min(1, ω·max(0, s + a − c − θ_w)·(1 + n)): a member's monthly hazard of notifying withdrawal."""
    return withdrawal_probability_from_pull(withdrawal_pull(sovereignty, alignment, threshold), compliance, findings,
                                            rate)


# --- decisions (ODD §5 and ODD §7): what follows from a uniform, the guards of each decision ----------------

FREE, SURRENDERED, DETAINED = 0, 1, 2  # an accused's fate when a new home government takes office


def beta_shapes(mean: Values, concentration: Values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beta(mκ, (1−m)κ) shapes of ODD §5.3 and the exact value where there is no draw: ``fixed`` is 0 for a
    mean ≤ 0, 1 for a mean ≥ 1 and NaN where a Beta draw is used (whose shapes are then a, b)."""
    mean = np.asarray(mean, dtype=float)
    inner = (mean > 0) & (mean < 1)
    m = np.where(inner, mean, 0.5)
    fixed = np.where(inner, np.nan, np.where(mean >= 1, 1.0, 0.0))
    return m * concentration, (1.0 - m) * concentration, fixed


def attribute_means(value: Callable[[str], Any], member: Mask, partner: Mask) -> dict[str, np.ndarray]:
    """ODD §5.3: the Beta mean of every state's sovereignty, compliance, capacity and alignment.

    ``value(name)`` gives a parameter (a number, or an array broadcasting against ``member``);
    sovereignty and compliance go by membership, alignment by partnership, capacity is common.
    The home state (a non-member, never a partner) takes the same rules; its alignment is 1 exactly
    (``HOME_ALIGNMENT``) and only its compliance is ever used.
    """
    member = np.asarray(member, dtype=bool)
    partner = np.asarray(partner, dtype=bool)
    return {
        "sovereignty": np.where(member, value("states.sovereignty_member"), value("states.sovereignty_nonmember")),
        "compliance": np.where(member, value("states.compliance_member"), value("states.compliance_nonmember")),
        "capacity": np.broadcast_to(np.asarray(value("states.capacity"), dtype=float),
                                    np.broadcast_shapes(member.shape, np.shape(value("states.capacity")))),
        "alignment": np.where(partner, value("states.alignment_partner"), value("states.alignment")),
    }


HOME_ALIGNMENT = 1.0


def apply_state_values(attributes: Mapping[str, np.ndarray], codes: Sequence[str],
                       values: Mapping[str, Mapping[str, float]]) -> None:
    """Set the attributes ``scenario.states`` names (``{ISO3: {attribute: value}}``) in place of their draws:
    ``attributes[name]`` has the roster's states on its last axis, ``codes`` their ISO3 codes."""
    index = {c: i for i, c in enumerate(codes)}
    for code, row in values.items():
        for name, value in row.items():
            attributes[name][..., index[code]] = value


def log_appeal(normal: Values, partner: Mask, appeal_sd: Values, partner_appeal: Values) -> Broadcast:
    """ODD §5.3: log w_i = appeal_sd·z_i, plus log(partner_appeal) for the home state's partners."""
    return appeal_sd * normal + np.where(partner, np.log(partner_appeal), 0.0)


def happens(u: Values, probability: Values) -> Broadcast:
    """A Bernoulli decision from its uniform: u < p (a probability of 0 never happens, 1 always does)."""
    return u < probability


def fate_at_regime_change(u: Values, surrender_prob: Values, detain_prob: Values) -> Broadcast:
    """ODD §7.1: one uniform per free accused; surrender if u < π, detention at home if π ≤ u < π + (1 − π)·δ_h,
    else free (codes SURRENDERED, DETAINED, FREE)."""
    detain = u < surrender_prob + (1.0 - surrender_prob) * detain_prob
    return where(u < surrender_prob, SURRENDERED, where(detain, DETAINED, FREE))


def log_outreach_attraction(destination_logits: np.ndarray, free: Mask) -> np.ndarray:
    """ODD §7.2: log V_i = log Σ_{free j} w_i·exp(β_t·a_i − ρ_j·r_ij), from each accused's log destination weights
    (..., F, states) and whether each is free (..., F); −inf at every state when nobody is free."""
    logits = np.where(np.asarray(free, dtype=bool)[..., None], destination_logits, -np.inf)
    return np.logaddexp.reduce(logits, axis=-2)


def cancels(risk: Values, max_risk: Values) -> Broadcast:
    """ODD §7.3.5: a trip whose perceived risk exceeds r_max is called off."""
    return risk > max_risk


def makes_finding(u: Values, arrested: Mask, member: Mask, finding_prob: Values) -> Broadcast:
    """ODD §7.3.7: after a state party's refusal to arrest, the court makes a non-compliance finding with
    probability φ (never after an arrest, nor after a non-member's hosting)."""
    return np.logical_and(np.logical_and(np.logical_not(arrested), member), happens(u, finding_prob))


def refused(arrested: Mask, member: Mask) -> Broadcast:
    """ODD §7.3.7: a state party's refusal to arrest, the only case in which the court may make a finding
    (and draws for it)."""
    return np.logical_and(np.logical_not(arrested), member)


def legitimacy_after_visit(legitimacy: Values, arrested: Mask, member: Mask, finding: Mask, arrest_gain: Values,
                           defiance_loss: Values, nonmember_loss: Values) -> Broadcast:
    """ODD §7.3.6-8: the court's legitimacy after a visit: an arrest adds δ_arrest·(1 − L); a member's refusal
    costs δ_defy·L (halved by a finding); a non-member's hosting costs δ_nm·L."""
    after_refusal = legitimacy_after_defiance(legitimacy, defiance_loss, finding)
    after_visit = where(member, after_refusal, legitimacy_after_nonmember_visit(legitimacy, nonmember_loss))
    return where(arrested, legitimacy_after_arrest(legitimacy, arrest_gain), after_visit)


def host_after_visit(compliance: Values, pressure: Values, findings: Values, arrested: Mask, finding: Mask,
                     arrest_norm_gain: Values, finding_pressure: Values) -> tuple[Broadcast, Broadcast, Broadcast]:
    """ODD §7.3.6-7: the host's compliance (raised by an arrest), pressure (raised by a finding) and findings count."""
    return (where(arrested, compliance_after_arrest(compliance, arrest_norm_gain), compliance),
            where(finding, add_pressure(pressure, finding_pressure), pressure),
            where(finding, findings + 1, findings))


def outreach_targets(attraction: np.ndarray, budget: Values, active: Mask) -> np.ndarray:
    """ODD §7.2: the ``budget`` states of highest attraction in each active row (every state when the budget
    covers them all; none in a row with no free accused). ``attraction`` is (rows, states) over the states
    other than home, or any increasing transform of it (log V ranks the same); ``budget`` is a number or one
    per row. Ties (probability zero) go to the lower column."""
    attraction = np.asarray(attraction)
    rows, n = attraction.shape
    budget = np.clip(np.broadcast_to(np.asarray(budget, dtype=np.int64), (rows,)), 0, n)
    active = np.broadcast_to(np.asarray(active, dtype=bool), (rows,)) & (budget > 0)
    if n == 0:
        return np.zeros((rows, 0), bool)
    threshold = np.take_along_axis(np.sort(attraction, axis=1), (n - np.maximum(budget, 1))[:, None], axis=1)
    target = (attraction >= threshold) & active[:, None]
    over = np.flatnonzero(np.count_nonzero(target, axis=1) > budget)
    for r in over:  # exact ties at the threshold: keep the lower columns among the tied
        above = attraction[r] > threshold[r, 0]
        tied = np.flatnonzero(attraction[r] == threshold[r, 0])
        target[r] = above
        target[r, tied[: budget[r] - int(above.sum())]] = True
    return target


def regional_means(compliance: Values, region: np.ndarray, n_regions: int) -> np.ndarray:
    """ODD §7.5: c̄_r, the mean compliance of all states of region r (home included), per row:
    (rows, states) values and each state's region index -> (rows, regions)."""
    compliance = np.atleast_2d(compliance)
    region = np.asarray(region, dtype=np.int64)
    rows = compliance.shape[0]
    # bincount adds each region's values in state order (a matrix product would round differently by BLAS)
    if rows == 1:
        sums = np.bincount(region, weights=compliance[0], minlength=n_regions)[None, :]
    else:
        cell = (np.arange(rows, dtype=np.int64)[:, None] * n_regions + region[None, :]).reshape(-1)
        sums = np.bincount(cell, weights=compliance.reshape(-1), minlength=rows * n_regions).reshape(rows, n_regions)
    sizes = np.maximum(np.bincount(region, minlength=n_regions), 1)
    return (sums / sizes).astype(compliance.dtype, copy=False)


def may_withdraw(member: Mask, pending: Mask) -> Broadcast:
    """ODD §7.6.1: members with no withdrawal pending may notify withdrawal."""
    return np.logical_and(member, np.logical_not(pending))


def may_accede(member: Mask, ever_member: Mask, pending: Mask, home: Mask) -> Broadcast:
    """ODD §7.6.2: a non-member other than home that has never been a member during the run and has no
    accession pending may deposit an instrument of accession."""
    return np.logical_not(np.logical_or(np.logical_or(member, ever_member), np.logical_or(pending, home)))


def accession_probability(rate: Values, compliance: Values, alignment: Values) -> Broadcast:
    """ODD §7.6.2: min(1, α·c_i·(1 − a_i)), with c_i after the norm dynamics of the month."""
    return np.minimum(1.0, rate * compliance * (1.0 - alignment))


def timed_host_weights(weights: Values, member: Mask) -> Broadcast:
    """ODD §7.0.2: the host of a timed warrant is drawn among current members (i ≠ h) with probability
    proportional to the accused's destination weight."""
    return where(member, weights, 0.0)
