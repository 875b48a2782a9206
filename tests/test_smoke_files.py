"""deploy/smoke and its stand-ins: what can be checked without running containers (the script
itself runs them: `deploy/smoke all`, and in CI with CI_CONTAINERS=1)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
STANDINS = DEPLOY / "standins"


@pytest.mark.parametrize(
    ("shell", "script"),
    [
        ("bash", DEPLOY / "smoke"),
        ("sh", STANDINS / "postgres" / "entrypoint.sh"),
        ("sh", STANDINS / "redis" / "entrypoint.sh"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.relative_to(DEPLOY).as_posix(),
)
def test_the_scripts_parse(shell, script):
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    run = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_smoke_script_is_executable_and_refuses_an_unknown_mode():
    assert (DEPLOY / "smoke").stat().st_mode & 0o111
    run = subprocess.run([str(DEPLOY / "smoke"), "nonsense"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "usage: deploy/smoke [containers|compose|all|base-image]" in run.stderr


def test_the_compose_addition_overrides_nothing_in_the_compose_file():
    """compose.smoke.yml may only add services: the compose file is what gets tested."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    added = yaml.safe_load((STANDINS / "compose.smoke.yml").read_text())
    assert set(added) == {"services"}
    assert not set(added["services"]) & set(compose["services"])
    assert not set(added) & (set(compose) - {"services"})


@pytest.mark.parametrize(
    ("standin", "image"),
    [("postgres", "postgres"), ("redis", "redis")],
)
def test_the_stand_ins_are_built_for_the_images_the_compose_file_names(standin, image):
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    name = compose["services"][image]["image"]
    smoke = (DEPLOY / "smoke").read_text()
    assert f"standin_image docker.io/library/{name} deploy/standins/{standin}" in smoke
    assert (STANDINS / standin / "Dockerfile").read_text().startswith("# A STAND-IN for " + name)
