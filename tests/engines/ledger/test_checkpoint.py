from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.engines.ledger import (
    Checkpoint,
    generate_key,
    key_id,
    load_or_create_private_key,
    sign_checkpoint,
)
from custody.engines.ledger.checkpoint import CheckpointError, checkpoint_body, unb64


def test_signed_body_is_the_documented_text() -> None:
    root = bytes(range(32))
    body = checkpoint_body("custody.test/ledger", 12, root, "2026-01-05T06:00:00.000000Z")
    assert body == (
        b"custody-ledger-checkpoint/v1\ncustody.test/ledger\n12\n"
        b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n2026-01-05T06:00:00.000000Z\n"
    )


def test_round_trip_and_tamper() -> None:
    key = generate_key()
    cp = sign_checkpoint(key, "o", 5, bytes(32), datetime(2026, 1, 5, tzinfo=UTC))
    assert cp.verify(key.public_key())
    again = Checkpoint.from_json(cp.to_json())
    assert again == cp and again.verify(key.public_key())
    assert not replace(cp, tree_size=6).verify(key.public_key())
    assert not replace(cp, root_hash=b"\x01" * 32).verify(key.public_key())
    assert not replace(cp, timestamp="2026-01-05T00:00:00.000001Z").verify(key.public_key())
    assert not cp.verify(generate_key().public_key())


def test_rfc8032_test_vector_1_verifies_with_the_library_we_sign_with() -> None:
    pub = Ed25519PublicKey.from_public_bytes(
        bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    pub.verify(sig, b"")


def test_strict_decoding() -> None:
    with pytest.raises(CheckpointError):
        unb64("AAB=", length=2)  # non-canonical padding bits
    with pytest.raises(CheckpointError):
        unb64("@@@@")
    with pytest.raises(CheckpointError):
        Checkpoint.from_json({"origin": "o", "tree_size": True, "root_hash": "", "timestamp": "",
                              "key_id": "", "signature": ""})


def test_key_file_created_once_owner_only_and_reused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys" / "ledger.pem"
    key = load_or_create_private_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key_id(load_or_create_private_key(path).public_key()) == key_id(key.public_key())
    assert [p.name for p in path.parent.iterdir()] == ["ledger.pem"]
