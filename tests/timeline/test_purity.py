"""pathway.timeline stays pure: standard library only, and no clock reads."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import pathway.timeline

TIMELINE = Path(pathway.timeline.__file__).parent
MODULES = sorted(TIMELINE.glob("*.py"))
ALLOWED_PROJECT = ("pathway.resources", "pathway.timeline")
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
               ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "localtime")}


def imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "use absolute imports"
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_timeline_imports_only_the_standard_library_and_resources(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in imported_modules(tree):
        top = name.split(".")[0]
        if top == "pathway":
            assert name.startswith(ALLOWED_PROJECT), f"{path.name} imports {name}"
        else:
            assert top in sys.stdlib_module_names, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_timeline_never_reads_the_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in CLOCK_CALLS, f"{path.name}:{node.lineno} reads the clock"


def test_there_are_modules_to_check() -> None:
    assert {p.name for p in MODULES} >= {"catalogue.py", "plan.py", "diff.py", "texts.py", "quiet.py"}
