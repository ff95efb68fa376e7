"""The fused kernel (sim.engines.fused, numba): its parts against sim.model.streams and sim.model.rules, and its
runs against the NumPy core replicate by replicate and against the Mesa engine in distribution.

The fast set uses small sizes; the slow set runs the full-size identical-replicate checks and the equivalence
suite of tests/test_equivalence.py (2,000 replicates a set, Holm-corrected at family-wise error 0.01).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import simulate
from sim.errors import UserError
from sim.model import rules, streams
from sim.model.params import Params
from sim.model.seeding import mix64
from sim.simulate import run_rows
from tests.stats import compare
from tests.strategies import valid_params

numba = pytest.importorskip("numba", reason="the fused engine is the optional extra [fast]")
from sim.engines.fused import compiled  # noqa: E402 - only where numba is installed
from sim.engines.fused import engine as fused  # noqa: E402
from sim.engines.fused.compiled import RULES  # noqa: E402

SMALL = {"scenario.n_states": 30, "scenario.horizon_months": 36, "scenario.n_partners": 3}
V13 = {"states.withdrawal_rate": 0.05, "states.accession_rate": 0.05, "home.detain_prob": 0.5,
       "prosecutor.timed_share": 0.3, "home.fallen_at_issue": 0.2, "home.detained_surrender_rate": 0.1,
       "prosecutor.sealed_share": 0.5}
SETS = {"defaults": {},
        "sealed": {"prosecutor.sealed_share": 1.0, "court.legitimacy0": 0.9, "prosecutor.unseal_rate": 0.02},
        "v1.3 mechanisms on": V13}
IDENTICAL_SHARE = 0.999  # measured: 1.0 in every set at every size (docs/performance.md)
f32 = np.float32


def identical(a: pd.DataFrame, b: pd.DataFrame, n_accused: int = 2) -> np.ndarray:
    """Per replicate: every outcome of every accused equal (an empty month only to an empty month; legitimacy
    exactly)."""
    same = np.ones(len(a), bool)
    for c in a.columns:
        x, y = (np.asarray(f[c].astype(object).fillna(-1)) for f in (a, b))
        same &= x == y
    return same.reshape(-1, n_accused).all(axis=1)


# --- the building blocks ---------------------------------------------------------------------------------------

@numba.njit
def _uniforms(keys, stream, t, slots, out):
    for i in range(keys.size):
        out[i] = compiled.uniform(keys[i], stream, t, slots[i])


@numba.njit
def _mix(z, out):
    for i in range(z.size):
        out[i] = compiled.mix64(z[i])


@numba.njit
def _exp(x, out):
    for i in range(x.size):
        out[i] = compiled.exp32(x[i])


def test_uniforms_equal_the_streams_bit_for_bit():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**64, 20_000, dtype=np.uint64, endpoint=False)
    z = np.empty(keys.size, np.uint64)
    _mix(keys, z)
    assert np.array_equal(z, mix64(keys))
    for stream in streams.Stream:
        for t in (0, 1, 119, streams.MAX_MONTHS - 1):
            slots = rng.integers(0, streams.MAX_SLOTS, keys.size, dtype=np.uint64)
            slots[:4] = (0, 1, 2, streams.MAX_SLOTS - 1)
            out = np.empty(keys.size)
            _uniforms(keys, int(stream), t, slots, out)
            assert np.array_equal(out, streams.uniforms_at(keys, stream, t, slots)), (stream, t)
    out = np.empty(7)
    _uniforms(keys[:7], int(streams.Stream.PLAN), 5, np.arange(7, dtype=np.uint64), out)
    assert np.array_equal(out, streams.uniforms(keys[:7], streams.Stream.PLAN, 5, 7).diagonal())


def test_exp32_relative_error_is_bounded_over_its_range():
    """Within 1.2e-7 (2 float32 ulp) of e^x on [EXP_MIN, EXP_MAX] (measured 8.2e-8); 0 below, inf above."""
    rng = np.random.default_rng(2)
    x = np.concatenate([np.linspace(compiled.EXP_MIN, compiled.EXP_MAX, 1_000_001, dtype=np.float32),
                        rng.uniform(compiled.EXP_MIN, compiled.EXP_MAX, 1_000_000).astype(np.float32),
                        rng.uniform(-1, 1, 100_000).astype(np.float32)])
    out = np.empty_like(x)
    _exp(x, out)
    rel = np.abs(out / np.exp(x.astype(np.float64)) - 1)
    assert rel.max() < 1.2e-7, rel.max()
    out = np.empty(4, np.float32)
    _exp(np.array([0.0, -100.0, -np.inf, 100.0], np.float32), out)
    assert out.tolist() == [1.0, 0.0, 0.0, np.inf]


def test_rules_compile_in_float32():
    """Float constants become float32: 1 + odds stays float32 (numba would widen it to float64)."""
    RULES.probability_from_odds_against(f32(0.3), f32(0.8))
    (signature,) = RULES.probability_from_odds_against.nopython_signatures
    assert str(signature.return_type) == "float32"
    assert RULES.probability_from_odds_against(f32(0.3), f32(0.8)) == rules.probability_from_odds_against(
        f32(0.3), f32(0.8))


# --- the start's variates: the compiled sampler gives sim.model.streams' numbers bit for bit ----------------------

shape_scale = st.sampled_from([1e-3, 0.05, 0.3, 1.0, 3.0, 10.0, 60.0])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**63), st.integers(1, 70), st.integers(1, 40), shape_scale, shape_scale, st.booleans())
def test_the_compiled_beta_draws_are_the_streams_draws(seed, rows, n, a_scale, b_scale, shared):
    """draws.betas against streams.betas: shapes from tiny (both gammas underflowing, boosted below 1) to large, shared
    by every row (a broadcast view, as sim.model.initial passes them) or per row; every number identical."""
    from sim.engines.fused import draws

    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**64, rows, dtype=np.uint64, endpoint=False)
    a, b = (rng.uniform(0.2, 2.0, (1 if shared else rows, n)) * scale for scale in (a_scale, b_scale))
    a, b = np.broadcast_to(a, (rows, n)), np.broadcast_to(b, (rows, n))
    stream = int(rng.integers(1, 5))
    with np.errstate(all="ignore"):
        expected = streams.betas(keys, stream, a, b)
    assert np.array_equal(draws.betas(keys, stream, a, b), expected)


def test_the_compiled_draws_cover_rejections_boosts_and_underflow():
    """The rare paths of the sampler occur in this sample and still give streams' numbers: first attempts rejected
    (retried from streams' code), shapes below 1 (boosted), both gammas zero (settled by a uniform)."""
    from sim.engines.fused import draws

    rng = np.random.default_rng(5)
    keys = rng.integers(0, 2**64, 400, dtype=np.uint64, endpoint=False)
    a = np.broadcast_to(np.r_[np.full(10, 1e-4), np.full(10, 0.4), np.full(10, 3.0)], (400, 30))
    b = np.broadcast_to(np.r_[np.full(10, 1e-4), np.full(10, 6.0), np.full(10, 7.0)], (400, 30))
    with np.errstate(all="ignore"):
        expected = streams.betas(keys, 2, a, b)
        z = streams.halves(keys, 2, 0, 60)
        d, c = streams.gamma_constants(a)
        radius = np.sqrt(-2.0 * np.log1p(-z[:, :30]))
        _, ok = streams._marsaglia_tsang(d, c, radius * np.cos(2.0 * np.pi * z[:, 60:90]), z[:, 30:60])
    assert (~ok).sum() > 10 and np.isin(expected[:, :10], (0.0, 1.0)).any()
    assert np.array_equal(draws.betas(keys, 2, a, b), expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**63), st.integers(1, 50), st.integers(1, 200))
def test_the_compiled_normals_are_the_streams_normals(seed, rows, n):
    from sim.engines.fused import draws

    keys = np.random.default_rng(seed).integers(0, 2**64, rows, dtype=np.uint64, endpoint=False)
    stream = int(streams.Stream.APPEAL)
    assert np.array_equal(draws.normals(keys, stream, n), streams.normals(keys, stream, n))


def test_the_fused_engine_starts_from_the_numpy_start():
    """Every array of a chunk's start drawn with the compiled sampler equals sim.model.initial's own (real roster with
    state values, per-row parameters)."""
    import dataclasses

    from sim.engines.fused import draws
    from sim.model import initial
    from sim.model.batch import Batch
    from sim.model.layout import Layout

    points = {0: Params({"scenario.roster": "real", "scenario.states": {"MNG": {"compliance": 0.95}}}),
              1: Params({"scenario.roster": "real", "scenario.states": {"MNG": {"compliance": 0.95}},
                         "states.concentration": 2.0, "states.capacity": 0.3})}
    batch = Batch.of(points, [0, 1, 0, 1, 1], [0, 0, 1, 1, 2], 4)
    layout = Layout.of(points[0])
    got = initial.draw(layout, batch, slice(0, 5), sampler=draws.SAMPLER)
    want = initial.draw(layout, batch, slice(0, 5))
    for field in dataclasses.fields(initial.Initial):
        a, b = getattr(got, field.name), getattr(want, field.name)
        pairs = [(a[k], b[k]) for k in b] if isinstance(b, dict) else [(a, b)]
        assert all(np.array_equal(x, y) for x, y in pairs), field.name


# --- one form of each rule: compiled on single values, it agrees with the rule on arrays ----------------------

unit = st.floats(0, 1, width=32)
flag = st.booleans()


@settings(max_examples=200, deadline=None)
@given(unit, flag, unit, flag, flag, unit, unit, unit, st.integers(0, 30), flag, unit, unit)
def test_each_rule_compiled_on_single_values_agrees_with_it_on_arrays(p, sealed, awareness, arrested, member, loss,
                                                                      gain, nm, findings, finding, u, detain):
    p, awareness, loss, gain, nm, u, detain = (f32(v) for v in (p, awareness, loss, gain, nm, u, detain))
    a = lambda v: np.array([v])  # noqa: E731
    for one in (rules, RULES):  # the Python function on single values, then numba's float32 compilation of it
        assert one.perceived_risk(p, sealed, awareness) == rules.perceived_risk(a(p), a(sealed), awareness)[0]
        finding_here = finding and member and not arrested
        expected = rules.legitimacy_after_visit(a(p), a(arrested), a(member), a(finding_here), gain, loss, nm)[0]
        assert f32(one.legitimacy_after_visit(p, arrested, member, finding_here, gain, loss, nm)) == expected
        host = rules.host_after_visit(a(p), a(awareness), a(f32(findings)), a(arrested), a(finding), gain, loss)
        got = one.host_after_visit(p, awareness, f32(findings), arrested, finding, gain, loss)
        assert [f32(g) for g in got] == [f32(h[0]) for h in host]
        assert one.fate_at_regime_change(float(u), float(awareness), float(detain)) == \
            rules.fate_at_regime_change(a(float(u)), float(awareness), float(detain))[0]
        assert one.may_withdraw(member, sealed) == rules.may_withdraw(a(member), a(sealed))[0]
        assert one.may_accede(member, sealed, arrested, finding) == rules.may_accede(a(member), a(sealed),
                                                                                     a(arrested), a(finding))[0]
        assert one.refused(arrested, member) == rules.refused(a(arrested), a(member))[0]
        assert one.timed_host_weights(p, member) == rules.timed_host_weights(a(p), a(member))[0]
        assert one.timed_arrest_probability(u, p) == rules.timed_arrest_probability(a(u), a(p))[0]
        assert one.decay_pressure(p, loss) == rules.decay_pressure(a(p), float(loss), out=np.empty(1, f32))[0]
        assert one.norm_update_from_pull(p, nm - f32(0.5), gain) == pytest.approx(
            rules.norm_update_from_pull(a(p), nm - f32(0.5), float(gain), out=np.empty(1, f32))[0],
            rel=1e-6, abs=1e-7)
        assert one.legitimacy_drift(p, awareness, gain) == pytest.approx(
            np.clip(p + gain * (awareness - p), 0, 1), rel=1e-6, abs=1e-7)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=90), st.integers(-1, 95))
def test_the_compiled_selection_picks_the_rules_outreach_targets(values, budget):
    """The same set as rules.outreach_targets, ties (many here) to the lower column, small and large budgets."""
    from sim.engines.fused import passes as loops

    attraction = np.asarray(values, np.float32) / 4
    expected = np.flatnonzero(rules.outreach_targets(attraction[None, :], budget, True)[0])
    rng = np.random.default_rng(len(values))
    for before in (np.full(attraction.size, -1), rng.permutation(attraction.size), rng.integers(-3, 99, 90),
                   np.argsort(-attraction, kind="stable")):  # what ``targets`` held before: garbage, or last month's
        targets = np.resize(before, max(attraction.size, 1)).astype(np.int64)
        count = loops.top(attraction, budget, targets, np.empty(attraction.size, np.int64))
        assert sorted(targets[:count].tolist()) == expected.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1, width=32), min_size=1, max_size=60), st.floats(0, 1))
def test_the_draw_equals_the_numpy_core_draw(weights, u):
    from sim.engines.fused import passes as loops
    from sim.engines.vectorized import step

    weight = np.asarray(weights, np.float32)
    expected = step._draw(weight[None, :], np.array([u]))[0]
    assert loops.choose(weight, u, np.empty_like(weight)) == expected


# --- runs: the NumPy core replicate by replicate ---------------------------------------------------------------

@pytest.mark.parametrize("name", list(SETS))
def test_replicates_equal_the_numpy_core_small(name):
    values = {**SMALL, **SETS[name]}
    a = simulate(values, replicates=500, seed=31, engine="fused")
    b = simulate(values, replicates=500, seed=31, engine="vectorized")
    assert identical(a, b).mean() >= IDENTICAL_SHARE


@settings(max_examples=25, deadline=None)
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_replicates_equal_the_numpy_core_on_any_valid_parameters(values, seed):
    a = simulate(values, replicates=40, seed=seed, engine="fused")
    b = simulate(values, replicates=40, seed=seed, engine="vectorized")
    assert identical(a, b, len(values["accused.trip_rate"])).mean() >= 0.95  # measured: 1.0 in 60 of 60 examples


def test_a_timed_warrant_with_no_state_party_stays_public_as_in_the_numpy_core():
    """Found by hypothesis: with no member there is no stay to time, so nothing is sealed (ODD §7.0.2); the
    fused kernel sealed the warrant all the same, and the accused then travelled as if it were sealed."""
    values = {"scenario.n_states": 5, "scenario.member_share": 0.0, "scenario.n_partners": 0,
              "scenario.horizon_months": 24, "prosecutor.timed_share": 1.0, "prosecutor.sealed_share": 0.0,
              "accused.sealed_awareness": 0.0, "accused.max_risk": [0.0, 0.0]}
    a = simulate(values, replicates=200, seed=0, engine="fused")
    b = simulate(values, replicates=200, seed=0, engine="vectorized")
    assert identical(a, b).all()


@settings(max_examples=15, deadline=None)
@given(values=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_no_capacity_and_no_turnover_means_no_custody(values, seed):
    """MODEL.md §6 on the fused engine's own outputs (for θ = 0: an arranged arrest needs no capacity)."""
    values.update({"states.capacity": 0.0, "home.turnover_rate": 0.0, "home.fallen_at_issue": 0.0,
                   "prosecutor.timed_arrest": 0.0})
    frame = simulate(values, replicates=30, seed=seed, engine="fused")
    assert not frame["in_custody"].any() and (frame["route"] == "none").all()
    assert (frame["trips_to_members"] <= frame["trips"]).all() and frame["legitimacy_final"].between(0, 1).all()


def test_a_warrant_timed_to_a_certain_arrest_brings_everyone_in_at_month_0():
    """MODEL.md §6: τ = 1, every capacity 1 and σ(z) ≈ 1 at every member: custody at month 0, arrested by a host;
    and (v1.4) τ = 1, θ = 1 whatever the capacities."""
    for values in ({**SMALL, "prosecutor.timed_share": 1.0, "states.capacity": 1.0, "arrest.intercept": 50.0},
                   {**SMALL, "prosecutor.timed_share": 1.0, "prosecutor.timed_arrest": 1.0, "states.capacity": 0.0}):
        frame = simulate(values, replicates=50, seed=2, engine="fused")
        assert (frame["custody_month"] == 0).all() and (frame["route"] == "arrested_by_host").all()
        assert (frame["trips_at_issue"] == 1).all()


def test_series_equal_the_numpy_core():
    values = {**SMALL, **V13}
    for mode in ("mean", "replicate"):
        (a, sa), (b, sb) = (simulate(values, replicates=300, seed=4, engine=e, series=mode)
                            for e in ("fused", "vectorized"))
        assert identical(a, b).all()
        assert list(sa.columns) == list(sb.columns) and len(sa) == len(sb)
        pd.testing.assert_frame_equal(sa, sb, check_exact=False, rtol=1e-6)


def test_batched_points_equal_each_point_alone_and_the_numpy_core():
    """Rows of 40 points (8 parameters differing by row) in one call: each row as when its point runs alone;
    against the NumPy core, every outcome equal, legitimacy to float rounding (the core computes row-varying
    parameters in float64, shared ones in float32)."""
    rng = np.random.default_rng(5)
    ranges = {"arrest.intercept": (-6, -2), "arrest.duty": (1, 5), "court.legitimacy0": (0.2, 0.8),
              "prosecutor.pressure_decay": (0.01, 0.2), "states.withdrawal_rate": (0, 0.05),
              "court.defiance_loss": (0, 0.05), "states.conformity": (0, 0.1), "home.turnover_rate": (0, 0.01)}
    points = {k: Params({**SMALL, **{n: float(rng.uniform(*r)) for n, r in ranges.items()}}) for k in range(40)}
    point, replicate = np.repeat(np.arange(40), 6), np.tile(np.arange(6), 40)
    order = rng.permutation(point.size)
    batched = run_rows(points, point[order], replicate[order], 3, engine="fused").take(np.argsort(order))
    core = run_rows(points, point, replicate, 3, engine="vectorized")
    for k in range(40):
        alone = run_rows({k: points[k]}, np.full(6, k), np.arange(6), 3, engine="fused")
        for name, v in alone.values.items():
            assert np.array_equal(v, batched.values[name][point == k]), (k, name)
    for name, v in core.values.items():
        if name == "legitimacy_final":
            np.testing.assert_allclose(batched.values[name], v, rtol=1e-6)
        else:
            assert np.array_equal(batched.values[name], v), name


# --- reproducibility: threads, chunks -------------------------------------------------------------------------

def one_and_two_threads_agree() -> bool:
    """300 replicates with v1.3 mechanisms on, run on one numba thread and on two: identical frames."""
    values = {**SMALL, **V13}
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(values, replicates=300, seed=8, engine="fused", series="replicate")
        numba.set_num_threads(2)
        two = simulate(values, replicates=300, seed=8, engine="fused", series="replicate")
    finally:
        numba.set_num_threads(before)
    return all(x.equals(y) for x, y in zip(one, two, strict=True))


def test_threads_do_not_change_results():
    if numba.config.NUMBA_NUM_THREADS >= 2:
        assert one_and_two_threads_agree()
        return
    # numba was started with one thread (one core, or NUMBA_NUM_THREADS=1): ask a process started with two
    check = "from tests.test_fused import one_and_two_threads_agree as f; raise SystemExit(0 if f() else 1)"
    done = subprocess.run([sys.executable, "-c", check], cwd=Path(__file__).resolve().parents[1],
                          env={**os.environ, "NUMBA_NUM_THREADS": "2"}, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("chunk", [3, 50, 10**9])
def test_chunks_do_not_change_results(monkeypatch, chunk):
    values = {**SMALL, **V13}
    reference = simulate(values, replicates=120, seed=3, engine="fused")
    monkeypatch.setattr(fused, "CHUNK", chunk)
    pd.testing.assert_frame_equal(simulate(values, replicates=120, seed=3, engine="fused"), reference,
                                  check_exact=True)


def test_same_seed_same_frame_different_seed_different_frame():
    a = simulate(SMALL, replicates=200, seed=11, engine="fused")
    pd.testing.assert_frame_equal(a, simulate(SMALL, replicates=200, seed=11, engine="fused"), check_exact=True)
    assert not a.equals(simulate(SMALL, replicates=200, seed=12, engine="fused"))


def test_without_numba_the_engine_asks_for_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "sim.engines.fused.engine")
    with pytest.raises(UserError, match=r"pip install -e '\.\[fast\]'") as error:
        simulate(SMALL, replicates=2, engine="fused")
    assert "\n" not in str(error.value)


# --- the slow set: full size ----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETS))
def test_replicates_equal_the_numpy_core_full_size(name):
    a = simulate(SETS[name], replicates=4000, seed=32, engine="fused")
    b = simulate(SETS[name], replicates=4000, seed=32, engine="vectorized")
    assert identical(a, b).mean() >= IDENTICAL_SHARE


@pytest.mark.slow
@pytest.mark.parametrize("name", ["defaults", "sealed, high legitimacy", "no outreach, no regime change",
                                  "sovereign and aligned, many withdrawals", "small roster, frequent trips"])
def test_fused_agrees_with_mesa(name):
    """tests/test_equivalence.py's sets and Mesa samples (2,000 replicates each), the fused engine in place of
    the NumPy core."""
    from tests import test_equivalence as eq

    params = eq._params(name, "small")
    result = compare(eq._mesa(name, "small"), simulate(params, replicates=eq.REPLICATES, seed=202, engine="fused"),
                     params.horizon, eq.ALPHA)
    assert result.same, f"{name}: engines differ\n{result.report()}"


@pytest.mark.slow
def test_fused_check_detects_a_shifted_intercept():
    from tests import test_equivalence as eq

    params = eq._params("defaults", "small")
    wrong = params.replace({"arrest.intercept": params["arrest.intercept"] + 0.5})
    result = compare(eq._mesa("defaults", "small"), simulate(wrong, replicates=eq.REPLICATES, seed=202,
                                                             engine="fused"), params.horizon, eq.ALPHA)
    assert not result.same, f"the check missed a shifted arrest intercept\n{result.report()}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETS))
def test_fused_agrees_with_the_numpy_core_in_distribution_full_size(name):
    """Other seeds, so independent samples: the two-sample family at full size (v1.3 mechanisms included)."""
    a = simulate(SETS[name], replicates=2000, seed=41, engine="fused")
    b = simulate(SETS[name], replicates=2000, seed=42, engine="vectorized")
    result = compare(a, b, Params(SETS[name]).horizon, 0.01)
    assert result.same, f"{name}: engines differ\n{result.report()}"
