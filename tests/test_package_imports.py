"""Imports point one way (ARCHITECTURE.md, "Layers"): checked on the source with ast, nothing run.

Every top-level package has a layer; a module may import its own package and packages of lower
layers only — at module level or inside a function, since a lazy import is still a dependency.
A second test walks the package graph and fails on any cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(
    path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name not in ("tests", "bench")
)

LAYERS = {
    "claudeflow_site": 11,  # composition root: settings, urls, asgi, routing
    "ui": 10,  # the browser UI
    "engine": 9,  # the runtime
    "webhooks": 8,  # signed HTTP deliveries of the event stream
    "swarms": 7,  # the swarm aggregate: lifecycle, its REST API, admin, WebSocket consumer
    "agents": 6,
    "workspaces": 5,  # a swarm's files, written by its agents' tools
    "tasks": 4,
    "events": 3,  # the event stream and its catalogue
    "access": 2,  # API keys and authentication
    "ops": 1,  # health, metrics, presence
    "core": 0,
    "fakeclaude": 0,  # a standalone fake of the Messages API
}


def imports_of(package: str) -> Iterator[tuple[Path, str]]:
    """(file, imported top-level project package) for every absolute import, lazy ones included."""
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in LAYERS and top != package:
                    yield path.relative_to(ROOT), top


def test_every_package_has_a_layer():
    assert set(PACKAGES) == set(LAYERS)


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_a_package_imports_only_packages_below_it(package):
    offending = [
        f"{path} imports {top} (layer {LAYERS[top]} ≥ {LAYERS[package]})"
        for path, top in imports_of(package)
        if LAYERS[top] >= LAYERS[package]
    ]
    assert not offending, "\n".join(offending)


def test_no_two_packages_import_each_other_directly_or_through_others():
    graph: dict[str, set[str]] = defaultdict(set)
    for package in LAYERS:
        graph[package] |= {top for _, top in imports_of(package)}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " → ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for package in sorted(LAYERS):
        if package not in state:
            visit(package, [package])


def test_the_collision_check_knows_every_package():
    from claudeflow_site.checks import PROJECT_PACKAGES

    assert set(PROJECT_PACKAGES) == set(LAYERS)
