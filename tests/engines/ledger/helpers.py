"""A small in-memory log built through the engine's public surface, for the verification tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.engines.ledger import (
    Checkpoint,
    MemoryTree,
    canonical_json,
    event_document,
    generate_key,
    leaf_hash,
    sign_checkpoint,
)

ORIGIN = "custody.test/ledger"
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
KINDS = ["intake", "moved", "manifested", "departed", "arrived", "handed_over"]


def event(seq: int) -> dict:
    return event_document(
        seq=seq, kind=KINDS[seq % len(KINDS)], person=f"P-{seq // 6:06d}",
        occurred_at=T0 + timedelta(minutes=seq), recorded_at=T0 + timedelta(minutes=seq, seconds=3),
        facility="HSK" if seq % 2 else "BIAP", custodian="SDF", recorded_by="sdf.clerk",
        idempotency_id=f"req-{seq}", reason="", data={"manifest": f"M-{seq // 12}"},
    )


@dataclass
class Log:
    key: Ed25519PrivateKey
    bodies: list[bytes] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=MemoryTree)
    checkpoints: list[Checkpoint] = field(default_factory=list)

    def append(self, seq: int) -> None:
        body = canonical_json(event(seq))
        self.bodies.append(body)
        self.tree.append(leaf_hash(body))

    def checkpoint(self) -> Checkpoint:
        cp = sign_checkpoint(self.key, ORIGIN, self.tree.size, self.tree.root(), T0 + timedelta(hours=len(self.checkpoints)))
        self.checkpoints.append(cp)
        return cp


def make_log(n: int, every: int = 10) -> Log:
    log = Log(generate_key())
    for seq in range(n):
        log.append(seq)
        if (seq + 1) % every == 0:
            log.checkpoint()
    return log
