"""Handover bundles: verified offline, and refused after any single byte of the file changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from custody.engines.ledger import build_bundle, canonical_json, generate_key, key_id, verify_bundle

from .helpers import event, make_log


@pytest.fixture(scope="module")
def signed() -> tuple[bytes, str]:
    log = make_log(37, every=37)
    cp = log.checkpoints[-1]
    data = build_bundle(
        events=[(5, event(5)), (11, event(11))], tree=log.tree, checkpoint=cp, private_key=log.key,
        subject={"kind": "handover", "reference": "H-2026-0001", "from": "SDF", "to": "IRQ"},
    )
    return data, key_id(log.key.public_key())


def test_a_bundle_verifies_offline_with_a_pinned_key(signed: tuple[bytes, str]) -> None:
    data, kid = signed
    report = verify_bundle(data, trusted_key_ids=[kid])
    assert report.ok, report.errors
    assert [i for i, _ in report.events] == [5, 11]
    assert report.checkpoint is not None and report.checkpoint.tree_size == 37
    assert report.subject["reference"] == "H-2026-0001"
    assert not report.warnings


def test_unpinned_key_verifies_with_a_warning_and_a_wrong_pin_is_refused(signed: tuple[bytes, str]) -> None:
    data, _ = signed
    report = verify_bundle(data)
    assert report.ok and "not pinned" in report.warnings[0]
    report = verify_bundle(data, trusted_key_ids=[key_id(generate_key().public_key())])
    assert not report.ok and "not one of the trusted keys" in report.errors[0]


def test_every_single_byte_change_is_refused(signed: tuple[bytes, str]) -> None:
    data, kid = signed
    for pos in range(len(data)):
        for delta in (1, 0x20):
            changed = data[:pos] + bytes([data[pos] ^ delta]) + data[pos + 1 :]
            assert not verify_bundle(changed, trusted_key_ids=[kid]).ok, (pos, delta)
    for pos in range(0, len(data), 7):
        assert not verify_bundle(data[:pos] + data[pos + 1 :], trusted_key_ids=[kid]).ok, pos
    assert not verify_bundle(data + b"\n", trusted_key_ids=[kid]).ok


def test_a_consistently_re_signed_forgery_fails_the_pin(signed: tuple[bytes, str]) -> None:
    # Whoever alters the event and re-signs everything with their own key makes a bundle that is
    # internally valid: only the pinned key id tells it apart, which is why docs/ledger.md insists on it.
    data, kid = signed
    bundle = json.loads(data)
    bundle["entries"][0]["event"]["custodian"] = "IRQ"
    forger = generate_key()
    log = make_log(37, every=37)
    log.key = forger
    log.bodies[5] = canonical_json(bundle["entries"][0]["event"])
    from custody.engines.ledger import MemoryTree, leaf_hash

    log.tree = MemoryTree()
    for body in log.bodies:
        log.tree.append(leaf_hash(body))
    forged = build_bundle(events=[(5, bundle["entries"][0]["event"])], tree=log.tree, checkpoint=log.checkpoint(),
                          private_key=forger, subject=bundle["subject"])
    assert verify_bundle(forged).ok
    assert not verify_bundle(forged, trusted_key_ids=[kid]).ok


def test_an_event_after_the_checkpoint_cannot_be_bundled() -> None:
    log = make_log(10, every=5)
    with pytest.raises(ValueError, match="after checkpoint"):
        build_bundle(events=[(7, event(7))], tree=log.tree, checkpoint=log.checkpoints[0], private_key=log.key,
                     subject={})


def test_offline_command_line(tmp_path: Path, signed: tuple[bytes, str]) -> None:
    data, kid = signed
    good = tmp_path / "handover.json"
    good.write_bytes(data)
    bad = tmp_path / "edited.json"
    bad.write_bytes(data.replace(b'"SDF"', b'"SDX"', 1))
    # No Django settings in the environment: the verifier must not need them.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    ok = subprocess.run([sys.executable, "-m", "custody.engines.ledger", "verify-bundle", str(good), "--key-id", kid],
                        capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("VERIFIED") and "#5 handed_over" in ok.stdout
    ko = subprocess.run([sys.executable, "-m", "custody.engines.ledger", "verify-bundle", str(bad), "--key-id", kid],
                        capture_output=True, text=True, env=env, check=False)
    assert ko.returncode == 1 and ko.stdout.startswith("REJECTED")


def test_files_received_with_a_bundle_are_checked_against_the_events_it_proves() -> None:
    from hashlib import sha256

    from custody.engines.ledger import MemoryTree, event_document, leaf_hash, sign_checkpoint

    from .helpers import T0

    order = b"%PDF-1.4 court order"
    doc = event_document(seq=0, kind="transferred_to_court", person="P-000007", occurred_at=T0, recorded_at=T0,
                         facility="HSK", custodian="SDF", recorded_by="sdf.clerk", idempotency_id="req-0",
                         reason="hearing", attachments=[sha256(order).hexdigest()], data={})
    tree = MemoryTree()
    tree.append(leaf_hash(canonical_json(doc)))
    key = generate_key()
    cp = sign_checkpoint(key, "custody.test/ledger", 1, tree.root(), T0)
    data = build_bundle(events=[(0, doc)], tree=tree, checkpoint=cp, private_key=key, subject={"kind": "events"})
    kid = key_id(key.public_key())

    report = verify_bundle(data, trusted_key_ids=[kid], files={"court-order.pdf": order})
    assert report.ok and report.files == [("court-order.pdf", sha256(order).hexdigest(), [0])]
    forged = verify_bundle(data, trusted_key_ids=[kid], files={"court-order.pdf": order + b" amended"})
    assert not forged.ok
    assert forged.errors == [f"file court-order.pdf (SHA-256 {sha256(order + b' amended').hexdigest()[:12]}…) is not "
                             "attached to any event in this bundle: it is not the file the log signed for"]
