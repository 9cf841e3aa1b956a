"""Key custody, a checkpoint per append, and witnesses (issue 14, "tamper evidence without holes").

The key's refusals are tried in processes outside the test run (no pytest in them), as a deployment
runs: there the key must lie outside the data directory, be encrypted, and never be made silently."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from custody.engines.ledger import Checkpoint
from custody.engines.ledger.witness import cosign
from custody.ledger.models import LedgerEvent, SignedCheckpoint, WitnessCosignature

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def deployed(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """`custody ARGS` as a deployment runs it: not demo, not debug, not under pytest."""
    drop = {"CUSTODY_DEMO", "CUSTODY_DEBUG", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER",
            "CUSTODY_LEDGER_KEY_FILE", "CUSTODY_LEDGER_WITNESS_FILE", "CUSTODY_LEDGER_KEY_PASSPHRASE",
            "CUSTODY_LEDGER_KEY_PASSPHRASE_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(CUSTODY_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT), CUSTODY_SECRET_KEY=secrets.token_urlsafe(50),
               DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'custody.sqlite3'}")
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "custody", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_a_deployment_refuses_a_key_it_could_lose_with_the_data(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    outside = {"CUSTODY_LEDGER_KEY_FILE": str(keys / "ledger.pem"),
               "CUSTODY_LEDGER_WITNESS_FILE": str(keys / "witness.jsonl")}
    # The default: the key in the data directory, next to the database.
    r = deployed(tmp_path, "ledger", "public-key")
    assert r.returncode != 0 and "is inside the data directory" in r.stderr and "CUSTODY_LEDGER_KEY_FILE" in r.stderr
    # The key outside, the witness file left inside: refused too, by its own setting's name.
    r = deployed(tmp_path, "ledger", "public-key", CUSTODY_LEDGER_KEY_FILE=str(keys / "ledger.pem"))
    assert r.returncode != 0 and "CUSTODY_LEDGER_WITNESS_FILE" in r.stderr, r.stderr[-800:]
    # Both outside, no key yet: not made silently (a missing key may be an unmounted disk).
    r = deployed(tmp_path, "ledger", "public-key", **outside)
    assert r.returncode != 0 and "custody ledger keygen" in r.stderr and not (keys / "ledger.pem").exists()
    # keygen wants a passphrase.
    r = deployed(tmp_path, "ledger", "keygen", **outside)
    assert r.returncode != 0 and "passphrase" in r.stderr
    r = deployed(tmp_path, "ledger", "keygen", **outside, CUSTODY_LEDGER_KEY_PASSPHRASE="correct horse battery")
    assert r.returncode == 0, r.stderr[-800:]
    pem = (keys / "ledger.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and (keys / "ledger.pem").stat().st_mode & 0o777 == 0o600
    kid = r.stdout.split("key id ")[1].split()[0]
    # A second keygen would orphan the first key's checkpoints.
    r = deployed(tmp_path, "ledger", "keygen", **outside, CUSTODY_LEDGER_KEY_PASSPHRASE="another one")
    assert r.returncode != 0 and "already exists" in r.stderr and (keys / "ledger.pem").read_bytes() == pem
    # Encrypted: no passphrase, or the wrong one, opens nothing.
    r = deployed(tmp_path, "ledger", "public-key", **outside)
    assert r.returncode != 0 and "is encrypted: give its passphrase" in r.stderr
    r = deployed(tmp_path, "ledger", "public-key", **outside, CUSTODY_LEDGER_KEY_PASSPHRASE="wrong")
    assert r.returncode != 0 and "passphrase does not open" in r.stderr
    # The passphrase from a file (a systemd credential, say).
    secret = tmp_path / "creds" / "ledger-passphrase"
    secret.parent.mkdir()
    secret.write_text("correct horse battery\n")
    r = deployed(tmp_path, "ledger", "public-key", **outside, CUSTODY_LEDGER_KEY_PASSPHRASE_FILE=str(secret))
    assert r.returncode == 0 and f"key id {kid}" in r.stdout, r.stderr[-800:]
    # A key others can read is refused.
    (keys / "ledger.pem").chmod(0o644)
    r = deployed(tmp_path, "ledger", "public-key", **outside, CUSTODY_LEDGER_KEY_PASSPHRASE_FILE=str(secret))
    assert r.returncode != 0 and "can be read by others (mode 0o644)" in r.stderr


def test_a_plain_key_is_refused_until_encrypted_in_place(tmp_path: Path) -> None:
    from custody.engines.ledger import generate_key, key_id
    from custody.ledger.signing import key_pem

    keys = tmp_path / "keys"
    keys.mkdir()
    key = generate_key()
    (keys / "ledger.pem").write_bytes(key_pem(key, None))
    (keys / "ledger.pem").chmod(0o600)
    env = {"CUSTODY_LEDGER_KEY_FILE": str(keys / "ledger.pem"), "CUSTODY_LEDGER_WITNESS_FILE": str(keys / "w.jsonl"),
           "CUSTODY_LEDGER_KEY_PASSPHRASE": "a long passphrase"}
    r = deployed(tmp_path, "ledger", "public-key", **env)
    assert r.returncode != 0 and "is not encrypted" in r.stderr and "key-encrypt" in r.stderr
    r = deployed(tmp_path, "ledger", "key-encrypt", **env)
    assert r.returncode == 0, r.stderr[-800:]
    r = deployed(tmp_path, "ledger", "public-key", **env)
    assert r.returncode == 0 and f"key id {key_id(key.public_key())}" in r.stdout  # the same key


def test_the_demo_keeps_working_with_no_setup(tmp_path: Path) -> None:
    r = deployed(tmp_path, "ledger", "public-key", CUSTODY_DEMO="1")
    assert r.returncode == 0 and "key id" in r.stdout, r.stderr[-800:]
    assert (tmp_path / "var" / "ledger-signing-key.pem").exists()


# ---------------------------------------------------------------- every append ends signed


def test_every_append_transaction_ends_with_a_signed_checkpoint(world: dict[str, Any], person_factory: Any,
                                                                settings: Any) -> None:
    from custody.ledger.services import record_event, record_events_bulk
    from custody.ledger.specs import EventSpec

    settings.LEDGER_CHECKPOINT_EVENTS = 1000
    settings.LEDGER_CHECKPOINT_MINUTES = 600  # the old rule would have left all of these unsigned
    people = [person_factory() for _ in range(7)]
    record_events_bulk([EventSpec("intake", p, T0, facility=world["prison"]) for p in people], batch_size=3)
    assert list(SignedCheckpoint.objects.values_list("tree_size", flat=True)) == [3, 6, 7]
    for i, p in enumerate(people[:2]):
        record_event(EventSpec("hospitalised", p, T0 + timedelta(minutes=i + 1), facility=world["hospital"]))
        assert SignedCheckpoint.objects.order_by("-tree_size").first().tree_size == LedgerEvent.objects.count()


# ---------------------------------------------------------------- partner witnesses


@pytest.fixture
def small_log(world: dict[str, Any], person_factory: Any) -> list[Any]:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    people = [person_factory() for _ in range(3)]
    for i, p in enumerate(people):
        record_event(EventSpec("intake", p, T0 + timedelta(minutes=i), facility=world["prison"]))
    return people


def _more_events(world: dict[str, Any], people: list[Any], hour: int = 1) -> None:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    kind, where = ("hospitalised", world["hospital"]) if hour == 1 else ("returned", world["prison"])
    for i, p in enumerate(people):
        record_event(EventSpec(kind, p, T0 + timedelta(hours=hour, minutes=i), facility=where))


def witness_cli(path: Path, *args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("ledger", "witness", str(path), *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_a_witness_keeps_checkpoints_and_refuses_a_rewritten_or_truncated_log(
        small_log: list[Any], world: dict[str, Any], tmp_path: Path, make_user: Any) -> None:
    from custody.ledger.services import public_key_id

    kept = tmp_path / "mil-witness.jsonl"
    # The first checkpoint needs a key id received out of band.
    code, out = witness_cli(kept)
    assert code == 1 and "give --key-id" in out and not kept.exists()
    code, out = witness_cli(kept, "--key-id", "0" * 16)
    assert code == 1 and "not the pinned" in out
    code, out = witness_cli(kept, "--key-id", public_key_id())
    assert code == 0 and "kept checkpoint at 3 events" in out
    code, out = witness_cli(kept)
    assert code == 0 and "nothing new" in out
    _more_events(world, small_log)
    # Countersigned with the partner's own key, stored by the log (the local user: an MIL clerk).
    from cryptography.hazmat.primitives import serialization

    from custody.engines.ledger import generate_key

    partner = generate_key()
    pem = tmp_path / "mil-key.pem"
    pem.write_bytes(partner.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    clerk = make_user("MIL", "clerk")
    code, out = witness_cli(kept, "--cosign-key", str(pem), "--user", clerk.username)
    assert code == 0 and "kept checkpoint at 6 events" in out and "(consistent with the one kept at 3)" in out, out
    row = WitnessCosignature.objects.get()
    assert (row.tree_size, row.witness, row.agency.code) == (6, "MIL", "MIL")
    lines = [json.loads(x) for x in kept.read_text().splitlines()]
    assert [x["tree_size"] for x in lines] == [3, 6] and lines[1]["cosignatures"][0]["witness"] == "MIL"

    # The operator (or an intruder with the key) rewrites event #1 and re-signs the whole log.
    from tests.ledger.test_tamper_mutations import drop_guards, forge_body, rehash_tree, resign, stolen_key

    drop_guards()
    forge_body(1, reason="never here")
    resign(rehash_tree(), stolen_key(), [3, 6])
    _more_events(world, small_log, hour=2)
    code, out = witness_cli(kept)
    assert code == 1 and "REWRITTEN" in out and "does not extend the checkpoint you kept at 6" in out
    assert len(kept.read_text().splitlines()) == 2  # nothing appended
    # And verify against the partner's file names it.
    out_v = StringIO()
    with pytest.raises(SystemExit):
        call_command("ledger", "verify", "--witness", str(kept), stdout=out_v)
    assert "[rewritten]" in out_v.getvalue() and "[re-signed]" in out_v.getvalue()


def test_a_witness_refuses_a_truncated_log(small_log: list[Any], world: dict[str, Any], tmp_path: Path) -> None:
    from custody.ledger.services import public_key_id

    kept = tmp_path / "w.jsonl"
    _more_events(world, small_log)
    assert witness_cli(kept, "--key-id", public_key_id())[0] == 0
    from tests.ledger.test_tamper_mutations import drop_guards, truncate_to

    drop_guards()
    truncate_to(3)
    code, out = witness_cli(kept)
    assert code == 1 and "TRUNCATED" in out


def test_the_witness_api_offers_proofs_and_takes_countersignatures(small_log: list[Any], world: dict[str, Any],
                                                                    api_for: Any, make_user: Any) -> None:
    from custody.engines.ledger import generate_key, verify_consistency
    from custody.engines.ledger.checkpoint import b64, public_from_raw, unb64
    from custody.ledger.services import public_key_id

    viewer = api_for(make_user("HUM", "viewer"))
    r = viewer.get("/api/ledger/witness/")
    assert r.status_code == 200 and r.json()["key_id"] == public_key_id()
    first = Checkpoint.from_json(r.json()["checkpoint"])
    assert first.verify(public_from_raw(unb64(r.json()["public_key"])))
    _more_events(world, small_log)
    r = viewer.get("/api/ledger/witness/", {"from": first.tree_size})
    assert r.status_code == 200
    later = Checkpoint.from_json(r.json()["checkpoint"])
    proof = [unb64(h) for h in r.json()["consistency_proof"]]
    assert later.tree_size == 6 and verify_consistency(3, 6, first.root_hash, later.root_hash, proof)
    assert viewer.get("/api/ledger/witness/", {"from": "x"}).status_code == 400
    assert viewer.get("/api/ledger/witness/", {"from": -1}).json()["rule"] == "from"
    assert viewer.get("/api/ledger/witness/", {"from": 99}).json()["consistency_proof"] == []  # cut back: told

    partner = generate_key()
    cosig = cosign(partner, "IRQ", later, T0)
    payload = {"checkpoint": later.to_json(), "cosignature": cosig.to_json()}
    assert viewer.post("/api/ledger/witness/", payload, format="json").status_code == 403
    clerk = api_for(make_user("IRQ", "clerk"))
    r = clerk.post("/api/ledger/witness/", payload, format="json")
    assert r.status_code == 201, r.content
    assert clerk.post("/api/ledger/witness/", payload, format="json").status_code == 200  # the same, again
    assert WitnessCosignature.objects.get().agency.code == "IRQ"
    # A signature that does not verify, and a checkpoint that is not ours, are refused by field.
    bad = {**payload, "cosignature": {**cosig.to_json(), "signature": b64(bytes(64))}}
    r = clerk.post("/api/ledger/witness/", bad, format="json")
    assert r.status_code == 400 and "Field 'cosignature'" in r.json()["detail"]
    forged = {**later.to_json(), "root_hash": b64(bytes(32))}
    r = clerk.post("/api/ledger/witness/", {"checkpoint": forged, "cosignature": cosig.to_json()}, format="json")
    assert r.status_code == 400 and "Field 'checkpoint'" in r.json()["detail"]
    long_name = cosign(partner, "W" * 101, later, T0)
    r = clerk.post("/api/ledger/witness/", {"checkpoint": later.to_json(), "cosignature": long_name.to_json()},
                   format="json")
    assert r.status_code == 400 and "at most 100 characters" in r.json()["detail"]
    assert WitnessCosignature.objects.count() == 1
    # Countersignatures are append-only in the database, like the checkpoints.
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cur:
        cur.execute("DELETE FROM ledger_witnesscosignature")


def test_the_signers_witness_file_gets_each_checkpoint_only_after_commit(
        world: dict[str, Any], person_factory: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    path = Path(settings.LEDGER_WITNESS_FILE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_event(EventSpec("intake", person_factory(), T0, facility=world["prison"]))
    assert not path.exists()  # not committed yet: a line now could later look like a truncation
    for callback in callbacks:
        callback()
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["tree_size"] == 1 and line["signature"]

