"""1:N identification with a fused decision, and 1:1 verification.

Decision rule (docs/decisions/0005-biometric-decisions.md):
- per candidate and modality a level: match, review or none, from configurable thresholds;
- MATCH (auto-link) needs fingerprint evidence at match level and no modality below review: a face alone
  never links two records, because a look-alike or a relative must go to a human;
- REVIEW when any modality reaches review level, or when two candidates both reach MATCH;
- NO_MATCH otherwise.
The thresholds used are returned with every result so the caller records them with the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import BiometricInputError
from .face import FaceAdapter, embedding_of
from .fingerprint import FingerprintAdapter
from .gallery import FaceGallery, FingerGallery, FingerScores
from .templates import FACE, FINGER, Template, require_same_kind

NO_MATCH, MATCH, REVIEW = "no_match", "match", "review"


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds. Defaults come from `custody bio calibrate`; see docs/benchmarks/biometrics.md."""

    face_review: float = 0.86
    face_match: float = 0.93
    finger_review: int = 35
    finger_match: int = 60
    # How many fingers must reach finger_match (capped by how many were compared).
    finger_match_count: int = 2
    face_verify: float = 0.90
    finger_verify: int = 40

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Thresholds:
        if not d:
            return cls()
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Candidate:
    subject_id: int
    face_score: float | None = None
    finger_scores: dict[int, int] = field(default_factory=dict)
    face_level: str | None = None
    finger_level: str | None = None
    decision: str = NO_MATCH
    fused: float = 0.0

    @property
    def finger_best(self) -> int | None:
        return max(self.finger_scores.values()) if self.finger_scores else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "face_score": None if self.face_score is None else round(self.face_score, 4),
            "finger_scores": {str(k): v for k, v in sorted(self.finger_scores.items())},
            "face_level": self.face_level,
            "finger_level": self.finger_level,
            "decision": self.decision,
            "fused": round(self.fused, 4),
        }


@dataclass
class IdentificationResult:
    decision: str
    candidates: list[Candidate]
    thresholds: Thresholds
    strategy: str
    comparisons: int

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "candidates": [c.to_dict() for c in self.candidates],
            "thresholds": self.thresholds.to_dict(),
            "strategy": self.strategy,
            "comparisons": self.comparisons,
        }


@dataclass
class VerificationResult:
    modality: str
    score: float
    threshold: float
    passed: bool
    extractor: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _face_level(score: float | None, t: Thresholds) -> str | None:
    if score is None:
        return None
    return MATCH if score >= t.face_match else REVIEW if score >= t.face_review else NO_MATCH


def _finger_level(scores: dict[int, int], t: Thresholds) -> str | None:
    if not scores:
        return None
    needed = min(t.finger_match_count, len(scores))
    if sum(1 for s in scores.values() if s >= t.finger_match) >= needed:
        return MATCH
    return REVIEW if max(scores.values()) >= t.finger_review else NO_MATCH


def decide(candidates: list[Candidate], t: Thresholds) -> str:
    """Set each candidate's levels, decision and fused score; sort them; return the overall decision."""
    for c in candidates:
        c.face_level = _face_level(c.face_score, t)
        c.finger_level = _finger_level(c.finger_scores, t)
        levels = [lv for lv in (c.face_level, c.finger_level) if lv is not None]
        if c.finger_level == MATCH and all(lv in (MATCH, REVIEW) for lv in levels):
            c.decision = MATCH
        elif any(lv in (MATCH, REVIEW) for lv in levels):
            c.decision = REVIEW
        else:
            c.decision = NO_MATCH
        fused = 0.0
        if c.face_score is not None:
            fused += (c.face_score - t.face_review) / max(t.face_match - t.face_review, 1e-6)
        if c.finger_scores:
            top = sorted(c.finger_scores.values(), reverse=True)[:2]
            fused += (float(np.mean(top)) - t.finger_review) / max(t.finger_match - t.finger_review, 1)
        c.fused = fused
    candidates.sort(key=lambda c: ({MATCH: 0, REVIEW: 1, NO_MATCH: 2}[c.decision], -c.fused))
    matches = [c for c in candidates if c.decision == MATCH]
    if len(matches) == 1:
        return MATCH
    if matches or any(c.decision == REVIEW for c in candidates):
        # Two people both matching is itself a finding for a human: duplicate enrolment or a mix-up.
        return REVIEW
    return NO_MATCH


class Identifier:
    """Face gallery + finger gallery + thresholds: enrol subjects and answer 1:N queries."""

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        face_gallery: FaceGallery | None = None,
        finger_gallery: FingerGallery | None = None,
        face_k: int = 10,
        finger_shortlist: int = 30,
        cascade_finger_shortlist: int = 5,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.faces = face_gallery or FaceGallery()
        self.fingers = finger_gallery or FingerGallery()
        self.face_k = face_k
        self.finger_shortlist = finger_shortlist
        self.cascade_finger_shortlist = cascade_finger_shortlist

    def enrol(self, subject_id: int, face: Template | None, fingers: Sequence[Template]) -> None:
        if face is not None:
            self.faces.add_templates(subject_id, [face])
        if fingers:
            self.fingers.add_templates(subject_id, fingers)

    def enrol_face_vectors(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Bulk path for large synthetic galleries (benchmarks)."""
        self.faces.add(ids, vectors)

    def _face_score(self, subject_id: int, q: np.ndarray) -> float | None:
        return self.faces.subject_score(subject_id, q)

    def identify(
        self, face: Template | None, fingers: Sequence[Template], exclude: Iterable[int] = ()
    ) -> IdentificationResult:
        if face is None and not fingers:
            raise BiometricInputError("nothing to search with: no usable face and no fingerprint", "no_sample")
        excluded = set(exclude)
        cands: dict[int, Candidate] = {}
        strategy = "finger-only"
        q = None
        if face is not None and len(self.faces):
            strategy = "face-first cascade" if fingers else "face-only"
            q = embedding_of(face)
            for sid, s in self.faces.search(q[None, :], self.face_k + len(excluded))[0]:
                if sid not in excluded:
                    cands[sid] = Candidate(sid, face_score=s)
        if fingers and len(self.fingers):
            # The histogram shortlist also runs in the cascade (smaller) so that someone enrolled with a
            # poor or different photo is still found by his fingers.
            n = self.cascade_finger_shortlist if q is not None else self.finger_shortlist
            for sid, _s in self.fingers.shortlist(fingers, n=n + len(excluded)):
                if sid not in excluded and sid not in cands:
                    cands[sid] = Candidate(sid, face_score=self._face_score(sid, q) if q is not None else None)
            scored: list[FingerScores] = self.fingers.compare_subjects(fingers, list(cands))
            comparisons = sum(len(fs.per_finger) for fs in scored)
            for fs in scored:
                cands[fs.subject_id].finger_scores = fs.per_finger
        else:
            comparisons = 0
        result = list(cands.values())
        decision = decide(result, self.thresholds)
        return IdentificationResult(decision, result, self.thresholds, strategy, comparisons)


def verify(probe: Template, references: Sequence[Template], thresholds: Thresholds | None = None) -> VerificationResult:
    """1:1: the probe against one person's enrolled templates of the same modality (best score counts)."""
    t = thresholds or Thresholds()
    same = [r for r in references if r.modality == probe.modality]
    if probe.modality == FINGER and probe.position:
        positioned = [r for r in same if r.position == probe.position]
        same = positioned or same
    if not same:
        raise BiometricInputError(
            f"the person has no enrolled {probe.modality} template to verify against", "no_reference"
        )
    for r in same:
        require_same_kind(probe, r)
    if probe.modality == FACE:
        score = max(FaceAdapter.similarity(probe, r) for r in same)
        threshold: float = t.face_verify
    else:
        adapter = FingerprintAdapter(compute_quality=False)
        score = float(max(adapter.compare(probe, r) for r in same))
        threshold = float(t.finger_verify)
    return VerificationResult(probe.modality, float(score), threshold, bool(score >= threshold), probe.extractor, probe.version)
