"""Handover bundles: a self-contained file a partner verifies offline, with no database.

A bundle is one JSON object written in canonical form (RFC 8785 subset, see canonical.py) with no
trailing newline:

    {
      "format": "custody-ledger-bundle/1",
      "subject": {...what the bundle is about, e.g. a handover's reference and people...},
      "created_at": "2026-01-09T10:00:00.000000Z",
      "public_key": "<base64 of the raw 32-byte Ed25519 key>",
      "key_id": "<16 hex digits>",
      "checkpoint": {"origin", "tree_size", "root_hash", "timestamp", "key_id", "signature"},
      "entries": [{"index": i, "event": {...}, "leaf_hash": "<b64>", "inclusion_proof": ["<b64>", ...]}],
      "bundle_signature": "<base64 Ed25519 signature over the canonical bundle without this field>"
    }

The verifier demands the exact canonical bytes, so changing any byte of the file either breaks the
JSON, breaks the canonical form, or changes a value that a signature or a proof covers: every
single-byte change is refused (tests/engines/ledger prove it byte by byte).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidSignature

from .canonical import CanonicalJSONError, canonical_json
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    b64,
    format_time,
    key_id,
    public_from_raw,
    public_raw,
    unb64,
)
from .merkle import NodeSource, inclusion_proof, leaf_hash, verify_inclusion

BUNDLE_FORMAT = "custody-ledger-bundle/1"
_FIELDS = {"format", "subject", "created_at", "public_key", "key_id", "checkpoint", "entries", "bundle_signature"}


def build_bundle(
    *,
    events: Sequence[tuple[int, Mapping[str, Any]]],
    tree: NodeSource,
    checkpoint: Checkpoint,
    private_key: Signer,
    subject: Mapping[str, Any],
    created_at: datetime | None = None,
) -> bytes:
    """Bundle `events` (index, event object) with proofs against `checkpoint`, signed with the log key."""
    public = public_raw(private_key.public_key())
    entries = []
    for index, event in sorted(events, key=lambda e: e[0]):
        if index >= checkpoint.tree_size:
            raise ValueError(f"event #{index} is after checkpoint size {checkpoint.tree_size}: sign a newer one")
        entries.append(
            {
                "index": index,
                "event": dict(event),
                "leaf_hash": b64(leaf_hash(canonical_json(event))),
                "inclusion_proof": [b64(p) for p in inclusion_proof(tree, index, checkpoint.tree_size)],
            }
        )
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "subject": dict(subject),
        "created_at": format_time(created_at or datetime.now(UTC)),
        "public_key": b64(public),
        "key_id": key_id(public),
        "checkpoint": checkpoint.to_json(),
        "entries": entries,
    }
    bundle["bundle_signature"] = b64(private_key.sign(canonical_json(bundle)))
    return canonical_json(bundle)


@dataclass
class BundleReport:
    ok: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    key_id: str | None = None
    checkpoint: Checkpoint | None = None
    subject: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # (name, sha256 hex, the positions of the bundle's events that list it)
    files: list[tuple[str, str, list[int]]] = field(default_factory=list)


def verify_bundle(data: bytes, *, trusted_key_ids: Sequence[str] | None = None,
                  files: Mapping[str, bytes] | None = None) -> BundleReport:
    """Check a bundle file's bytes. `trusted_key_ids` pins the log key (obtained out of band).

    `files` (name -> bytes) are files received with the bundle, a court order say: each must be listed,
    by its SHA-256, in the `attachments` of an event the bundle proves; one that is not is an error
    naming it (it is not the file the log signed for, or not part of this handover)."""
    report = BundleReport()
    try:
        _verify(data, trusted_key_ids, report)
    except (ValueError, TypeError, KeyError, CheckpointError, CanonicalJSONError) as exc:
        report.errors.append(f"malformed bundle: {exc}")
    if files and not report.errors:
        _verify_files(files, report)
    report.ok = not report.errors
    return report


def _verify_files(files: Mapping[str, bytes], report: BundleReport) -> None:
    listed: dict[str, list[int]] = {}
    for index, event in report.events:
        for h in event.get("attachments") or ():
            listed.setdefault(h, []).append(index)
    for name, data in files.items():
        digest = sha256(data).hexdigest()
        if digest in listed:
            report.files.append((name, digest, listed[digest]))
        else:
            report.errors.append(f"file {name} (SHA-256 {digest[:12]}…) is not attached to any event in this bundle: "
                                 "it is not the file the log signed for")


def _verify(data: bytes, trusted: Sequence[str] | None, report: BundleReport) -> None:
    try:
        bundle = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        report.errors.append(f"not a JSON document: {exc}")
        return
    if not isinstance(bundle, dict):
        report.errors.append("a bundle is a JSON object")
        return
    if canonical_json(bundle) != data:
        report.errors.append("the file is not in canonical form: it was edited after export")
        return
    if bundle.get("format") != BUNDLE_FORMAT:
        report.errors.append(f"unknown format {bundle.get('format')!r}; this verifier reads {BUNDLE_FORMAT}")
        return
    if set(bundle) != _FIELDS:
        report.errors.append(f"fields {sorted(set(bundle) ^ _FIELDS)} are unexpected or missing")
        return

    public = unb64(bundle["public_key"], length=32)
    public_key = public_from_raw(public)
    report.key_id = kid = key_id(public)
    if bundle["key_id"] != kid:
        report.errors.append("key_id does not belong to the bundled public key")
    if trusted is None:
        report.warnings.append(
            f"the signing key {kid} was not pinned: the bundle is intact, but check this key id "
            "against the one the log operator gave you before trusting who signed it"
        )
    elif kid not in trusted:
        report.errors.append(f"signing key {kid} is not one of the trusted keys {', '.join(trusted)}")

    unsigned = {k: v for k, v in bundle.items() if k != "bundle_signature"}
    try:
        public_key.verify(unb64(bundle["bundle_signature"], length=64), canonical_json(unsigned))
    except InvalidSignature:
        report.errors.append("the bundle signature does not match its contents")

    cp = Checkpoint.from_json(bundle["checkpoint"])
    report.checkpoint = cp
    if not cp.verify(public_key):
        report.errors.append(f"checkpoint at size {cp.tree_size} is not validly signed by key {kid}")

    subject = bundle["subject"]
    report.subject = subject if isinstance(subject, dict) else {}
    entries = bundle["entries"]
    if not isinstance(entries, list) or not entries:
        report.errors.append("the bundle holds no events")
        return
    for entry in entries:
        _verify_entry(entry, cp, report)


def _verify_entry(entry: Any, cp: Checkpoint, report: BundleReport) -> None:
    if not isinstance(entry, dict) or set(entry) != {"index", "event", "leaf_hash", "inclusion_proof"}:
        report.errors.append("an entry is not {index, event, leaf_hash, inclusion_proof}")
        return
    index, event = entry["index"], entry["event"]
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(event, dict):
        report.errors.append("an entry's index is an integer and its event an object")
        return
    label = f"event #{index}"
    if event.get("seq") != index:
        report.errors.append(f"{label} says it is at position {event.get('seq')!r}")
    leaf = leaf_hash(canonical_json(event))
    if unb64(entry["leaf_hash"], length=32) != leaf:
        report.errors.append(f"{label} does not hash to its stated leaf hash: the event was altered")
    proof = [unb64(p, length=32) for p in entry["inclusion_proof"]]
    if not verify_inclusion(leaf, index, cp.tree_size, proof, cp.root_hash):
        report.errors.append(f"{label} is not proven to be in the log at the signed checkpoint (size {cp.tree_size})")
    report.events.append((index, event))
