"""Every third-party package that ``pathway`` imports is declared in pyproject.toml.

A package that only arrives as another's dependency (click through flask, requests through
twilio) works until that other package drops it; declaring what we import keeps installs honest.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"pathway", "__future__"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions(pyproject: Path) -> set[str]:
    """The runtime dependencies' distribution names, normalised (PEP 503)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    names = set()
    for requirement in project.get("dependencies", []):
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert found, f"cannot read the requirement {requirement!r}"
        names.add(_normalise(found.group(1)))
    return names


def imported_modules(package: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere under ``package`` -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names: Iterable[str] = (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = (node.module,)
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(package.parent)))
    return found


def undeclared_imports(
    package: Path, declared: set[str], distributions: Mapping[str, list[str]] | None = None
) -> dict[str, str]:
    """Third-party modules imported under ``package`` whose distribution is not declared.

    Answers {module: why}; a module no installed distribution provides is reported too.
    """
    if distributions is None:
        distributions = importlib.metadata.packages_distributions()
    problems: dict[str, str] = {}
    for module, files in sorted(imported_modules(package).items()):
        if module in sys.stdlib_module_names or module in OWN:
            continue
        providers = {_normalise(d) for d in distributions.get(module, [])}
        where = ", ".join(sorted(files))
        if not providers:
            problems[module] = f"imported in {where}, provided by no installed distribution"
        elif not providers & declared:
            problems[module] = f"imported in {where}, from {sorted(providers)}, not declared in [project] dependencies"
    return problems


def test_every_package_pathway_imports_is_a_declared_dependency() -> None:
    declared = declared_distributions(ROOT / "pyproject.toml")
    assert undeclared_imports(ROOT / "pathway", declared) == {}


def test_the_dependency_check_reports_an_undeclared_or_unknown_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from __future__ import annotations\nimport json\nimport flask\n")
    (package / "sub" / "mod.py").write_text(
        "from jsonschema import validate\nfrom . import sibling\nimport no_such_module_anywhere.x\n"
    )
    problems = undeclared_imports(package, declared={"flask"})
    assert set(problems) == {"jsonschema", "no_such_module_anywhere"}
    assert "pkg/sub/mod.py" in problems["jsonschema"] and "not declared" in problems["jsonschema"]
    assert "no installed distribution" in problems["no_such_module_anywhere"]
    # Declaring it is what makes the check pass.
    problems = undeclared_imports(package, declared={"flask", "jsonschema"})
    assert set(problems) == {"no_such_module_anywhere"}
