"""An RFC 9162 (Certificate Transparency v2) Merkle tree over the ledger's events.

Hashes: leaf = SHA-256(0x00 || data), interior = SHA-256(0x01 || left || right), empty tree =
SHA-256(""). The tree of n leaves splits at the largest power of two below n (RFC 9162 2.1.1).

Storage model. Only *complete* subtrees are stored: node (level, index) is the root of the
perfect subtree over leaves [index * 2**level, (index + 1) * 2**level). Such a node never changes
once it exists, so the store is append-only like the log, and an append creates on average two
nodes (the leaf, plus one per trailing 1 bit of its index). Every subtree an RFC 9162 proof needs
is either one stored node or the fold of O(log n) stored nodes along the right edge, so proofs
cost O(log n) look-ups and never rehash the log.

Bulk hashing (leaf_hashes, build_levels) runs in the native module _native when it is built (it
is, by `pip install`): the same hashes over OpenSSL's SHA-256 in C loops, on several threads if
asked. Without it the pure-Python code below gives identical results about 2.5x slower
(decision 0031).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from hashlib import sha256
from itertools import repeat
from typing import Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sha256(b"").digest()

_leaf_base = sha256(LEAF_PREFIX)
_node_base = sha256(NODE_PREFIX)
_Hash = type(_leaf_base)
_digest = _Hash.digest
_CHUNK = 1 << 16

try:
    from . import _native
except ImportError:  # not compiled (no C compiler at install time): the pure-Python path is used
    _native = None

NATIVE = _native is not None


class ProofError(ValueError):
    """A proof was asked for sizes or indexes the tree does not have."""


def leaf_hash(data: bytes) -> bytes:
    h = _leaf_base.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(NODE_PREFIX + left + right).digest()


def leaf_hashes(datas: Iterable[bytes], threads: int = 1) -> list[bytes]:
    """SHA-256(0x00 || data) of each event, in order; `threads` > 1 shares the work (native only)."""
    if _native is not None:
        return _native.leaf_hashes(datas if isinstance(datas, list | tuple) else list(datas), threads)
    return python_leaf_hashes(datas)


def python_leaf_hashes(datas: Iterable[bytes]) -> list[bytes]:
    # Copies of a context already fed the 0x00 prefix, driven by map() over C methods: no Python
    # bytecode per event, no `b"\x00" + data` copy of every event, and no per-call digest lookup
    # (in OpenSSL 3, constructing sha256() fetches the algorithm each time; copying does not).
    # Chunked so that at most _CHUNK hash contexts are alive at once.
    datas = datas if isinstance(datas, list) else list(datas)
    out: list[bytes] = []
    copy, update = _Hash.copy, _Hash.update
    for start in range(0, len(datas), _CHUNK):
        chunk = datas[start : start + _CHUNK]
        contexts = list(map(copy, repeat(_leaf_base, len(chunk))))
        deque(map(update, contexts, chunk), maxlen=0)
        out.extend(map(_digest, contexts))
    return out


def next_level(level: Sequence[bytes]) -> list[bytes]:
    """The complete parents of one level: pairs (0,1), (2,3), ...; an odd last node has no parent yet."""
    # Same technique as leaf_hashes; feeding left and right as two updates avoids building the
    # 65-byte concatenation, which costs as much as hashing it.
    m = len(level) // 2
    out: list[bytes] = []
    copy, update = _Hash.copy, _Hash.update
    for start in range(0, m, _CHUNK):
        end = min(m, start + _CHUNK)
        contexts = list(map(copy, repeat(_node_base, end - start)))
        deque(map(update, contexts, level[2 * start : 2 * end : 2]), maxlen=0)
        deque(map(update, contexts, level[2 * start + 1 : 2 * end : 2]), maxlen=0)
        out.extend(map(_digest, contexts))
    return out


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n >= 2): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def frontier_keys(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees that make up a tree of `size` leaves, left to right."""
    keys = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


class NodeSource(Protocol):
    def node(self, level: int, index: int) -> bytes:
        """The stored hash of complete node (level, index)."""
        ...


class NodeGetter:
    """Adapts a plain function or mapping to NodeSource."""

    def __init__(self, get: Callable[[int, int], bytes]) -> None:
        self._get = get

    def node(self, level: int, index: int) -> bytes:
        return self._get(level, index)


class _Recorder:
    """Collects the node keys an algorithm reads, so a database store can fetch them in one query."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []

    def node(self, level: int, index: int) -> bytes:
        self.keys.append((level, index))
        return bytes(HASH_SIZE)


def _perfect(store: NodeSource, start: int, width: int) -> bytes:
    level = width.bit_length() - 1
    if width != 1 << level or start % width:
        raise ProofError(f"[{start}, {start + width}) is not a complete subtree")
    return store.node(level, start >> level)


def subtree_hash(store: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) from stored complete nodes, folding the right edge when it is incomplete."""
    if end <= start:
        if end == start == 0:
            return EMPTY_ROOT
        raise ProofError(f"empty or reversed range [{start}, {end})")
    parts = []
    width = end - start
    while width & (width - 1):
        k = 1 << (width.bit_length() - 1)
        parts.append(_perfect(store, start, k))
        start += k
        width -= k
    h = _perfect(store, start, width)
    for left in reversed(parts):
        h = node_hash(left, h)
    return h


def root(store: NodeSource, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(store, 0, size)


def inclusion_proof(store: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size]), leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    # PATH recurses towards the leaf and appends on the way out, so the siblings are collected
    # root-side first and reversed at the end.
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            proof.append(subtree_hash(store, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(store, start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(store: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(old_size, D[0:new_size])."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    m, start, end, whole = old_size, 0, new_size, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                proof.append(subtree_hash(store, start, end))
            break
        k = largest_power_of_two_below(n)
        if m <= k:
            proof.append(subtree_hash(store, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(store, start, start + k))
            start += k
            m -= k
            whole = False
    proof.reverse()
    return proof


def nodes_for_inclusion(index: int, size: int) -> list[tuple[int, int]]:
    """The stored node keys inclusion_proof(index, size) reads, for one batched database fetch."""
    rec = _Recorder()
    inclusion_proof(rec, index, size)
    return rec.keys


def nodes_for_consistency(old_size: int, new_size: int) -> list[tuple[int, int]]:
    rec = _Recorder()
    consistency_proof(rec, old_size, new_size)
    return rec.keys


def nodes_for_root(size: int) -> list[tuple[int, int]]:
    return frontier_keys(size)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf hash `leaf` at `index` in the tree of `size` with `root_hash`?"""
    if not 0 <= index < size or len(leaf) != HASH_SIZE or len(root_hash) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree (new_size, new_root) an append-only extension of (old_size, old_root)?"""
    if not 0 <= old_size <= new_size or len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        # Every tree extends the empty one; the proof is empty (RFC 9162 2.1.4.1).
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof implies, or None if the proof has the wrong shape for (index, size)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


class Frontier:
    """The right edge of the tree: the roots of its perfect subtrees, largest first.

    Appending costs O(log n) hashes in the worst case and one on average; the new complete nodes
    an append produces are returned so the caller can store them in the same transaction.
    """

    __slots__ = ("size", "nodes")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if len(nodes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes, not {len(nodes)}")
        self.size = size
        self.nodes = list(nodes)

    @classmethod
    def from_store(cls, store: NodeSource, size: int) -> Frontier:
        return cls(size, [store.node(level, index) for level, index in frontier_keys(size)])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        created = [(0, index, leaf)]
        h, level = leaf, 0
        while index & 1:
            h = node_hash(self.nodes.pop(), h)
            level += 1
            index >>= 1
            created.append((level, index, h))
        self.nodes.append(h)
        self.size += 1
        return created

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        h = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            h = node_hash(left, h)
        return h

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)


class MemoryTree:
    """A whole tree held in memory as lists of complete nodes per level (NodeSource)."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]
        self._frontier = Frontier()

    @classmethod
    def from_leaf_hashes(cls, leaves: Sequence[bytes]) -> MemoryTree:
        tree = cls()
        tree.levels = build_levels(leaves)
        tree._frontier = Frontier.from_store(tree, len(leaves))
        return tree

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def node(self, level: int, index: int) -> bytes:
        try:
            return self.levels[level][index]
        except IndexError:
            raise ProofError(f"node ({level}, {index}) is not complete in a tree of {self.size}") from None

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        created = self._frontier.append(leaf)
        for level, index, h in created:
            if level == len(self.levels):
                self.levels.append([])
            assert index == len(self.levels[level])
            self.levels[level].append(h)
        return created

    def root(self, size: int | None = None) -> bytes:
        return self._frontier.root() if size is None or size == self.size else root(self, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self, index, self.size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(self, old_size, self.size if new_size is None else new_size)


def build_levels(leaves: Sequence[bytes], threads: int = 1) -> list[list[bytes]]:
    """All complete nodes over `leaves`, level 0 first: the bulk form of repeated Frontier.append."""
    if _native is not None:
        return [list(leaves), *_native.levels_above(leaves, threads)]
    return python_build_levels(leaves)


def python_build_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        levels.append(next_level(levels[-1]))
    return levels


def root_of_levels(levels: Sequence[Sequence[bytes]], size: int) -> bytes:
    """The root of the first `size` leaves of a tree whose complete levels are given."""
    return root(NodeGetter(lambda level, index: levels[level][index]), size)


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, straight from the RFC's definition (reference for tests)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = largest_power_of_two_below(n)
    return node_hash(root_of_leaves(leaves[:k]), root_of_leaves(leaves[k:]))
