from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from custody.engines.biometrics.errors import BiometricInputError, TemplateMismatchError
from custody.engines.biometrics.fingerprint import (
    EXTRACTOR,
    FingerprintAdapter,
    build_iso_19794_2,
    decode_wsq,
    load_fingerprint,
    parse_iso_19794_2,
)
from custody.engines.biometrics.templates import Template

from .conftest import FINGERS, needs_data, png

pytestmark = needs_data


def test_same_finger_scores_far_above_different_fingers(real_captures, finger_adapter) -> None:
    a = finger_adapter
    genuine = [
        a.compare(real_captures["p1_1"].template, real_captures["p1_2"].template),
        a.compare(real_captures["p2_1"].template, real_captures["p2_2"].template),
    ]
    impostor = [
        a.compare(real_captures["p1_1"].template, real_captures["p2_1"].template),
        a.compare(real_captures["p1_3"].template, real_captures["p2_3"].template),
    ]
    assert min(genuine) >= 60
    assert max(impostor) < 30


def test_capture_reports_nfiq2_and_keeps_sha256_and_wsq(real_prints, real_captures) -> None:
    c = real_captures["p1_1"]
    assert 1 <= c.nfiq2 <= 100
    assert "UniformImage" in c.nfiq2_feedback
    assert c.recapture is None
    import hashlib

    assert c.sha256 == hashlib.sha256(real_prints["p1_1"]).hexdigest()
    # WSQ archive copy decodes to the same geometry (lossy, so only close in value).
    back = decode_wsq(c.wsq)
    assert back.shape == c.image.pixels.shape
    assert np.abs(back.astype(int) - c.image.pixels.astype(int)).mean() < 12


def test_template_is_conformant_iso_19794_2(real_captures) -> None:
    t = real_captures["p1_1"].template
    assert t.extractor == EXTRACTOR and t.version
    d = t.data
    magic, ver, length, _eq, w, h, xres, yres, views, _r = struct.unpack_from(">4s4sIHHHHHBB", d)
    assert (magic, ver, length, w, h, xres, yres, views) == (b"FMR\x00", b" 20\x00", len(d), 400, 500, 197, 197, 1)
    pos, _view, quality, count = struct.unpack_from(">BBBB", d, 24)
    assert pos == 2 and quality == real_captures["p1_1"].nfiq2 and count == len(real_captures["p1_1"].minutiae)
    assert d[-2:] == b"\x00\x00"  # no extended data block
    width, height, position, minutiae = parse_iso_19794_2(d)
    assert (width, height, position) == (400, 500, 2)
    rebuilt = build_iso_19794_2(width, height, position, quality, minutiae)
    assert rebuilt == d


def test_wsq_original_reads_with_its_declared_500_ppi(finger_adapter) -> None:
    c = finger_adapter.capture((FINGERS / "sourceafis" / "wsq-original.wsq").read_bytes(), position=1)
    assert c.image.source_format == "WSQ" and c.image.declared_ppi == 500
    assert len(c.minutiae) > 20


def test_png_claiming_500_ppi_at_100_ppi_is_refused(real_prints) -> None:
    img = Image.open(io.BytesIO(real_prints["p1_1"])).convert("L")
    # What a 100 ppi scanner would have produced, then labelled 500 ppi.
    small = np.asarray(img.resize((img.width // 5 * 2, img.height // 5 * 2)))
    with pytest.raises(BiometricInputError) as e:
        load_fingerprint(png(small, dpi=500))
    assert e.value.code == "wrong_resolution"
    assert "500 ppi" in str(e.value)
    # Enough pixels but ridges far too close together: upscaled 100 ppi content claimed as 500.
    tiny = np.asarray(img.resize((img.width // 5, img.height // 5)))
    tiled = np.tile(tiny, (3, 3))
    with pytest.raises(BiometricInputError) as e2:
        load_fingerprint(png(tiled, dpi=500))
    assert e2.value.code == "wrong_resolution"
    assert "ridges are" in str(e2.value) and "declares 500 ppi" in str(e2.value)


def test_declared_other_resolution_is_refused(real_prints) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(real_prints["p1_1"])).convert("L"))
    with pytest.raises(BiometricInputError, match="is 300 ppi"):
        load_fingerprint(png(pixels, dpi=300))


def test_corrupt_and_truncated_images_are_refused(real_prints) -> None:
    with pytest.raises(BiometricInputError) as e:
        load_fingerprint(b"\x00\x01garbage" * 10)
    assert e.value.code == "corrupt_image" and "not a readable image" in str(e.value)
    data = real_prints["p1_1"]
    with pytest.raises(BiometricInputError) as e2:
        load_fingerprint(data[: len(data) // 2])
    assert e2.value.code == "corrupt_image" and "truncated" in str(e2.value)
    with pytest.raises(BiometricInputError, match="empty"):
        load_fingerprint(b"")


def test_truncated_image_is_refused_even_when_pillow_is_set_tolerant(real_prints) -> None:
    # weasyprint (the PDF reports) sets this process-wide when imported; captures must not follow it.
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        data = real_prints["p1_1"]
        with pytest.raises(BiometricInputError) as e:
            load_fingerprint(data[: len(data) // 2])
        assert e.value.code == "corrupt_image"
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True, "the caller's setting is restored"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def test_blank_image_has_no_ridges() -> None:
    with pytest.raises(BiometricInputError) as e:
        load_fingerprint(png(np.full((400, 300), 200, np.uint8)))
    assert e.value.code == "no_ridges"


def test_quality_floor_prompts_recapture(real_prints) -> None:
    strict = FingerprintAdapter(min_nfiq2=99)
    c = strict.capture(real_prints["p1_1"], 2)
    assert c.recapture and "below the floor 99" in c.recapture


def test_bad_finger_position_refused(real_prints, finger_adapter) -> None:
    with pytest.raises(BiometricInputError, match="FGP"):
        finger_adapter.capture(real_prints["p1_1"], 11)


def test_templates_from_another_extractor_version_are_not_compared(real_captures, finger_adapter) -> None:
    t = real_captures["p1_1"].template
    other = Template(t.modality, t.extractor, "0.0.1-old", t.format, t.data, t.position, t.quality)
    with pytest.raises(TemplateMismatchError, match="re-extract"):
        finger_adapter.compare(t, other)
