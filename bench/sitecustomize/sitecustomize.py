"""Counts the SQL statements of every Python process started with this directory on PYTHONPATH.

    BENCH_QUERY_DIR=/tmp/q PYTHONPATH=bench/sitecustomize:. python manage.py rundramatiq ...

With BENCH_QUERY_DIR set, `django.db.backends.utils.CursorWrapper.execute/executemany` are
wrapped when that module is first imported (an import hook: nothing of Django is imported, and
no settings are read, before the process itself does). A daemon thread writes the running count
to `$BENCH_QUERY_DIR/<pid>.count` every 0.2 s and once more at exit; a forked child (dramatiq's
worker processes) starts its own count and file. `bench/common.py: query_total()` sums them.
An executemany counts as one statement (one round trip).
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

TARGET = "django.db.backends.utils"
INTERVAL = 0.2

_lock = threading.Lock()
_count = 0
_kinds: dict[str, int] = {}  # with BENCH_QUERY_KINDS set: statements by their first words
KINDS = bool(os.environ.get("BENCH_QUERY_KINDS"))


def _add(sql: Any = "") -> None:
    global _count
    with _lock:
        _count += 1
        if KINDS:
            kind = " ".join(str(sql).split()[:5])[:80]
            _kinds[kind] = _kinds.get(kind, 0) + 1


def _patch(module: ModuleType) -> None:
    wrapper = module.CursorWrapper
    execute, executemany = wrapper.execute, wrapper.executemany

    def counted_execute(self: Any, sql: Any, params: Any = None) -> Any:
        _add(sql)
        return execute(self, sql, params)

    def counted_executemany(self: Any, sql: Any, param_list: Any) -> Any:
        _add(sql)
        return executemany(self, sql, param_list)

    wrapper.execute, wrapper.executemany = counted_execute, counted_executemany


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds TARGET with the normal path finder and patches it right after it has run."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _write(directory: Path) -> bool:
    path = directory / f"{os.getpid()}.count"
    scratch = path.with_suffix(".tmp")
    try:
        scratch.write_text(str(_count))
        os.replace(scratch, path)
        if KINDS:
            (directory / f"{os.getpid()}.kinds").write_text(json.dumps(_kinds))
    except OSError:  # the directory went away: the benchmark is over
        return False
    return True


def _writer(directory: Path) -> None:
    stop = threading.Event()
    while not stop.wait(INTERVAL) and _write(directory):
        pass


def _start_writer(directory: Path) -> None:
    threading.Thread(target=_writer, args=(directory,), name="bench-query-count", daemon=True).start()


def _after_fork(directory: Path) -> None:
    global _count, _lock
    _lock = threading.Lock()
    _count = 0  # the parent's statements are in the parent's file
    _kinds.clear()
    _start_writer(directory)


def _install(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    sys.meta_path.insert(0, _PatchOnImport())
    _start_writer(directory)
    atexit.register(lambda: _write(directory))
    os.register_at_fork(after_in_child=lambda: _after_fork(directory))


if os.environ.get("BENCH_QUERY_DIR"):
    _install(Path(os.environ["BENCH_QUERY_DIR"]))


if os.environ.get("BENCH_SWITCH_INTERVAL"):  # experiment: the interpreter's GIL switch interval (s)
    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
