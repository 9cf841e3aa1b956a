"""Change history kept by database triggers, on SQLite and on PostgreSQL.

Why triggers: an ORM signal misses `QuerySet.update()`, `bulk_create()` and raw SQL; a trigger sees every
row a statement touches, whoever issued it (see docs/decisions/0002-change-history.md). The attribution
(user, agency, request id or command line) travels as a per-connection context:
- PostgreSQL: the session setting `custody.context`, set with set_config() by `set_change_context`;
- SQLite: an application-defined SQL function `custody_context()` registered on every connection,
  reading a context variable of this process.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

HISTORY_TABLE = "core_historychange"
_TRACKED: list[type] = []
_context: contextvars.ContextVar[str | None] = contextvars.ContextVar("custody_change_context", default=None)


def track(model_cls: type) -> type:
    """Class decorator: keep the change history of this model's table."""
    _TRACKED.append(model_cls)
    return model_cls


def tracked_models() -> list[type]:
    return list(_TRACKED)


def current_context() -> dict[str, Any] | None:
    raw = _context.get()
    return json.loads(raw) if raw else None


def set_change_context(context: dict[str, Any] | None) -> contextvars.Token:
    raw = json.dumps(context, sort_keys=True, default=str) if context else None
    token = _context.set(raw)
    _push_to_postgres(raw)
    return token


def reset_change_context(token: contextvars.Token) -> None:
    _context.reset(token)
    _push_to_postgres(_context.get())


@contextmanager
def change_context(**context: Any) -> Iterator[None]:
    token = set_change_context(context)
    try:
        yield
    finally:
        reset_change_context(token)


def _push_to_postgres(raw: str | None) -> None:
    for conn in connections.all(initialized_only=True):
        if conn.vendor == "postgresql" and conn.connection is not None:
            with conn.cursor() as cur:
                cur.execute("SELECT set_config('custody.context', %s, false)", [raw or ""])


@receiver(connection_created)
def _register_context(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("custody_context", 0, _context.get)
    elif connection.vendor == "postgresql":
        raw = _context.get()
        if raw:
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('custody.context', %s, false)", [raw])


def _sqlite_row_json(alias: str, columns: list[str]) -> str:
    pairs = ", ".join(f"'{c}', {alias}.\"{c}\"" for c in columns)
    return f"json_object({pairs})"


def install_triggers(using: str = "default") -> int:
    """(Re)create the history triggers of every tracked table; returns how many tables."""
    conn = connections[using]
    tables = []
    with conn.cursor() as cur:
        existing = set(conn.introspection.table_names(cur))
        if conn.vendor == "postgresql":
            cur.execute(_PG_FUNCTION)
        for model in _TRACKED:
            table = model._meta.db_table
            if table not in existing:
                continue
            tables.append(table)
            if conn.vendor == "sqlite":
                columns = [f.column for f in model._meta.concrete_fields]
                for op in ("insert", "update", "delete"):
                    cur.execute(f'DROP TRIGGER IF EXISTS "hist_{table}_{op}"')
                before_old = _sqlite_row_json("OLD", columns)
                after_new = _sqlite_row_json("NEW", columns)
                ins = f"INSERT INTO {HISTORY_TABLE} (at, table_name, row_pk, op, before, after, context) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'), '{table}', "
                cur.execute(
                    f'CREATE TRIGGER "hist_{table}_insert" AFTER INSERT ON "{table}" BEGIN '
                    f"{ins} CAST(NEW.id AS TEXT), 'I', NULL, {after_new}, custody_context()); END"
                )
                cur.execute(
                    f'CREATE TRIGGER "hist_{table}_update" AFTER UPDATE ON "{table}" BEGIN '
                    f"{ins} CAST(NEW.id AS TEXT), 'U', {before_old}, {after_new}, custody_context()); END"
                )
                cur.execute(
                    f'CREATE TRIGGER "hist_{table}_delete" AFTER DELETE ON "{table}" BEGIN '
                    f"{ins} CAST(OLD.id AS TEXT), 'D', {before_old}, NULL, custody_context()); END"
                )
            elif conn.vendor == "postgresql":
                cur.execute(f'DROP TRIGGER IF EXISTS "hist_{table}" ON "{table}"')
                cur.execute(
                    f'CREATE TRIGGER "hist_{table}" AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
                    f"FOR EACH ROW EXECUTE FUNCTION custody_history()"
                )
    return len(tables)


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION custody_history() RETURNS trigger AS $$
DECLARE ctx text := NULLIF(current_setting('custody.context', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO {HISTORY_TABLE} (at, table_name, row_pk, op, before, after, context)
    VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), TG_TABLE_NAME,
            to_jsonb(NEW)->>'id', 'I', NULL, to_jsonb(NEW)::text, ctx);
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    IF to_jsonb(OLD) = to_jsonb(NEW) THEN RETURN NEW; END IF;
    INSERT INTO {HISTORY_TABLE} (at, table_name, row_pk, op, before, after, context)
    VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), TG_TABLE_NAME,
            to_jsonb(NEW)->>'id', 'U', to_jsonb(OLD)::text, to_jsonb(NEW)::text, ctx);
    RETURN NEW;
  ELSE
    INSERT INTO {HISTORY_TABLE} (at, table_name, row_pk, op, before, after, context)
    VALUES (to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), TG_TABLE_NAME,
            to_jsonb(OLD)->>'id', 'D', to_jsonb(OLD)::text, NULL, ctx);
    RETURN OLD;
  END IF;
END $$ LANGUAGE plpgsql;
"""


def append_only_sql(vendor: str, table: str) -> list[str]:
    """Statements that make a table refuse UPDATE and DELETE at the database itself."""
    if vendor == "sqlite":
        return [
            f'DROP TRIGGER IF EXISTS "ro_{table}_update"',
            f'DROP TRIGGER IF EXISTS "ro_{table}_delete"',
            f'CREATE TRIGGER "ro_{table}_update" BEFORE UPDATE ON "{table}" BEGIN '
            f"SELECT RAISE(ABORT, '{table} is append-only'); END",
            f'CREATE TRIGGER "ro_{table}_delete" BEFORE DELETE ON "{table}" BEGIN '
            f"SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION custody_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql;",
        f'DROP TRIGGER IF EXISTS "ro_{table}" ON "{table}"',
        f'CREATE TRIGGER "ro_{table}" BEFORE UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION custody_append_only()",
    ]


def make_append_only(table: str, using: str = "default") -> None:
    conn = connections[using]
    with conn.cursor() as cur:
        for sql in append_only_sql(conn.vendor, table):
            cur.execute(sql)


__all__ = [
    "track", "tracked_models", "change_context", "set_change_context", "reset_change_context",
    "current_context", "install_triggers", "make_append_only", "append_only_sql", "connection",
]
