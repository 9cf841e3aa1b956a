"""Every way we could think of to rewrite the ledger's database, each applied to a fresh real ledger
(appended through the services: a bulk load, single appends, a handover, an attached file, each
append ending with a signed checkpoint, each checkpoint witnessed after its commit), as someone with
database rights would: triggers dropped, raw SQL. Each must be caught by `custody ledger verify` and
named by kind, from the database alone where that can work, and against the witness file where only
a record kept outside the database can tell (truncation, dropped checkpoints, re-signing with the
stolen key, a replaced key).

The three rewrites issue 14 found uncaught are here by name: `drop_latest_checkpoint`,
`drop_checkpoints_and_rewrite_after`, `rewrite_and_resign_with_the_key`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from custody.engines.ledger import Frontier, build_levels, leaf_hashes, sign_checkpoint
from custody.ledger.models import APPEND_ONLY_TABLES, LedgerEvent, SignedCheckpoint

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
ORDER = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# ---------------------------------------------------------------- a real ledger


@dataclass
class Ledger:
    size: int
    witness: Path  # the signer's own witness file, written after each commit
    attached_seq: int
    attachment: str  # sha256
    media: Path
    key_file: Path


@pytest.fixture
def real_ledger(world: dict[str, Any], person_factory: Any, settings: Any, tmp_path: Path,
                django_capture_on_commit_callbacks: Any) -> Ledger:
    from custody.ledger.files import store_file
    from custody.ledger.services import record_event, record_events_bulk
    from custody.ledger.specs import EventSpec

    settings.MEDIA_ROOT = str(tmp_path / "media")
    w, a = world, world["agencies"]
    people = [person_factory(ref=f"P-{i:06d}") for i in range(8)]
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    with django_capture_on_commit_callbacks(execute=True):
        # A bulk load (an import's intake): one transaction a batch, checkpoints inside and at the end.
        record_events_bulk([EventSpec("intake", p, at(i), facility=w["prison"]) for i, p in enumerate(people)])
        # Then clerks' single appends, each its own transaction ending signed.
        for i, p in enumerate(people[:4]):
            record_event(EventSpec("manifested", p, at(30 + i), manifest=f"M-{i}", to_facility=w["biap"],
                                   expected_arrival=at(300)))
        record_event(EventSpec("handed_over", people[0], at(40), custodian=a["MIL"], sending_officer=w["sdf"],
                               receiving_officer=w["mil"], identity_check="match"))
        for i, p in enumerate(people[:3]):
            record_event(EventSpec("departed", p, at(50 + i), facility=w["prison"], manifest=f"M-{i}"))
        f, _created = store_file(w["sdf"], "court-order.pdf", ORDER)
        attached = record_event(EventSpec("hospitalised", people[5], at(60), facility=w["hospital"],
                                          reason="fever", attachments=(f.sha256,))).event
        for i, p in enumerate(people[:3]):
            record_event(EventSpec("arrived", p, at(120 + i), facility=w["biap"], manifest=f"M-{i}"))
        record_event(EventSpec("returned", people[5], at(200), facility=w["prison"]))
    size = LedgerEvent.objects.count()
    assert size == 8 + 4 + 1 + 3 + 1 + 3 + 1
    witness = Path(settings.LEDGER_WITNESS_FILE)
    lines = witness.read_bytes().splitlines()
    # Every append transaction ended with a signed checkpoint, and each was witnessed.
    assert SignedCheckpoint.objects.order_by("-tree_size").first().tree_size == size
    assert len(lines) == SignedCheckpoint.objects.count() and json.loads(lines[-1])["tree_size"] == size
    ledger = Ledger(size, witness, attached.seq, f.sha256, Path(settings.MEDIA_ROOT), Path(settings.LEDGER_KEY_FILE))
    code, out = verify(ledger, with_witness=True)
    assert code == 0, out
    return ledger


def verify(ledger: Ledger, with_witness: bool) -> tuple[int, str]:
    args = ["ledger", "verify", "--threads", "1"] + (["--witness", str(ledger.witness)] if with_witness else [])
    out = StringIO()
    try:
        call_command(*args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def kinds_in(out: str) -> set[str]:
    return {line.strip()[1:].split("]")[0] for line in out.splitlines() if line.strip().startswith("[")}


# ---------------------------------------------------------------- a database administrator's tools


def drop_guards() -> None:
    with connection.cursor() as cur:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "sqlite":
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}_update"')
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}_delete"')
            else:
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}" ON "{table}"')


def sql(statement: str, *params: Any) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def one(statement: str, *params: Any) -> Any:
    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchone()


def forge_body(seq: int, **changes: Any) -> None:
    """Rewrite event `seq`'s body and the columns it repeats, consistently: only hashes can tell."""
    body = json.loads(one("SELECT body FROM ledger_ledgerevent WHERE seq = %s", seq)[0])
    body.update(changes)
    from custody.engines.ledger import canonical_json

    sql("UPDATE ledger_ledgerevent SET body = %s, reason = %s WHERE seq = %s",
        canonical_json(body).decode(), body["reason"], seq)


def rehash_tree() -> list[list[bytes]]:
    """Recompute every stored tree node and the head from the (forged) bodies, as a careful forger would."""
    bodies = [b.encode() for b in LedgerEvent.objects.order_by("seq").values_list("body", flat=True)]
    levels = build_levels(leaf_hashes(bodies))
    sql("DELETE FROM ledger_treenode")
    with connection.cursor() as cur:
        cur.executemany('INSERT INTO ledger_treenode (level, "index", hash) VALUES (%s, %s, %s)',
                        [(lv, i, h) for lv, nodes in enumerate(levels) for i, h in enumerate(nodes)])
    n = len(bodies)
    frontier = Frontier.from_store(_LevelStore(levels), n)
    sql("UPDATE ledger_ledgerhead SET size = %s, frontier = %s, last_checkpoint_size = %s",
        n, json.dumps([h.hex() for h in frontier.nodes]), n)
    return levels


class _LevelStore:
    def __init__(self, levels: list[list[bytes]]) -> None:
        self.levels = levels

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


def resign(levels: list[list[bytes]], key: Any, sizes: list[int]) -> None:
    """Replace every checkpoint with one signed by `key` over the forged tree (the stolen key)."""
    from custody.engines.ledger.merkle import root_of_levels

    sql("DELETE FROM ledger_signedcheckpoint")
    for i, size in enumerate(sizes):
        cp = sign_checkpoint(key, "custody/ledger", size, root_of_levels(levels, size), T0 + timedelta(days=30, seconds=i))
        sql("INSERT INTO ledger_signedcheckpoint (tree_size, root_hash, timestamp, key_id, signature, origin) "
            "VALUES (%s, %s, %s, %s, %s, %s)", cp.tree_size, cp.root_hash, cp.timestamp, cp.key_id, cp.signature,
            cp.origin)


def checkpoint_sizes() -> list[int]:
    return list(SignedCheckpoint.objects.order_by("tree_size").values_list("tree_size", flat=True))


def stolen_key() -> Any:
    from custody.ledger.signing import signing_key

    return signing_key()


def truncate_to(size: int) -> None:
    """Remove every event from `size` on, with their nodes, checkpoints, attachments index rows and the head."""
    sql("DELETE FROM ledger_eventattachment WHERE event_id IN (SELECT id FROM ledger_ledgerevent WHERE seq >= %s)", size)
    sql("DELETE FROM ledger_ledgerevent WHERE seq >= %s", size)
    sql("DELETE FROM ledger_signedcheckpoint WHERE tree_size > %s", size)
    rehash_tree()
    from custody.ledger.services import rebuild_projection

    rebuild_projection(check_only=False)  # and the headcounts, so nothing in the database disagrees


# ---------------------------------------------------------------- the rewrites


@dataclass(frozen=True)
class Rewrite:
    name: str
    apply: Callable[[Ledger, dict[str, Any]], None]
    kinds: frozenset[str]  # verify must name at least one of these
    needs_witness: bool = False  # only a record outside the database can catch it


def _r(name: str, kinds: set[str] | str, needs_witness: bool = False) -> Callable[[Callable[..., None]], Rewrite]:
    def wrap(fn: Callable[[Ledger, dict[str, Any]], None]) -> Rewrite:
        return Rewrite(name, fn, frozenset({kinds} if isinstance(kinds, str) else kinds), needs_witness)
    return wrap


REWRITES: list[Rewrite] = []


def rewrite(name: str, kinds: set[str] | str, needs_witness: bool = False) -> Callable[[Callable[..., None]], None]:
    def wrap(fn: Callable[[Ledger, dict[str, Any]], None]) -> None:
        REWRITES.append(_r(name, kinds, needs_witness)(fn))
    return wrap


@rewrite("change_a_body", "leaf")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    forge_body(10, reason="nothing happened")


@rewrite("change_the_facility_column", "field")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerevent SET facility_id = %s WHERE seq = 3", w["hospital"].pk)


@rewrite("change_the_person_column", "field")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    other = one("SELECT person_id FROM ledger_ledgerevent WHERE seq = 1")[0]
    sql("UPDATE ledger_ledgerevent SET person_id = %s WHERE seq = 2", other)


@rewrite("change_the_time_column", "field")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerevent SET occurred_at = %s WHERE seq = 9", T0 - timedelta(days=3))


@rewrite("change_the_data_column", "field")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerevent SET data = %s WHERE seq = 8", json.dumps({"manifest": "M-9", "to_facility": "HOSP"}))


@rewrite("change_the_recorded_by_column", "field")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerevent SET recorded_by_id = %s WHERE seq = 12", w["irq"].pk)


@rewrite("change_a_leaf_hash", "leaf")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql('UPDATE ledger_treenode SET hash = %s WHERE level = 0 AND "index" = 6', hashlib.sha256(b"x").digest())


@rewrite("change_an_interior_node", "node")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql('UPDATE ledger_treenode SET hash = %s WHERE level = 2 AND "index" = 1', hashlib.sha256(b"y").digest())


@rewrite("delete_an_event", "gap")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("DELETE FROM ledger_ledgerevent WHERE seq = 9")


@rewrite("delete_the_last_event", {"size", "unsigned"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("DELETE FROM ledger_ledgerevent WHERE seq = %s", lg.size - 1)


@rewrite("delete_the_last_events_with_their_nodes_and_checkpoints", "truncated", needs_witness=True)
def _(lg: Ledger, w: dict[str, Any]) -> None:
    # Back to an earlier checkpoint, cleanly: the database alone is a consistent, signed, shorter log.
    truncate_to(max(s for s in checkpoint_sizes() if s < lg.size - 2))


@rewrite("truncate_and_resign_with_the_key", "truncated", needs_witness=True)
def _(lg: Ledger, w: dict[str, Any]) -> None:
    truncate_to(lg.size - 2)  # between checkpoints: the forger signs the new end with the stolen key
    levels = rehash_tree()
    resign(levels, stolen_key(), [*[s for s in checkpoint_sizes() if s < lg.size - 2], lg.size - 2])


@rewrite("swap_two_events", {"order", "leaf"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerevent SET seq = -1 WHERE seq = 4")
    sql("UPDATE ledger_ledgerevent SET seq = 4 WHERE seq = 11")
    sql("UPDATE ledger_ledgerevent SET seq = 11 WHERE seq = -1")


@rewrite("insert_an_event_without_hashes", {"size", "unsigned", "field", "leaf"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    _insert_copy_of(lg.size - 1, lg.size)


@rewrite("insert_an_event_with_its_hashes", "unsigned")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    # A forger who appends around the services, hashes included, but cannot sign.
    _insert_copy_of(lg.size - 1, lg.size)
    rehash_tree()


@rewrite("drop_latest_checkpoint", {"unsigned", "dropped-checkpoint"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("DELETE FROM ledger_signedcheckpoint WHERE tree_size = %s", lg.size)


@rewrite("drop_checkpoints_and_rewrite_after", {"unsigned", "rewritten"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    keep = checkpoint_sizes()[len(checkpoint_sizes()) // 2]
    sql("DELETE FROM ledger_signedcheckpoint WHERE tree_size > %s", keep)
    forge_body(lg.size - 2, reason="moved by mistake")
    rehash_tree()


@rewrite("drop_all_checkpoints", "unsigned")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("DELETE FROM ledger_signedcheckpoint")


@rewrite("rewrite_and_resign_with_the_key", {"rewritten", "re-signed"}, needs_witness=True)
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sizes = checkpoint_sizes()
    forge_body(3, reason="never arrived")
    resign(rehash_tree(), stolen_key(), sizes)


@rewrite("replace_the_key_and_resign_everything", "key-replaced", needs_witness=True)
def _(lg: Ledger, w: dict[str, Any]) -> None:
    from custody.engines.ledger import generate_key
    from custody.ledger.services import _key_for
    from custody.ledger.signing import key_pem

    sizes = checkpoint_sizes()
    new = generate_key()
    lg.key_file.write_bytes(key_pem(new, None))
    _key_for.cache_clear()
    forge_body(5, reason="released early")
    resign(rehash_tree(), new, sizes)


@rewrite("change_a_signature", "signature")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    pk, sig = one("SELECT id, signature FROM ledger_signedcheckpoint ORDER BY tree_size LIMIT 1 OFFSET 2")
    sig = bytes(sig)
    sql("UPDATE ledger_signedcheckpoint SET signature = %s WHERE id = %s", bytes([sig[0] ^ 1]) + sig[1:], pk)


@rewrite("change_a_checkpoint_root", "signature")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_signedcheckpoint SET root_hash = %s WHERE tree_size = %s", hashlib.sha256(b"r").digest(), lg.size)


@rewrite("change_a_checkpoint_size", {"signature", "size"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_signedcheckpoint SET tree_size = tree_size + 1 WHERE tree_size = 5")


@rewrite("change_a_checkpoint_time", "signature")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_signedcheckpoint SET timestamp = %s WHERE tree_size = %s", "2020-01-01T00:00:00.000000Z", lg.size)


@rewrite("change_the_head_frontier", "head")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerhead SET frontier = %s", json.dumps([hashlib.sha256(b"f").hexdigest()]))


@rewrite("change_the_head_size", "size")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_ledgerhead SET size = size - 2")


@rewrite("rewrite_the_projection", "projection")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE ledger_custodystate SET facility_id = %s, status = 'released' WHERE last_seq = 6", w["hospital"].pk)


@rewrite("rewrite_the_registry_custody_fields", "projection")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    sql("UPDATE registry_person SET custody_status = 'released', current_facility_id = NULL WHERE ref = 'P-000007'")


@rewrite("change_an_attachments_bytes", "file")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    path = next(lg.media.rglob(lg.attachment))
    path.write_bytes(ORDER.replace(b"1 0 obj", b"2 0 obj"))


@rewrite("delete_an_attachment", "file")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    next(lg.media.rglob(lg.attachment)).unlink()


@rewrite("index_an_attachment_under_another_event", "file")
def _(lg: Ledger, w: dict[str, Any]) -> None:
    other = one("SELECT id FROM ledger_ledgerevent WHERE seq = 1")[0]
    sql("INSERT INTO ledger_eventattachment (event_id, sha256) VALUES (%s, %s)", other, lg.attachment)


@rewrite("unlist_an_attachment_from_its_body", {"leaf", "field", "file"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    forge_body(lg.attached_seq, attachments=[])


@rewrite("rewrite_an_unsigned_tail_entirely", {"unsigned", "rewritten"})
def _(lg: Ledger, w: dict[str, Any]) -> None:
    # The forger deletes the last checkpoint and rewrites the events after the one before, hashes and all.
    sizes = checkpoint_sizes()
    sql("DELETE FROM ledger_signedcheckpoint WHERE tree_size = %s", sizes[-1])
    for seq in range(sizes[-2], lg.size):
        forge_body(seq, reason="rewritten")
    rehash_tree()


@rewrite("alter_the_witness_file", "witness-file", needs_witness=True)
def _(lg: Ledger, w: dict[str, Any]) -> None:
    # Someone who reaches the witness file too cannot make it agree with a rewrite: its lines are signed.
    lines = lg.witness.read_bytes().splitlines(keepends=True)
    doc = json.loads(lines[3])
    doc["root_hash"] = "A" * 43 + "="
    from custody.engines.ledger import canonical_json

    lines[3] = canonical_json(doc) + b"\n"
    lg.witness.write_bytes(b"".join(lines))


def _insert_copy_of(seq: int, new_seq: int) -> None:
    cols = ("kind, person_id, occurred_at, recorded_at, facility_id, custodian_id, recorded_by_id, manifest, reason, "
            "data")
    body = json.loads(one("SELECT body FROM ledger_ledgerevent WHERE seq = %s", seq)[0])
    body.update(seq=new_seq, idempotency_id="forged-1")
    from custody.engines.ledger import canonical_json

    sql(f"INSERT INTO ledger_ledgerevent (seq, idempotency_id, body, {cols}) SELECT %s, %s, %s, {cols} "
        "FROM ledger_ledgerevent WHERE seq = %s", new_seq, "forged-1", canonical_json(body).decode(), seq)


assert len(REWRITES) >= 30 and len({r.name for r in REWRITES}) == len(REWRITES)


@pytest.mark.parametrize("rw", REWRITES, ids=[r.name for r in REWRITES])
def test_each_rewrite_is_caught_and_named(rw: Rewrite, real_ledger: Ledger, world: dict[str, Any],
                                          tmp_path: Path) -> None:
    # The witness as it stood before the rewrite: a copy, as a partner would hold it.
    kept = tmp_path / "partner-witness.jsonl"
    shutil.copy(real_ledger.witness, kept)
    drop_guards()
    rw.apply(real_ledger, world)
    if rw.name != "alter_the_witness_file":
        real_ledger.witness = kept
    code, out = verify(real_ledger, with_witness=False)
    if rw.needs_witness:
        # The database alone is consistent after this one: that is why the witness exists.
        assert code == 0, out
    else:
        assert code == 1 and kinds_in(out) & rw.kinds, out
    code, out = verify(real_ledger, with_witness=True)
    assert code == 1, out
    assert kinds_in(out) & rw.kinds, f"{rw.name}: expected one of {sorted(rw.kinds)}, got {sorted(kinds_in(out))}\n{out}"
