"""The package's import rules, read from the source (module-level imports; an import inside a function or under
``TYPE_CHECKING`` runs later or never, and is no part of the import graph):

- formats import only ``nettop.model``, ``nettop.errors`` (the errors a parse raises), ``nettop.text`` (input
  quoted safely in messages), ``nettop.cgroups`` (a cgroup path read back from nettop's JSON is classified:
  pure text → record too) and each other: they are pure text → records;
- nothing imports ``nettop.app`` but the command line, which starts the viewer (and does so inside a function);
- no import cycles among nettop's modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nettop

PACKAGE = Path(nettop.__file__).parent
FORMATS_MAY_IMPORT = {"nettop.model", "nettop.errors", "nettop.text", "nettop.cgroups"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The nettop modules an import statement in module ``name`` loads (a package's ``__init__`` too)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            candidate = ".".join(parts[:end])
            if candidate in MODULES and candidate != name:
                found.add(candidate)
    return found


def imports_of(name: str, at_import_time: bool = True) -> set[str]:
    """The nettop modules ``name`` imports: at import time only, or anywhere in it."""
    tree = ast.parse(MODULES[name].read_text())
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.update(_imported(name, node))
            elif isinstance(node, ast.If) and _is_type_checking(node):
                continue
            elif not at_import_time or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.stmt | ast.excepthandler)])

    visit(tree.body)
    return {m for m in found if m.startswith("nettop")}


def test_formats_import_only_the_model_and_each_other() -> None:
    wrong = {}
    for name in MODULES:
        if name.startswith("nettop.formats"):
            others = {m for m in imports_of(name, at_import_time=False) if not m.startswith("nettop.formats")}
            if others - FORMATS_MAY_IMPORT - {"nettop"}:
                wrong[name] = sorted(others - FORMATS_MAY_IMPORT - {"nettop"})
    assert wrong == {}


def test_nothing_imports_the_app_but_the_command_line() -> None:
    importers = sorted(name for name in MODULES if "nettop.app" in imports_of(name, at_import_time=False))
    assert importers == ["nettop.cli"]
    assert "nettop.app" not in imports_of("nettop.cli"), "and only when the viewer starts"


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name) for name in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def walk(name: str) -> None:
        state[name] = 1
        path.append(name)
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycles.append([*path[path.index(other) :], other])
            elif other not in state:
                walk(other)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)
    assert cycles == []


def test_the_rules_see_imports() -> None:
    """The reader finds what it must, so that the rules above cannot pass by finding nothing."""
    assert "nettop.model" in imports_of("nettop.formats.ss")
    assert {"nettop.formats", "nettop.formats.ss"} <= imports_of("nettop.sources.linux")
    assert "nettop.app" in imports_of("nettop.cli", at_import_time=False)
