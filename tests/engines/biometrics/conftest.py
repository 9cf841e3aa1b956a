"""Fixtures for the biometric engine tests: public reference files read in place, small synthetic sets."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import nistitl
import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "biometrics"
if not DATA.exists():
    DATA = Path("/work/shared/data/biometrics")
FINGERS = DATA / "fingerprints"
ANSI_NIST = DATA / "ansi-nist"

needs_data = pytest.mark.skipif(not DATA.exists(), reason="public reference data (shared/data/biometrics) absent")


def face_bytes(name: str) -> bytes:
    """The JPEG of the Type-10 face record in one of the NIST test transactions."""
    msg = nistitl.Message()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msg.parse((ANSI_NIST / f"{name}.an2").read_bytes())
    for rec in msg:
        if rec.type == 10:
            return bytes(rec[999].value)
    raise LookupError(name)


def png(pixels: np.ndarray, dpi: float | None = 500.0) -> bytes:
    buf = io.BytesIO()
    kw = {"dpi": (dpi, dpi)} if dpi else {}
    Image.fromarray(pixels).save(buf, "PNG", **kw)
    return buf.getvalue()


@pytest.fixture(scope="session")
def real_prints() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in (FINGERS / "nbis-rs").glob("*.png")}


@pytest.fixture(scope="session")
def finger_adapter():  # type: ignore[no-untyped-def]
    from custody.engines.biometrics.fingerprint import FingerprintAdapter

    return FingerprintAdapter()


@pytest.fixture(scope="session")
def real_captures(real_prints, finger_adapter):  # type: ignore[no-untyped-def]
    return {k: finger_adapter.capture(v, position=2) for k, v in sorted(real_prints.items())}


@pytest.fixture(scope="session")
def face_adapter():  # type: ignore[no-untyped-def]
    from custody.engines.biometrics.face import FaceAdapter

    return FaceAdapter()


@pytest.fixture(scope="session")
def faces() -> dict[str, bytes]:
    return {n: face_bytes(n) for n in ("valid1.3", "valid1.9", "face_jpb_DOM_GMT_DCS")}


@pytest.fixture(scope="session")
def synthetic_people(finger_adapter):  # type: ignore[no-untyped-def]
    """Three synthetic fingers (one per person), two impressions each, as captures."""
    from custody.engines.biometrics.synthetic import finger_seed, impression, master_print, png_bytes

    out = {}
    for person in range(3):
        m = master_print(finger_seed(person, 2, base=7))
        out[person] = [finger_adapter.capture(png_bytes(impression(m, 1000 * person + k)), 2) for k in range(2)]
    return out
