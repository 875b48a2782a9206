"""Packaging hook (the metadata is in pyproject.toml): the wheel carries the repository's templates/
and static/ folders as claudeflow_site/assets/, where settings look for them when the server runs
from an installed wheel (`claudeflow-server`) instead of a checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ASSETS = ("templates", "static")
HERE = Path(__file__).resolve().parent


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "claudeflow_site" / "assets"
        for name in ASSETS:
            source = HERE / name
            if source.is_dir():  # absent when only the packages are copied (deploy/Dockerfile's builder)
                shutil.copytree(source, target / name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithAssets})
