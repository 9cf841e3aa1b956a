"""Record linkage: blocking, Fellegi–Sunter model, clustering, explanation, evaluation (no Django)."""

from custody.engines.linkage.policy import (
    BiometricResult,
    Candidate,
    CustodyInterval,
    Decision,
    Identifier,
    MergePolicy,
    Outcome,
    PolicyRecord,
    PolicyRun,
    Reason,
    decided_same,
    queue_order,
    resolve,
    shared_identifier_pairs,
)

__all__ = [
    "BiometricResult",
    "Candidate",
    "CustodyInterval",
    "Decision",
    "Identifier",
    "MergePolicy",
    "Outcome",
    "PolicyRecord",
    "PolicyRun",
    "Reason",
    "decided_same",
    "queue_order",
    "resolve",
    "shared_identifier_pairs",
]
