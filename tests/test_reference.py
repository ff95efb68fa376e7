"""Shipping reference results: every copied file verified against its folder's manifest, and read back
only when it still matches its record."""

from __future__ import annotations

import json

import pytest

from sim.errors import UserError
from sim.experiments import store
from sim.experiments.folders import SWEEP_FORMAT
from sim.studies import reference


def _folder(tmp_path, damage: bool = False):
    folder = tmp_path / "run"
    (folder / "figures").mkdir(parents=True)
    (folder / "paired.csv").write_text("alternative,accused,horizon,diff\nx,0,12,0.1\n")
    (folder / "summary.csv").write_text("point,accused\n0,0\n")
    (folder / "figures" / "paired.png").write_bytes(b"png")
    outputs = {rel: store.sha256(folder / rel) for rel in ("paired.csv", "summary.csv", "figures/paired.png")}
    if damage:
        outputs["paired.csv"] = "0" * 64
    manifest = {"format": SWEEP_FORMAT, "outputs": outputs, "config": {"sha256": "abc"},
                "timings": {"wall_seconds": 3.2}, "experiment": {"points": 2, "replicates": 10},
                "comparison": {"alternatives": [{"name": "x", "changes": {"arrest.duty": 1.0}, "text": "..."}]}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_shipped_reference_holds_verified_copies_and_its_record(tmp_path):
    target = reference.ship("compare_2009_darfur", _folder(tmp_path), commit="abc123", into=tmp_path / "ref")
    record = json.loads((target / "reference.json").read_text())
    assert record["commit"] == "abc123" and record["config_sha256"] == "abc"
    assert record["comparison"] == {"alternatives": [{"name": "x", "changes": {"arrest.duty": 1.0}}]}
    assert set(record["files"]) == {"paired.csv", "summary.csv", "figures/paired.png"}
    assert reference.read("compare_2009_darfur", "paired.csv", into=tmp_path / "ref")["diff"].tolist() == [0.1]
    (target / "paired.csv").write_text("alternative,accused,horizon,diff\nx,0,12,0.2\n")
    with pytest.raises(UserError, match="differs from"):
        reference.read("compare_2009_darfur", "paired.csv", into=tmp_path / "ref")


def test_a_file_that_differs_from_its_manifest_is_not_shipped(tmp_path):
    with pytest.raises(UserError, match="differs from its manifest's sha256"):
        reference.ship("compare_2009_darfur", _folder(tmp_path, damage=True), into=tmp_path / "ref")
    assert not (tmp_path / "ref").exists()
    with pytest.raises(UserError, match="unknown reference"):
        reference.ship("nothing", tmp_path)


def _rerun(tmp_path, name: str) -> None:
    """Run the reference's command into a temporary folder; every shipped data file must come back
    byte for byte (figures, whose bytes depend on fonts, are not compared)."""
    import shlex

    from sim.cli import main

    commands = reference.REFERENCES[name].command.split(" && ")
    folder = tmp_path / "out"
    for command in commands:
        args = shlex.split(command)[3:]  # after "python -m sim"
        args = [str(folder) if a == f"results/{name}" else a for a in args]
        extra = ["--out", str(folder)] if args[0] != "discover" else []
        assert main([*args, *extra, "--workers", "2", "--quiet"] if args[0] != "discover" else args) == 0
    made = folder / "discovery" if name == "discovery" else folder
    for rel, sha in reference.record(name)["files"].items():
        if rel.endswith(".csv"):
            assert store.sha256(made / rel) == sha, f"{name}: {rel} no longer reproduces"


def test_the_comparison_references_still_reproduce(tmp_path):
    for name in ("compare_2009_darfur", "compare_2023_ukraine"):
        _rerun(tmp_path / name, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["baseline", "discovery"])
def test_the_sweep_references_still_reproduce(tmp_path, name):
    _rerun(tmp_path, name)


def test_every_shipped_file_is_a_reference_s_own():
    """Nothing lies in results/reference/ that no reference's record lists: a figure of an old design (the
    calibration's pairs and predictive plots that said '34 warrants') cannot linger beside the new ones."""
    root = reference.REFERENCE
    listed = {root / "benchmark_engines.json"}  # the engine benchmark's record (benchmarks/engines.py)
    for name in reference.REFERENCES:
        if (root / name / reference.RECORD).is_file():
            listed |= {root / name / reference.RECORD, *(root / name / rel for rel in reference.record(name)["files"])}
    stray = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p not in listed)
    assert not stray, f"files in results/reference/ that no reference lists: {stray}"
