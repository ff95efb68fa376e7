"""Hypothesis strategies for valid parameter sets, drawn from the schema's own ranges."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.params import SCHEMA

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
