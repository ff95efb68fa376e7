"""Replicates consistent with the record to date (sim.analysis.conditioning, ODD §4.11): hand-built frames, the
definitions as invariants (hypothesis), an independent rejection count, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.conditioning import consistent, status_at
from sim.errors import UserError

NA = pd.NA


def frame(rows):
    """rows: (replicate, accused, custody_month, detained_month, regime_change_month); NA for never."""
    out = pd.DataFrame(rows, columns=["replicate", "accused", "custody_month", "detained_month",
                                      "regime_change_month"])
    for c in ("custody_month", "detained_month", "regime_change_month"):
        out[c] = out[c].astype("Int64")
    return out


OUTCOMES = frame([
    (0, 0, NA, NA, NA), (0, 1, NA, NA, NA),  # both free, no change
    (1, 0, 3, NA, 2), (1, 1, NA, 2, 2),  # custody at 3, detained at 2, change at 2
    (2, 0, 7, NA, 6), (2, 1, NA, 6, 6),  # the same, after month 5
    (3, 0, 4, 1, 1), (3, 1, NA, NA, 1),  # detained at 1 then handed over at 4
])


def record(*statuses, month=None, since=None):
    out = pd.DataFrame({"accused": range(len(statuses)), "status": list(statuses)})
    if month is not None:
        out["month"] = month
    if since is not None:
        out["since"] = pd.array(since, dtype="Int64")
    return out


def test_statuses_and_the_regime_change_before_month_m():
    got = consistent(OUTCOMES, record("free", "free"), 5, False)
    assert got.tolist() == [True, False, True, False]  # replicate 2's events come in month 6 and 7: after m = 5
    assert consistent(OUTCOMES, record("custody", "detained"), 5, True).tolist() == [False, True, False, False]
    # at m = 4 replicate 3's accused 0 is detained (its handover is in month 4, not before it)
    assert consistent(OUTCOMES, record("detained", "free"), 4, True).tolist() == [False, False, False, True]
    assert consistent(OUTCOMES, record("custody", "free"), 5, True).tolist() == [False, False, False, True]
    assert consistent(OUTCOMES, record("free", "free"), 5, None).tolist() == [True, False, True, False]


def test_an_empty_record_at_month_0_keeps_every_replicate():
    got = consistent(OUTCOMES, record("free", "free"), 0, False)
    assert got.all() and list(got.index) == [0, 1, 2, 3]
    assert consistent(OUTCOMES, record(), 0, None).all()  # nobody conditioned on


def test_an_accused_s_own_month_and_the_month_its_status_began():
    # accused 0 died at month 2 (observed free until then), accused 1 detained at month 2
    got = consistent(OUTCOMES, record("free", "detained", month=[2, 7]), 7, True)
    assert got.tolist() == [False, True, True, False]
    exact = consistent(OUTCOMES, record("custody", "detained", since=[3, 2]), 8, True)
    assert exact.tolist() == [False, True, False, False]


def test_the_engine_s_never_code_is_never():
    engine = OUTCOMES.assign(**{c: OUTCOMES[c].astype("float").fillna(-1).astype(int)
                                for c in ("custody_month", "detained_month", "regime_change_month")})
    for rec, m, changed in ((record("free", "free"), 5, False), (record("custody", "detained"), 5, True)):
        pd.testing.assert_series_equal(consistent(engine, rec, m, changed), consistent(OUTCOMES, rec, m, changed))


def test_several_keys_index_the_mask():
    two = pd.concat([OUTCOMES.assign(draw=0), OUTCOMES.assign(draw=1)], ignore_index=True)
    got = consistent(two, record("free", "free"), 5, False, keys=("draw", "replicate"))
    assert got.index.names == ["draw", "replicate"] and got.tolist() == [True, False, True, False] * 2


@st.composite
def runs(draw, most_accused: int = 3):
    n, f = draw(st.integers(1, 30)), draw(st.integers(1, most_accused))
    month = st.one_of(st.none(), st.integers(0, 24))
    rows = []
    for r in range(n):
        change = draw(month)
        for j in range(f):
            rows.append((r, j, draw(month), draw(month), change))
    out = frame([tuple(NA if v is None else v for v in row) for row in rows])
    return out, f


@settings(max_examples=60, deadline=None)
@given(runs(), st.integers(0, 30), st.data())
def test_the_mask_is_the_definition_counted_by_hand(case, m, data):
    """Rejection by an independent loop over the replicates: status at m from the definitions of ODD §4.11."""
    outcomes, f = case
    statuses = data.draw(st.lists(st.sampled_from(["free", "detained", "custody"]), min_size=f, max_size=f))
    changed = data.draw(st.booleans())
    got = consistent(outcomes, record(*statuses), m, changed)
    for r, g in outcomes.groupby("replicate"):
        ok = True
        for _, row in g.iterrows():
            c = row["custody_month"]
            d = row["detained_month"]
            c = None if pd.isna(c) else int(c)
            d = None if pd.isna(d) else int(d)
            status = "custody" if c is not None and c < m else "detained" if d is not None and d < m else "free"
            ok &= status == statuses[int(row["accused"])]
        rc = g["regime_change_month"].iloc[0]
        ok &= (not pd.isna(rc) and int(rc) < m) == changed
        assert bool(got.loc[r]) == ok


@settings(max_examples=15, deadline=None)
@given(runs(most_accused=2))
def test_conditioning_partitions_the_replicates(case):
    """Every replicate is consistent with exactly one record to date (its own statuses and change) at each m."""
    outcomes, f = case
    import itertools

    for m in (0, 5):
        total = pd.Series(0, index=sorted(outcomes["replicate"].unique()))
        for statuses in itertools.product(["free", "detained", "custody"], repeat=f):
            for changed in (False, True):
                total += consistent(outcomes, record(*statuses), m, changed).astype(int).to_numpy()
        assert (total == 1).all()


def test_status_at_reads_never_as_not_yet():
    got = status_at(np.array([np.nan, 2.0, 5.0, np.nan]), np.array([np.nan, np.nan, 1.0, 1.0]), np.full(4, 3.0))
    assert got.tolist() == ["free", "custody", "detained", "detained"]


@pytest.mark.parametrize("rec, message", [
    (pd.DataFrame({"accused": [0]}), "lacks column"),
    (record("held"), "status 'held'"),
    (pd.DataFrame({"accused": [0, 0], "status": ["free", "free"]}), "lists an accused twice"),
    (record("free", since=[3]), "gives a 'since' month to a free accused"),
])
def test_a_bad_record_to_date_is_one_clear_line(rec, message):
    with pytest.raises(UserError, match=message) as err:
        consistent(OUTCOMES, rec, 3, None)
    assert "\n" not in str(err.value)


def test_missing_outcome_columns_are_named():
    with pytest.raises(UserError, match="regime_change_month"):
        consistent(OUTCOMES.drop(columns="regime_change_month"), record("free"), 3, True)
    assert consistent(OUTCOMES.drop(columns="regime_change_month"), record("free"), 3, None).shape == (4,)
