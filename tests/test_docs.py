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


def _table_problems(text: str) -> list[str]:
    """Rows of Markdown tables whose cell count differs from their header's (an unescaped `|` in a
    cell, even inside backticks, splits it on GitHub)."""
    problems, width, fenced = [], None, False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("|"):
            width = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        width = cells if width is None else width
        if cells != width:
            problems.append(f"line {number}: {cells - 1} cells, header has {width - 1}: {line[:80]}")
    return problems


def test_markdown_tables_keep_their_columns():
    from sim.model.outcomes import outcome_table_markdown

    assert _table_problems(table_markdown()) == [] and _table_problems(outcome_table_markdown()) == []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert _table_problems(path.read_text(encoding="utf-8")) == [], path.name
    assert _table_problems("| a | b |\n|---|---|\n| `synthetic | real` | x |\n")  # the check can fail


def test_configs_and_help_texts_cite_docs_not_the_private_specification():
    """MODEL.md is not in the repository: configs, help texts and the parameter table cite docs/ODD.md."""
    from sim.cli.main import build_parser
    from sim.model.params import table_text

    parser = build_parser()
    helps = [parser.format_help()] + [p.format_help() for p in parser._subparsers._group_actions[0].choices.values()]
    texts = {"help": "\n".join(helps), "params": table_text() + table_markdown()}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "experiments").glob("*.toml"))})
    for folder in ("analysis", "app", "cli", "data", "experiments", "studies"):
        texts.update({str(p): p.read_text(encoding="utf-8") for p in sorted((ROOT / "sim" / folder).rglob("*.py"))})
    assert [name for name, text in texts.items() if "MODEL.md" in text] == []
