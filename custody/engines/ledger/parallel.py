"""Tree construction on several cores.

hashlib releases the GIL only for inputs over 2 KiB and an event is a few hundred bytes, so
threads do not help; forked processes do. The log is cut at multiples of a power of two C, so
every complete node at a level up to log2(C) lies inside one chunk and the chunks' levels simply
concatenate. The parent hashes the first chunk itself while the children hash the others, and
they send back each level as one packed byte string (cheap to pickle, cheap to cut up again).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from multiprocessing.connection import Connection

from .merkle import HASH_SIZE, build_levels, leaf_hashes, next_level


def _chunk_levels(bodies: Sequence[bytes], start: int, end: int) -> list[list[bytes]]:
    return build_levels(leaf_hashes(bodies[i] for i in range(start, end)))


def _child(conn: Connection, bodies: Sequence[bytes], start: int, end: int) -> None:
    levels = _chunk_levels(bodies, start, end)
    conn.send_bytes(len(levels).to_bytes(4, "big"))
    for level in levels:
        conn.send_bytes(b"".join(level))
    conn.close()


def _unpack(packed: bytes) -> list[bytes]:
    return [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)]


def parallel_levels(bodies: Sequence[bytes], workers: int) -> list[list[bytes]]:
    n = len(bodies)
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: one process it is
        return build_levels(leaf_hashes(bodies))
    chunk = 1 << max(0, (-(-n // workers) - 1).bit_length())
    bounds = [(s, min(n, s + chunk)) for s in range(0, n, chunk)]
    children = []
    for start, end in bounds[1:]:
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(child_end, bodies, start, end), daemon=True)
        proc.start()
        child_end.close()
        children.append((proc, parent_end))
    parts = [_chunk_levels(bodies, *bounds[0])]
    for proc, conn in children:
        count = int.from_bytes(conn.recv_bytes(), "big")
        parts.append([_unpack(conn.recv_bytes()) for _ in range(count)])
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"tree worker exited with {proc.exitcode}")
    depth = chunk.bit_length()  # levels 0..log2(chunk) are chunk-local
    levels: list[list[bytes]] = []
    for level in range(depth):
        merged: list[bytes] = []
        for part in parts:
            if level < len(part):
                merged.extend(part[level])
        levels.append(merged)
    while len(levels[-1]) > 1:
        levels.append(next_level(levels[-1]))
    return levels
