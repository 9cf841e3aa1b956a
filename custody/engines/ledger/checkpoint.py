"""Signed checkpoints: the log operator's Ed25519 signature over (origin, tree size, root, time).

The signed bytes are a short text, one field a line, in the spirit of the C2SP tlog-checkpoint
format, so a partner can read what was signed and re-create it in any language:

    custody-ledger-checkpoint/v1
    <origin>
    <tree size, decimal>
    <root hash, base64>
    <time, RFC 3339 UTC with microseconds>

A key is named by its key id: the first 8 bytes (16 hex digits) of SHA-256 over the raw 32-byte
public key. A partner pins the key id it received through a separate channel (issue 3's offline
verification is only as good as that pin: a bundle's own public key proves nothing about who made it).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CHECKPOINT_HEADER = "custody-ledger-checkpoint/v1"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class CheckpointError(ValueError):
    pass


class Signer(Protocol):
    """What signs checkpoints and bundles: an Ed25519 key in this process (custody.ledger.signing's
    file signer; an Ed25519PrivateKey itself fits) or, next, a key that never leaves a hardware
    module (PKCS#11: decisions/0032-witnessed-checkpoints.md). Only these two operations are needed."""

    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, *, length: int | None = None) -> bytes:
    """Strict base64: refuses non-alphabet characters, and non-canonical encodings of the same bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise CheckpointError(f"not base64: {text!r:.40}") from exc
    if b64(raw) != text:
        raise CheckpointError("base64 is not in canonical form")
    if length is not None and len(raw) != length:
        raise CheckpointError(f"expected {length} bytes, got {len(raw)}")
    return raw


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise CheckpointError("checkpoint times must be timezone-aware")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CheckpointError(f"bad time {text!r}") from exc
    if format_time(moment) != text:
        raise CheckpointError(f"time {text!r} is not in canonical form")
    return moment


def key_id(public_key: Ed25519PublicKey | bytes) -> str:
    raw = public_key if isinstance(public_key, bytes) else public_raw(public_key)
    return sha256(raw).hexdigest()[:16]


def public_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_from_raw(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise CheckpointError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """The log's signing key, created on first use with owner-only permissions.

    O_EXCL makes two processes starting at once agree on one key: the loser of the race reads the
    winner's file instead of writing a second key that would orphan the first one's checkpoints.
    """
    path = Path(path)
    if path.exists():
        return load_private_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem(key))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return load_private_key(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes

    def body(self) -> bytes:
        return checkpoint_body(self.origin, self.tree_size, self.root_hash, self.timestamp)

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        if self.key_id != key_id(public_key):
            return False
        try:
            public_key.verify(self.signature, self.body())
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": b64(self.root_hash),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": b64(self.signature),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Checkpoint:
        try:
            origin, size, root_text = data["origin"], data["tree_size"], data["root_hash"]
            timestamp, kid, sig = data["timestamp"], data["key_id"], data["signature"]
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint lacks {exc}") from exc
        if not isinstance(origin, str) or not isinstance(timestamp, str) or not isinstance(kid, str):
            raise CheckpointError("checkpoint origin, timestamp and key_id are strings")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise CheckpointError("checkpoint tree_size is a non-negative integer")
        if not isinstance(root_text, str) or not isinstance(sig, str):
            raise CheckpointError("checkpoint root_hash and signature are base64 strings")
        parse_time(timestamp)
        return cls(origin, size, unb64(root_text, length=32), timestamp, kid, unb64(sig, length=64))


def checkpoint_body(origin: str, tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
    if "\n" in origin or not origin:
        raise CheckpointError("origin is one non-empty line")
    return f"{CHECKPOINT_HEADER}\n{origin}\n{tree_size}\n{b64(root_hash)}\n{timestamp}\n".encode()


def sign_checkpoint(
    key: Signer, origin: str, tree_size: int, root_hash: bytes, moment: datetime | None = None
) -> Checkpoint:
    timestamp = format_time(moment or datetime.now(UTC))
    body = checkpoint_body(origin, tree_size, root_hash, timestamp)
    return Checkpoint(origin, tree_size, root_hash, timestamp, key_id(key.public_key()), key.sign(body))
