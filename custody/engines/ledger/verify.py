"""Verification of a whole log: recompute every leaf and node, check every signed checkpoint,
and name the first event that does not fit.

What each kind of tampering looks like from here:

- an event's bytes changed, its stored leaf left alone: the recomputed leaf differs from the stored
  leaf at that index ("leaf");
- an event deleted: its position is missing from the sequence ("gap");
- two events swapped: each carries its own `seq`, so the caller's check of seq against position
  fails at the first of the two, and the leaves differ from the stored ones there;
- an event rewritten *together with* its stored leaf and the stored nodes above it: the signed
  checkpoints no longer match, and the first event that does not fit lies after the last
  checkpoint that still does ("checkpoint");
- a checkpoint's signature altered: that checkpoint fails its signature ("signature").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .checkpoint import Checkpoint, key_id
from .merkle import EMPTY_ROOT, build_levels, leaf_hashes, root_of_levels

MAX_PROBLEMS = 100
EXACT_KINDS = frozenset({"gap", "order", "leaf", "node"})


@dataclass(frozen=True)
class Problem:
    kind: str  # gap | order | leaf | node | checkpoint | signature | size
    index: int | None  # the first event concerned, when one can be named
    message: str


@dataclass
class LogReport:
    size: int
    root: bytes
    checkpoints_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        # A problem found event by event is exact; a failed checkpoint only bounds a range.
        exact = [p.index for p in self.problems if p.index is not None and p.kind in EXACT_KINDS]
        if exact:
            return min(exact)
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def sort(self) -> None:
        self.problems.sort(key=lambda p: (p.kind not in EXACT_KINDS, p.index is None, p.index or 0))


def compute_levels(bodies: Sequence[bytes], threads: int = 1) -> list[list[bytes]]:
    """All complete tree nodes over `bodies`, hashed on `threads` threads (native module only)."""
    return build_levels(leaf_hashes(bodies, threads), threads)


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def verify_log(
    bodies: Sequence[bytes],
    *,
    seqs: Sequence[int] | None = None,
    stored_levels: Sequence[Sequence[bytes]] | None = None,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Ed25519PublicKey | None = None,
    threads: int = 1,
) -> LogReport:
    """Check a log given each event's canonical bytes in position order.

    `seqs` are the positions the store claims for each body (a gap means a deleted event);
    `stored_levels` are the tree nodes the store holds (level 0 = stored leaf hashes), compared
    node for node with the recomputed ones; `checkpoints` are checked for signature and root.
    """
    levels = compute_levels(bodies, threads)
    n = len(bodies)
    report = LogReport(size=n, root=root_of_levels(levels, n) if n else EMPTY_ROOT)

    if seqs is not None:
        _check_sequence(seqs, report)

    if stored_levels is not None:
        _check_stored(levels, stored_levels, report)

    _check_checkpoints(levels, n, checkpoints, public_key, report)
    report.sort()
    return report


def _check_sequence(seqs: Sequence[int], report: LogReport) -> None:
    if list(seqs) == list(range(len(seqs))):
        return  # compared in C; the loop below only runs to name the first position that is wrong
    for position, seq in enumerate(seqs):
        if seq != position:
            if seq > position:
                missing = f"#{position}" if seq == position + 1 else f"#{position}-#{seq - 1}"
                report.add(Problem("gap", position, f"event {missing} is missing from the log (deleted?)"))
            else:
                report.add(Problem("order", position, f"event #{seq} appears again at position {position}"))
            return


def _check_stored(levels: list[list[bytes]], stored: Sequence[Sequence[bytes]], report: LogReport) -> None:
    n = len(levels[0])
    stored_leaves = stored[0] if stored else []
    if len(stored_leaves) != n:
        report.add(
            Problem("size", min(n, len(stored_leaves)), f"the tree holds {len(stored_leaves)} leaves for {n} events")
        )
    if len(stored) == len(levels) and all(
        a == (b if isinstance(b, list) else list(b)) for a, b in zip(levels, stored, strict=True)
    ):
        return  # the common case, compared in C; the loops below only run to name what differs
    for i, (mine, theirs) in enumerate(zip(levels[0], stored_leaves, strict=False)):
        if mine != theirs:
            report.add(
                Problem(
                    "leaf", i, f"event #{i} does not match its leaf in the tree: it was changed after it was appended"
                )
            )
            if len(report.problems) >= MAX_PROBLEMS:
                return
    for level in range(1, len(levels)):
        theirs_level = stored[level] if level < len(stored) else []
        mine_level, below, theirs_below = levels[level], levels[level - 1], stored[level - 1]
        for i, mine in enumerate(mine_level):
            if i < len(theirs_level) and theirs_level[i] == mine:
                continue
            if i < len(theirs_level) and (
                below[2 * i : 2 * i + 2] != list(theirs_below[2 * i : 2 * i + 2])
            ):
                continue  # explained by an altered event or node below, already reported
            first = i << level
            what = "is missing" if i >= len(theirs_level) else "differs from the events under it"
            report.add(
                Problem(
                    "node", first, f"tree node ({level}, {i}) over events #{first}-#{min(n, (i + 1) << level) - 1} {what}"
                )
            )
            # One altered node is enough to name; its parents differ only because of it.
            return


def _check_checkpoints(
    levels: list[list[bytes]],
    n: int,
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
    report: LogReport,
) -> None:
    last_good = 0
    for cp in sorted(checkpoints, key=lambda c: c.tree_size):
        report.checkpoints_checked += 1
        label = f"checkpoint at size {cp.tree_size} ({cp.timestamp})"
        if public_key is not None and not cp.verify(public_key):
            why = "was signed by another key" if cp.key_id != key_id(public_key) else "has an invalid signature"
            report.add(Problem("signature", None, f"{label} {why}"))
            continue
        if cp.tree_size > n:
            report.add(Problem("size", n, f"{label} covers {cp.tree_size} events but the log holds {n}: events lost"))
            continue
        if cp.tree_size and root_of_levels(levels, cp.tree_size) != cp.root_hash:
            report.add(
                Problem(
                    "checkpoint",
                    last_good,
                    f"{label}: the events no longer hash to the signed root; "
                    f"the first event that does not fit is among #{last_good}-#{cp.tree_size - 1}",
                )
            )
            continue
        last_good = cp.tree_size

