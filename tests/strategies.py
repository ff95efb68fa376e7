"""Hypothesis strategies for valid parameter sets (from the schema's own ranges) and the shared invariant checks."""

from __future__ import annotations

from hypothesis import strategies as st

from sim.model.params import SCHEMA

# Kept small so each example runs in milliseconds; the rest of the schema is drawn from its range.
SIZE = {"scenario.n_states": (3, 25), "scenario.horizon_months": (1, 24), "scenario.n_regions": (1, 6),
        "scenario.n_partners": (0, 2), "prosecutor.outreach_budget": (0, 30), "states.withdrawal_delay": (0, 6),
        "states.accession_delay": (0, 6)}
SKIP = {"scenario.roster", "scenario.date", "scenario.home", "scenario.partners", "scenario.states"}
V13 = tuple(p.name for p in SCHEMA if p.since in ("1.3", "1.4", "1.5"))  # mechanisms off at their defaults


def _value(p, lo, hi):
    if p.scalar_kind == "float":
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.integers(int(lo), int(hi))


@st.composite
def valid_params(draw, n_accused=None):
    """A dict of dotted names covering every numeric parameter, within its slider (or hard) range.

    Each v1.3 parameter is at its default (mechanism off) in about half the examples, so runs mix
    mechanisms that are on and off, and the v1.2 model is drawn too.
    """
    f = draw(n_accused if n_accused is not None else st.integers(1, 3))
    out = {}
    for p in SCHEMA:
        if p.name in SKIP:
            continue
        lo, hi = SIZE.get(p.name, p.slider_range)
        lo, hi = max(lo, p.low), min(hi, p.high)
        if p.is_list:
            out[p.name] = draw(st.lists(_value(p, lo, hi), min_size=f, max_size=f))
        elif p.name in V13:
            out[p.name] = draw(st.one_of(st.just(p.default), _value(p, lo, hi)))
        else:
            out[p.name] = draw(_value(p, lo, hi))
    return out


# Every formula of sim.model.rules that returns a probability; check_probabilities wraps them all.
PROBABILITIES = ("arrest_probability", "arrest_probability_from_parts", "probability_from_odds_against",
                 "trip_probability", "regime_change_probability", "withdrawal_probability",
                 "withdrawal_probability_from_pull", "perceived_risk", "sigmoid", "accession_probability")
# Every decision of sim.model.rules taken on a uniform: the positions of its probability arguments.
DECISIONS = {"happens": (1,), "fate_at_regime_change": (1, 2), "makes_finding": (3,)}


def _in_unit_interval(value, what: str) -> None:
    import numpy as np

    arr = np.asarray(value, dtype=float)
    assert np.all((arr >= 0) & (arr <= 1)), f"{what}: {arr[(arr < 0) | (arr > 1) | np.isnan(arr)]}"


def check_probabilities(monkeypatch):
    """Wrap every probability formula and every decision of sim.model.rules, so that any probability made
    or used outside [0, 1] (and any uniform outside [0, 1)) fails the test at once."""
    from sim.model import rules

    for name in PROBABILITIES:
        original = getattr(rules, name)

        def checked(*args, _f=original, _n=name, **kw):
            out = _f(*args, **kw)
            _in_unit_interval(out, f"{_n} gave")
            return out

        monkeypatch.setattr(rules, name, checked)
    for name, positions in DECISIONS.items():
        original = getattr(rules, name)

        def decided(*args, _f=original, _n=name, _at=positions, **kw):
            import numpy as np

            u = np.asarray(args[0], dtype=float)
            assert np.all((u >= 0) & (u < 1)), f"{_n} got a uniform outside [0, 1)"
            for i in _at:
                _in_unit_interval(args[i], f"{_n} used a probability")
            return _f(*args, **kw)

        monkeypatch.setattr(rules, name, decided)
