"""Imports point down (ARCHITECTURE.md, "Layers"): checked on the source with ast, nothing imported.

The rules here cover the packages split out of claudeflow_site; an import inside a function body
counts as lazy, which ops uses to read the swarms it reports on without depending on them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name != "tests")
SITE = "claudeflow_site"
# The engine rebuild moves these two out of the composition root; until then the engine uses them.
SITE_MODULES_STILL_IMPORTED = {"claudeflow_site.claude", "claudeflow_site.embedded"}

# package → the project packages it may import (at module level, lazily)
MAY_IMPORT: dict[str, tuple[set[str], set[str]]] = {
    "core": (set(), set()),
    "fakeclaude": (set(), set()),
    "access": ({"core"}, set()),
    "ops": ({"core"}, {"swarms"}),
}


def imports_of(package: str) -> Iterator[tuple[Path, str, bool]]:
    """(file, imported module, at module level) for every absolute import of a project package."""
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in PACKAGES:
                    yield path.relative_to(ROOT), name, id(node) in module_level


def test_the_composition_root_is_imported_by_nobody():
    offending = [
        f"{path}: {name}"
        for package in PACKAGES
        if package != SITE
        for path, name, _ in imports_of(package)
        if name.split(".")[0] == SITE and ".".join(name.split(".")[:2]) not in SITE_MODULES_STILL_IMPORTED
    ]
    assert not offending, "\n".join(offending)


def test_nothing_imports_the_browser_ui():
    offending = [
        f"{path}: {name}"
        for package in PACKAGES
        if package not in (SITE, "ui")
        for path, name, _ in imports_of(package)
        if name.split(".")[0] == "ui"
    ]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_lower_packages_import_only_what_is_below_them(package):
    at_module_level, lazily = MAY_IMPORT[package]
    offending = []
    for path, name, module_level in imports_of(package):
        top = name.split(".")[0]
        allowed = at_module_level if module_level else at_module_level | lazily
        if top != package and top not in allowed:
            offending.append(f"{path}: {name}{'' if module_level else ' (lazy)'}")
    assert not offending, "\n".join(offending)
