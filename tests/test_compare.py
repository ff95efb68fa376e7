"""`python -m sim compare`: alternatives on common random numbers, paired differences and their checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.analysis.metrics import ALL
from sim.cli import main
from sim.errors import UserError
from sim.experiments.comparison import comparison_from_texts

BASE = """
[experiment]
name = "tiny_compare"
seed = 3
replicates = 300
block_size = 250
[scenario]
n_states = 20
n_partners = 3
horizon_months = 36
[outputs]
horizons = [12, 36]
"""
INLINE = BASE + """
[alternatives.eager]
"arrest.intercept" = -2.0
[alternatives.sealed]
"prosecutor.sealed_share" = 1.0
"""


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    (root / "c.toml").write_text(INLINE)
    assert main(["compare", str(root / "c.toml"), "--out", str(root / "one"), "--workers", "1", "--quiet"]) == 0
    return root


def test_every_alternative_is_paired_with_the_base_per_accused_and_horizon(compared):
    table = pd.read_csv(compared / "one" / "paired.csv")
    assert list(dict.fromkeys(table["alternative"])) == ["eager", "sealed"]
    assert table["accused"].dtype == "int64" and set(table["accused"]) == {0, 1, ALL}
    assert set(table["horizon"]) == {12, 36}
    assert (table["n"] == 300).all()
    runs = pd.read_parquet(compared / "one" / "runs.parquet")
    base = runs[(runs["point"] == 0) & (runs["accused"] == 0)]
    hit = base["in_custody"] & (base["custody_month"].astype("Float64").fillna(99) < 36)
    row = table[(table["alternative"] == "eager") & (table["accused"] == 0) & (table["horizon"] == 36)].iloc[0]
    assert row["p_base"] == pytest.approx(hit.mean())
    manifest = json.loads((compared / "one" / "manifest.json").read_text())
    assert manifest["experiment"]["common_random_numbers"] is True
    assert [a["name"] for a in manifest["comparison"]["alternatives"]] == ["eager", "sealed"]
    assert manifest["comparison"]["alternatives"][0]["changes"] == {"arrest.intercept": -2.0}
    assert {"paired.csv", "figures/paired.png"} <= set(manifest["outputs"])


def test_paired_intervals_are_narrower_than_unpaired_ones(compared):
    """Common random numbers pair each replicate with itself: wherever the two scenarios' outcomes vary, the
    paired interval is narrower than the unpaired one and the variance ratio above 1."""
    table = pd.read_csv(compared / "one" / "paired.csv")
    varied = table[(table["base_only"] + table["alt_only"] > 0) & (table["p_base"] > 0) & (table["p_alt"] > 0)]
    assert len(varied) >= 8
    paired = varied["diff_high"] - varied["diff_low"]
    unpaired = varied["unpaired_high"] - varied["unpaired_low"]
    assert (paired < unpaired).all() and (varied["variance_ratio"] > 1).all()
    assert (paired / unpaired).median() < 0.7


def test_a_comparison_does_not_depend_on_workers_and_two_files_equal_the_inline_tables(compared, tmp_path):
    root = compared
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "eager.toml").write_text(BASE.replace('name = "tiny_compare"', 'name = "eager"')
                                         + '[parameters]\n"arrest.intercept" = -2.0\n')
    (tmp_path / "sealed.toml").write_text(BASE.replace('name = "tiny_compare"', 'name = "sealed"')
                                          + '[parameters]\n"prosecutor.sealed_share" = 1.0\n')
    assert main(["compare", str(tmp_path / "base.toml"), str(tmp_path / "eager.toml"), str(tmp_path / "sealed.toml"),
                 "--out", str(tmp_path / "two"), "--workers", "2", "--quiet"]) == 0
    for name in ("paired.csv", "runs.parquet", "summary.csv"):
        assert (tmp_path / "two" / name).read_bytes() == (root / "one" / name).read_bytes(), name
    text = json.loads((tmp_path / "two" / "manifest.json").read_text())["config"]["text"]
    assert "[alternatives.eager]" in text and '"arrest.intercept" = -2.0' in text
    assert comparison_from_texts(text, "manifest").names == ["base", "eager", "sealed"]


@pytest.mark.parametrize("text, message", [
    (BASE, "has no [alternatives.NAME] tables"),
    (BASE + '[alternatives.same]\n"scenario.n_states" = 20\n', "alternative 'same' changes nothing"),
    (BASE + '[alternatives.typo]\n"arrest.intercpt" = 1.0\n', "[alternatives.typo]"),
    (BASE + '[alternatives.bad]\n"arrest.intercept" = "high"\n', "[alternatives.bad]"),
    (BASE + '[alternatives.base]\n"arrest.intercept" = -2.0\n', "is used twice (or is 'base'"),
    (BASE + '[alternatives.short]\n"scenario.horizon_months" = 24\n', "beyond the shortest run (24 months)"),
    (BASE + '[sweep]\nsampler = "grid"\n[sweep.grid]\n"arrest.duty" = [1.0]\n[alternatives.a]\n"arrest.duty" = 2.0\n',
     "has a [sweep] table; a comparison pairs single scenarios"),
])
def test_bad_comparisons_are_one_line_errors_before_anything_runs(tmp_path, capsys, text, message):
    (tmp_path / "c.toml").write_text(text)
    assert main(["compare", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_other_commands_point_a_comparison_config_to_compare(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(INLINE)
    assert main(["sweep", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "is a config for `python -m sim compare`" in capsys.readouterr().err


def test_per_state_values_make_an_alternative_on_the_real_roster():
    text = """
[experiment]
name = "mongolia"
replicates = 10
[scenario]
roster = "real"
date = "2023-03-17"
home = "RUS"
partners = ["csto"]
horizon_months = 24
[alternatives.compliant.scenario.states.MNG]
compliance = 0.9
"""
    comparison = comparison_from_texts(text, "mongolia.toml")
    alt = comparison.experiment.params[1]
    assert alt["scenario.states"] == {"MNG": {"compliance": 0.9}}
    with pytest.raises(UserError, match="compliant"):
        comparison_from_texts(text.replace("MNG]", "XXX]"), "mongolia.toml")


def test_reproduce_reruns_a_comparison(compared, capsys):
    capsys.readouterr()
    assert main(["reproduce", str(compared / "one"), "--workers", "2", "--quiet"]) == 0
    assert "reproduced (comparison): points.parquet, runs.parquet, summary.csv, paired.csv identical" \
        in capsys.readouterr().out


def test_the_paired_figure_names_its_panels_in_words_and_keeps_its_title_inside(compared):
    """Panels carry each alternative's name in words and what it changes, not the raw identifier; the
    title wraps inside the figure; "all accused" says what it means."""
    import io

    from sim.experiments.results import load_results
    from sim.studies.figures import alternative_titles, change_text, figure

    results = load_results(compared / "one")
    titles = alternative_titles(results.manifest)
    assert titles["sealed"] == "Sealed: probability that a warrant is issued under seal = 1"
    assert change_text("scenario.states", {"MNG": {"compliance": 0.9}}) == "MNG compliance = 0.9"
    fig = figure(results, "paired")
    fig.savefig(io.BytesIO(), format="png")
    panel_titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    assert panel_titles == [titles[n] for n in ("eager", "sealed")] and not any("_" in t for t in panel_titles)
    renderer = fig.canvas.get_renderer()
    assert fig._suptitle.get_window_extent(renderer).x1 <= fig.bbox.x1  # the title was cut at the right edge
    legend = " ".join(t.get_text() for lg in fig.legends for t in lg.get_texts())
    assert "all accused\n(every one in custody)" in legend
