"""The native hashing module against the pure-Python tree it replaces (decision 0031).

The two must agree hash for hash on every shape of tree, every thread count, and on event bytes of
every length around SHA-256's 64-byte block boundaries; bad input must be refused with the
position named, never hashed.
"""

from __future__ import annotations

import random
import threading

import pytest

from custody.engines.ledger import merkle as m

native = pytest.importorskip("custody.engines.ledger._native", reason="built by pip install (setup.py)")


def test_the_installed_package_uses_the_native_module() -> None:
    # CI installs with a compiler; if the build silently fell back to Python, verification would
    # be 2.5x slower and the ledger benchmark's bound would fail without any test saying why.
    assert m.NATIVE


@pytest.mark.parametrize("size", [*range(0, 70), 127, 128, 129, 1000, 1023, 1024, 1025])
def test_native_levels_equal_python_levels_at_every_size(size: int) -> None:
    bodies = [bytes([i % 251]) * (i % 130) for i in range(size)]
    leaves = m.python_leaf_hashes(bodies)
    assert native.leaf_hashes(bodies) == leaves
    assert [leaves, *native.levels_above(leaves)] == m.python_build_levels(leaves)


def test_native_leaves_match_at_every_length_around_block_boundaries() -> None:
    rng = random.Random(1)
    bodies = [rng.randbytes(n) for n in range(0, 300)]
    assert native.leaf_hashes(bodies) == m.python_leaf_hashes(bodies)


@pytest.mark.parametrize("threads", [1, 2, 3, 7, 64, 1000])
def test_thread_count_never_changes_the_result(threads: int) -> None:
    bodies = [f"event {i}".encode() * (1 + i % 5) for i in range(50_003)]
    leaves = m.python_leaf_hashes(bodies)
    assert native.leaf_hashes(bodies, threads) == leaves
    assert native.levels_above(leaves, threads) == m.python_build_levels(leaves)[1:]


def test_reference_tree_heads_through_the_native_path() -> None:
    from tests.engines.ledger.test_merkle import CT_LEAVES, CT_ROOTS

    for size in range(1, len(CT_LEAVES) + 1):
        levels = m.build_levels(m.leaf_hashes(CT_LEAVES[:size]))
        assert m.root_of_levels(levels, size) == CT_ROOTS[size - 1]


def test_bad_input_is_refused_with_its_position() -> None:
    with pytest.raises(TypeError, match="event 2 is str, not bytes"):
        native.leaf_hashes([b"a", b"b", "c"])
    with pytest.raises(ValueError, match="leaf 1 is not a 32-byte hash"):
        native.levels_above([bytes(32), bytes(31), bytes(32)])
    with pytest.raises(TypeError):
        native.leaf_hashes(42)


def test_hashing_releases_the_gil() -> None:
    # While one thread hashes a large log, another Python thread keeps running: the point of
    # releasing the GIL (a server verifying the ledger must not freeze its other requests).
    bodies = [bytes(300)] * 400_000
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    t = threading.Thread(target=tick)
    t.start()
    try:
        before = ticks
        native.leaf_hashes(bodies)
        during = ticks - before
    finally:
        done.set()
        t.join()
    assert during > 1000


def test_generators_and_tuples_are_accepted_like_lists() -> None:
    bodies = [b"a", b"bb", b"ccc"]
    expected = m.python_leaf_hashes(bodies)
    assert m.leaf_hashes(tuple(bodies)) == expected
    assert m.leaf_hashes(b for b in bodies) == expected
