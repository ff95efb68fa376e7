"""Kaplan-Meier time to custody against hand-computed cases and the empirical survival function."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.metrics import ALL, enforcement_probability
from sim.analysis.survival import kaplan_meier, survival_curve
from tests.test_metrics import runs_frame

Z = 1.959963984540054


def test_kaplan_meier_by_hand_without_early_censoring():
    # custody months 0, 2, 2, 5 (event times 1, 3, 3, 6) and two accused free after T = 6 months
    runs = runs_frame([[0], [2], [2], [5], [None], [None]])
    km = kaplan_meier(runs, 6).query("accused == 0").set_index("month")["surv"]
    # at 1: 6 at risk, 1 event; at 3: 5 at risk, 2 events; at 6: 3 at risk (2 censored at 6), 1 event
    expected = [1, 5 / 6, 5 / 6, 5 / 6 * 3 / 5, 1 / 2, 1 / 2, 1 / 2 * 2 / 3]
    assert km.to_numpy() == pytest.approx(expected, abs=1e-12)
    p = enforcement_probability(runs, [1, 3, 6]).query("accused == 0").iloc[0]
    for h in (1, 3, 6):
        assert 1 - km[h] == pytest.approx(p[f"p_enforced_{h}"], abs=1e-12)


def test_kaplan_meier_by_hand_with_censoring_before_the_horizon():
    # a run of 2 months censors its free accused at 2; the others ran 5 months
    runs = runs_frame([[0], [None], [2], [None]])
    km = kaplan_meier(runs, np.array([5, 2, 5, 5]), until=5)
    surv = km.query("accused == 0").set_index("month")["surv"]
    # at 1: 4 at risk, 1 event -> 3/4; censored at 2; at 3: 2 at risk, 1 event -> 3/8
    assert surv.to_numpy() == pytest.approx([1, 3 / 4, 3 / 4, 3 / 8, 3 / 8, 3 / 8], abs=1e-12)


def test_pointwise_band_is_greenwood_on_the_log_minus_log_scale():
    runs = runs_frame([[0], [2], [2], [5], [None], [None]])
    row = kaplan_meier(runs, 6).query("accused == 0 and month == 3").iloc[0]
    s = 1 / 2
    greenwood = s * math.sqrt(1 / (6 * 5) + 2 / (5 * 3))  # sum of d / (n (n - d)) at event times 1 and 3
    se_loglog = greenwood / (s * abs(math.log(s)))
    assert row["surv_low"] == pytest.approx(s ** math.exp(Z * se_loglog), abs=1e-9)
    assert row["surv_high"] == pytest.approx(s ** math.exp(-Z * se_loglog), abs=1e-9)


def test_simultaneous_band_is_wider_than_the_pointwise_one():
    rng = np.random.default_rng(5)
    months = [[int(m) if m < 60 else None] for m in rng.geometric(0.02, 400) - 1]
    runs = runs_frame(months)
    point = kaplan_meier(runs, 60)
    band = kaplan_meier(runs, 60, band="simultaneous")
    inner = point["month"].between(10, 50)
    assert (band["surv"] == point["surv"]).all()
    assert (band["surv_low"][inner] <= point["surv_low"][inner] + 1e-12).all()
    assert (band["surv_high"][inner] >= point["surv_high"][inner] - 1e-12).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 35)), min_size=1, max_size=60))
def test_kaplan_meier_equals_the_empirical_survival_function_without_censoring_before_t(months):
    runs = runs_frame([[m] for m in months])
    km = kaplan_meier(runs, 36).query("accused == 0")
    free = np.array([36 if m is None else m for m in months])
    empirical = [(free >= t).mean() for t in km["month"]]  # not yet in custody after t months
    assert km["surv"].to_numpy() == pytest.approx(empirical, abs=1e-12)
    assert (km["surv_low"] <= km["surv"]).all() and (km["surv"] <= km["surv_high"]).all()


def test_all_accused_curve_is_time_until_the_last_one_is_taken():
    runs = runs_frame([[1, 4], [2, None], [0, 0]])
    km = kaplan_meier(runs, 10).query("accused == @ALL").set_index("month")["surv"]
    # last custody at months 4 and 0 (event times 5 and 1); the second replicate is censored at 10
    assert km[0] == 1 and km[1] == pytest.approx(2 / 3) and km[4] == pytest.approx(2 / 3)
    assert km[5] == pytest.approx(1 / 3) and km[10] == pytest.approx(1 / 3)


def test_no_custody_gives_a_flat_curve_with_no_width():
    curve = survival_curve(np.array([12.0, 12.0]), np.array([False, False]), 12)
    assert (curve["surv"] == 1).all() and (curve["surv_low"] == 1).all() and (curve["surv_high"] == 1).all()


def test_groups_are_kept_apart_and_ordered():
    runs = pd.concat([runs_frame([[0], [None]], point=1), runs_frame([[None], [None]], point=0)])
    km = kaplan_meier(runs, 3)
    assert list(km.drop_duplicates(["point", "accused"])[["point", "accused"]].itertuples(index=False)) == \
        [(0, 0), (0, ALL), (1, 0), (1, ALL)]
    assert km.query("point == 1 and accused == 0 and month == 1")["surv"].item() == 0.5
    assert km.query("point == 0")["surv"].eq(1).all()


def test_run_length_per_point_as_a_series():
    runs = pd.concat([runs_frame([[0], [None]], point=0), runs_frame([[None], [1]], point=1)])
    km = kaplan_meier(runs, pd.Series([3, 2], index=[0, 1]))
    assert km.query("point == 0 and accused == 0")["month"].max() == 3
    assert km.query("point == 1 and accused == 0")["month"].max() == 2
    assert km.query("point == 1 and accused == 0 and month == 2")["surv"].item() == 0.5
