"""The Merkle tree against the Certificate Transparency reference vectors, and every proof shape."""

from __future__ import annotations

from hashlib import sha256

import pytest

from custody.engines.ledger import merkle as m

# RFC 6962 reference data (the CT / transparency-dev test leaves and tree heads for sizes 1..8).
CT_LEAVES = [bytes.fromhex(h) for h in [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
]]
CT_ROOTS = [bytes.fromhex(h) for h in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
CT_CONSISTENCY = [
    (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def ct_tree() -> m.MemoryTree:
    tree = m.MemoryTree()
    for data in CT_LEAVES:
        tree.append(m.leaf_hash(data))
    return tree


def test_hash_prefixes_are_rfc_9162s() -> None:
    assert m.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert m.leaf_hash(b"x") == sha256(b"\x00x").digest()
    a, b = m.leaf_hash(b"a"), m.leaf_hash(b"b")
    assert m.node_hash(a, b) == sha256(b"\x01" + a + b).digest()
    assert m.leaf_hashes([b"x", b""]) == [m.leaf_hash(b"x"), m.leaf_hash(b"")]


def test_roots_match_the_reference_tree_heads_at_every_size() -> None:
    tree = m.MemoryTree()
    assert tree.root() == m.EMPTY_ROOT
    for size, data in enumerate(CT_LEAVES, start=1):
        tree.append(m.leaf_hash(data))
        assert tree.root() == CT_ROOTS[size - 1], size
    # The stored nodes give the same historical roots as the incremental frontier did.
    for size in range(1, 9):
        assert tree.root(size) == CT_ROOTS[size - 1]
        assert m.root_of_leaves([m.leaf_hash(d) for d in CT_LEAVES[:size]]) == CT_ROOTS[size - 1]


@pytest.mark.parametrize("index,size,expected", CT_INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, expected: list[str]) -> None:
    tree = ct_tree()
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == expected
    assert m.verify_inclusion(m.leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size - 1])


@pytest.mark.parametrize("old,new,expected", CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, expected: list[str]) -> None:
    tree = ct_tree()
    proof = tree.consistency_proof(old, new)
    assert [p.hex() for p in proof] == expected
    assert m.verify_consistency(old, new, CT_ROOTS[old - 1], CT_ROOTS[new - 1], proof)


N = 70  # covers every shape up to and across 64


@pytest.fixture(scope="module")
def leaves() -> list[bytes]:
    return [m.leaf_hash(f"event {i}".encode()) for i in range(N)]


@pytest.fixture(scope="module")
def tree(leaves: list[bytes]) -> m.MemoryTree:
    tree = m.MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


def test_incremental_appends_store_exactly_the_bulk_built_nodes(leaves: list[bytes], tree: m.MemoryTree) -> None:
    assert tree.levels == m.build_levels(leaves)
    # ...and an append creates about two nodes on average, never a recomputation.
    fresh = m.MemoryTree()
    created = sum(len(fresh.append(leaf)) for leaf in leaves)
    assert created == sum(len(level) for level in tree.levels)
    assert created < 2 * N


def test_frontier_resumes_from_stored_nodes(leaves: list[bytes], tree: m.MemoryTree) -> None:
    for size in range(N):
        frontier = m.Frontier.from_store(tree, size)
        assert frontier.root() == m.root_of_leaves(leaves[:size])
        for leaf in leaves[size:]:
            frontier.append(leaf)
        assert frontier.root() == tree.root()


def test_every_inclusion_proof_verifies_and_its_mutations_do_not(leaves: list[bytes], tree: m.MemoryTree) -> None:
    for size in range(1, N + 1):
        root = m.root_of_leaves(leaves[:size])
        assert tree.root(size) == root
        for i in range(size):
            proof = tree.inclusion_proof(i, size)
            assert m.verify_inclusion(leaves[i], i, size, proof, root)
            assert m.root_from_inclusion(leaves[i], i, size, proof) == root
            assert not m.verify_inclusion(leaves[(i + 1) % N], i, size, proof, root)
            if size > 1:
                assert not m.verify_inclusion(leaves[i], (i + 1) % size, size, proof, root)
                assert not m.verify_inclusion(leaves[i], i, size, proof[:-1], root)
                assert not m.verify_inclusion(leaves[i], i, size, [*proof, bytes(32)], root)
                flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not m.verify_inclusion(leaves[i], i, size, flipped, root)


def test_every_consistency_proof_verifies_and_its_mutations_do_not(leaves: list[bytes], tree: m.MemoryTree) -> None:
    roots = [m.root_of_leaves(leaves[:s]) for s in range(N + 1)]
    for new in range(N + 1):
        for old in range(new + 1):
            proof = tree.consistency_proof(old, new)
            assert m.verify_consistency(old, new, roots[old], roots[new], proof), (old, new)
            if 0 < old < new:
                assert proof
                assert not m.verify_consistency(old, new, roots[old], roots[new], proof[:-1])
                assert not m.verify_consistency(old, new, roots[old], roots[new], [*proof, bytes(32)])
                flipped = [*proof[:-1], bytes([proof[-1][0] ^ 0x80]) + proof[-1][1:]]
                assert not m.verify_consistency(old, new, roots[old], roots[new], flipped)
                # A rewritten history (a different old root) cannot be proven consistent.
                assert not m.verify_consistency(old, new, roots[old - 1], roots[new], proof)


def test_degenerate_consistency_cases() -> None:
    r = CT_ROOTS
    assert m.verify_consistency(4, 4, r[3], r[3], [])
    assert not m.verify_consistency(4, 4, r[3], r[4], [])
    assert not m.verify_consistency(4, 4, r[3], r[3], [bytes(32)])
    assert m.verify_consistency(0, 8, m.EMPTY_ROOT, r[7], [])
    assert not m.verify_consistency(0, 8, r[0], r[7], [])
    assert not m.verify_consistency(6, 8, r[5], r[7], [])
    assert not m.verify_consistency(8, 6, r[7], r[5], [])


def test_bad_requests_are_refused(tree: m.MemoryTree) -> None:
    with pytest.raises(m.ProofError):
        tree.inclusion_proof(N, N)
    with pytest.raises(m.ProofError):
        tree.consistency_proof(5, 3)
    with pytest.raises(m.ProofError):
        tree.inclusion_proof(0, N + 1)  # nodes beyond the tree do not exist
    assert not m.verify_inclusion(bytes(31), 0, 1, [], bytes(32))
    assert not m.verify_inclusion(bytes(32), 1, 1, [], bytes(32))


def test_batched_fetch_plans_name_the_nodes_a_proof_reads(tree: m.MemoryTree) -> None:
    index, size = 37, 61
    keys = m.nodes_for_inclusion(index, size)
    fetched = {k: tree.node(*k) for k in keys}
    proof = m.inclusion_proof(m.NodeGetter(lambda level, i: fetched[(level, i)]), index, size)
    assert proof == tree.inclusion_proof(index, size)
    # O(log n) reads: at most log2(n) siblings, each folding at most log2(n) stored nodes.
    assert len(keys) <= size.bit_length() ** 2
    ckeys = m.nodes_for_consistency(23, 61)
    cfetched = {k: tree.node(*k) for k in ckeys}
    assert m.consistency_proof(m.NodeGetter(lambda level, i: cfetched[(level, i)]), 23, 61) == (
        tree.consistency_proof(23, 61)
    )


def test_frontier_keys_cover_the_tree_exactly() -> None:
    for size in range(1, 200):
        keys = m.frontier_keys(size)
        covered = sum(1 << level for level, _ in keys)
        assert covered == size
        assert len(keys) == size.bit_count()
