"""docs/performance.md's figures are generated from the shipped benchmark report and stay in step with it."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "results" / "reference" / "benchmark_engines.json"


def _benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_engines", ROOT / "benchmarks" / "engines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_performance_page_shows_the_shipped_report():
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    for name, block in _benchmark().blocks(report).items():
        found = re.search(rf"<!-- benchmark:{name}:begin -->\n(.*?)\n<!-- benchmark:{name}:end -->", text, re.S)
        assert found, f"docs/performance.md lost its benchmark:{name} markers"
        assert found.group(1) == block, (
            f"docs/performance.md's {name} block differs from {REPORT.name}; regenerate it with "
            "`python benchmarks/engines.py --doc docs/performance.md --from results/reference/benchmark_engines.json`")


def test_the_report_is_a_full_run_with_every_engine():
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    engines = {r["engine"] for r in report["results"]}
    assert not report["quick"] and engines == {"mesa", "vectorized", "fused, 1 thread", "fused, 2 threads"}
    assert {r["rows"] for r in report["results"] if r["engine"] == "vectorized" and r["points"] == 0} == \
        {1000, 10_000, 100_000}
    assert {p["this"]["engine"] for p in report["before"]} == {"mesa", "vectorized", "fused, 1 thread"}
    assert all(p["before"]["code"] == "before" and p["this"]["code"] == "this" for p in report["before"])


def test_the_report_shows_every_engine_giving_the_same_replicates_on_every_protocol_set():
    """Every set of tests/test_protocol.py at 2,000 replicates, fused and Mesa against the NumPy core: at most 1% of
    replicates differ (issue 22's floor)."""
    from tests.test_protocol import SETS

    report = json.loads(REPORT.read_text(encoding="utf-8"))
    assert report["identical_replicates"] >= 2000 and set(report["identical"]) == set(SETS)
    assert max(max(s["fused"], s["mesa"]) for s in report["identical"].values()) <= 0.01


def test_the_profile_covers_every_submodel_and_the_floor():
    from sim.model.protocol import SUBMODELS

    report = json.loads(REPORT.read_text(encoding="utf-8"))
    prof = report["profile"]
    assert tuple(prof["submodels_ms"]) == SUBMODELS
    assert sum(prof["submodels_ms"].values()) == pytest.approx(prof["parts_ms"][_benchmark().MONTHS])
    assert sum(name.startswith("floor:") for name in prof["passes_ns"]) == 3
