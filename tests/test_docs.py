"""The docs stay in step with the code: generated tables match the schemas, every parameter and outcome
is described in the ODD's prose, and no doc cites a file, module or ODD section that does not exist."""

from __future__ import annotations

import argparse
import ast
import io
import re
import tokenize
from functools import cache, lru_cache
from pathlib import Path

import pytest

from sim.cli.main import build_parser, main
from sim.model import rules
from sim.model.outcomes import OUTCOMES, SERIES, outcome_table_markdown
from sim.model.params import SCHEMA, Params, table_markdown

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "ODD.md"
TODO = re.compile(r"<!--\s*TODO\(lead\):(.*?)-->", re.DOTALL)
# sections of the ODD whose prose must name every parameter and outcome: entities and scales,
# initialisation, submodels (a name only in the generated tables or the design concepts is not enough)
PROSE_SECTIONS = ("2", "5", "7")


def _between(text: str, tag: str) -> str:
    found = re.search(rf"<!-- {tag}:begin -->\n(.*?)\n<!-- {tag}:end -->", text, re.DOTALL)
    assert found, f"docs/ODD.md lost its {tag} markers"
    return found.group(1)


def test_odd_parameter_table_matches_schema():
    assert _between(ODD.read_text(encoding="utf-8"), "parameters") == table_markdown(), (
        "docs/ODD.md's parameter table differs from sim/model/params.py; regenerate it with "
        "`python -m sim params --markdown`")


def test_odd_outcome_table_matches_schema():
    assert _between(ODD.read_text(encoding="utf-8"), "outcomes") == outcome_table_markdown(), (
        "docs/ODD.md's outcome table differs from sim/model/outcomes.py; regenerate it with "
        "`python -m sim params --outcomes --markdown`")


def test_cli_prints_the_outcome_table(capsys):
    assert main(["params", "--outcomes", "--markdown"]) == 0
    assert capsys.readouterr().out == outcome_table_markdown() + "\n"
    assert main(["params", "--outcomes"]) == 0
    out = capsys.readouterr().out
    names = [o.name for o in OUTCOMES] + [s.name for s in SERIES]
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  ")] == names
    assert "legitimacy0" not in out  # the outcomes, not the parameters


# --- the ODD's structure -------------------------------------------------------------------------------

HEADING = re.compile(r"^(#{1,6})\s+(\d+(?:\.\d+)*)\.?\s+(.*)$", re.MULTILINE)


def _strip_generated(text: str) -> str:
    return re.sub(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", "", text, flags=re.DOTALL)


def odd_sections(text: str) -> dict[str, str]:
    """The ODD's numbered sections, each with its own text up to the next heading (tables removed)."""
    text = _strip_generated(text)
    marks = list(HEADING.finditer(text))
    return {m[2]: text[m.end(): marks[k + 1].start() if k + 1 < len(marks) else len(text)]
            for k, m in enumerate(marks)}


def test_odd_has_the_seven_elements_of_the_2020_protocol_and_eleven_design_concepts():
    sections = odd_sections(ODD.read_text(encoding="utf-8"))
    titles = {m[2]: m[3].lower() for m in HEADING.finditer(ODD.read_text(encoding="utf-8"))}
    expected = {"1": "purpose and patterns", "2": "entities, state variables and scales",
                "3": "process overview and scheduling", "4": "design concepts", "5": "initiali",
                "6": "input data", "7": "submodels"}
    for number, title in expected.items():
        assert number in sections and titles[number].startswith(title), f"ODD element {number} ({title}) missing"
    concepts = ["basic principles", "emergence", "adaptation", "objectives", "learning", "prediction", "sensing",
                "interaction", "stochasticity", "collectives", "observation"]
    assert [titles.get(f"4.{k}", "") for k in range(1, 12)] == concepts


def _names_in_prose() -> str:
    sections = odd_sections(ODD.read_text(encoding="utf-8"))
    return "\n".join(body for number, body in sections.items() if number.split(".")[0] in PROSE_SECTIONS)


@pytest.mark.parametrize("name", [p.name for p in SCHEMA] + [o.name for o in OUTCOMES] + [s.name for s in SERIES])
def test_every_parameter_and_outcome_is_described_in_the_odd(name):
    prose = _names_in_prose()
    assert re.search(rf"`{re.escape(name)}(\[\d+\])?`", prose), (
        f"`{name}` is in the schema but not in docs/ODD.md's sections {', '.join('§' + s for s in PROSE_SECTIONS)} "
        "(entities, initialisation, submodels): describe it where it is used")


# --- every doc's citations -----------------------------------------------------------------------------

def _comments_of_toml(path: Path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        code = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', '""', line)
        if "#" in code:
            lines.append(code.split("#", 1)[1])
    return "\n".join(lines)


def _docstrings_and_comments(path: Path) -> str:
    source = path.read_text(encoding="utf-8")
    parts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                parts.append(doc)
    parts += [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
              if tok.type == tokenize.COMMENT]
    return "\n".join(parts)


def _cli_help() -> str:
    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [sub.format_help() for sub in action.choices.values()]
    return "\n".join(texts)


@lru_cache(maxsize=1)
def documents() -> tuple[tuple[str, Path, str], ...]:
    """(label, folder its relative links start from, text) of every doc that may cite files or sections."""
    docs = [("README.md", ROOT, (ROOT / "README.md").read_text(encoding="utf-8"))]
    docs += [(f"docs/{p.name}", p.parent, p.read_text(encoding="utf-8"))
             for p in sorted((ROOT / "docs").glob("*.md"))]
    docs += [(f"experiments/{p.name}", ROOT, _comments_of_toml(p))
             for p in sorted((ROOT / "experiments").glob("*.toml"))]
    docs += [(str(p.relative_to(ROOT)), ROOT, _docstrings_and_comments(p))
             for p in sorted((ROOT / "sim").rglob("*.py"))]
    docs += [("python -m sim --help", ROOT, _cli_help())]
    docs += [("schema descriptions", ROOT, "\n".join([p.doc for p in SCHEMA] + [o.doc for o in OUTCOMES]
                                                      + [s.doc for s in SERIES]))]
    return tuple(docs)


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
PATH = re.compile(r"(?<![\w/.:<>@-])((?:\.\./)*(?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.*-]*)(?:::(\w+))?")
BARE_MD = re.compile(r"(?<![\w/.-])([A-Za-z0-9_-]+\.md)\b")
MODULE = re.compile(r"(?<![\w.-])sim(?:\.[A-Za-z_]\w*)+")
SECTION = re.compile(r"(ODD(?:\.md)?,?\s*)?§\s*(\d+(?:\.\d+)*)")
GENERATED = ("results/",)  # outputs of commands, not files of the repository (results/reference/ is)
TOP = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".git", ".venv"))} | {".ci"}


def _planned(text: str) -> str:
    """What the doc's TODO(lead) markers name: files being built elsewhere may be cited next to one."""
    return " ".join(TODO.findall(text))


def _check_path(target: str, base: Path, planned: str, where: str, problems: list[str]) -> None:
    target = target.split("#", 1)[0]
    if not target:
        return
    if "*" in target:  # a glob (experiments/scenario_*.toml) must match at least one file
        if not any(base.glob(target)):
            problems.append(f"{where}: cites {target}, which matches no file")
        return
    resolved = (base / target).resolve()
    if not resolved.is_relative_to(ROOT):
        problems.append(f"{where}: cites {target}, which is outside the repository")
    elif not resolved.exists() and target not in planned and str(resolved.relative_to(ROOT)) not in planned:
        problems.append(f"{where}: cites {target}, which does not exist")


def _module_problem(dotted: str) -> str | None:
    """None if ``sim.a.b.c`` names a module of sim/ or a name defined at the top of one, else the problem."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        folder = ROOT.joinpath(*parts[:k])
        file = folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")
        if file.exists():
            rest = parts[k:]
            if not rest or rest[0] in _top_level_names(file):
                return None
            return f"{'.'.join(parts[:k])} has no {rest[0]}"
    return "no such module"


@cache
def _top_level_names(file: Path) -> frozenset[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    if file.name == "__init__.py":
        names |= {p.stem for p in file.parent.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    return frozenset(names)


def citation_problems(docs: tuple[tuple[str, Path, str], ...] | None = None) -> list[str]:
    """Every citation of a missing file, test, module or ODD section in ``docs`` (default: every doc)."""
    odd_numbers = set(odd_sections(ODD.read_text(encoding="utf-8")))
    problems: list[str] = []
    for label, base, text in documents() if docs is None else docs:
        planned = _planned(text)
        for m in LINK.finditer(text):
            if not re.match(r"[a-z]+:", m[1]):
                _check_path(m[1], base, planned, label, problems)
        for m in PATH.finditer(TODO.sub("", LINK.sub("", text))):
            path, test_name = m[1].rstrip(".,;:"), m[2]
            first = path.split("/", 1)[0]
            if first == ".." and base != ROOT:
                _check_path(path, base, planned, label, problems)
                continue
            if first not in TOP or (path.startswith(GENERATED) and not path.startswith("results/reference/")):
                continue
            _check_path(path, ROOT, planned, label, problems)
            if test_name and (ROOT / path).is_file() and f"def {test_name}(" not in (ROOT / path).read_text():
                problems.append(f"{label}: cites {path}::{test_name}, which is not a test in that file")
        for m in BARE_MD.finditer(TODO.sub("", LINK.sub("", text))):
            if not any((ROOT / d / m[1]).exists() for d in ("", "docs")):
                problems.append(f"{label}: cites {m[1]}, which is not in the repository (cite docs/ODD.md §N)")
        for m in MODULE.finditer(text):
            problem = _module_problem(m[0].rstrip("."))
            if problem:
                problems.append(f"{label}: names {m[0]}: {problem}")
        for m in SECTION.finditer(text):
            if not m[1] and label != "docs/ODD.md":
                problems.append(f"{label}: '§{m[2]}' does not say which document; write 'ODD §N' with the "
                                f"numbering of docs/ODD.md's headings")
            elif m[2] not in odd_numbers:
                problems.append(f"{label}: cites ODD §{m[2]}, which docs/ODD.md has no heading for")
    return problems


def test_docs_cite_only_files_modules_and_sections_that_exist():
    problems = citation_problems()
    assert not problems, "\n".join(problems)


def test_the_citation_check_catches_what_it_should():
    """On a made-up doc, the check names each kind of bad citation and passes the good ones."""
    text = ("See `sim/nowhere.py`, [gone](gone.md), [ok](ODD.md#7-submodels), tests/test_docs.py::no_such_test,\n"
            "MODEL.md §4.3, ODD §99.1, ODD §7.3.1, sim.rules.sigmoid, sim.model.rules.sigmoid, sim.model.rules.nope,\n"
            "[out](../../etc/passwd), results/baseline/summary.csv, `tests/test_planned.py`\n"
            "<!-- TODO(lead): tests/test_planned.py is being written elsewhere -->")
    assert citation_problems((("made-up.md", ROOT / "docs", text),)) == [
        "made-up.md: cites gone.md, which does not exist",
        "made-up.md: cites ../../etc/passwd, which is outside the repository",
        "made-up.md: cites sim/nowhere.py, which does not exist",
        "made-up.md: cites tests/test_docs.py::no_such_test, which is not a test in that file",
        "made-up.md: cites MODEL.md, which is not in the repository (cite docs/ODD.md §N)",
        "made-up.md: names sim.rules.sigmoid: sim has no rules",
        "made-up.md: names sim.model.rules.nope: sim.model.rules has no nope",
        "made-up.md: '§4.3' does not say which document; write 'ODD §N' with the numbering of docs/ODD.md's headings",
        "made-up.md: cites ODD §99.1, which docs/ODD.md has no heading for",
    ]


# --- references and the numbers worked out in the text ------------------------------------------------

REFERENCE = re.compile(r"(?P<key>[^,(]+?)\s*(?:,.*?)?\((?P<year>\d{4})\)", re.DOTALL)


def _references(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text before '## References' and the (first author or body, year) of each entry after it."""
    body, found, refs = text.partition("\n## References\n")
    assert found, "no References section"
    entries = []
    for item in re.split(r"^- ", refs.split("\n## ", 1)[0], flags=re.MULTILINE)[1:]:
        m = REFERENCE.match(item)
        assert m, f"reference without its author or (year): {item[:60]!r}"
        entries.append((m["key"].strip(), m["year"]))
    return body, entries


@pytest.mark.parametrize("doc", ["docs/ODD.md", "docs/TRACE.md"])
def test_every_reference_is_cited_in_the_text_and_listed_in_order(doc):
    body, entries = _references((ROOT / doc).read_text(encoding="utf-8"))
    assert entries, f"{doc} lists no references"
    body = re.sub(r"\s+", " ", body)
    uncited = [f"{key} ({year})" for key, year in entries if not re.search(re.escape(key) + r".{0,90}?" + year, body)]
    assert not uncited, f"{doc}: references never cited in the text: {uncited}"
    assert entries == sorted(entries, key=lambda e: (e[0].lower(), e[1])), f"{doc}: references out of order"


def test_reference_check_finds_an_uncited_entry():
    body, entries = _references("Cited (Chayes and Chayes 1993).\n\n## References\n\n"
                                "- Chayes, A., Chayes, A. H. (1993). On compliance.\n"
                                "- ICC Appeals Chamber (2019). Judgment.\n")
    assert entries == [("Chayes", "1993"), ("ICC Appeals Chamber", "2019")]
    assert [k for k, y in entries if not re.search(re.escape(k) + r".{0,90}?" + y, body)] == ["ICC Appeals Chamber"]


def test_worked_values_in_the_odd_follow_from_the_rules():
    """ODD §7.3.1 quotes P_ij at the attribute means and §7.1 the default q: they must be what
    sim.model.rules computes from the schema's defaults."""
    p = Params()
    coef = rules.ArrestCoefficients.from_params(p)
    text = re.sub(r"\s+", " ", ODD.read_text(encoding="utf-8"))
    common = {"capacity": p["states.capacity"], "legitimacy": p["court.legitimacy0"], "pressure": 0.0}
    hosts = {"state party": (1, p["states.compliance_member"], p["states.sovereignty_member"], p["states.alignment"]),
             "non-member": (0, p["states.compliance_nonmember"], p["states.sovereignty_nonmember"],
                            p["states.alignment"]),
             "partner non-member": (0, p["states.compliance_nonmember"], p["states.sovereignty_nonmember"],
                                    p["states.alignment_partner"])}
    for host, (member, compliance, sovereignty, alignment) in hosts.items():
        hos, official = (float(rules.arrest_probability(coef, member=member, compliance=compliance,
                                                        sovereignty=sovereignty, alignment=alignment,
                                                        head_of_state=h, **common)) for h in (1, 0))
        means = f"(a = {alignment})" if host == "partner non-member" else \
            f"(c = {compliance}, s = {sovereignty}, a = {alignment})"
        assert f"for a {host} {means}: {hos:.2g} (head of state) and {official:.2g} (senior official)" in text, host
    q = rules.regime_change_probability(p["home.turnover_rate"], p["home.engagement_effect"],
                                        p["prosecutor.home_engagement"])
    assert f"q = 1/{round(1 / q)} a month" in text and abs(1 / q - round(1 / q)) < 1e-9


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


def test_numbers_from_runs_are_generated_from_the_shipped_references():
    """Every ``<!-- ref:... -->`` block of README.md and docs/ is what results/reference/ gives
    (regenerate with ``python -m sim.studies.reference docs``)."""
    from sim.studies.reference import stale

    assert not stale(), "out of date; run python -m sim.studies.reference docs"


def test_a_reference_block_that_disagrees_with_its_reference_is_found(tmp_path):
    from sim.studies.reference import render

    page = ("x\n<!-- ref:sensitivity-runs::begin -->\n| study | 1 s |\n<!-- ref:sensitivity-runs::end -->\n")
    assert render(page) != page and "experiments/sensitivity.toml" in render(page)
    assert render(render(page)) == render(page)


README_SWEEP = """
[experiment]
name = "readme"
seed = 3
replicates = 20
block_size = 40
[scenario]
n_states = 30
n_partners = 3
[sweep]
sampler = "grid"
[sweep.grid]
"prosecutor.home_engagement" = [0.0, 1.0]
"home.turnover_rate" = [0.0, 0.02]
[outputs]
horizons = [24, 60, 120]
figures = []
"""


def test_the_readme_notebook_snippet_runs_and_merges_a_summary_with_its_runs(tmp_path):
    """The README's "In a notebook" block, run as written on a small sweep of the same two parameters: the
    summary merges with its runs on (point, accused), each run getting its own accused's row."""
    import pandas as pd

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### In a notebook\n```python\n(.*?)```", text, re.DOTALL)
    assert block and "r.runs.merge(r.summary" in block[1]
    (tmp_path / "readme.toml").write_text(README_SWEEP, encoding="utf-8")
    assert main(["sweep", str(tmp_path / "readme.toml"), "--out", str(tmp_path / "baseline"), "--workers", "1",
                 "--quiet"]) == 0
    scope: dict = {}
    exec(compile(block[1].replace('"results/baseline"', repr(str(tmp_path / "baseline"))), "README.md", "exec"), scope)
    runs, summary, each = scope["r"].runs, scope["r"].summary, scope["each"]
    assert summary["accused"].dtype == runs["accused"].dtype == "int64"
    assert len(each) == len(runs) and each["n"].eq(20).all()  # every run found its point's row for its accused
    first = each[(each["point"] == 1) & (each["accused"] == 0)]
    hit = first["in_custody"] & (first["custody_month"].astype("Float64").fillna(999) < 120)
    assert first["p_enforced_120"].eq(hit.mean()).all()
    assert pd.read_csv(tmp_path / "baseline" / "summary.csv")["accused"].tolist()[-1] == -1  # the file: all accused
