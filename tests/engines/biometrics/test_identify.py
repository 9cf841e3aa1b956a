from __future__ import annotations

import numpy as np
import pytest

from custody.engines.biometrics.errors import BiometricInputError, TemplateMismatchError
from custody.engines.biometrics.gallery import FaceGallery, FingerGallery, pair_histogram
from custody.engines.biometrics.identify import MATCH, NO_MATCH, REVIEW, Identifier, Thresholds, verify
from custody.engines.biometrics.synthetic import (
    face_identities,
    face_samples,
    face_template,
    synthetic_minutiae_template,
)
from custody.engines.biometrics.templates import Template


def test_exact_and_approximate_face_search_agree_and_find_the_mate() -> None:
    centres = face_identities(3000, seed=1)
    enrolled = face_samples(centres, seed=2)
    probes = face_samples(centres[:200], seed=3)
    exact = FaceGallery(mode="exact")
    approx = FaceGallery(mode="approximate", nprobe=16)
    for g in (exact, approx):
        g.add(np.arange(3000, dtype=np.int64), enrolled)
    e = exact.search(probes, k=5)
    a = approx.search(probes, k=5)
    top_exact = [r[0][0] for r in e]
    assert top_exact == list(range(200))
    agreement = np.mean([x[0][0] == y[0][0] for x, y in zip(e, a, strict=True)])
    assert agreement >= 0.99
    # Scores after re-ranking are the exact inner products, not quantised approximations.
    assert a[0][0][1] == pytest.approx(float(enrolled[0] @ probes[0]), abs=1e-5)


def test_flat_gallery_switches_to_approximate_above_the_limit() -> None:
    g = FaceGallery(exact_limit=500)
    v = face_samples(face_identities(600, seed=4), seed=5)
    g.add(np.arange(400, dtype=np.int64), v[:400])
    assert not g.approximate
    g.add(np.arange(400, 600, dtype=np.int64), v[400:])
    assert g.approximate
    assert g.search(v[550:551], k=1)[0][0][0] == 550


def test_gallery_refuses_templates_from_another_extractor() -> None:
    g = FaceGallery()
    t = face_template(face_samples(face_identities(1), seed=0)[0])
    g.add_templates(1, [t])
    other = Template(t.modality, t.extractor, "other-version", t.format, t.data)
    with pytest.raises(TemplateMismatchError):
        g.add_templates(2, [other])


def test_pair_histogram_is_rotation_invariant(synthetic_people) -> None:
    from custody.engines.biometrics.fingerprint import Minutia, parse_iso_19794_2

    m = parse_iso_19794_2(synthetic_people[0][0].template.data)[3]
    ang = np.radians(30)
    rot = [
        Minutia(int(round(200 + np.cos(ang) * (p.x - 200) + np.sin(ang) * (p.y - 200))),
                int(round(200 - np.sin(ang) * (p.x - 200) + np.cos(ang) * (p.y - 200))),
                (p.angle + 30) % 360, p.kind, p.quality)
        for p in m
    ]
    same = float(pair_histogram(m) @ pair_histogram(rot))
    other = float(pair_histogram(m) @ pair_histogram(parse_iso_19794_2(synthetic_people[1][0].template.data)[3]))
    assert same > 0.9 and same > other


@pytest.fixture(scope="module")
def identifier(synthetic_people) -> Identifier:
    ident = Identifier(Thresholds(finger_match_count=1), finger_gallery=FingerGallery(workers=2))
    centres = face_identities(400, seed=11)
    faces = face_samples(centres, seed=12)
    for sid in range(400):
        fingers = [synthetic_people[sid][0].template] if sid in synthetic_people else [
            synthetic_minutiae_template(50_000 + sid, 2)
        ]
        ident.enrol(sid, face_template(faces[sid]), fingers)
    ident.centres = centres  # type: ignore[attr-defined]
    return ident


def test_face_and_finger_of_an_enrolled_person_match(identifier, synthetic_people) -> None:
    face = face_template(face_samples(identifier.centres[1:2], seed=99)[0])
    res = identifier.identify(face, [synthetic_people[1][1].template])
    assert res.decision == MATCH and res.best.subject_id == 1
    assert res.best.face_level == MATCH and res.best.finger_level == MATCH
    assert res.strategy == "face-first cascade"
    assert res.thresholds.to_dict()["finger_match"] == res.thresholds.finger_match


def test_fingerprint_only_search_finds_the_person(identifier, synthetic_people) -> None:
    res = identifier.identify(None, [synthetic_people[2][1].template])
    assert res.strategy == "finger-only"
    assert res.decision == MATCH and res.best.subject_id == 2


def test_face_alone_never_auto_links(identifier) -> None:
    face = face_template(face_samples(identifier.centres[5:6], seed=98)[0])
    res = identifier.identify(face, [])
    assert res.best.subject_id == 5 and res.best.face_level == MATCH
    assert res.decision == REVIEW


def test_new_person_is_no_match(identifier) -> None:
    newcomer = face_template(face_samples(face_identities(1, seed=777), seed=1)[0])
    res = identifier.identify(newcomer, [synthetic_minutiae_template(999_999, 2)])
    assert res.decision in (NO_MATCH, REVIEW)
    assert all(c.decision != MATCH for c in res.candidates)


def test_identify_needs_a_sample(identifier) -> None:
    with pytest.raises(BiometricInputError, match="nothing to search"):
        identifier.identify(None, [])


def test_verification_records_score_threshold_and_result(synthetic_people) -> None:
    a, b = synthetic_people[0]
    ok = verify(b.template, [a.template])
    assert ok.passed and ok.score >= ok.threshold and ok.modality == "finger"
    bad = verify(synthetic_people[1][1].template, [a.template])
    assert not bad.passed and bad.threshold == Thresholds().finger_verify
    with pytest.raises(BiometricInputError, match="no enrolled face"):
        verify(face_template(np.ones(128, np.float32) / np.sqrt(128)), [a.template])
