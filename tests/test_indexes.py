"""The engine's hot tables keep only the indexes a query uses.

A task's, an agent's or a call's state change rewrites an indexed column, so PostgreSQL writes a new
entry in every index of the row: an index nobody reads is paid for on every step of every task. Each
foreign key must still lead some index (a swarm's or task's deletion looks rows up by it).
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's index catalogue"),
]

HOT_MODELS = [
    "tasks.Task",
    "tasks.ClaudeCall",
    "agents.Agent",
    "events.Event",
    "events.LogEntry",
    "workspaces.WorkspaceFile",
    "webhooks.Delivery",
]

INDEXES = """
    SELECT i.relname, x.indisunique, x.indpred IS NOT NULL,
           pg_get_indexdef(x.indexrelid),
           ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n)
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relname = %s
"""


def indexes(table: str) -> list[tuple[str, bool, bool, str, list[str]]]:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [table])
        return cursor.fetchall()


@pytest.mark.parametrize("label", HOT_MODELS)
def test_no_index_is_covered_by_another(label: str) -> None:
    table = apps.get_model(label)._meta.db_table
    found = indexes(table)
    full = [(name, columns) for name, _, partial, _, columns in found if not partial]
    redundant = [
        (name, other)
        for name, unique, partial, _, columns in found
        if not unique and not partial
        for other, longer in full
        if other != name and longer[: len(columns)] == columns
    ]
    pattern_ops = [name for name, *_, definition, _ in found if "pattern_ops" in definition]
    assert redundant == []
    assert pattern_ops == []


@pytest.mark.parametrize("label", HOT_MODELS)
def test_every_foreign_key_leads_an_index(label: str) -> None:
    model = apps.get_model(label)
    leading = {columns[0] for _, _, partial, _, columns in indexes(model._meta.db_table) if not partial}
    foreign_keys = {field.column for field in model._meta.concrete_fields if field.is_relation}
    assert foreign_keys - leading == set()
