"""Registry changes that more than one surface needs."""

from __future__ import annotations

from django.db.models import Max

from custody.registry.models import Person

REF_PREFIX = "P-"
REF_WIDTH = 6


def next_refs(n: int) -> list[str]:
    """The next n person references. Called inside the writer's transaction: SQLite's IMMEDIATE
    transactions and PostgreSQL's unique index on ref keep two writers from taking the same."""
    last = Person.objects.filter(ref__startswith=REF_PREFIX).aggregate(m=Max("ref"))["m"]
    start = int(last[len(REF_PREFIX):]) + 1 if last else 1
    return [f"{REF_PREFIX}{i:0{REF_WIDTH}d}" for i in range(start, start + n)]
