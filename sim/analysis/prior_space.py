"""The priors' probability scale and its logit: the unconstrained space in which neural posterior estimation
learns and samples, so that no sample can fall outside a bounded prior.

Each calibrated parameter θ with prior CDF F maps to u = F(θ) in (0, 1) (the prior's probability scale: a
uniform prior becomes uniform, a log-uniform one uniform in log θ, a beta one uniform) and then to
z = logit(u) on the whole real line, where the prior is a standard logistic distribution. The map is
monotone per parameter, so ranks of a truth among posterior draws are the same on every scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, logit

from sim.analysis.inference import Prior

EDGE = 1e-12  # u is kept in [EDGE, 1 - EDGE] before the logit: a draw on a prior's bound maps to a finite z


def to_probability(priors: Sequence[Prior], values: np.ndarray) -> np.ndarray:
    """(N, K) parameter values -> their prior CDFs (N, K), each in [0, 1]."""
    values = np.atleast_2d(np.asarray(values, float))
    return np.column_stack([p.scipy().cdf(values[:, k]) for k, p in enumerate(priors)])


def from_probability(priors: Sequence[Prior], u: np.ndarray) -> np.ndarray:
    """(N, K) prior probabilities -> parameter values inside each prior's bounds."""
    u = np.atleast_2d(np.asarray(u, float))
    out = np.column_stack([p.ppf(u[:, k]) for k, p in enumerate(priors)])
    lows, highs = np.array([p.low for p in priors]), np.array([p.high for p in priors])
    return np.clip(out, lows, highs)  # a beta ppf may overshoot its bound by an ulp


def to_unconstrained(priors: Sequence[Prior], values: np.ndarray) -> np.ndarray:
    """(N, K) parameter values -> logit of their prior CDFs (N, K), finite."""
    return logit(np.clip(to_probability(priors, values), EDGE, 1.0 - EDGE))


def from_unconstrained(priors: Sequence[Prior], z: np.ndarray) -> np.ndarray:
    """(N, K) points of the unconstrained space -> parameter values, always inside each prior's bounds."""
    return from_probability(priors, expit(np.asarray(z, float)))
