"""Enforcement probability, Wilson intervals, routes and summaries against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.metrics import ALL, enforcement_probability, route_shares, summarize, wilson_interval
from sim.errors import UserError

Z = 1.959963984540054  # the 97.5% standard normal quantile


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """Wilson (1927): (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


def runs_frame(months: list[list[int | None]], routes: list[list[str]] | None = None, point: int = 0,
               **per_run) -> pd.DataFrame:
    """A runs frame from custody months per replicate and accused (None = never in custody)."""
    rows = []
    for r, per_accused in enumerate(months):
        for a, m in enumerate(per_accused):
            route = routes[r][a] if routes else ("none" if m is None else "arrested_by_host")
            rows.append({"point": point, "replicate": r, "accused": a, "in_custody": m is not None,
                         "custody_month": m, "route": route,
                         **{k: v[r] if isinstance(v, list) else v for k, v in per_run.items()}})
    frame = pd.DataFrame(rows)
    frame["custody_month"] = frame["custody_month"].astype("Int64")
    return frame


def test_wilson_matches_hand_computed_values():
    low, high = wilson_interval([3, 0, 10, 50], [10, 10, 10, 100])
    # published values: 3/10 -> (0.1078, 0.6032); 0/10 -> (0, 0.2775); 10/10 -> (0.7225, 1)
    assert low[0] == pytest.approx(0.10779, abs=1e-4) and high[0] == pytest.approx(0.60323, abs=1e-4)
    assert low[1] == pytest.approx(0.0, abs=1e-12) and high[1] == pytest.approx(0.27753, abs=1e-4)
    assert low[2] == pytest.approx(0.72247, abs=1e-4) and high[2] == pytest.approx(1.0, abs=1e-12)
    for i, (k, n) in enumerate([(3, 10), (0, 10), (10, 10), (50, 100)]):
        lo, hi = wilson_by_hand(k, n)
        assert low[i] == pytest.approx(lo, abs=1e-12) and high[i] == pytest.approx(hi, abs=1e-12)


def test_wilson_with_no_replicates_is_undefined_and_other_levels_work():
    low, high = wilson_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)
    lo90, hi90 = wilson_interval(3, 10, confidence=0.90)
    lo95, hi95 = wilson_interval(3, 10)
    assert lo95 < lo90 < 0.3 < hi90 < hi95


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10_000), data=st.data())
def test_wilson_interval_contains_the_share(n, data):
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    assert 0 <= low <= k / n <= high <= 1


def test_enforcement_probability_counts_custody_before_the_horizon():
    # custody_month < H counts: month 23 is within 24 months, month 24 is not
    runs = runs_frame([[0, 23], [24, None], [5, 6], [None, None]])
    out = enforcement_probability(runs, [24, 25]).set_index("accused")
    assert list(out.index) == [0, 1, ALL]
    assert out.loc[0, "p_enforced_24"] == 2 / 4 and out.loc[0, "p_enforced_25"] == 3 / 4
    assert out.loc[1, "p_enforced_24"] == 2 / 4 and out.loc[1, "p_enforced_25"] == 2 / 4
    # all accused: replicates 0 and 2 have both in custody by 24; replicate 1's second is never taken
    assert out.loc[ALL, "p_enforced_24"] == 2 / 4 and out.loc[ALL, "p_enforced_25"] == 2 / 4
    assert (out["n"] == 4).all()
    lo, hi = wilson_by_hand(3, 4)
    assert out.loc[0, "p_enforced_25_low"] == pytest.approx(lo) and out.loc[0, "p_enforced_25_high"] == \
        pytest.approx(hi)


def test_without_accused_in_by_a_replicate_counts_when_all_its_accused_are_in_custody():
    runs = pd.concat([runs_frame([[0, 1], [2, None]], point=0), runs_frame([[None, 1], [2, 3], [1, 1]], point=1)])
    out = enforcement_probability(runs, [12], by=("point",)).set_index("point")
    assert out.loc[0, "p_enforced_12"] == 1 / 2 and out.loc[1, "p_enforced_12"] == 2 / 3
    assert list(out["n"]) == [2, 3]


def test_summary_means_and_all_accused_rows():
    runs = runs_frame([[10, 20], [30, None], [None, None]], trips=[[4, 2], [6, 0], [8, 1]],
                      trips_to_members=1, trips_cancelled=0, findings=[3, 5, 7], withdrawals=[0, 1, 2],
                      members_final=100, legitimacy_final=[0.4, 0.5, 0.6])
    # per-accused trips are given per (replicate, accused); fix them row by row
    runs["trips"] = [4, 2, 6, 0, 8, 1]
    out = summarize(runs, [120]).set_index("accused")
    assert out.loc[0, "mean_custody_month"] == 20.0 and out.loc[1, "mean_custody_month"] == 20.0
    assert out.loc[ALL, "mean_custody_month"] == 20.0  # only replicate 0 has both, the last at 20
    assert out.loc[0, "mean_trips"] == 6.0 and out.loc[1, "mean_trips"] == 1.0
    assert out.loc[ALL, "mean_trips"] == 7.0  # summed over accused per replicate
    assert (out["mean_findings"] == 5.0).all() and (out["mean_withdrawals"] == 1.0).all()
    assert out.loc[ALL, "p_enforced_120"] == pytest.approx(1 / 3)


def test_summary_is_deterministic_and_ordered():
    rng = np.random.default_rng(3)
    months = [[int(m) if m < 120 else None for m in row] for row in rng.integers(0, 200, (40, 3))]
    runs = pd.concat([runs_frame(months, point=p, trips=1, trips_to_members=0, trips_cancelled=0,
                                 findings=2, withdrawals=0, members_final=1, legitimacy_final=0.5)
                      for p in (2, 0, 1)], ignore_index=True)
    a = summarize(runs, [60, 24, 120])
    b = summarize(runs.sample(frac=1, random_state=1), [24, 60, 120])
    pd.testing.assert_frame_equal(a, b)
    assert a.to_csv(index=False) == b.to_csv(index=False)
    probabilities = [f"p_enforced_{h}{s}" for h in (24, 60, 120) for s in ("", "_low", "_high")]
    assert list(a.columns) == ["point", "accused", "n", *probabilities, "mean_custody_month", "mean_trips",
                               "mean_trips_to_members", "mean_trips_cancelled", "mean_findings",
                               "mean_withdrawals", "mean_members_final", "mean_legitimacy_final"]
    assert list(a["accused"][:4]) == [0, 1, 2, ALL] and list(a["point"]) == sorted(a["point"])


def test_route_shares_by_hand():
    runs = runs_frame([[3, 50], [7, None], [None, 2], [90, None]],
                      routes=[["arrested_by_host", "domestic_surrender"], ["domestic_surrender", "none"],
                              ["none", "arrested_by_host"], ["arrested_by_host", "none"]])
    out = route_shares(runs).set_index("accused")
    assert out.loc[0, "share_arrested_by_host"] == 2 / 4 and out.loc[0, "share_domestic_surrender"] == 1 / 4
    assert out.loc[1, "share_none"] == 2 / 4
    by60 = route_shares(runs, horizon=60).set_index("accused")
    assert by60.loc[0, "share_arrested_by_host"] == 1 / 4 and by60.loc[0, "share_none"] == 2 / 4


def test_missing_columns_and_bad_horizons_are_user_errors():
    runs = runs_frame([[1, 2]])
    with pytest.raises(UserError, match="lacks column"):
        summarize(runs.drop(columns="replicate"), [12])
    with pytest.raises(UserError, match="horizons"):
        summarize(runs, [])


def test_a_simulate_frame_without_point_column_is_summarised_per_accused():
    """The README's call `summarize(frame, [24, 60, 120])` on one sim.simulate frame works as written."""
    from sim import simulate
    from sim.analysis.survival import kaplan_meier

    frame = simulate({"scenario.n_states": 20, "scenario.horizon_months": 24}, replicates=30, seed=4,
                     engine="vectorized")
    assert "point" not in frame.columns
    table = summarize(frame, [6, 12, 24])
    assert list(table["accused"]) == [0, 1, ALL] and (table["n"] == 30).all()
    with_point = summarize(frame.assign(point=0), [6, 12, 24]).drop(columns="point")
    pd.testing.assert_frame_equal(table, with_point)
    assert list(route_shares(frame)["accused"]) == [0, 1]
    assert set(kaplan_meier(frame, 24)["accused"]) == {0, 1, ALL}


def test_grouping_by_a_missing_point_column_says_the_fix():
    frame = runs_frame([[1, 2]]).drop(columns="point")
    with pytest.raises(UserError, match=r"lacks column\(s\) point; .*by=\(\"accused\",\)"):
        summarize(frame, [12], by=("point", "accused"))
