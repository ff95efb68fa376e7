"""Cumulative incidence of custody routes (Aalen-Johansen) against a hand-worked case, Kaplan-Meier, the
empirical incidence, and the coverage of its pointwise interval by simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from sim.analysis.survival import (
    DETAINED,
    competing_records,
    cumulative_incidence,
    kaplan_meier,
    record_incidence,
    survival_curve,
)
from sim.errors import UserError
from tests.test_metrics import runs_frame

Z = 1.959963984540054


def records(times, events) -> pd.DataFrame:
    """Records from times and event types (None = censored)."""
    return pd.DataFrame({"time": np.asarray(times, dtype=float), "event": events,
                         "censored": [e is None for e in events]})


def events(rec: pd.DataFrame) -> list:
    return [None if pd.isna(e) else e for e in rec["event"]]


def loglog(f: float, se: float) -> tuple[float, float]:
    s = se / abs(f * math.log(f))
    return f ** math.exp(Z * s), f ** math.exp(-Z * s)


def test_aalen_johansen_by_hand():
    # times 1 A, 2 B, 2 censored, 3 A, 4 censored, 5 B; a record censored at t is at risk at t
    # t=1: 6 at risk, F_A = 1/6, S = 5/6; t=2: 5 at risk, F_B = 5/6 * 1/5 = 1/6, S = 4/6;
    # t=3: 3 at risk, F_A += 4/6 * 1/3 -> 7/18, S = 4/9; t=5: 1 at risk, F_B += 4/9 -> 11/18, S = 0
    out = record_incidence(records([1, 2, 2, 3, 4, 5], ["A", "B", None, "A", None, "B"]), [0, 1, 2.5, 3, 5, 9])
    a = out[out["event"] == "A"].set_index("time")["cif"]
    b = out[out["event"] == "B"].set_index("time")["cif"]
    assert a.to_numpy() == pytest.approx([0, 1 / 6, 1 / 6, 7 / 18, 7 / 18, 7 / 18], abs=1e-12)
    assert b.to_numpy() == pytest.approx([0, 0, 1 / 6, 1 / 6, 11 / 18, 11 / 18], abs=1e-12)
    assert (a + b)[5.0] == pytest.approx(1.0, abs=1e-12)
    # at t = 1 only one event has happened: the variance is the binomial (1/6)(5/6)/6
    first = out[(out["event"] == "A") & (out["time"] == 1)].iloc[0]
    lo, hi = loglog(1 / 6, math.sqrt(5 / 216))
    assert (first["cif_low"], first["cif_high"]) == pytest.approx((lo, hi), abs=1e-12)
    assert (out.loc[out["time"] == 0, ["cif_low", "cif_high"]] == 0).all().all()
    # at t = 5 everyone at risk has the event: the delta-method variance is undefined
    assert out.loc[out["time"] >= 5, ["cif_low", "cif_high"]].isna().all().all()
    assert (out["n"] == 6).all()


def test_one_event_type_is_one_minus_kaplan_meier_with_the_greenwood_variance():
    rng = np.random.default_rng(2)
    months = [[int(m) if m < 48 else None] for m in rng.geometric(0.03, 300) - 1]
    runs = runs_frame(months)
    length = np.where(rng.random(300) < 0.3, 30, 48)  # some runs stop early: censoring before 48
    runs = runs[(runs["custody_month"].isna()) | (runs["custody_month"] < length)]
    length = length[runs.index]
    cif = cumulative_incidence(runs, length, until=48).query("event == 'arrested_by_host'")
    assert cumulative_incidence(runs, length, until=48).query("event == 'domestic_surrender'")["cif"].eq(0).all()
    km = kaplan_meier(runs, length, until=48).query("accused == 0")
    assert cif["cif"].to_numpy() == pytest.approx(1 - km["surv"].to_numpy(), abs=1e-12)
    # the interval: log(-log) of F with Greenwood's standard error of S, computed by hand at month 20
    event, time = ~runs["custody_month"].isna().to_numpy(), np.where(runs["custody_month"].isna(), length,
                                                                      runs["custody_month"].fillna(0) + 1)
    greenwood, s = 0.0, 1.0
    for t in np.unique(time[event & (time <= 20)]):
        n, d = (time >= t).sum(), (event & (time == t)).sum()
        greenwood += d / (n * (n - d))
        s *= 1 - d / n
    lo, hi = loglog(1 - s, s * math.sqrt(greenwood))
    row = cif[cif["month"] == 20].iloc[0]
    assert row["cif"] == pytest.approx(1 - s, abs=1e-12)
    assert (row["cif_low"], row["cif_high"]) == pytest.approx((lo, hi), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.sampled_from(["A", "B", "C", None])), min_size=1, max_size=50))
def test_incidences_add_up_to_one_minus_kaplan_meier_of_any_event(rows):
    times, events = [t for t, _ in rows], [e for _, e in rows]
    out = record_incidence(records(times, events), np.arange(14), events=["A", "B", "C"])
    total = out.groupby("time")["cif"].sum().to_numpy()
    km = survival_curve(np.array(times, dtype=float), np.array([e is not None for e in events]), 13)
    assert total == pytest.approx(1 - km["surv"].to_numpy(), abs=1e-12)
    assert ((out["cif_low"] <= out["cif"]) & (out["cif"] <= out["cif_high"]) | out["cif_low"].isna()).all()
    assert (np.diff(out.pivot(index="time", columns="event", values="cif").to_numpy(), axis=0) >= -1e-15).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.sampled_from(["A", "B"])), min_size=1, max_size=50))
def test_without_censoring_incidence_is_the_empirical_share(rows):
    times, events = np.array([t for t, _ in rows]), np.array([e for _, e in rows])
    out = record_incidence(records(times, list(events)), np.arange(14), events=["A", "B"])
    for kind in ("A", "B"):
        cif = out[out["event"] == kind]["cif"].to_numpy()
        assert cif == pytest.approx([((times <= t) & (events == kind)).mean() for t in range(14)], abs=1e-12)


@pytest.mark.parametrize("n, samples, seed", [(150, 400, 20240607),
                                             pytest.param(150, 4000, 99, marks=pytest.mark.slow)])
def test_pointwise_interval_covers_the_true_incidence_of_competing_exponential_hazards(n, samples, seed):
    # hazards 0.3 (A) and 0.15 (B), censoring at rate 0.15 and at 5: F_k(t) = λ_k/Λ (1 - exp(-Λ t))
    rates, cens = {"A": 0.3, "B": 0.15}, 0.15
    total = sum(rates.values())
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(1 / total, (samples, n))
    kind = np.where(rng.random((samples, n)) < rates["A"] / total, "A", "B")
    stop = np.minimum(rng.exponential(1 / cens, (samples, n)), 5.0)
    frame = pd.DataFrame({"sample": np.repeat(np.arange(samples), n), "time": np.minimum(event_time, stop).ravel(),
                          "event": kind.ravel(), "censored": (stop < event_time).ravel()})
    at = [0.5, 1.5, 3.0]
    out = record_incidence(frame, at, by=["sample"], events=["A", "B"])
    assert out["sample"].nunique() == samples
    for k, rate in rates.items():
        for t in at:
            rows = out[(out["event"] == k) & (out["time"] == t)]
            truth = rate / total * (1 - math.exp(-total * t))
            covered = int(((rows["cif_low"] <= truth) & (truth <= rows["cif_high"])).sum())
            # six checks, each two-sided at 0.01/6: a correct 95% interval fails this test with probability <= 1%
            p = binomtest(covered, samples, 0.95).pvalue
            assert p > 0.01 / 6, f"{k} at t={t}: {covered}/{samples} intervals cover F = {truth:.3f}"


def test_records_of_runs_route_detention_and_censoring():
    runs = runs_frame([[0], [2], [3], [1], [None], [None]],
                      routes=[["arrested_by_host"], ["domestic_surrender"], ["domestic_surrender"],
                              ["domestic_surrender"], ["none"], ["none"]])
    # replicate 2 was detained in month 1 and handed over in 3; replicate 3 detained and handed over in
    # month 1 (detention first); replicate 5 is still detained at the horizon; replicate 4 is free
    runs["detained_month"] = pd.array([None, None, 1, 1, None, 4], dtype="Int64")
    rec = competing_records(runs, 6)
    assert rec["time"].tolist() == [1, 3, 2, 2, 6, 5]
    assert events(rec) == ["arrested_by_host", "domestic_surrender", DETAINED, DETAINED, None, DETAINED]
    assert rec["censored"].tolist() == [False, False, False, False, True, False]
    plain = competing_records(runs, 6, detention=False)
    assert events(plain) == ["arrested_by_host", "domestic_surrender", "domestic_surrender",
                                       "domestic_surrender", None, None]
    assert plain["time"].tolist() == [1, 3, 4, 2, 6, 6]
    cif = cumulative_incidence(runs, 6).set_index(["month", "event"])["cif"]
    assert cif[(6, DETAINED)] == pytest.approx(3 / 6) and cif[(6, "domestic_surrender")] == pytest.approx(1 / 6)
    assert cif[(1, "arrested_by_host")] == pytest.approx(1 / 6) and cif[(0, "arrested_by_host")] == 0
    no_detention = cumulative_incidence(runs, 6, detention=False)
    assert set(no_detention["event"]) == {"arrested_by_host", "domestic_surrender"}


def test_groups_run_lengths_and_bad_input():
    runs = pd.concat([runs_frame([[0, None], [None, 1]], point=1), runs_frame([[None, None], [2, 0]], point=0)])
    out = cumulative_incidence(runs, pd.Series([4, 3], index=[0, 1]))
    assert list(out.drop_duplicates(["point", "accused"])[["point", "accused"]].itertuples(index=False)) == \
        [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert out.query("point == 0")["month"].max() == 4 and out.query("point == 1")["month"].max() == 3
    assert set(out["event"]) == {"arrested_by_host", "domestic_surrender"}  # no detained_month column (v1.2)
    with pytest.raises(UserError, match="custody_month is at or beyond the run's horizon"):
        cumulative_incidence(runs, 2)
    bad = runs_frame([[1]], routes=[["none"]])
    with pytest.raises(UserError, match="route 'none'"):
        cumulative_incidence(bad, 5)
    with pytest.raises(UserError, match="records lack column"):
        record_incidence(pd.DataFrame({"time": [1.0]}), [1])
    with pytest.raises(UserError, match="have no event type"):
        record_incidence(pd.DataFrame({"time": [1.0], "event": [None], "censored": [False]}), [1])
    with pytest.raises(UserError, match=r"event type.s. C are not among A, B"):
        record_incidence(records([1, 2], ["A", "C"]), [1], events=["A", "B"])
    with pytest.raises(UserError, match="finite and non-negative"):
        record_incidence(records([-1, 2], ["A", "A"]), [1])
