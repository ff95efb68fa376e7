"""Experiment configs: designs in a documented order, and one clear line (exit 2) for every bad config."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.experiments.config import SAMPLERS, TABLES, experiment_from_text, load_experiment
from sim.model.params import Params

TINY = """
[experiment]
name = "tiny"
seed = 11
replicates = 6
block_size = 2
engine = "mesa"

[scenario]
n_states = 8
n_partners = 1
horizon_months = 12

[parameters]
"court.legitimacy0" = 0.6

[sweep]
sampler = "grid"

[sweep.grid]
"states.sovereignty_member" = [0.2, 0.6]
"prosecutor.outreach_budget" = [0, 3]

[outputs]
horizons = [6, 12]
"""

SAMPLED = """
[experiment]
name = "sampled"
seed = {seed}
replicates = 2

[scenario]
n_states = 8
n_partners = 1
horizon_months = 12

[sweep]
sampler = "{sampler}"
n = {n}
{extra}

[sweep.bounds]
"court.legitimacy0" = [0.2, 0.8]
"prosecutor.outreach_budget" = [0, 6]
"accused.trip_rate[1]" = [0.1, 1.5]
"""


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_grid_points_are_the_product_in_config_order_last_fastest():
    exp = experiment_from_text(TINY)
    assert exp.swept == ("states.sovereignty_member", "prosecutor.outreach_budget")
    assert exp.points.to_dict("list") == {"point": [0, 1, 2, 3],
                                          "states.sovereignty_member": [0.2, 0.2, 0.6, 0.6],
                                          "prosecutor.outreach_budget": [0, 3, 0, 3]}
    assert str(exp.points["prosecutor.outreach_budget"].dtype) == "int64"
    third = exp.params[2]
    assert third["states.sovereignty_member"] == 0.6 and third["prosecutor.outreach_budget"] == 0
    assert third["court.legitimacy0"] == 0.6 and third["scenario.n_states"] == 8  # base values kept


def test_blocks_cut_the_rows_of_every_point_in_order():
    """Blocks of block_size rows over the (point, replicate) sequence: with 6 replicates and blocks of 2 each
    point has three blocks; with 5, a block may hold the last replicate of one point and the first of the next."""
    exp = experiment_from_text(TINY)
    blocks = exp.blocks()
    assert [(b.block, b.points, b.replicates, b.n) for b in blocks[:4]] == [
        (0, (0, 0), (0, 1), 2), (1, (0, 0), (2, 3), 2), (2, (0, 0), (4, 5), 2), (3, (1, 1), (0, 1), 2)]
    assert len(blocks) == 12
    odd = experiment_from_text(TINY.replace("replicates = 6", "replicates = 5"))
    third = odd.blocks()[2]
    assert third.points == (0, 1) and list(third.point_of_rows()) == [0, 1]
    assert list(third.replicate_of_rows()) == [4, 0]
    assert sum(b.n for b in odd.blocks()) == odd.n_points * 5


@pytest.mark.parametrize("sampler,n,extra,count", [
    ("lhs", 7, "", 7),
    ("sobol", 4, "second_order = true", 4 * (2 * 3 + 2)),
    ("sobol", 4, "second_order = false", 4 * (3 + 2)),
    ("morris", 3, "levels = 4", 3 * (3 + 1)),
])
def test_sampled_designs_have_salib_sizes_stay_in_bounds_and_follow_the_seed(sampler, n, extra, count):
    text = SAMPLED.format(seed=5, sampler=sampler, n=n, extra=extra)
    exp = experiment_from_text(text)
    pts = exp.points
    assert len(pts) == count == exp.n_points
    assert list(pts.columns) == ["point", "court.legitimacy0", "prosecutor.outreach_budget", "accused.trip_rate[1]"]
    assert pts["court.legitimacy0"].between(0.2, 0.8).all()
    assert pts["accused.trip_rate[1]"].between(0.1, 1.5).all()
    budget = pts["prosecutor.outreach_budget"]
    assert str(budget.dtype) == "int64" and budget.between(0, 6).all()
    assert [p["accused.trip_rate"][1] for p in exp.params] == pts["accused.trip_rate[1]"].tolist()
    assert all(p["accused.trip_rate"][0] == 0.8 for p in exp.params)  # the other element keeps its default
    again = experiment_from_text(text)
    assert again.points.equals(pts)
    other = experiment_from_text(SAMPLED.format(seed=6, sampler=sampler, n=n, extra=extra))
    assert not other.points.equals(pts)
    assert exp.problem["bounds"] == [[0.2, 0.8], [0.0, 6.0], [0.1, 1.5]]


def test_latin_hypercube_puts_one_point_in_each_stratum():
    n = 9
    exp = experiment_from_text(SAMPLED.format(seed=1, sampler="lhs", n=n, extra=""))
    x = exp.points["court.legitimacy0"].to_numpy()
    strata = np.floor((x - 0.2) / 0.6 * n).astype(int)
    assert sorted(strata) == list(range(n))


def test_morris_values_lie_on_the_level_grid():
    exp = experiment_from_text(SAMPLED.format(seed=2, sampler="morris", n=4, extra="levels = 4"))
    levels = 0.2 + 0.6 * np.arange(4) / 3
    x = exp.points["court.legitimacy0"].to_numpy()
    assert np.all(np.min(np.abs(x[:, None] - levels[None, :]), axis=1) < 1e-9)


def test_sensitivity_table_is_passed_through_and_defaults_apply(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[experiment]\nseed = 3\n[sensitivity]\noutcome = "p_enforced"\nhorizon = 120\n'
                    '[sensitivity.extra]\nanything = [1, "x"]\n', encoding="utf-8")
    exp = load_experiment(path)
    assert exp.sensitivity == {"outcome": "p_enforced", "horizon": 120, "extra": {"anything": [1, "x"]}}
    assert (exp.name, exp.replicates, exp.block_size, exp.engine) == ("s", 1000, 1000, "vectorized")
    assert exp.n_points == 1 and exp.swept == () and exp.sampler is None
    assert exp.horizons == (120,) and exp.figures == ()
    assert exp.base == Params()
    assert exp.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def _edit(old: str, new: str) -> str:
    assert old in TINY
    return TINY.replace(old, new)


BAD = {
    "unknown_table": (TINY + "\n[analysis]\nx = 1\n", "unknown table [analysis]"),
    "misspelt_table": (_edit("[outputs]", "[output]"), "did you mean outputs?"),
    "unknown_experiment_key": (_edit("seed = 11", "sed = 11"),
                               "unknown key 'sed' in [experiment] (did you mean seed?)"),
    "unknown_parameter": (_edit('"court.legitimacy0" = 0.6', '"court.legitimacy" = 0.6'),
                          "did you mean court.legitimacy0?"),
    "unknown_swept_parameter": (_edit('"prosecutor.outreach_budget" = [0, 3]', '"prosecutor.budget" = [0, 3]'),
                                "unknown parameter 'prosecutor.budget'"),
    "wrong_type_parameter": (_edit("= 0.6", '= "high"'), "court.legitimacy0 must be a number"),
    "wrong_type_replicates": (_edit("replicates = 6", 'replicates = "6"'),
                              "[experiment] replicates must be an integer"),
    "float_block_size": (_edit("block_size = 2", "block_size = 2.5"), "block_size must be an integer"),
    "zero_replicates": (_edit("replicates = 6", "replicates = 0"), "replicates must be at least 1"),
    "negative_seed": (_edit("seed = 11", "seed = -1"), "seed must be at least 0"),
    "unknown_engine": (_edit('engine = "mesa"', 'engine = "mesas"'), "did you mean mesa?"),
    "out_of_range_grid": (_edit("[0.2, 0.6]", "[0.2, 1.6]"), "states.sovereignty_member = 1.6 is out of range"),
    "empty_grid": (_edit("[0.2, 0.6]", "[]"), "empty grid"),
    "grid_not_list": (_edit("[0.2, 0.6]", "0.2"), "must be a list of values"),
    "duplicate_grid_value": (_edit("[0.2, 0.6]", "[0.2, 0.2]"), "lists a value twice"),
    "unknown_sampler": (_edit('sampler = "grid"', 'sampler = "latin"'), "unknown sampler 'latin'"),
    "grid_without_table": (_edit('"states.sovereignty_member" = [0.2, 0.6]\n"prosecutor.outreach_budget" = [0, 3]',
                                 ""), "needs a non-empty [sweep.grid]"),
    "bounds_for_grid": (_edit("[sweep.grid]", "[sweep.bounds]"), "takes [sweep.grid], not [sweep.bounds]"),
    "out_of_range_bounds": (SAMPLED.format(seed=1, sampler="lhs", n=4, extra="").replace("[0.2, 0.8]", "[0.2, 1.8]"),
                            "lies outside the parameter's range [0, 1]"),
    "reversed_bounds": (SAMPLED.format(seed=1, sampler="lhs", n=4, extra="").replace("[0.2, 0.8]", "[0.8, 0.2]"),
                        "low must be below high"),
    "fractional_int_bounds": (SAMPLED.format(seed=1, sampler="lhs", n=4, extra="").replace("[0, 6]", "[0, 6.5]"),
                              "give integer bounds"),
    "missing_n": (SAMPLED.format(seed=1, sampler="lhs", n=4, extra="").replace("n = 4", ""), "needs n in [sweep]"),
    "sobol_n_not_power_of_two": (SAMPLED.format(seed=1, sampler="sobol", n=6, extra=""), "power of two"),
    "levels_for_lhs": (SAMPLED.format(seed=1, sampler="lhs", n=4, extra="levels = 4"), "no meaning for sampler 'lhs'"),
    "text_parameter_swept": (_edit('"prosecutor.outreach_budget" = [0, 3]', '"scenario.roster" = ["real"]'),
                             "only numeric parameters can be swept"),
    "whole_list_swept": (_edit('"prosecutor.outreach_budget" = [0, 3]', '"accused.trip_rate" = [0.1, 0.2]'),
                         "sweep one element"),
    "horizon_beyond_run": (_edit("horizons = [6, 12]", "horizons = [6, 24]"), "not within 1..12 months"),
    "unknown_figure": (_edit("horizons = [6, 12]", 'horizons = [6, 12]\nfigures = ["heatmaps"]'),
                       "did you mean heatmap?"),
    "unknown_output_key": (_edit("horizons = [6, 12]", "horizon = [6, 12]"), "did you mean horizons?"),
    "inconsistent_point": (_edit('"prosecutor.outreach_budget" = [0, 3]', '"scenario.n_states" = [8, 1]').replace(
        "n_states = 8\n", ""), "scenario.n_states = 1 is out of range"),
    "partners_exceed_states": (_edit('"prosecutor.outreach_budget" = [0, 3]', '"scenario.n_states" = [20, 5]').replace(
        "n_states = 8\nn_partners = 1\n", "n_partners = 6\n"), "design point 1"),
    "set_and_swept": (_edit('"prosecutor.outreach_budget" = [0, 3]', '"scenario.n_partners" = [1, 2]'),
                      "[scenario] and [sweep.grid] both set scenario.n_partners"),
    "bad_name": (_edit('name = "tiny"', 'name = "../up"'), "[experiment] name must be a folder name"),
    "not_toml": ("[experiment\nseed = 1", "is not valid TOML"),
    "top_level_key": ("seed = 3\n", "put it under [experiment]"),
    "huge_design": (SAMPLED.format(seed=1, sampler="lhs", n=10**12, extra=""), "more than 100,000"),
    "calibration_config": (Path(__file__).resolve().parents[1].joinpath("experiments", "calibration.toml").read_text(),
                           "is a config for `python -m sim calibrate` (it has a [calibration] table); "
                           "run `python -m sim calibrate "),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A finished tiny sweep, to check that bad configs leave it untouched."""
    root = tmp_path_factory.mktemp("existing")
    config = root / "tiny.toml"
    config.write_text(TINY, encoding="utf-8")
    assert main(["sweep", str(config), "--out", str(root / "out"), "--workers", "1", "--quiet"]) == 0
    return root / "out"


def _one_clear_line(code: int, err: str) -> str:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_is_one_line_exit_2_and_leaves_results_untouched(case, results, tmp_path, capsys):
    text, expected = BAD[case]
    before = folder_hashes(results)
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = main(["sweep", str(config), "--out", str(results), "--workers", "1", "--quiet"])
    line = _one_clear_line(code, capsys.readouterr().err)
    assert expected in line
    assert folder_hashes(results) == before


@pytest.mark.parametrize("make,expected", [
    (lambda d: d / "missing.toml", "does not exist"),
    (lambda d: d, "is a folder"),
    (lambda d: (d / "latin1.toml").write_bytes(b"[experiment]\nname = \"\xe9\"\n") and d / "latin1.toml",
     "is it a UTF-8 text file?"),
])
def test_unreadable_config_file(make, expected, results, tmp_path, capsys):
    before = folder_hashes(results)
    code = main(["sweep", str(make(tmp_path)), "--out", str(results), "--quiet"])
    assert expected in _one_clear_line(code, capsys.readouterr().err)
    assert folder_hashes(results) == before


# --- random broken configs -----------------------------------------------------------------------------

def toml_value(v) -> str:
    """A minimal TOML writer (inline forms only), enough for generated documents."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml_text(doc: dict) -> str:
    return "".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}\n" for k, v in doc.items())


def valid_doc() -> dict:
    return {"experiment": {"name": "h", "seed": 1, "replicates": 2, "block_size": 2, "engine": "mesa"},
            "scenario": {"n_states": 6, "n_partners": 1, "horizon_months": 6},
            "parameters": {"court.legitimacy0": 0.5},
            "sweep": {"sampler": "grid", "grid": {"states.capacity": [0.5, 0.7]}},
            "outputs": {"horizons": [3, 6]}}


text_st = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=12)
scalar_st = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(), text_st)
value_st = st.recursive(scalar_st, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(text_st, inner, max_size=3)),
                        max_leaves=6)


@st.composite
def noise(draw, doc):
    """Replace or delete a few random leaves of the document (the result may still be valid)."""
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.sampled_from(sorted(doc)))
        if not isinstance(doc[table], dict) or not doc[table]:
            continue
        key = draw(st.sampled_from(sorted(doc[table])))
        if draw(st.booleans()):
            del doc[table][key]
        else:
            doc[table][key] = draw(value_st)
    return doc


BREAKERS = {
    "unknown table": lambda d, x: d.__setitem__(x["word"] + "_table", {}),
    "unknown key": lambda d, x: d.__setitem__("experiment", {**d["experiment"], x["word"] + "_key": x["value"]})
    if isinstance(d.get("experiment"), dict) else d.__setitem__("experiment", x["value"]),
    "bad replicates": lambda d, x: d.__setitem__("experiment", {**d.get("experiment", {}),
                                                                "replicates": x["bad_count"]})
    if isinstance(d.get("experiment"), dict) else d.__setitem__("experiment", 3),
    "unknown parameter": lambda d, x: d.__setitem__("parameters", {"court." + x["word"] + "_zz": x["scalar"]}),
    "bad parameter value": lambda d, x: d.__setitem__("parameters", {"court.legitimacy0": x["bad_unit"]}),
    "bad sampler": lambda d, x: d.__setitem__("sweep", {"sampler": x["word"] + "_sampler",
                                                        "grid": {"states.capacity": [0.5]}}),
    "bad grid": lambda d, x: d.__setitem__("sweep", {"sampler": "grid", "grid": {"states.capacity": x["bad_grid"]}}),
    "bad bounds": lambda d, x: d.__setitem__("sweep", {"sampler": "lhs", "n": 2,
                                                       "bounds": {"states.capacity": x["bad_bounds"]}}),
    "bad horizons": lambda d, x: d.__setitem__("outputs", {"horizons": x["bad_horizons"]}),
}
bad_unit_st = st.one_of(st.floats(1.0001, 1e9), st.floats(-1e9, -0.0001), text_st, st.lists(st.floats(0, 1)),
                        st.just(float("nan")), st.dictionaries(text_st, scalar_st, max_size=2))
ingredients = st.fixed_dictionaries({
    "word": st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8),
    "value": value_st,
    "scalar": scalar_st,
    "bad_count": st.one_of(st.integers(-10**9, 0), st.floats().filter(lambda v: not (v.is_integer() and v >= 1)),
                           text_st, st.lists(st.integers(), max_size=2)),
    "bad_unit": bad_unit_st,
    "bad_grid": st.one_of(st.just([]), st.lists(bad_unit_st, min_size=1, max_size=3), scalar_st),
    "bad_bounds": st.one_of(st.lists(st.floats(0, 1), max_size=1), st.lists(st.floats(0, 1), min_size=3, max_size=4),
                            st.tuples(st.floats(-1e9, -0.001), st.floats(0, 1)).map(list),
                            st.tuples(st.floats(0.5, 1), st.floats(0, 0.5)).map(list), text_st),
    "bad_horizons": st.one_of(st.just([]), st.lists(st.integers(6001, 10**6), min_size=1, max_size=3),
                              st.lists(st.integers(-10**6, 0), min_size=1, max_size=3), scalar_st),
})


@settings(max_examples=int(__import__("os").environ.get("SWEEP_HYP_N", 100)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), breakers=st.lists(st.sampled_from(sorted(BREAKERS)), min_size=1, max_size=2),
       x=ingredients, garbage=st.one_of(st.none(), st.text(max_size=40)))
def test_random_broken_configs_never_give_a_traceback(data, breakers, x, garbage, results, tmp_path, capsys):
    doc = data.draw(noise(valid_doc()))
    for name in breakers:
        BREAKERS[name](doc, x)
    text = toml_text(doc) if garbage is None else toml_text(doc) + garbage + "\n[[["
    config = tmp_path / "random.toml"
    config.write_text(text, encoding="utf-8")
    before = folder_hashes(results)
    capsys.readouterr()
    code = main(["sweep", str(config), "--out", str(results), "--workers", "1", "--quiet"])
    _one_clear_line(code, capsys.readouterr().err)
    assert folder_hashes(results) == before


def test_tables_and_samplers_are_documented():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "experiments.md").read_text(encoding="utf-8")
    for name in (*TABLES, *SAMPLERS):
        assert f"`{name}`" in doc or f"[{name}]" in doc, name


def test_sweep_of_a_sensitivity_config_says_which_command_computes_the_indices(tmp_path, capsys, monkeypatch):
    import sim.cli.sweep as sweep_cli

    config = tmp_path / "sens.toml"
    config.write_text(SAMPLED.format(seed=1, sampler="lhs", n=4, extra="")
                      + '\n[sensitivity]\noutcomes = ["p_enforced"]\n')
    ran = []
    monkeypatch.setattr(sweep_cli, "run_sweep", lambda exp, folder, **kw: ran.append(exp.name) or
                        {"timings": {"replicate_months_per_second": 0, "blocks_resumed": 0, "wall_seconds": 0.0}})
    assert main(["sweep", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert ran == ["sampled"]  # the design still runs
    err = capsys.readouterr().err
    assert err == (f"note: {config} has a [sensitivity] table, which `sweep` does not read: it runs the design only; "
                   f"`python -m sim sensitivity {config}` also computes the indices\n")
