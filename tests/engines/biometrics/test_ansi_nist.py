from __future__ import annotations

import re

import nistitl
import pytest

from custody.engines.biometrics.ansi_nist import (
    ExportFace,
    ExportFinger,
    export_transaction,
    import_transaction,
)
from custody.engines.biometrics.errors import BiometricInputError
from custody.engines.biometrics.fingerprint import encode_wsq
from custody.engines.biometrics.synthetic import impression, master_print

from .conftest import ANSI_NIST, needs_data

pytestmark = needs_data

# Every public test transaction, with what Custody does with it. Faces: Type-10 IMT FACE; fingers: Type-4/14.
EXPECTED = {
    "face_jpb_DOM_GMT_DCS": ("import", 1, 0),
    "valid1.1": ("import", 0, 1),
    "valid1.2": ("import", 0, 1),
    "valid1.3": ("import", 1, 0),
    "valid1.14": ("import", 0, 1),
    "sign_raw": ("nothing_to_import", "Type-8 (signature) IDC 0"),
    "sign_vec": ("nothing_to_import", "Type-8 (signature) IDC 0"),
    "type_3_wvu": ("nothing_to_import", "14 Type-3 (low-resolution grayscale fingerprint) records, IDC 1-14"),
    "type_5_wvu": ("nothing_to_import", "14 Type-5 (low-resolution binary fingerprint) records"),
    "type_6_wvu": ("nothing_to_import", "14 Type-6 (high-resolution binary fingerprint) records"),
    "valid1.10": ("nothing_to_import", "Type-17 (iris image) IDC 1"),
    "valid1.13": ("nothing_to_import", "Type-99 (CBEFF biometric data) IDC 1"),
    "valid1.15": ("nothing_to_import", "Type-9 (minutiae) IDC 1"),
    "valid1.4": ("nothing_to_import", "Type-13 (latent friction ridge image) IDC 1"),
    "valid1.5": ("duplicate_field", "field 13.999 (image data) must be the last field and appear once"),
    "valid1.6": ("duplicate_field", "field 13.999 (image data) must be the last field and appear once"),
    "valid1.7": ("duplicate_field", "record 3 (declared in 1.003 CNT as Type-14"),
    "valid1.11": ("duplicate_field", "record 4 (declared in 1.003 CNT as Type-10 (face/SMT photo), IDC 2)"),
    "valid1.16": ("duplicate_field", "followed by field 10.999"),
    "valid1.8": ("size_mismatch", "declares 1800x1000 px (HLL x VLL) but the WSQ image is 1600x976 px"),
    "valid1.9": ("wrong_resolution", "record 7 (Type-14 (fingerprint image), IDC 10): fingerprint resolution is 96 ppi"),
}


def test_expectations_cover_all_21_files() -> None:
    assert sorted(p.stem for p in ANSI_NIST.glob("*.an2")) == sorted(EXPECTED)
    assert len(EXPECTED) == 21


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_public_file_imports_or_is_rejected_precisely(name: str) -> None:
    data = (ANSI_NIST / f"{name}.an2").read_bytes()
    expected = EXPECTED[name]
    if expected[0] == "import":
        tx = import_transaction(data)
        assert (len(tx.faces), len(tx.fingerprints)) == expected[1:]
        for img in tx.faces + tx.fingerprints:
            assert img.data and img.width > 0 and len(img.sha256) == 64
    else:
        with pytest.raises(BiometricInputError) as e:
            import_transaction(data)
        assert e.value.code == expected[0]
        assert expected[1] in str(e.value)


def test_type4_fingerprint_and_type2_name_are_read() -> None:
    tx = import_transaction((ANSI_NIST / "valid1.1.an2").read_bytes())
    f = tx.fingerprints[0]
    assert (f.record_type, f.position, f.compression, f.width, f.height) == (4, 10, "WSQ20", 512, 512)
    assert tx.name == "JOHN,CLINTON" and tx.tot == "CAR"


@pytest.fixture(scope="module")
def exported() -> tuple[bytes, bytes, bytes]:
    face = import_transaction((ANSI_NIST / "valid1.3.an2").read_bytes()).faces[0].data
    wsq = encode_wsq(impression(master_print(5), 1))
    out = export_transaction(
        tot="CAR", originating_agency="IQBGW0001", destination_agency="USFBI0001", control_number="TCN-1",
        biographic={18: "AL-TIKRITI,AHMAD", 22: "19900101"},
        faces=[ExportFace(face)], fingers=[ExportFinger(wsq, 2), ExportFinger(wsq, 7)],
    )
    return out, face, wsq


def test_export_reimports_to_the_same_images_byte_for_byte(exported) -> None:
    out, face, wsq = exported
    tx = import_transaction(out)
    assert [f.data for f in tx.faces] == [face]
    assert [(f.data, f.position, f.record_type) for f in tx.fingerprints] == [(wsq, 2, 14), (wsq, 7, 14)]
    assert tx.biographic == {"2.018": "AL-TIKRITI,AHMAD", "2.022": "19900101"}
    assert tx.records == [(1, 0), (2, 0), (10, 1), (14, 2), (14, 3)]
    # And a third-party parser reads it too.
    msg = nistitl.Message()
    msg.parse(out)
    assert len(msg) == 5


def test_wrong_length_field_is_named(exported) -> None:
    out = exported[0]
    len2 = int(re.search(rb"\x1c2.001:(\d+)\x1d", out).group(1))
    bad = out.replace(b"\x1c2.001:%d\x1d" % len2, b"\x1c2.001:%d\x1d" % (len2 + 1), 1)
    with pytest.raises(BiometricInputError) as e:
        import_transaction(bad)
    assert e.value.code == "wrong_length"
    assert "record 2 (declared in 1.003 CNT as Type-2" in str(e.value)
    assert f"declares {len2 + 1} bytes in field 2.001 (LEN)" in str(e.value)
    len1 = int(re.match(rb"1.001:(\d+)", out).group(1))
    bad1 = out.replace(b"1.001:%d" % len1, b"1.001:%d" % (len1 - 1), 1)
    with pytest.raises(BiometricInputError, match=rf"1.001 \(LEN\) says the Type-1 record is {len1 - 1} bytes"):
        import_transaction(bad1)


def test_wrong_record_type_is_named(exported) -> None:
    out = exported[0]
    # CNT says the third record is Type-14 where the file holds a Type-10 record.
    bad = out.replace(b"\x1e10\x1f1\x1e", b"\x1e14\x1f1\x1e", 1)
    with pytest.raises(BiometricInputError) as e:
        import_transaction(bad)
    assert e.value.code == "wrong_record_type"
    assert "declares record 3 as Type-14 (fingerprint image), but at byte" in str(e.value)
    assert "begins with field 10.001" in str(e.value)
    bad2 = out.replace(b"\x1e10\x1f1\x1e", b"\x1e12\x1f1\x1e", 1).replace(b"\x1c10.", b"\x1c12.")
    with pytest.raises(BiometricInputError):
        import_transaction(bad2)


def test_truncated_file_and_truncated_image(exported) -> None:
    out, face, _wsq = exported
    with pytest.raises(BiometricInputError) as e:
        import_transaction(out[:-100])
    assert e.value.code == "truncated" and "record 5" in str(e.value)
    # A record whose lengths agree but whose JPEG was cut short: the image itself is truncated.
    msg = nistitl.Message()
    msg.parse(out)
    rec = msg[2]
    rec[999].value = face[: len(face) // 2]
    with pytest.raises(BiometricInputError) as e2:
        import_transaction(msg.NIST)
    assert e2.value.code == "corrupt_image" and "record 3 (Type-10" in str(e2.value)


def test_trailing_bytes_empty_and_foreign_files(exported) -> None:
    with pytest.raises(BiometricInputError, match="7 unexpected bytes after the last record"):
        import_transaction(exported[0] + b"garbage")
    with pytest.raises(BiometricInputError, match="empty"):
        import_transaction(b"")
    with pytest.raises(BiometricInputError) as e:
        import_transaction(b"%PDF-1.7 this is not a transaction")
    assert e.value.code == "not_ansi_nist"


def test_export_refuses_non_wsq_fingerprints(exported) -> None:
    face = exported[1]
    with pytest.raises(BiometricInputError, match="accepted formats are WSQ"):
        export_transaction(tot="CAR", originating_agency="A", destination_agency="B", control_number="1",
                           fingers=[ExportFinger(face, 2)])
