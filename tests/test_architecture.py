"""The layers of docs/architecture.md: every import in sim/ points down, and no import circle exists.

Imports are read from the source (ast), including those inside functions, so a lazy import
cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

# Each top-level part of the package and its layer; a module may import from lower layers and
# from its own part. analysis and experiments share a layer and never import each other; the two
# faces (cli, app) may use each other's helpers.
LAYER = {"errors": 0, "version": 0, "names": 0, "paths": 0, "data": 1, "model": 2, "engines": 3, "simulate": 4,
         "experiments": 5, "analysis": 5, "studies": 6, "cli": 7, "app": 7, "__main__": 8, "__init__": 8}
SIDEWAYS = {("cli", "app"), ("app", "cli")}


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part(module: str) -> str:
    """``sim.model.params`` -> ``model``; the package itself -> ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def imports(path: Path, type_only: bool = False) -> set[str]:
    """Every sim module that ``path`` imports (``from sim.x import y`` counts sim.x and, if a module, sim.x.y);
    with ``type_only``, also those imported for type checkers only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # imports for type checkers only are not dependencies at run time
        if not type_only and isinstance(node, ast.If) and \
                ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == "sim" or a.name.startswith("sim."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and \
                (node.module == "sim" or node.module.startswith("sim.")):
            found.add(node.module)
            for a in node.names:
                candidate = f"{node.module}.{a.name}"
                if candidate in MODULES:
                    found.add(candidate)
    return found - {module_name(path)}


FILES = sorted(SIM.rglob("*.py"))
MODULES = {module_name(f): f for f in FILES}
GRAPH = {module_name(f): imports(f) for f in FILES}
TYPED_GRAPH = {module_name(f): imports(f, type_only=True) for f in FILES}  # imports for type checkers included


def test_every_part_has_a_layer():
    unknown = sorted({part(m) for m in MODULES} - set(LAYER))
    assert not unknown, f"give these parts of sim/ a layer in tests/test_architecture.py: {unknown}"


def upward_imports() -> list[str]:
    bad = []
    for module, targets in GRAPH.items():
        src = part(module)
        for target in sorted(targets):
            dst = part(target)
            if dst == src or (src, dst) in SIDEWAYS or module in ("sim", "sim.__main__"):
                continue
            if LAYER[dst] >= LAYER[src]:
                bad.append(f"{module} ({src}, layer {LAYER[src]}) imports {target} ({dst}, layer {LAYER[dst]})")
    return bad


def test_imports_point_down():
    bad = upward_imports()
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


def cycles(graph: dict[str, set[str]] = TYPED_GRAPH) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import circles (type-only imports
    count: a circle for the type checker is still two modules that cannot be read apart)."""
    sys.setrecursionlimit(10_000)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    found = cycles()
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_check_sees_a_type_only_circle():
    graph = {**TYPED_GRAPH, "sim.model.rules": TYPED_GRAPH["sim.model.rules"] | {"sim.model.protocol"}}
    assert any({"sim.model.protocol", "sim.model.rules"} <= set(c) for c in cycles(graph))


def test_the_check_sees_an_upward_import(monkeypatch):
    """The check itself can fail: an engine importing an experiment module is reported."""
    monkeypatch.setitem(GRAPH, "sim.engines.mesa.model", GRAPH["sim.engines.mesa.model"] | {"sim.experiments.store"})
    assert any("sim.engines.mesa.model" in line for line in upward_imports())


# Inside sim/app, the model app is split by job (docs/architecture.md); each module imports only modules of a
# lower rank here. The explorer's modules and the server stand beside them.
APP_RANK = {"scenarios": 0, "choices": 1, "pictures": 1, "eventlog": 2, "drawing": 3, "inputs": 4, "views": 4,
            "app": 5, "exploration": 0, "explorer_figures": 1, "explorer": 5, "quiet": 0, "server": 0}


def app_upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        if not module.startswith("sim.app."):
            continue
        src = module.removeprefix("sim.app.")
        for target in sorted(t for t in targets if t.startswith("sim.app.")):
            dst = target.removeprefix("sim.app.")
            if APP_RANK[dst] >= APP_RANK[src]:
                bad.append(f"{module} (rank {APP_RANK[src]}) imports {target} (rank {APP_RANK[dst]})")
    return bad


def test_the_app_modules_import_downwards(monkeypatch):
    app_modules = {m.removeprefix("sim.app.") for m in MODULES if m.startswith("sim.app.")}
    assert app_modules == set(APP_RANK), "give each module of sim/app a rank in APP_RANK"
    assert not app_upward_imports(GRAPH)
    model_app = ("scenarios", "choices", "pictures", "eventlog", "drawing", "inputs", "views", "app")
    assert all(len(MODULES[f"sim.app.{m}"].read_text().splitlines()) <= 200 for m in model_app)  # app.py had 536
    monkeypatch.setitem(GRAPH, "sim.app.drawing", GRAPH["sim.app.drawing"] | {"sim.app.views"})
    assert app_upward_imports(GRAPH) == ["sim.app.drawing (rank 3) imports sim.app.views (rank 4)"]


def test_no_module_shadows_the_standard_library():
    clash = sorted(m for m in MODULES if m.split(".")[-1] in sys.stdlib_module_names and m.count(".") > 1)
    assert not clash, f"modules named after standard-library modules: {clash}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_is(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{module} has no docstring"


def test_docs_architecture_names_every_module():
    """docs/architecture.md's module table names every module of sim/ (a file, or a folder named with its files)."""
    text = (SIM.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("## Modules"):text.index("## Data flow")]
    missing = []
    for path in FILES:
        rel = path.relative_to(SIM.parent).as_posix()
        folder, name = rel.rsplit("/", 1)
        named = f"`{rel}`" in table or (f"`{folder}/`" in table and f"`{name}`" in table) or \
            any(f"`{folder}/" in row and f"`{name}`" in row for row in table.splitlines())
        if not named:
            missing.append(rel)
    assert not missing, f"docs/architecture.md's module table misses: {missing}"


# every module finds the repository root through sim.paths.ROOT (sim/app/ was split by job in issue 22)
ROOT_FOUND_ELSEWHERE: set[str] = set()


def finds_the_root_itself(source: str) -> bool:
    """Whether a module climbs from its own file to the repository root (``parents[2]``, ``parent.parent``)."""
    return bool(re.search(r"__file__\)?(\.resolve\(\))?\.(parents\[\d\]|parent\.parent)", source))


def test_the_repository_root_is_found_one_way():
    found = sorted(m for m, f in MODULES.items() if m != "sim.paths" and finds_the_root_itself(f.read_text("utf-8")))
    assert found == sorted(ROOT_FOUND_ELSEWHERE), f"use sim.paths.ROOT instead: {found}"
    assert finds_the_root_itself("ROOT = Path(__file__).resolve().parents[2]")  # the check can fail
    assert not finds_the_root_itself("from sim.paths import ROOT")
