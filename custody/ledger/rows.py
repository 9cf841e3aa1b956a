"""Multi-row INSERTs for the ledger's own append-only and derived tables (events, tree nodes, the
attachment index, the projection): one statement per few hundred rows. executemany sends one statement
per row, which PostgreSQL parses and plans each time (about 0.1 ms each, more than the insert itself),
and the ORM's bulk_create spends more time compiling values than the database inserting them.

Only the ledger's tables are written this way; the registry's Person custody columns are written
through the ORM by custody.ledger.projection.save.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection


def db_time(value: datetime) -> Any:
    if connection.vendor == "sqlite":
        # What Django's SQLite backend stores for an aware datetime: naive UTC text.
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return value


def insert_rows(head: str, width: int, rows: Sequence[tuple[Any, ...]], tail: str = "") -> None:
    if not rows:
        return
    limit = 999 if connection.vendor == "sqlite" else 20000  # bound parameters per statement
    per = max(1, limit // width)
    one = "(" + ", ".join(["%s"] * width) + ")"
    with connection.cursor() as cur:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            cur.execute(f"{head} VALUES {', '.join([one] * len(chunk))}{tail}", [v for row in chunk for v in row])
