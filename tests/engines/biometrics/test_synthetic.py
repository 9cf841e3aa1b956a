from __future__ import annotations

import numpy as np

from custody.engines.biometrics.fingerprint import FingerprintAdapter, load_fingerprint
from custody.engines.biometrics.synthetic import (
    face_identities,
    face_samples,
    impression,
    master_print,
    png_bytes,
    synthetic_minutiae_template,
)


def test_generator_is_deterministic_per_seed() -> None:
    a = impression(master_print(3), 9)
    b = impression(master_print(3), 9)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, impression(master_print(4), 9))


def test_synthetic_prints_pass_the_500_ppi_checks_and_classes_differ() -> None:
    for cls in ("arch", "whorl", "left_loop"):
        m = master_print(21, cls=cls)
        img = load_fingerprint(png_bytes(impression(m, 1)))
        assert 7 <= img.ridge_period_px <= 12


def test_impressions_of_one_master_match_and_of_two_do_not(synthetic_people) -> None:
    ad = FingerprintAdapter(compute_quality=False)
    same = ad.compare(synthetic_people[0][0].template, synthetic_people[0][1].template)
    diff = ad.compare(synthetic_people[0][0].template, synthetic_people[1][1].template)
    assert same >= 60 > 30 > diff
    assert synthetic_people[0][0].nfiq2 > 20


def test_filler_templates_load_in_the_matcher() -> None:
    ad = FingerprintAdapter(compute_quality=False)
    t = synthetic_minutiae_template(1, 3)
    assert t.position == 3 and ad.compare(t, t) > 60
    assert ad.compare(t, synthetic_minutiae_template(2, 3)) < 40


def test_face_embeddings_have_identity_structure() -> None:
    c = face_identities(300, seed=0)
    s1, s2 = face_samples(c, seed=1), face_samples(c, seed=2)
    genuine = np.sum(s1 * s2, axis=1)
    impostor = (s1 @ s2.T)[~np.eye(300, dtype=bool)]
    assert genuine.mean() > 0.9 and 0.4 < impostor.mean() < 0.8
    assert genuine.min() > impostor.max()
