from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from custody.engines.biometrics.errors import BiometricInputError
from custody.engines.biometrics.face import DIM, FaceAdapter, FaceQualityFloor
from custody.engines.biometrics.identify import verify

from .conftest import needs_data

pytestmark = needs_data


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_real_faces_embed_with_quality_and_provenance(faces, face_adapter) -> None:
    c = face_adapter.capture(faces["valid1.3"])
    assert c.quality.faces_found == 1
    assert c.quality.eye_distance_px > 40
    assert abs(c.quality.roll_deg) < 15 and abs(c.quality.yaw) < 0.2
    assert c.quality.sharpness > 0 and 0 <= c.quality.score <= 100
    v = c.embedding
    assert v.shape == (DIM,) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-4
    assert "dlib" in c.template.extractor and "face_recognition_models" in c.template.version


def test_same_photo_reshot_verifies_and_other_people_do_not(faces, face_adapter) -> None:
    ref = face_adapter.capture(faces["valid1.3"]).template
    img = Image.open(io.BytesIO(faces["valid1.3"])).convert("RGB")
    # A second "capture": rescaled, slightly rotated and recompressed.
    again = img.resize((int(img.width * 1.3), int(img.height * 1.3))).rotate(4, fillcolor=(128, 128, 128))
    probe = face_adapter.capture(_jpeg(again)).template
    genuine = verify(probe, [ref])
    assert genuine.passed and genuine.score > 0.9
    others = [face_adapter.capture(faces[n]).template for n in ("valid1.9", "face_jpb_DOM_GMT_DCS")]
    assert all(FaceAdapter.similarity(probe, o) < genuine.score - 0.05 for o in others)


def test_no_face_is_refused(real_prints, face_adapter) -> None:
    with pytest.raises(BiometricInputError) as e:
        face_adapter.capture(_jpeg(Image.open(io.BytesIO(real_prints["p1_1"])).convert("RGB")))
    assert e.value.code == "no_face" and "no face found" in str(e.value)


def test_two_faces_are_refused(faces, face_adapter) -> None:
    a = Image.open(io.BytesIO(faces["valid1.3"])).convert("RGB")
    b = Image.open(io.BytesIO(faces["valid1.9"])).convert("RGB").resize((a.width, a.height))
    both = Image.new("RGB", (a.width * 2, a.height))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    with pytest.raises(BiometricInputError) as e:
        face_adapter.capture(_jpeg(both))
    assert e.value.code == "multiple_faces" and "2 faces" in str(e.value)


def test_corrupt_photo_is_refused(faces, face_adapter) -> None:
    data = faces["valid1.3"]
    with pytest.raises(BiometricInputError) as e:
        face_adapter.capture(data[: len(data) // 3])
    assert e.value.code == "corrupt_image"


def test_blurred_small_face_prompts_recapture(faces) -> None:
    strict = FaceAdapter(FaceQualityFloor(min_eye_distance_px=200))
    c = strict.capture(faces["valid1.3"])
    assert c.recapture and "face too small" in c.recapture
