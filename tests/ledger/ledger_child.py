"""A separate process for the fault and concurrency tests: it appends to the same database as the
test through the real services. Run as `python tests/ledger/ledger_child.py MODE ...`."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custody.settings")

import django  # noqa: E402

django.setup()

from custody.accounts.models import Agency, User  # noqa: E402
from custody.ledger import services  # noqa: E402
from custody.ledger.models import LedgerEvent, LedgerHead, TreeNode  # noqa: E402
from custody.ledger.specs import EventSpec  # noqa: E402
from custody.registry.models import Facility, Person  # noqa: E402

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def setup(people: int) -> None:
    sdf = Agency.objects.create(code="SDF", name="Partner force", is_custodian=True)
    Facility.objects.create(code="HSK", name="Hasakah", kind="prison", country="SY", custodian=sdf)
    User.objects.create_user(username="sdf.clerk.a", password="x" * 16, agency=sdf, role="clerk")
    User.objects.create_user(username="sdf.clerk.b", password="x" * 16, agency=sdf, role="clerk")
    Person.objects.bulk_create([Person(ref=f"P-{i:06d}", display_name=f"Person {i}") for i in range(people)])
    print("READY", flush=True)


def append_until_killed(pause_at_batch: int) -> None:
    from custody.ledger.services import append

    original = append._insert_nodes
    batches = [0]

    def pausing_insert_nodes(nodes: list[tuple[int, int, bytes]]) -> None:
        # The events of this batch are inserted, their tree nodes not yet: the worst moment to die.
        batches[0] += 1
        if batches[0] == pause_at_batch:
            print("EVENTS-INSERTED-NODES-NOT", flush=True)
            time.sleep(600)
        original(nodes)

    append._insert_nodes = pausing_insert_nodes  # where _append looks it up
    hsk = Facility.objects.get(code="HSK")
    ids = list(Person.objects.order_by("ref").values_list("pk", flat=True))
    for n in range(0, len(ids), 20):
        chunk = ids[n : n + 20]
        specs = [EventSpec("registered", pid, T0 + timedelta(minutes=n)) for pid in chunk]
        specs += [EventSpec("intake", pid, T0 + timedelta(minutes=n + 1), facility=hsk.pk) for pid in chunk]
        services.record_events_bulk(specs, batch_size=len(specs))
        print("COMMITTED", LedgerEvent.objects.count(), flush=True)


def depart(clerk: str, go_file: str, idempotency_id: str) -> None:
    user = User.objects.get(username=clerk)
    person = Person.objects.get(ref="P-000000")
    hsk = Facility.objects.get(code="HSK")
    spec = EventSpec("departed", person, T0 + timedelta(hours=1), facility=hsk, manifest="M-1",
                     idempotency_id=idempotency_id)
    while not os.path.exists(go_file):
        time.sleep(0.005)
    rec = services.record_event(spec, user=user)
    print(json.dumps({"seq": rec.event.seq, "created": rec.created}), flush=True)


def prepare_departure() -> None:
    hsk = Facility.objects.get(code="HSK")
    person = Person.objects.get(ref="P-000000")
    services.record_event(EventSpec("intake", person, T0, facility=hsk))
    services.record_event(EventSpec("manifested", person, T0 + timedelta(minutes=5), manifest="M-1"))
    print("READY", flush=True)


def token(username: str) -> None:
    from custody.accounts.api_auth import issue_token

    print(issue_token(User.objects.get(username=username), "server-kill test"), flush=True)


def idempotency_counts() -> None:
    from django.db.models import Count

    rows = LedgerEvent.objects.values("idempotency_id").annotate(n=Count("seq"))
    print(json.dumps({r["idempotency_id"]: r["n"] for r in rows}), flush=True)


def counts() -> None:
    head = LedgerHead.objects.filter(pk=1).first()
    print(json.dumps({
        "events": LedgerEvent.objects.count(),
        "leaves": TreeNode.objects.filter(level=0).count(),
        "max_seq": LedgerEvent.objects.order_by("-seq").values_list("seq", flat=True).first(),
        "head": head.size if head else 0,
        "departures": LedgerEvent.objects.filter(kind="departed").count(),
    }), flush=True)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "setup":
        setup(int(args[0]))
    elif mode == "append":
        append_until_killed(int(args[0]))
    elif mode == "depart":
        depart(*args)
    elif mode == "prepare-departure":
        prepare_departure()
    elif mode == "counts":
        counts()
    elif mode == "token":
        token(args[0])
    elif mode == "idempotency-counts":
        idempotency_counts()
