"""Witnessed checkpoints: copies of the log's signed checkpoints kept where the database cannot reach
them, and the check that the log still extends every one of them.

A witness file is JSON lines, one checkpoint a line, in canonical JSON:

    {"key_id":"…","origin":"custody/ledger","root_hash":"<b64>","signature":"<b64>","timestamp":"…Z","tree_size":3813}

optionally with `"cosignatures": [{"witness": "MIL", "key_id": "…", "public_key": "<b64>",
"timestamp": "…Z", "signature": "<b64>"}]`: a partner's Ed25519 signature over

    custody-ledger-cosignature/v1
    witness <name>
    time <timestamp>
    <the checkpoint's signed text>

The log's own signer appends to one file after every commit; a partner agency keeps its own
(`custody ledger witness`), from the API, with a consistency proof from the last checkpoint it kept.

Signed checkpoints in the database alone cannot catch a rewrite by someone who also holds the key, a
truncation back to an earlier checkpoint, or dropped checkpoints. Against a witness they can:

- truncated:          the witness holds a checkpoint larger than the log;
- rewritten:          the log's first n events no longer hash to the root the witness kept at size n
                      (or the consistency proof from it to the log's head fails);
- re-signed:          the database's checkpoint at a witnessed size is not the one the witness kept;
- dropped-checkpoint: a witnessed checkpoint is gone from the database;
- key-replaced:       the witness kept a checkpoint signed by another key than the log's;
- witness-file:       a line of the witness file is not a checkpoint our key signed (the file itself
                      was altered), or a cosignature does not verify.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .canonical import CanonicalJSONError, canonical_json
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Signer,
    b64,
    format_time,
    key_id,
    parse_time,
    public_from_raw,
    public_raw,
    unb64,
)
from .merkle import EMPTY_ROOT, NodeGetter, consistency_proof, root_of_levels, verify_consistency
from .verify import Problem

COSIGNATURE_HEADER = "custody-ledger-cosignature/v1"


@dataclass(frozen=True)
class Cosignature:
    witness: str
    key_id: str
    public_key: bytes
    timestamp: str
    signature: bytes

    def verify(self, checkpoint: Checkpoint) -> bool:
        if key_id(self.public_key) != self.key_id:
            return False
        try:
            public_from_raw(self.public_key).verify(self.signature, cosignature_body(self.witness, self.timestamp,
                                                                                    checkpoint))
        except (InvalidSignature, CheckpointError):
            return False
        return True

    def to_json(self) -> dict[str, object]:
        return {"witness": self.witness, "key_id": self.key_id, "public_key": b64(self.public_key),
                "timestamp": self.timestamp, "signature": b64(self.signature)}

    @classmethod
    def from_json(cls, data: object) -> Cosignature:
        if not isinstance(data, dict):
            raise CheckpointError("a cosignature is an object")
        try:
            witness, kid, pub, ts, sig = (data["witness"], data["key_id"], data["public_key"], data["timestamp"],
                                          data["signature"])
        except KeyError as exc:
            raise CheckpointError(f"cosignature lacks {exc}") from exc
        if not all(isinstance(v, str) for v in (witness, kid, pub, ts, sig)) or "\n" in witness or not witness:
            raise CheckpointError("cosignature fields are strings; the witness name is one line")
        parse_time(ts)
        return cls(witness, kid, unb64(pub, length=32), ts, unb64(sig, length=64))


def cosignature_body(witness: str, timestamp: str, checkpoint: Checkpoint) -> bytes:
    if "\n" in witness or not witness:
        raise CheckpointError("the witness name is one non-empty line")
    return f"{COSIGNATURE_HEADER}\nwitness {witness}\ntime {timestamp}\n".encode() + checkpoint.body()


def cosign(signer: Signer, witness: str, checkpoint: Checkpoint, moment: datetime) -> Cosignature:
    timestamp = format_time(moment)
    public = public_raw(signer.public_key())
    return Cosignature(witness, key_id(public), public, timestamp,
                       signer.sign(cosignature_body(witness, timestamp, checkpoint)))


def witness_line(checkpoint: Checkpoint, cosignatures: Sequence[Cosignature] = ()) -> bytes:
    doc: dict[str, object] = dict(checkpoint.to_json())
    if cosignatures:
        doc["cosignatures"] = [c.to_json() for c in cosignatures]
    return canonical_json(doc) + b"\n"


@dataclass(frozen=True)
class WitnessEntry:
    line: int
    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...] = ()


@dataclass
class WitnessFile:
    entries: list[WitnessEntry]
    problems: list[Problem]
    notes: list[str]


def read_witness(data: bytes, name: str = "witness file") -> WitnessFile:
    """Parse a witness file. A malformed complete line is a problem (the file was altered); a last line
    without its newline is a write cut short by a crash, noted and skipped."""
    out = WitnessFile([], [], [])
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if number == len(lines):  # no newline after it
            out.notes.append(f"{name} line {number} is incomplete (a write cut short?): skipped")
            continue
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise CheckpointError("not an object")
            cosigs = tuple(Cosignature.from_json(c) for c in doc.pop("cosignatures", []) or [])
            cp = Checkpoint.from_json(doc)
            if canonical_json({**cp.to_json(), **({"cosignatures": [c.to_json() for c in cosigs]} if cosigs else {})}) != raw:
                raise CheckpointError("not in canonical form")
        except (ValueError, CheckpointError, CanonicalJSONError) as exc:
            out.problems.append(Problem("witness-file", None, f"{name} line {number} is not a checkpoint: {exc}"))
            continue
        out.entries.append(WitnessEntry(number, cp, cosigs))
    return out


def check_witnessed(
    levels: Sequence[Sequence[bytes]],
    size: int,
    entries: Sequence[WitnessEntry],
    stored: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    name: str = "witness",
) -> list[Problem]:
    """Does the log (its recomputed `levels`, `size` events, `stored` checkpoints) extend every
    checkpoint the witness kept? Each is checked for the log's key and signature, the root at its size,
    an RFC 9162 consistency proof from it to the log's head, and its copy in the database."""
    found: dict[str, list[tuple[Problem, int]]] = {}
    n = 0

    def add(kind: str, index: int | None, message: str) -> None:
        found.setdefault(kind, []).append((Problem(kind, index, message), n))

    ours = key_id(public_key)
    tree = NodeGetter(lambda level, index: levels[level][index])
    head_root = root_of_levels(levels, size) if size else EMPTY_ROOT
    by_size: dict[int, list[Checkpoint]] = {}
    for cp in stored:
        by_size.setdefault(cp.tree_size, []).append(cp)
    last_good = 0
    seen: set[Checkpoint] = set()
    for entry in sorted(entries, key=lambda e: (e.checkpoint.tree_size, e.line)):
        cp = entry.checkpoint
        if cp in seen:
            continue
        seen.add(cp)
        n = cp.tree_size
        label = f"the checkpoint at size {n} signed {cp.timestamp} ({name} line {entry.line})"
        if cp.key_id != ours:
            add("key-replaced", None, f"{label} was signed by key {cp.key_id}; the log now signs with {ours}: "
                                      "the signing key was replaced")
        elif not cp.verify(public_key):
            add("witness-file", None, f"{label} does not carry a valid signature of the log's key: the witness "
                                      "file was altered")
            continue
        for cosig in entry.cosignatures:
            if not cosig.verify(cp):
                add("witness-file", None, f"{label}: the cosignature of {cosig.witness} (key {cosig.key_id}) does "
                                          "not verify")
        if n > size:
            add("truncated", size, f"{label} covers {n} events but the log holds {size}: events #{size}-#{n - 1} "
                                   "were removed")
            continue
        here = root_of_levels(levels, n) if n else EMPTY_ROOT
        rewritten = here != cp.root_hash
        if not rewritten and n and n < size:
            proof = consistency_proof(tree, n, size)
            rewritten = not verify_consistency(n, size, cp.root_hash, head_root, proof)
        if rewritten:
            add("rewritten", last_good, f"{label}: the log's first {n} events no longer hash to the root the "
                                        f"witness kept: events among #{last_good}-#{n - 1} were rewritten after it "
                                        "was signed")
        mine = by_size.get(n, [])
        if not mine:
            add("dropped-checkpoint", None, f"{label} is missing from the database's checkpoints: it was deleted")
        elif cp not in mine:
            add("re-signed", None, f"{label} is not the database's checkpoint at that size (signed "
                                   f"{mine[0].timestamp}, root {b64(mine[0].root_hash)[:12]}…): the log was re-signed")
        if not rewritten:
            last_good = n
    # The first of each kind names where it starts; later witnessed checkpoints that fail the same way
    # only because of it are counted, not listed (a rewrite early in a long log fails every one after).
    problems: list[Problem] = []
    for kind, items in found.items():
        problems.append(items[0][0])
        if len(items) > 1:
            problems.append(Problem(kind, None, f"and {len(items) - 1} later witnessed checkpoints the same way, "
                                                f"up to the one at size {items[-1][1]}"))
    return problems
