"""MODEL.md's formulas, written once for both engines.

Every function takes NumPy scalars or arrays (any broadcastable shapes) and returns
the same kind, so the Mesa engine calls them on one state's values or one row of
states, and the vectorized core on (replicates × states) arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sim.params import Params


def sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z))."""
    return 1.0 / (1.0 + np.exp(-z))


def beta_draw(rng: np.random.Generator, mean, concentration: float, size=None):
    """Beta(mκ, (1−m)κ) draws; a mean ≤ 0 gives exactly 0 and a mean ≥ 1 exactly 1 (MODEL.md §3)."""
    mean = np.asarray(mean, dtype=float)
    inner = (mean > 0) & (mean < 1)
    m = np.where(inner, mean, 0.5)
    draws = rng.beta(m * concentration, (1 - m) * concentration, size=size)
    return np.where(inner, draws, np.where(mean >= 1, 1.0, 0.0))


class ArrestCoefficients(NamedTuple):
    """The log-odds weights of the arrest decision (MODEL.md §4.3.1)."""

    intercept: float
    duty: float
    compliance: float
    legitimacy: float
    pressure: float
    sovereignty: float
    alignment: float
    immunity: float

    @classmethod
    def from_params(cls, params: Params) -> "ArrestCoefficients":
        return cls(**params.group("arrest"))


def arrest_logit(coef: ArrestCoefficients, member, compliance, legitimacy, pressure, sovereignty, alignment,
                 head_of_state):
    """z_ij: the log-odds that host i arrests accused j, before capacity."""
    return (coef.intercept + coef.duty * member + coef.compliance * compliance + coef.legitimacy * legitimacy
            + coef.pressure * pressure - coef.sovereignty * sovereignty - coef.alignment * alignment
            - coef.immunity * head_of_state)


def arrest_probability(coef: ArrestCoefficients, capacity, member, compliance, legitimacy, pressure, sovereignty,
                       alignment, head_of_state):
    """P_ij = k_i · σ(z_ij): the probability that host i arrests visiting accused j."""
    return capacity * sigmoid(arrest_logit(coef, member, compliance, legitimacy, pressure, sovereignty, alignment,
                                           head_of_state))


def perceived_risk(arrest_prob, sealed, sealed_awareness: float):
    """r_ij: the accused sees the full risk of a public warrant, a share of it under seal."""
    return np.where(sealed, arrest_prob * sealed_awareness, arrest_prob)


def destination_logit(log_appeal, alignment, risk, travel_alignment: float, risk_aversion):
    """log of the destination weight w_i · exp(β_t·a_i − ρ_j·r_ij) (kept in logs to avoid underflow)."""
    return log_appeal + travel_alignment * alignment - risk_aversion * risk


def trip_probability(trip_rate):
    """1 − exp(−λ): the chance a Poisson(λ) planner plans at least one trip this month."""
    return -np.expm1(-np.asarray(trip_rate, dtype=float))


def regime_change_probability(turnover_rate: float, engagement_effect: float, engagement: float) -> float:
    """q = min(1, η(1 + γ_e·e)) (MODEL.md §4.1)."""
    return float(min(1.0, turnover_rate * (1.0 + engagement_effect * engagement)))


def decay_pressure(pressure, decay: float):
    """p ← p·(1 − decay)."""
    return pressure * (1.0 - decay)


def add_pressure(pressure, boost: float):
    """p ← min(1, p + boost)."""
    return np.minimum(1.0, pressure + boost)


def legitimacy_after_arrest(legitimacy, gain: float):
    """L ← L + δ_arrest·(1 − L)."""
    return legitimacy + gain * (1.0 - legitimacy)


def legitimacy_after_defiance(legitimacy, loss: float, finding):
    """L ← L − δ_defy·L, halved when the court makes a finding."""
    return legitimacy - np.where(finding, 0.5, 1.0) * loss * legitimacy


def legitimacy_after_nonmember_visit(legitimacy, loss: float):
    """L ← L − δ_nm·L."""
    return legitimacy - loss * legitimacy


def legitimacy_drift(legitimacy, legitimacy0: float, reversion: float):
    """L ← clip(L + κ_L·(L0 − L), 0, 1)."""
    return np.clip(legitimacy + reversion * (legitimacy0 - legitimacy), 0.0, 1.0)


def compliance_after_arrest(compliance, gain: float):
    """c_i ← min(1, c_i + gain) for the arresting host."""
    return np.minimum(1.0, compliance + gain)


def norm_update(compliance, region_mean, legitimacy, legitimacy0: float, conformity: float, legitimacy_pull: float):
    """c_i ← clip(c_i + μ·(c̄_region − c_i) + ν·(L − L0), 0, 1)."""
    return np.clip(compliance + conformity * (region_mean - compliance) + legitimacy_pull * (legitimacy - legitimacy0),
                   0.0, 1.0)


def withdrawal_probability(sovereignty, alignment, compliance, findings, rate: float, threshold: float):
    """min(1, ω·max(0, s + a − c − θ_w)·(1 + n)): a member's monthly hazard of notifying withdrawal."""
    excess = np.maximum(0.0, sovereignty + alignment - compliance - threshold)
    return np.minimum(1.0, rate * excess * (1.0 + findings))
