"""Proofs and bundles: inclusion and consistency proofs over the stored tree, and the self-contained
bundles (a handover's, or any events') that a partner verifies offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from custody.core.errors import RuleError
from custody.engines.ledger import (
    build_bundle,
    inclusion_proof,
    leaf_hash,
    nodes_for_inclusion,
)
from custody.engines.ledger.merkle import consistency_proof, nodes_for_consistency, root

from ..models import (
    LedgerEvent,
    SignedCheckpoint,
    TreeNode,
)
from ..signing import (
    checkpoint_of,
    sign_now,
    signing_key,
)


class DbNodes:
    """NodeSource over TreeNode, fetching exactly the nodes a proof needs in one query per level."""

    def __init__(self, keys: Iterable[tuple[int, int]]) -> None:
        by_level: dict[int, set[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, set()).add(index)
        self.nodes: dict[tuple[int, int], bytes] = {}
        for level, indexes in by_level.items():
            for index, h in TreeNode.objects.filter(level=level, index__in=indexes).values_list("index", "hash"):
                self.nodes[(level, index)] = bytes(h)

    def node(self, level: int, index: int) -> bytes:
        try:
            return self.nodes[(level, index)]
        except KeyError:
            raise LookupError(f"tree node ({level}, {index}) is missing from the database") from None


def latest_checkpoint() -> SignedCheckpoint | None:
    return SignedCheckpoint.objects.order_by("-tree_size", "-id").first()


def inclusion_for(seq: int, tree_size: int) -> list[bytes]:
    return inclusion_proof(DbNodes(nodes_for_inclusion(seq, tree_size)), seq, tree_size)


def consistency_for(old_size: int, new_size: int) -> list[bytes]:
    return consistency_proof(DbNodes(nodes_for_consistency(old_size, new_size)), old_size, new_size)


def root_at(size: int) -> bytes:
    from custody.engines.ledger import frontier_keys

    return root(DbNodes(frontier_keys(size)), size)


def export_bundle(seqs: Sequence[int], subject: dict[str, Any]) -> bytes:
    """A handover bundle for events `seqs`, proven against a checkpoint that covers them all."""
    events = list(LedgerEvent.objects.filter(seq__in=seqs).order_by("seq").values_list("seq", "body"))
    if len(events) != len(set(seqs)):
        missing = sorted(set(seqs) - {s for s, _ in events})
        raise RuleError(_("Events %(seqs)s are not in the ledger.") % {"seqs": missing}, rule="bundle")
    cp_row = latest_checkpoint()
    if cp_row is None or cp_row.tree_size <= max(seqs):
        cp_row = sign_now()
    assert cp_row is not None
    cp = checkpoint_of(cp_row)
    keys = [k for s, _ in events for k in nodes_for_inclusion(s, cp.tree_size)]
    return build_bundle(events=[(s, json.loads(b)) for s, b in events], tree=DbNodes(keys), checkpoint=cp,
                        private_key=signing_key(), subject=subject)


def handover_bundle(reference: str, user: Any = None) -> bytes:
    """The signed bundle of a handover's completed events. For a `user`, only the people that user may
    see: a bundle must not carry a person the page would not show (the CLI, run on the server, passes none)."""
    from custody.core.access import restrict

    from ..models import Handover, HandoverItem

    h = Handover.objects.select_related("facility", "from_custodian", "to_custodian").get(reference=reference)
    items_qs = HandoverItem.objects.filter(handover=h)
    if user is not None:
        items_qs = restrict(items_qs, user)
    items = list(items_qs.select_related("person", "event"))
    seqs = [i.event.seq for i in items if i.event_id]
    if not seqs:
        raise RuleError(_("Handover %(ref)s has no completed confirmations yet.") % {"ref": reference}, rule="bundle")
    subject = {"kind": "handover", "reference": h.reference, "facility": h.facility.code, "from": h.from_custodian.code,
               "to": h.to_custodian.code, "manifest": h.manifest,
               "people": sorted(i.person.ref for i in items if i.event_id)}
    return export_bundle(seqs, subject)


def leaf_hash_of(body: str) -> bytes:
    return leaf_hash(body.encode("utf-8"))
