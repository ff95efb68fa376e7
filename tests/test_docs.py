"""Docs generated from the schema stay in step with it."""

import re
from pathlib import Path

from sim.model.params import table_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_odd_parameter_table_matches_schema():
    text = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- parameters:begin -->\n(.*?)\n<!-- parameters:end -->", text, re.S)
    assert found, "docs/ODD.md lost its parameter markers"
    assert found.group(1) == table_markdown(), (
        "docs/ODD.md's parameter table differs from sim/params.py; regenerate it with "
        "`python -m sim params --markdown`")
