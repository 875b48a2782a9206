"""Local fake of the Anthropic Messages API for tests, the offline demo and benchmarks."""

from __future__ import annotations

from fakeclaude.server import FakeClaude

__all__ = ["FakeClaude"]
