"""`python -m sim forecast` (ODD §4.11): a forecast at month 0 with no record is the unconditional probability,
at fixed parameters its between-draw spread is 0, its conditional probability agrees with an independent
rejection estimate from sim.simulate, a calibrated forecast's band holds its probability, too few consistent
replicates is one line saying how many to ask for, bad configs are one line each, and `reproduce` reruns a
forecast byte for byte."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.errors import UserError
from sim.experiments.config import load_experiment
from sim.simulate import run_rows
from sim.studies.forecast.config import forecast_from_text
from sim.studies.forecast.study import DATA, compute, plan_outputs

ROOT = Path(__file__).resolve().parents[1]
UKRAINE = ROOT / "experiments" / "scenario_2023_ukraine.toml"
BANDA = ROOT / "experiments" / "scenario_2014_darfur_banda.toml"


def config(tmp_path: Path, scenario: Path | None = UKRAINE, **keys) -> Path:
    """A forecast config in ``tmp_path`` (scenario by absolute path; None: no scenario key) with the given
    [forecast] keys (None: left out)."""
    values = {"scenario": str(scenario) if scenario else None, "date": "2024-03-17", "horizons": [36],
              "source": "defaults", "replicates": 200, "seed": 3, "engine": "vectorized", **keys}
    lines = ["[forecast]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]
    path = tmp_path / "forecast.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path: Path):
    return forecast_from_text(path.read_text(encoding="utf-8"), str(path))


def test_at_month_0_with_no_record_the_forecast_is_the_unconditional_probability(tmp_path):
    """ODD §4.11: every replicate is consistent with an empty record, and row (draw 0, replicate r) is replicate r
    of point 0, so the forecast is sim.simulate's share in custody, exactly."""
    fc = load(config(tmp_path, date="2023-03-17", horizons=[12, 24], replicates=300))
    assert fc.record.month == 0 and all(a.status == "free" for a in fc.record.accused)
    result = compute(fc)
    table = result.tables["forecast.csv"]
    assert (table["consistent"] == 300).all() and (table["consistent_share"] == 1.0).all()
    frame = sim.simulate(fc.base, replicates=300, seed=3)
    routes = result.tables["routes.csv"].groupby(["accused", "horizon_month"], sort=False)["p"].sum()
    assert np.allclose(routes.to_numpy(), table["p"].to_numpy())  # the two routes add up to custody
    for _, row in table.iterrows():
        j = fc.persons.index(row["accused"])
        mine = frame[frame["accused"] == j]
        expected = (mine["custody_month"].fillna(10**6) < row["horizon_month"]).mean()
        assert row["p"] == expected


def test_at_fixed_parameters_one_draw_has_no_spread_and_many_draws_only_noise(tmp_path):
    fc = load(config(tmp_path, horizons=[24, 36]))
    table = compute(fc).tables["forecast.csv"]
    assert (table["draws_used"] == 1).all() and (table["p_sd_between"] == 0).all()
    assert (table["p_q05"] == table["p"]).all() and (table["p_q95"] == table["p"]).all()
    assert table["mc_share"].isna().all()  # one draw: no spread for noise to be a share of


@pytest.mark.slow
def test_at_fixed_parameters_many_draws_spread_only_by_noise_which_is_removed(tmp_path):
    """20 draws of the same parameters: the spread of p_d is all Monte Carlo noise, which the estimate removes."""
    fc = load(config(tmp_path, horizons=[36], draws=20, replicates=150))
    table = compute(fc).tables["forecast.csv"]
    noise = np.sqrt(table["p"] * (1 - table["p"]) / (table["consistent"] / 20))
    assert (table["p_sd_between"] <= 1.2 * noise).all()  # a draw's noise is ~noise; 1.2x is z ~ 4.5 for 20 draws


def _by_hand(params, replicates: int, seed: int, m: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """An independent rejection estimate: sim.simulate's frame, replicates whose accused are all free before m and
    whose home government did not change before m; per accused, (custody by horizon among them, their number)."""
    frame = sim.simulate(params, replicates=replicates, seed=seed)
    never = 10**6
    custody = frame["custody_month"].astype("Float64").fillna(never).to_numpy(float)
    detained = frame["detained_month"].astype("Float64").fillna(never).to_numpy(float)
    change = frame["regime_change_month"].astype("Float64").fillna(never).to_numpy(float)
    f = params.n_accused
    free = ((custody >= m) & (detained >= m)).reshape(-1, f).all(axis=1) & (change.reshape(-1, f)[:, 0] >= m)
    by = (custody < horizon).reshape(-1, f)[free]
    return by.sum(axis=0), np.full(f, free.sum())


def test_the_conditional_probability_agrees_with_an_independent_rejection_estimate(tmp_path):
    """Forecast (seed 3) and a rejection count by hand over sim.simulate (seed 99) estimate the same conditional
    probability: they must agree within 4.5 combined standard errors (a false alarm about once in 10^5 runs per
    accused)."""
    fc = load(config(tmp_path, date="2024-09-17", horizons=[48], replicates=1500, seed=3))
    assert fc.record.month == 18 and not fc.record.regime_changed
    table = compute(fc).tables["forecast.csv"]
    k, n = _by_hand(fc.base, 1500, 99, fc.record.month, 48)
    assert n[0] > 500
    for j, row in table.iterrows():
        q = k[j] / n[j]
        se = np.sqrt(row["mc_se"] ** 2 + q * (1 - q) / n[j])
        assert abs(row["p"] - q) <= 4.5 * se, (row["accused"], row["p"], q, se)
        assert 0.02 < row["p"] < 0.98  # a test that could fail: neither probability is trivial


@pytest.mark.slow
def test_a_calibrated_forecast_s_band_holds_its_probability_and_keeps_the_facts(tmp_path):
    fc = load(config(tmp_path, source="calibrated", draws=30, replicates=80, date="2026-02-03",
                     horizons=["2028-12-31"]))
    params = fc.draw_params()
    assert {p["prosecutor.timed_share"] for p in params} == {0.0}  # a public warrant, drawn or not
    assert {p["home.fallen_at_issue"] for p in params} == {0.0}  # a government standing at issue
    result = compute(fc)
    table = result.tables["forecast.csv"]
    assert ((table["p_q05"] < table["p"]) & (table["p"] < table["p_q95"])).all()
    assert (table["mc_se"] < table["p_sd_between"]).all()  # the Monte Carlo error is reported apart, and smaller
    draws = result.tables["draws.csv"]
    assert draws["draw"].nunique() == 30 and np.isclose(draws.groupby("draw")["weight"].first().sum(), 1.0)


def test_too_few_consistent_replicates_is_one_line_that_says_how_many(tmp_path, capsys):
    """Banda's record to date (a change of government in 2019, still free in 2026) is rare under the defaults'
    hazard (1/240 a month): with 20 replicates the draw is set aside, and the error asks for enough."""
    path = config(tmp_path, BANDA, date="2026-02-03", horizons=["2030-12-31"], replicates=20)
    out = tmp_path / "out"
    assert main(["forecast", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ask for replicates = " in err[0] and "per draw in [forecast]" in err[0]
    asked = int(err[0].split("ask for replicates = ")[1].split()[0])
    assert asked > 20 and asked % 100 == 0
    assert not out.exists()  # nothing was written


@pytest.mark.parametrize("keys, message", [
    ({"replicate": 10}, "unknown key 'replicate' in [forecast] (did you mean replicates?)"),
    ({"scenario": None}, "[forecast] needs scenario ="),
    ({"date": "2026-13-01"}, "[forecast] date must be a date"),
    ({"date": "2027-01-01"}, "is after the record's date"),
    ({"date": "2020-01-01"}, "is before the warrants' issue"),
    ({"horizons": [6]}, "not after the forecast's month 12"),
    ({"horizons": [36, "2026-03-17"]}, "name the same month twice"),
    ({"source": "nowhere"}, "holds no calibration results"),
    ({"accused": ["Vladimir Putin"]}, "names 1 person(s)"),
    ({"accused": ["Maria Lvova-Belova", "Vladimir Putin"]}, "differs from the record's"),
    ({"accused": ["Vladimir Putn", "Maria Lvova-Belova"]}, "did you mean 'Vladimir Putin'?"),
    ({"accused": ["Sergei Shoigu", "Valery Gerasimov"]}, "not on the scenario's date 2023-03-17"),
    ({"count_replicates": 500}, "count_replicates = 500 exceeds replicates = 200"),
    ({"weights": "recrod"}, "weights must be one of calibration, record"),
    ({"replicates": 10}, "replicates must be at least 20"),
    ({"engine": "numba"}, "[forecast] engine must be one of"),
])
def test_config_errors_are_one_line(tmp_path, keys, message):
    with pytest.raises(UserError) as info:
        load(config(tmp_path, **keys))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_scenario_that_is_no_situation_is_refused(tmp_path):
    synthetic = tmp_path / "synthetic.toml"
    synthetic.write_text("[experiment]\nname = \"s\"\n[scenario]\nn_states = 20\n", encoding="utf-8")
    with pytest.raises(UserError, match="synthetic roster"):
        load(config(tmp_path, synthetic))
    sealed = tmp_path / "sealed.toml"
    sealed.write_text(UKRAINE.read_text(encoding="utf-8").replace("\n[parameters]\n", "\n[parameters]\n"
                      '"prosecutor.sealed_share" = 1.0\n'), encoding="utf-8")
    with pytest.raises(UserError, match="were public at issue"):
        load(config(tmp_path, sealed))
    with pytest.raises(UserError, match="it is not a forecast config"):
        forecast_from_text(UKRAINE.read_text(encoding="utf-8"), str(UKRAINE))
    with pytest.raises(UserError, match=r"unknown table \[parameters\]"):
        forecast_from_text(config(tmp_path).read_text() + "[parameters]\nx = 1\n", "f.toml")


@pytest.mark.slow
def test_reproduce_reruns_a_forecast_byte_for_byte_and_refuses_an_edited_manifest(tmp_path, capsys):
    path = config(tmp_path, source="calibrated", draws=6, replicates=60, date="2024-03-17",
                  horizons=[30, "2026-12-31"], count_replicates=10)
    out = tmp_path / "out"
    assert main(["forecast", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Vladimir Putin: custody by 2026-12-31 p = " in printed and "posterior 90%" in printed
    assert "Monte Carlo se" in printed
    assert plan_outputs(out, load(path), force=False).delete  # its own earlier results: replaced without --force
    assert main(["reproduce", str(out), "--quiet"]) == 0
    assert "reproduced (forecast)" in capsys.readouterr().out
    doc = json.loads((out / "manifest.json").read_text())
    assert set(DATA) <= set(doc["outputs"]) and "figures/fan_0.png" in doc["outputs"]
    assert doc["scenario"]["text"] == UKRAINE.read_text(encoding="utf-8")
    doc["forecast"]["replicates"] = 41
    (out / "manifest.json").write_text(json.dumps(doc))
    assert main(["reproduce", str(out), "--quiet"]) == 2
    assert "forecast.replicates is 41 there and 60 from its config text" in capsys.readouterr().err


def test_a_folder_of_another_kind_is_never_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    fc = load(config(tmp_path))
    with pytest.raises(UserError, match="holds files that are not this forecast's results"):
        plan_outputs(out, fc, force=False)
    assert (out / "mine.txt").read_text() == "keep"


def test_a_run_s_first_months_do_not_depend_on_its_horizon():
    """What the counts rest on: run to month m and to H > m, a replicate has the same history before m."""
    base = load_experiment(UKRAINE).base
    short, long = (base.replace({"scenario.horizon_months": h}) for h in (12, 40))
    rows = np.arange(300)
    a = run_rows({0: short}, np.zeros(300, int), rows, 5).values
    b = run_rows({0: long}, np.zeros(300, int), rows, 5).values
    for month in ("custody_month", "detained_month"):
        early = np.where((b[month] >= 0) & (b[month] < 12), b[month], -1)
        assert (a[month] == early).all()
    for count in ("trips", "trips_to_members", "trips_cancelled", "invitations_declined"):
        assert (a[count] <= b[count]).all()
    assert (b["trips"] > a["trips"]).any()


def test_counts_lie_between_the_forecast_s_date_and_each_horizon(tmp_path):
    fc = load(config(tmp_path, horizons=[24, 48], replicates=100, count_replicates=50))
    counts = compute(fc).tables["counts.csv"]
    assert set(counts["measure"]) == {"trips", "trips_to_members", "arrests_abroad", "trips_cancelled",
                                      "invitations_declined"}
    cols = ["q05", "q25", "median", "q75", "q95"]
    assert (np.diff(counts[cols].to_numpy(), axis=1) >= 0).all()
    trips = counts[counts["measure"] == "trips"].set_index(["accused", "horizon_month"])["median"]
    for person in fc.persons:
        assert trips[(person, 24)] <= trips[(person, 48)]
    assert counts[counts["measure"] == "arrests_abroad"][cols].isin([0, 1]).all().all()


def test_the_record_to_date_of_the_situations():
    from sim.data.situation import at_large, record_to_date

    banda = record_to_date(["Abdallah Banda Abakaer Nourain"], dt.date(2014, 9, 11), "SDN", dt.date(2026, 2, 3))
    assert banda.month == 136 and banda.regime_changed and banda.regime_change == "2019-04-11"
    libya = record_to_date(["Muammar Gaddafi", "Saif al-Islam Gaddafi", "Abdullah Al-Senussi"], dt.date(2011, 6, 27),
                           "LBY", dt.date(2026, 2, 3))
    assert [a.status for a in libya.accused] == ["free", "detained", "detained"]
    assert libya.accused[0].until == 3 and libya.accused[0].why_not.startswith("died")
    cdi = record_to_date(["Laurent Gbagbo"], dt.date(2011, 11, 23), "CIV", dt.date(2012, 1, 1))
    assert cdi.accused[0].status == "custody" and not cdi.regime_changed  # fallen before the warrants
    assert len(at_large()) == 18


def test_every_warrant_at_large_has_a_forecast_config():
    """Every warrant at large on the record's date against a national of a non-party is forecast by a config in
    experiments/ (its own situation's scenario)."""
    from sim.data.situation import at_large

    covered = set()
    for path in (ROOT / "experiments").glob("forecast_*.toml"):
        covered |= set(load(path).persons)
    missing = set(at_large()["person"]) - covered
    assert not missing, missing


def test_the_posterior_weights_learn_from_the_record_when_asked(tmp_path):
    fc = load(config(tmp_path, source="calibrated", draws=10, replicates=60, weights="record"))
    result = compute(fc)
    draws = result.tables["draws.csv"].groupby("draw").first()
    expected = draws["consistent"] / draws["consistent"].sum()  # w_d ∝ n_d / R: the record's likelihood
    assert np.allclose(draws["weight"], expected) and draws["consistent"].nunique() > 1
    assert pd.api.types.is_float_dtype(draws["weight"])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(20, 200), st.data())
def test_pooling_invariants(draws, replicates, data):
    """Whatever the per-draw counts and weights: p lies within the draws' p_d, the bands are ordered and hold p's
    range, the between-draw spread is not negative, the noise share is a share, set-aside draws are counted."""
    from sim.analysis.forecast import BAND_COLUMNS, MIN_CONSISTENT, pool

    n = np.array(data.draw(st.lists(st.integers(0, replicates), min_size=draws, max_size=draws)))
    k = np.array([[[data.draw(st.integers(0, int(m)))] for m in n]]).reshape(draws, 1, 1)
    w = np.array(data.draw(st.lists(st.floats(0.01, 5.0), min_size=draws, max_size=draws)))
    out = pool(n, k, w)
    used = n >= MIN_CONSISTENT
    assert out["draws_used"][0, 0] == used.sum() and out["draws_set_aside"][0, 0] == (~used).sum()
    if not used.any():
        assert np.isnan(out["p"]).all()
        return
    p_d = k[used, 0, 0] / n[used]
    assert p_d.min() - 1e-12 <= out["p"][0, 0] <= p_d.max() + 1e-12
    bands = [out[c][0, 0] for c in BAND_COLUMNS]
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(bands))
    assert p_d.min() - 1e-12 <= bands[0] and bands[-1] <= p_d.max() + 1e-12
    assert out["p_sd_between"][0, 0] >= 0 and out["mc_se"][0, 0] >= 0
    share = out["mc_share"][0, 0]
    assert np.isnan(share) if used.sum() == 1 else 0 <= share <= 1


def test_identical_draws_have_no_spread_and_the_set_aside_rule_asks_for_enough():
    from sim.analysis.forecast import pool, set_aside, weighted_quantile

    n = np.full(5, 10_000)
    k = np.full((5, 1, 1), 2_500)
    out = pool(n, k, np.ones(5))
    assert out["p"][0, 0] == 0.25 and out["p_sd_between"][0, 0] == 0 and out["p_q05"][0, 0] == 0.25
    # weights 1 and 3: the values sit at the midpoints 1/8 and 5/8 of the weight; the median is 3/4 of the way
    assert weighted_quantile(np.array([0.0, 1.0]), np.array([1.0, 3.0]), 0.5) == pytest.approx(0.75)
    share, needed = set_aside(np.array([100, 100, 5, 5]), 100, np.ones(4))
    assert share == 0.5 and needed == 600  # the rarer draws' rate 5/100: 1.5 x 20 / 0.05 = 600


def test_explore_opens_a_forecast_folder_with_its_fan_chart_and_table(tmp_path, monkeypatch, capsys):
    import solara
    from solara.widgets import HTML as HTMLWidget

    from sim.app import explorer, server
    from sim.studies.forecast.study import run_forecast

    fc = load(config(tmp_path, horizons=[24, 30], replicates=40))
    out = tmp_path / "out"
    run_forecast(fc, plan_outputs(out, fc, force=False))
    monkeypatch.setenv(explorer.FOLDER_ENV, str(out))
    explorer.forecast_of.cache_clear()
    _, rc = solara.render(solara.AppLayout(children=[explorer.Page()]), handle_error=False)
    page = "\n".join(w.unsafe_innerHTML for w in rc.find(HTMLWidget).widgets)
    assert "alt=\"explorer figure: fan chart of Vladimir Putin\"" in page
    assert "Probability of custody by each horizon" in page and "p_q95" in page and "mc_se" in page
    assert "Counts to each horizon" in page and "trips_to_members" in page and "domestic_surrender" in page
    seen = {}
    monkeypatch.setattr(server, "missing_assets", lambda: [])
    monkeypatch.setattr(server, "run_until_stopped", lambda cmd, env: seen.update(cmd=cmd, env=env) or 0)
    assert main(["explore", str(out), "--port", "8791"]) == 0
    assert "forecast of Vladimir Putin, Maria Lvova-Belova" in capsys.readouterr().out
    (out / "forecast.csv").write_text("accused\n")
    explorer.forecast_of.cache_clear()
    assert main(["explore", str(out), "--port", "8791"]) == 2
    assert "forecast.csv is missing or not the file the forecast wrote" in capsys.readouterr().err


def test_every_forecast_config_is_shipped_with_one_fan_chart_per_accused():
    from sim.studies import reference

    configs = {p.stem: p for p in (ROOT / "experiments").glob("forecast_*.toml")}
    assert set(configs) == set(reference.FORECASTS)
    for name, path in configs.items():
        fc = load(path)
        assert len(fc.forecast_accused) == reference.FORECASTS[name], name
        assert reference.REFERENCES[name].command == f"python -m sim forecast experiments/{name}.toml"
        assert fc.source == "calibrated" and fc.engine == "fused" and fc.draws == fc.replicates == 400
        assert fc.record.date.isoformat() == "2026-02-03" and fc.horizon_dates == ("2030-12-31", "2035-12-31")


def test_months_after_the_calibration_s_record_update_the_weights(tmp_path):
    """A posterior fitted to the record of 2024-03-17 (month 12 of the Ukraine warrants), a forecast at 2025-03-17
    (month 24): each draw's weight is its share of replicates consistent at 24 among those consistent at 12."""
    from dataclasses import replace

    from sim.data.situation import record_to_date
    from sim.studies.forecast.config import calibration_month
    from sim.studies.forecast.study import _consistent, _rows

    fitted = dt.date(2024, 3, 17)
    fc = replace(load(config(tmp_path, source="calibrated", draws=8, replicates=80, date="2025-03-17",
                             horizons=[36])), calibration_date=fitted)
    assert calibration_month(fc) == 12 and fc.record.month == 24
    draws = compute(fc).tables["draws.csv"].groupby("draw").first()
    draw, replicate = _rows(fc.draws, fc.replicates)
    main = run_rows(dict(enumerate(fc.draw_params())), draw, replicate, fc.seed, engine=fc.engine)
    at12 = np.bincount(draw[_consistent(main, record_to_date(fc.persons, fc.record.issue, "RUS", fitted))],
                       minlength=8)
    at24 = draws["consistent"].to_numpy()
    assert (at12 >= at24).all() and (at24 < at12).any()
    expected = at24 / at12
    assert np.allclose(draws["weight"], expected / expected.sum())
