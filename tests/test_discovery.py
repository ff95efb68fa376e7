"""PRIM against EMA Workbench's output (tests/fixtures/prim_ema.json), a hand-worked case, its invariants,
and the censoring-aware outcome it classifies."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sim.analysis import style
from sim.analysis.discovery import (
    _Box,
    _pastes,
    _Space,
    box_limits,
    choose_box,
    enforcement_by_point,
    outcome_by_point,
    prim,
)
from sim.analysis.metrics import accused_key, enforcement_probability
from sim.analysis.plots_discovery import box_limits_figure, tradeoff_figure
from sim.errors import UserError
from tests.test_metrics import runs_frame

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "prim_ema.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]


def case_inputs(case: dict) -> tuple[pd.DataFrame, np.ndarray]:
    x = pd.DataFrame({k: np.array(v, dtype=np.int64 if case["kinds"][k] == "int" else float)
                      for k, v in case["x"].items()})
    return x, np.array(case["y"])


def run_case(case: dict):
    x, y = case_inputs(case)
    s = case["settings"]
    return prim(x, y, peel_alpha=s["peel_alpha"], paste_alpha=s["paste_alpha"], mass_min=s["mass_min"],
                paste=s["paste"])


# ----------------------------------------------------------------------------- agreement with EMA Workbench
def test_the_fixture_is_emas_and_exercises_peeling_pasting_and_an_int_column():
    assert FIXTURE["meta"]["ema_workbench"] == "2.5.3"
    assert len(CASES["default"]["x"]["a"]) == 1000
    assert max(CASES["coarse"]["trajectory"]["res_dim"]) >= 3
    assert "int" in CASES["integer_peel"]["kinds"].values()
    # pasting shows as a rise in mass after peeling, which only shrinks it
    for name in ("default", "coarse"):
        assert np.diff(CASES[name]["trajectory"]["mass"]).max() > 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_equals_emas(name):
    case = CASES[name]
    t = run_case(case).trajectory
    ema = case["trajectory"]
    assert len(t) == len(ema["coverage"])
    for col in ("coverage", "density", "mass"):
        assert t[col].to_numpy() == pytest.approx(ema[col], abs=1e-9, rel=0)
    for col in ("res_dim", "n", "k"):
        assert t[col].to_numpy(dtype=float).tolist() == [float(v) for v in ema[col]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_boxs_limits_and_quasi_p_values_equal_emas(name):
    case = CASES[name]
    limits = run_case(case).limits.set_index(["box", "parameter"])
    for i, (lims, pvalues) in enumerate(zip(case["limits"], case["pvalues"])):
        for par, (lo, hi) in lims.items():
            row = limits.loc[(i, par)]
            assert (row["lower"], row["upper"]) == pytest.approx((lo, hi), abs=1e-12, rel=0)
            assert row["restricted"] == (par in pvalues)
        for par, (p_lo, p_hi) in pvalues.items():
            row = limits.loc[(i, par)]
            for ours, theirs in ((row["p_lower"], p_lo), (row["p_upper"], p_hi)):
                if theirs is None:
                    assert np.isnan(ours)
                else:
                    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-300)
        unrestricted = limits.loc[i][~limits.loc[i]["restricted"]]
        assert unrestricted[["p_lower", "p_upper"]].isna().all().all()


@pytest.mark.parametrize("name", sorted(CASES))
def test_box_chosen_by_density_threshold_equals_the_fixtures(name):
    case = CASES[name]
    peeling = run_case(case)
    box = choose_box(peeling, density=case["threshold"])
    assert box == case["chosen"]
    chosen = box_limits(peeling, box)
    assert set(chosen["parameter"]) == set(case["pvalues"][box])


# ----------------------------------------------------------------------------- a case worked by hand
def test_one_dimensional_case_by_hand():
    # x = 0..19, y = 1 from 10 on: each peel cuts the lowest point (the top cut would lose a 1) until
    # the box is [9.5, 19]; cutting on would not raise the density, and pasting a 0 back would lower it
    x = pd.DataFrame({"a": np.arange(20.0)})
    y = (x["a"] >= 10).to_numpy()
    peeling = prim(x, y)
    t = peeling.trajectory
    assert t["phase"].tolist() == ["start"] + ["peel"] * 10
    assert t["n"].tolist() == list(range(20, 9, -1))
    assert t["density"].to_numpy() == pytest.approx([10 / n for n in range(20, 9, -1)], abs=1e-15)
    assert t["coverage"].eq(1).all() and t["res_dim"].tolist() == [0] + [1] * 10
    last = box_limits(peeling, 10).iloc[0]
    assert (last["lower"], last["upper"]) == (9.5, 19.0)
    # without its lower limit the box has density 1/2: P(10 of 10 hits) = 2^-10
    assert last["p_lower"] == pytest.approx(2.0**-10, rel=1e-12) and np.isnan(last["p_upper"])
    assert choose_box(peeling, density=0.7) == 10  # every box covers all the 1s: the tie goes to the densest
    assert choose_box(peeling, index=-1) == 10


def test_integer_parameter_is_cut_at_whole_levels():
    # levels 0..9, 30 points each, y = 1 on levels 3..6: each cut drops a whole level at the edge
    rng = np.random.default_rng(11)
    level = np.repeat(np.arange(10), 30)
    x = pd.DataFrame({"k": level, "noise": rng.permutation(300) / 299})
    peeling = prim(x, ((level >= 3) & (level <= 6)).astype(int))
    k = peeling.limits[peeling.limits["parameter"] == "k"]
    assert k[["lower", "upper"]].map(float.is_integer).all().all()
    assert tuple(k[["lower", "upper"]].iloc[-1]) == (3, 6) and peeling.trajectory["density"].iloc[-1] == 1


def test_an_integer_limit_is_pasted_outwards_to_the_next_level():
    # from the box k in [4, 6]: the lower paste's quantile falls between levels 3 and 4 (3.5), the upper
    # one's between 6 and 7 (6.5); truncating them would give 3 and 6, i.e. no paste at the top
    level = np.repeat(np.arange(10), 30)
    space = _Space(pd.DataFrame({"k": level}), (level >= 3).astype(float))
    box = _Box(np.array([4.0]), np.array([6.0]), np.flatnonzero((level >= 4) & (level <= 6)), "peel")
    lower, upper = _pastes(space, box, 0.05)
    assert (lower.lower[0], lower.upper[0], len(lower.members)) == (3, 6, 120)
    assert (upper.lower[0], upper.upper[0], len(upper.members)) == (4, 7, 120)


# ----------------------------------------------------------------------------- invariants
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(40, 300), st.integers(1, 3),
       st.sampled_from([0.05, 0.1, 0.2]), st.sampled_from([0.02, 0.05]), st.sampled_from([0.05, 0.2]))
def test_trajectory_invariants(seed, n, d, peel_alpha, paste_alpha, mass_min):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, d)), columns=[f"p{j}" for j in range(d)])
    y = (rng.random(n) < 0.2 + 0.6 * (x["p0"] > 0.5)).astype(int)
    if y.sum() == 0:
        y[0] = 1
    peeling = prim(x, y, peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min)
    t = peeling.trajectory
    peel, paste = t[t["phase"] != "paste"], t[t["phase"] != "peel"].iloc[int((t["phase"] == "start").sum()):]
    assert t["phase"].iloc[0] == "start" and t.iloc[0][["coverage", "mass"]].tolist() == [1, 1]
    assert (np.diff(peel["mass"]) < 0).all() and (np.diff(peel["density"]) > 0).all()
    assert (np.diff(peel["coverage"]) <= 1e-15).all()
    if len(paste):
        tail = pd.concat([peel.iloc[[-1]], paste])
        assert (np.diff(tail["mass"]) > 0).all() and (np.diff(tail["density"]) > 0).all()
    assert (t["mass"].iloc[1:] >= mass_min).all()
    limits = peeling.limits
    # each box holds exactly the points within its limits, and its statistics follow from them
    for b, box in limits.groupby("box"):
        inside = np.ones(n, dtype=bool)
        for r in box.itertuples():
            inside &= (x[r.parameter] >= r.lower).to_numpy() & (x[r.parameter] <= r.upper).to_numpy()
        row = t.iloc[b]
        assert row["n"] == inside.sum() and row["k"] == y[inside].sum()
        assert row["density"] == pytest.approx(y[inside].mean()) and row["coverage"] == pytest.approx(
            y[inside].sum() / y.sum())
        assert row["res_dim"] == box["restricted"].sum()
        p = box[["p_lower", "p_upper"]].to_numpy()
        assert ((p[np.isfinite(p)] >= 0) & (p[np.isfinite(p)] <= 1)).all()
    # peeling nests the boxes
    lower = limits.pivot(index="box", columns="parameter", values="lower").loc[peel["box"]]
    upper = limits.pivot(index="box", columns="parameter", values="upper").loc[peel["box"]]
    assert (np.diff(lower.to_numpy(), axis=0) >= 0).all() and (np.diff(upper.to_numpy(), axis=0) <= 0).all()


def test_weights_scaled_by_a_half_give_the_same_boxes_at_half_the_density():
    x, y = case_inputs(CASES["default"])
    binary, half = prim(x, y), prim(x, 0.5 * y)
    for col in ("coverage", "mass", "res_dim", "n", "phase"):
        assert half.trajectory[col].tolist() == binary.trajectory[col].tolist()
    assert half.trajectory["density"].to_numpy() == pytest.approx(0.5 * binary.trajectory["density"], abs=1e-15)
    pd.testing.assert_frame_equal(half.limits[["lower", "upper"]], binary.limits[["lower", "upper"]])
    p = half.limits[["p_lower", "p_upper"]].to_numpy()
    assert np.isfinite(p).any() and ((p[np.isfinite(p)] >= 0) & (p[np.isfinite(p)] <= 1)).all()


def test_point_ids_constant_and_boolean_columns():
    rng = np.random.default_rng(3)
    flag = rng.random(400) < 0.5
    x = pd.DataFrame({"point": np.arange(400)[::-1], "flag": flag, "a": rng.random(400), "fixed": 1.5})
    y = pd.Series((flag & (rng.random(400) < 0.9)).astype(int), index=pd.Index(x["point"], name="point"))
    peeling = prim(x, y.sample(frac=1, random_state=1))  # a Series by point id is aligned to X's points
    assert set(peeling.limits["parameter"]) == {"flag", "a"}  # the id and the constant are no parameters
    final = box_limits(peeling, int(peeling.trajectory["box"].iloc[-1])).set_index("parameter")
    assert (final.loc["flag", "lower"], final.loc["flag", "upper"]) == (1, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"y": np.ones(3)}, "y has 3 values for 10 points"),
    ({"y": np.full(10, 2.0)}, "weight in [0, 1]"),
    ({"y": np.zeros(10)}, "no point is a case of interest"),
    ({"x": pd.DataFrame({"a": ["u"] * 5 + ["v"] * 5})}, "column 'a' is"),
    ({"x": pd.DataFrame({"a": [np.nan] + [1.0] * 9})}, "missing values"),
    ({"x": pd.DataFrame({"a": np.ones(10)})}, "no parameter that varies"),
    ({"peel_alpha": 0.5}, "peel_alpha must lie strictly between 0 and 0.5"),
    ({"mass_min": 0}, "mass_min must lie strictly between 0 and 1.0"),
    ({"y": pd.Series(np.ones(9), index=pd.Index(range(9), name="point"))}, "y has no value for 1 point(s)"),
])
def test_bad_input_is_one_clear_error(kwargs, message):
    args = {"x": pd.DataFrame({"point": range(10), "a": np.arange(10.0)}), "y": np.arange(10) % 2, **kwargs}
    with pytest.raises(UserError, match=re.escape(message)):
        prim(args.pop("x"), args.pop("y"), **args)


def test_choosing_a_box_refuses_what_does_not_exist():
    peeling = prim(pd.DataFrame({"a": np.arange(20.0)}), np.arange(20) >= 10)
    for kwargs, message in [({}, "either by index or by a density"), ({"index": 1, "density": 0.5}, "not both"),
                            ({"index": 11}, "outside the trajectory of 11 boxes"),
                            ({"density": 1.01}, "no box reaches density 1.01")]:
        with pytest.raises(UserError, match=message):
            choose_box(peeling, **kwargs)
    with pytest.raises(UserError, match="box 12 is not on the trajectory"):
        box_limits(peeling, 12)


# ----------------------------------------------------------------------------- the outcome to discover
def test_enforcement_without_early_stops_is_the_share_of_replicates():
    runs = pd.concat([runs_frame([[0, 3], [None, 1], [5, None], [2, 2]], point=p) for p in (0, 1)])
    for accused in (0, "all"):
        out = enforcement_by_point(runs, 4, 6, accused=accused)
        share = enforcement_probability(runs, [4]).query(f"accused == {accused_key(accused)}").set_index("point")
        assert out["value"].tolist() == share["p_enforced_4"].tolist()
        assert out["low"].tolist() == share["p_enforced_4_low"].tolist()
        assert (out["method"] == "share").all() and (out["censored"] == 0).all()


def test_enforcement_with_early_stops_is_kaplan_meier_not_the_share():
    # point 1: a run of 2 months censors its free accused; the others ran 5. Kaplan-Meier by hand:
    # 4 at risk at month 1 with one custody (3/4), censored at 2, at month 3 one of 2 (3/8): 1 - S(5) = 5/8,
    # where the plain share would say 2/4. Point 0 ran 5 months throughout.
    runs = pd.concat([runs_frame([[0], [None], [2], [None]], point=0),
                      runs_frame([[0], [None], [2], [None]], point=1)])
    length = pd.Series([5, 5], index=[0, 1])
    out = enforcement_by_point(runs, 5, np.array([5, 5, 5, 5, 5, 2, 5, 5]), accused=0)
    assert out.loc[0, "value"] == 0.5 and out.loc[0, "method"] == "share"
    assert out.loc[1, "value"] == pytest.approx(5 / 8, abs=1e-12) and out.loc[1, "method"] == "kaplan_meier"
    assert out.loc[1, "censored"] == 1 and out.loc[1, "low"] <= 5 / 8 <= out.loc[1, "high"]
    assert enforcement_by_point(runs, 5, length, accused=0)["method"].eq("share").all()
    every = enforcement_by_point(runs, 5, np.array([5, 5, 5, 5, 5, 2, 5, 5]))  # one accused: "all" is accused 0
    pd.testing.assert_frame_equal(every, out)
    with pytest.raises(UserError, match="no run of point 1 lasted 5 months"):
        enforcement_by_point(runs, 5, pd.Series([5, 4], index=[0, 1]))
    with pytest.raises(UserError, match="accused 3 is not in the runs"):
        enforcement_by_point(runs, 5, 5, accused=3)


# ----------------------------------------------------------------------------- figures
def _png(fig) -> Image.Image:
    buffer = io.BytesIO()
    with style.rc():
        fig.savefig(buffer, format="png")
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_tradeoff_and_box_limit_figures():
    peeling = run_case(CASES["coarse"])
    box = choose_box(peeling, density=0.7)
    fig = tradeoff_figure(peeling, chosen=box)
    legend = fig.legends[0]
    dims = sorted(peeling.trajectory["res_dim"].unique())
    assert [t.get_text() for t in legend.get_texts()] == [str(r) for r in dims]
    assert any(t.get_text() == f"box {box}" for t in fig.axes[0].texts)
    assert _png(fig).size == style.pixel_size("tradeoff")
    fig = box_limits_figure(peeling, box)
    ax = fig.axes[0]
    limits = box_limits(peeling, box)
    assert [t.get_text() for t in ax.get_yticklabels()] == limits["parameter"].tolist()
    texts = [t.get_text() for t in ax.texts]
    assert any("(p " in t or "(p < .001)" in t for t in texts) and len(texts) == 2 * len(limits)
    image = _png(fig)
    assert image.size == style.pixel_size("box_limits") and len(np.unique(np.asarray(image.convert("L")))) > 20
    with pytest.raises(UserError, match="box 99 is not on the trajectory"):
        tradeoff_figure(peeling, chosen=99)


# ----------------------------------------------------------------------------- the discover command
def test_arrest_abroad_is_the_share_or_the_aalen_johansen_incidence():
    # point 0: 4 runs of 5 months, accused arrested abroad in 2 (months 0 and 2), one surrendered at home:
    # share 2/4. Point 1: the same custody but run 2 stopped at month 2 with the accused free.
    routes = [["arrested_by_host"], ["none"], ["arrested_by_host"], ["domestic_surrender"]]
    runs = pd.concat([runs_frame([[0], [None], [2], [3]], point=p, routes=routes) for p in (0, 1)])
    length = np.array([5, 5, 5, 5, 5, 2, 5, 5])
    out = outcome_by_point(runs, "p_arrested", 5, length, accused=0)
    assert out.loc[0, "value"] == 0.5 and out.loc[0, "method"] == "share"
    # Aalen-Johansen by hand: month 1: 1 of 4 arrested (S = 3/4); censored at 2; month 3: 1 of 2 arrested
    # abroad: CIF += S(2) x 1/2 = 3/8; month 4: the home surrender competes. CIF(5) = 1/4 + 3/8 = 5/8.
    assert out.loc[1, "value"] == pytest.approx(5 / 8) and out.loc[1, "method"] == "aalen_johansen"
    with pytest.raises(UserError, match="p_arrested is about one accused"):
        outcome_by_point(runs, "p_arrested", 5, length)


LHS = """
[experiment]
name = "tiny_lhs"
seed = 4
replicates = 20
block_size = 400
[scenario]
n_states = 20
n_partners = 3
horizon_months = 36
[sweep]
sampler = "lhs"
n = 40
[sweep.bounds]
"arrest.intercept" = [-6.0, 0.0]
"home.turnover_rate" = [0.0, 0.05]
[outputs]
horizons = [36]
"""


@pytest.fixture(scope="module")
def lhs_sweep(tmp_path_factory):
    from sim.cli import main

    root = tmp_path_factory.mktemp("lhs")
    (root / "lhs.toml").write_text(LHS)
    assert main(["sweep", str(root / "lhs.toml"), "--out", str(root / "sweep"), "--workers", "1", "--quiet"]) == 0
    return root / "sweep"


def test_discover_writes_the_box_and_its_figures_and_replaces_only_its_own(lhs_sweep, capsys):
    from sim.cli import main

    args = ["discover", str(lhs_sweep), "--horizon", "36", "--threshold", "0.5"]
    assert main(args) == 0
    out = lhs_sweep / "discovery"
    for name in ("outcome.csv", "trajectory.csv", "limits.csv", "box.csv", "tradeoff.png", "box_limits.svg",
                 "manifest.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["question"]["threshold"] == 0.5 and manifest["format"] == "tribunal-sim discovery"
    outcome = pd.read_csv(out / "outcome.csv")
    assert len(outcome) == 40 and outcome["hit"].equals(outcome["value"] >= 0.5)
    assert "box " in capsys.readouterr().out
    assert main(["reproduce", str(out), "--quiet"]) == 0
    assert "reproduced (discovery): outcome.csv, trajectory.csv, limits.csv, box.csv identical" \
        in capsys.readouterr().out
    assert main([*args[:-1], "0.3", "--below"]) == 0  # another question replaces the sweep's own discovery/
    assert json.loads((out / "manifest.json").read_text())["question"]["below"] is True
    sweep_manifest = (lhs_sweep / "manifest.json").read_bytes()
    assert main([*args, "--out", str(lhs_sweep)]) == 2  # the sweep's own folder is not a discovery's
    assert "holds results of experiment 'tiny_lhs'" in capsys.readouterr().err
    assert (lhs_sweep / "manifest.json").read_bytes() == sweep_manifest


def test_discover_writes_where_it_says(lhs_sweep, tmp_path, monkeypatch, capsys):
    """The folder the first line names holds the box: by default the sweep's discovery/, else --out (relative
    paths taken from the working folder); the README names the same."""
    from sim.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["discover", str(lhs_sweep), "--horizon", "36", "--threshold", "0.5"]
    for extra, expected in (([], lhs_sweep / "discovery"), (["--out", "boxes/mine"], tmp_path / "boxes" / "mine")):
        assert main([*args, *extra, "--force"]) == 0
        said = re.search(r"-> (.+)$", capsys.readouterr().out.splitlines()[0])[1]
        assert (Path(said).resolve() if Path(said).is_absolute() else (tmp_path / said).resolve()) == expected.resolve()
        assert (expected / "box.csv").is_file() and (expected / "tradeoff.png").is_file()
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "writes `results/discovery/discovery/`" in readme


@pytest.mark.parametrize("extra, message", [
    (["--threshold", "1.5"], "--threshold must lie strictly between 0 and 1"),
    (["--threshold", "0.5", "--outcome", "arrests"], "--outcome 'arrests': choose p_enforced or p_arrested"),
    (["--threshold", "0.5", "--outcome", "p_arrested"], "p_arrested is about one accused"),
    (["--threshold", "0.5", "--accused", "x"], "--accused 'x': give an accused index"),
    (["--threshold", "0.5", "--horizon", "99"], "no run of point 0 lasted 99 months"),
    (["--threshold", "0.999"], "nothing to discover; choose another threshold"),
    (["--threshold", "0.5", "--peel-alpha", "0.7"], "--peel-alpha must lie strictly between 0 and 0.5"),
])
def test_bad_discover_input_is_one_line_and_writes_nothing(lhs_sweep, tmp_path, capsys, extra, message):
    from sim.cli import main

    args = ["discover", str(lhs_sweep), "--out", str(tmp_path / "d")]
    args += [] if "--horizon" in extra else ["--horizon", "36"]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "d").exists()
