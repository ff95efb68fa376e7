"""Hypothesis strategies for valid parameter sets (from the schema's own ranges) and the shared invariant checks."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.model.params import SCHEMA

# Kept small so each example runs in milliseconds; the rest of the schema is drawn from its range.
SIZE = {"scenario.n_states": (3, 25), "scenario.horizon_months": (1, 24), "scenario.n_regions": (1, 6),
        "scenario.n_partners": (0, 2), "prosecutor.outreach_budget": (0, 30), "states.withdrawal_delay": (0, 6)}
SKIP = {"scenario.roster", "scenario.date", "scenario.home", "scenario.partners"}


def _value(p, lo, hi):
    if p.scalar_kind == "float":
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.integers(int(lo), int(hi))


@st.composite
def valid_params(draw, n_accused=st.integers(1, 3)):
    """A dict of dotted names covering every numeric parameter, within its slider (or hard) range."""
    f = draw(n_accused)
    out = {}
    for p in SCHEMA:
        if p.name in SKIP:
            continue
        lo, hi = SIZE.get(p.name, p.slider_range)
        lo, hi = max(lo, p.low), min(hi, p.high)
        if p.is_list:
            out[p.name] = draw(st.lists(_value(p, lo, hi), min_size=f, max_size=f))
        else:
            out[p.name] = draw(_value(p, lo, hi))
    return out


# Every formula of sim.rules that returns a probability; check_probabilities wraps them all.
PROBABILITIES = ("arrest_probability", "arrest_probability_from_parts", "probability_from_odds_against",
                 "trip_probability", "regime_change_probability", "withdrawal_probability",
                 "withdrawal_probability_from_pull", "perceived_risk", "sigmoid")


def check_probabilities(monkeypatch):
    """Wrap every probability formula so that any value outside [0, 1] fails the test at once."""
    import numpy as np

    from sim.model import rules

    for name in PROBABILITIES:
        original = getattr(rules, name)

        def checked(*args, _f=original, _n=name, **kw):
            out = _f(*args, **kw)
            arr = np.asarray(out)
            assert np.all((arr >= 0) & (arr <= 1)), f"{_n} gave {arr[(arr < 0) | (arr > 1)]}"
            return out

        monkeypatch.setattr(rules, name, checked)
