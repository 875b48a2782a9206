"""bin/setup on a throw-away project: it recreates a .venv that is broken, too old, or made by another
interpreter than PYTHON names, and re-installs when pyproject.toml changes (issue 13, item 1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

PYPROJECT = """[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "setup-probe"
version = "0.0.{n}"
requires-python = ">=3.11"
dependencies = []

[project.optional-dependencies]
test = []

[tool.setuptools]
py-modules = []
"""
PYTHON = sys.executable  # a path: pyenv's shims refuse a `python3.x` that is not the selected version
VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER_VERSION = "3.12" if VERSION == "3.13" else "3.13"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin" / "setup", tmp_path / "bin" / "setup")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(n=1))
    return tmp_path


def setup(project: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV")}
    base["PATH"] = os.pathsep.join(p for p in base["PATH"].split(os.pathsep) if ".venv" not in p)
    return subprocess.run(
        ["bash", str(project / "bin" / "setup")],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def stamps(project: Path) -> list[str]:
    return sorted(p.name for p in (project / ".venv").glob(".installed-*"))


def fake_interpreter(project: Path, script: str) -> None:
    """Replaces .venv's python by a script (a venv made by some other interpreter, or a broken one)."""
    python = project / ".venv" / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\n" + script + "\n")
    python.chmod(0o755)


def test_setup_makes_a_venv_once_and_reinstalls_when_pyproject_changes(project):
    first = setup(project)
    assert first.returncode == 0, first.stderr
    assert "Creating .venv" in first.stdout and len(stamps(project)) == 1
    before = stamps(project)
    again = setup(project)
    assert again.returncode == 0 and again.stdout == ""  # nothing to do
    (project / "pyproject.toml").write_text(PYPROJECT.format(n=2))
    changed = setup(project)
    assert changed.returncode == 0, changed.stderr
    assert "Installing dependencies" in changed.stdout and "Creating" not in changed.stdout
    assert len(stamps(project)) == 1 and stamps(project) != before  # one stamp, the new one


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("exit 1", "missing or broken"),
        ('if [ "$1" = -c ]; then case "$2" in *print*) echo 3.9;; *) exit 1;; esac; fi', "runs Python 3.9"),
    ],
)
def test_setup_recreates_a_broken_or_too_old_venv(project, script, reason):
    assert setup(project).returncode == 0
    fake_interpreter(project, script)
    result = setup(project)
    assert result.returncode == 0, result.stderr
    assert "Recreating .venv" in result.stdout and reason in result.stdout
    check = subprocess.run([project / ".venv" / "bin" / "python", "-c", "print(1)"], capture_output=True)
    assert check.stdout == b"1\n"


def test_setup_recreates_a_venv_of_another_version_than_python_names(project):
    assert setup(project).returncode == 0
    fake_interpreter(project, f"echo {OTHER_VERSION}")  # a .venv made by another Python
    result = setup(project, PYTHON=PYTHON)
    assert result.returncode == 0, result.stderr
    assert f".venv runs Python {OTHER_VERSION}, PYTHON={PYTHON} is {VERSION}" in result.stdout


def test_setup_recreates_a_venv_the_install_fails_in(project):
    """A .venv left half-made (its pip gone): the install fails, so the .venv is made again."""
    assert setup(project).returncode == 0
    (project / "pyproject.toml").write_text(PYPROJECT.format(n=3))
    shutil.rmtree(next((project / ".venv" / "lib").glob("python3*/site-packages/pip")))
    result = setup(project)
    assert result.returncode == 0, result.stderr
    assert "Installing into the existing .venv failed; recreating it" in result.stdout


def test_setup_refuses_an_unknown_python(project):
    result = setup(project, PYTHON="python2.7-nowhere")
    assert (
        result.returncode == 1 and "PYTHON=python2.7-nowhere is not an interpreter on PATH" in result.stderr
    )
    assert not (project / ".venv").exists()
