"""Blocking: which record pairs are worth comparing at all.

Keys come from the name engine's cross-script skeletons, so an Arabic-script record and its Latin
transliteration share keys. Single-token keys are used only while their block stays small; every
name also emits keys for pairs of its tokens, which stay selective even when both tokens are
common (Mohammed + Ahmed). Blocks above ``max_block`` are skipped, so the number of candidate
pairs is bounded by ``records x keys-per-record x max_block``: linear in the number of records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import combinations

from custody.engines.linkage.records import Record

__all__ = ["block_keys", "candidate_pairs"]


def block_keys(rec: Record) -> set[str]:
    keys: set[str] = set()
    for name in rec.names[:4]:
        toks = [t for t in name.tokens if len(t.key) >= 2]
        keys.update("t:" + t.key for t in toks)
        lead = toks[:5]
        for a, b in combinations(sorted({t.key for t in lead}), 2):
            keys.add(f"p:{a}|{b}")
        if name.kunya is not None:
            keys.add("k:" + name.kunya.key)
        # a long single token split differently elsewhere (Shahidkhel / شهيد خيل): its first
        # consonants still meet the first part
        for t in toks:
            if len(t.key) >= 5:
                keys.add("s:" + t.key[:3])
    return keys


def candidate_pairs(
    records: Sequence[Record],
    *,
    max_block: int = 120,
    link_sources: bool = False,
) -> Iterator[tuple[int, int]]:
    """Distinct index pairs (i < j) sharing at least one block. With ``link_sources`` only pairs
    of records from different sources are produced (linking lists rather than de-duplicating)."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        for k in block_keys(rec):
            blocks[k].append(i)
    seen: set[tuple[int, int]] = set()
    for key in sorted(blocks):
        members = blocks[key]
        if len(members) < 2:
            continue
        if len(members) > max_block:
            if link_sources:
                by_src: dict[str, list[int]] = defaultdict(list)
                for i in members:
                    by_src[records[i].source].append(i)
                sizes = sorted(len(v) for v in by_src.values())
                # across two lists the cost is the product; allow it when one side is small
                if len(sizes) < 2 or sizes[0] * sizes[-1] > max_block * max_block // 2:
                    continue
            else:
                continue
        for a, b in combinations(members, 2):
            if link_sources and records[a].source == records[b].source:
                continue
            pair = (a, b) if a < b else (b, a)
            if pair not in seen:
                seen.add(pair)
                yield pair
