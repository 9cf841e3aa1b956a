"""ANSI/NIST-ITL (EBTS-style) transactions: import of Type-1, 2, 4, 10 and 14 records, export of 1, 2, 10, 14.

A file is first walked record by record against its own length fields and the Type-1 content list
(1.003 CNT), so a wrong length, a wrong record type, a truncation or trailing bytes is reported with the
record number, type, IDC and byte offset. Only then does nistitl parse the fields. Images are kept as
the exact bytes found in the record (so an exported transaction re-imports to identical bytes) and are
decoded once to prove they are whole and match the declared size and resolution.

Record types Custody does not store (signatures, latents, irises, palms, CBEFF...) are listed as skipped
with the reason; a transaction holding no face or fingerprint at all is refused, and any defect in a
record Custody would import refuses the whole transaction: nothing is stored from a bad file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass, field

import nistitl
from PIL import Image

from .errors import BiometricInputError
from .fingerprint import FINGER_POSITIONS, decode_image

FS, GS, RS, US = b"\x1c", b"\x1d", b"\x1e", b"\x1f"
BINARY_TYPES = {3, 4, 5, 6, 7, 8}
TAGGED_TYPES = {2, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 98, 99}
RECORD_NAMES = {
    1: "transaction information", 2: "user-defined descriptive text", 3: "low-resolution grayscale fingerprint",
    4: "high-resolution grayscale fingerprint", 5: "low-resolution binary fingerprint",
    6: "high-resolution binary fingerprint", 7: "user-defined image", 8: "signature", 9: "minutiae",
    10: "face/SMT photo", 11: "voice", 12: "forensic dental", 13: "latent friction ridge image",
    14: "fingerprint image", 15: "palm print image", 16: "user-defined test image", 17: "iris image",
    18: "DNA", 19: "plantar image", 20: "source representation", 21: "associated context",
    22: "non-photographic imagery", 98: "information assurance", 99: "CBEFF biometric data",
}
_TAG = re.compile(rb"(\d{1,2})\.(\d{1,3}):")
_COMPRESSION_FORMATS = {
    "WSQ20": {"WSQ"}, "WSQ": {"WSQ"}, "JPEGB": {"JPEG"}, "JPEGL": {"JPEG"}, "JP2": {"JPEG2000"},
    "JP2L": {"JPEG2000"}, "PNG": {"PNG"}, "NONE": {"RAW"},
}
_IMAGE_MAGIC = (b"\xff\xd8", b"\xff\xa0", b"\x89PNG", b"\x00\x00\x00\x0cjP", b"\xff\x4f\xff\x51")


@dataclass
class NistImage:
    record_index: int
    record_type: int
    idc: int
    kind: str  # "face" | "finger"
    position: int
    impression: int | None
    compression: str
    data: bytes
    width: int
    height: int
    ppi: float | None
    sha256: str

    @property
    def label(self) -> str:
        return f"record {self.record_index + 1} (Type-{self.record_type}, IDC {self.idc})"


@dataclass
class NistTransaction:
    version: str
    tot: str
    date: str
    originating_agency: str
    destination_agency: str
    control_number: str
    biographic: dict[str, str] = field(default_factory=dict)
    faces: list[NistImage] = field(default_factory=list)
    fingerprints: list[NistImage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    sha256: str = ""
    records: list[tuple[int, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Name from Type-2 field 2.018 (NAM), the EBTS convention, when present."""
        return self.biographic.get("2.018", "")


@dataclass
class _Frame:
    index: int
    type: int
    idc: int
    offset: int
    length: int


def _reject(msg: str, code: str = "bad_transaction") -> BiometricInputError:
    return BiometricInputError(msg, code)


def _describe(t: int) -> str:
    return f"Type-{t} ({RECORD_NAMES.get(t, 'undefined type')})"


def _parse_cnt(type1: bytes) -> list[tuple[int, int]]:
    m = re.search(rb"(?:^|\x1d)1\.0*3:([^\x1d\x1c]*)", type1)
    if not m:
        raise _reject("the Type-1 record has no field 1.003 (CNT, the list of records in the transaction)")
    subfields = m.group(1).split(RS)
    try:
        pairs = [tuple(int(x) for x in sf.split(US)) for sf in subfields]
    except ValueError as exc:
        raise _reject(f"field 1.003 (CNT) is not a list of numbers: {m.group(1)[:60]!r}") from exc
    if any(len(p) != 2 for p in pairs):
        raise _reject("field 1.003 (CNT): every subfield must hold two items, record type and IDC")
    first = pairs[0]
    if first[0] != 1:
        raise _reject(f"field 1.003 (CNT) must start with 1 and the record count; it starts with {first[0]}")
    if first[1] != len(pairs) - 1:
        raise _reject(
            f"field 1.003 (CNT) announces {first[1]} further records but lists {len(pairs) - 1}"
        )
    return [(int(a), int(b)) for a, b in pairs[1:]]


def frame(data: bytes) -> list[_Frame]:
    """Walk the records by their length fields; raise a precise error at the first inconsistency."""
    if not data:
        raise _reject("the file is empty (0 bytes)", "empty_file")
    m = re.match(rb"1\.0*1:(\d+)\x1d", data)
    if not m:
        raise _reject(
            f"not an ANSI/NIST-ITL transaction: a transaction begins with field 1.001 (the Type-1 record length); "
            f"this file begins with {data[:16]!r}",
            "not_ansi_nist",
        )
    len1 = int(m.group(1))
    if len1 > len(data):
        raise _reject(
            f"truncated file: field 1.001 says the Type-1 record is {len1} bytes but the file has only {len(data)}",
            "truncated",
        )
    if len1 < 10 or data[len1 - 1 : len1] != FS:
        real = data.find(FS)
        hint = f"; the record actually ends after {real + 1} bytes" if real >= 0 else ""
        raise _reject(
            f"wrong length field: 1.001 (LEN) says the Type-1 record is {len1} bytes, but byte {len1} is not the "
            f"record separator 0x1C{hint}",
            "wrong_length",
        )
    cnt = _parse_cnt(data[:len1])
    frames = [_Frame(0, 1, 0, 0, len1)]
    offset = len1
    for n, (rtype, idc) in enumerate(cnt, start=2):
        where = f"record {n} (declared in 1.003 CNT as {_describe(rtype)}, IDC {idc}) at byte {offset}"
        if offset >= len(data):
            raise _reject(
                f"truncated file: 1.003 CNT lists {len(cnt) + 1} records but the file ends after record {n - 1} "
                f"({len(data)} bytes)",
                "truncated",
            )
        if rtype in BINARY_TYPES:
            if _TAG.match(data, offset):
                tm = _TAG.match(data, offset)
                raise _reject(
                    f"wrong record type: {where} should be a binary record, but it begins with tagged field "
                    f"{tm.group(1).decode()}.{tm.group(2).decode()}",
                    "wrong_record_type",
                )
            if offset + 5 > len(data):
                raise _reject(f"truncated file: {where} has no room for its 4-byte length and IDC", "truncated")
            length, ridc = struct.unpack_from(">IB", data, offset)
            if length < 5:
                raise _reject(f"wrong length field: {where} declares a length of {length} bytes", "wrong_length")
            if offset + length > len(data):
                raise _reject(
                    f"truncated file: {where} declares {length} bytes but only {len(data) - offset} remain",
                    "truncated",
                )
            if ridc != idc:
                raise _reject(f"{where}: its IDC byte is {ridc}, but 1.003 CNT lists IDC {idc}", "wrong_idc")
        elif rtype in TAGGED_TYPES:
            tm = re.match(rb"(\d{1,2})\.0*1:(\d+)\x1d", data[offset : offset + 32])
            if not tm:
                raise _reject(
                    f"{where} does not begin with its length field {rtype}.001: found {data[offset:offset + 12]!r}",
                    "wrong_record_type" if _TAG.match(data, offset) else "wrong_length",
                )
            actual = int(tm.group(1))
            if actual != rtype:
                raise _reject(
                    f"wrong record type: 1.003 CNT declares record {n} as {_describe(rtype)}, but at byte {offset} "
                    f"it begins with field {actual}.001, a {_describe(actual)} record",
                    "wrong_record_type",
                )
            length = int(tm.group(2))
            if offset + length > len(data):
                raise _reject(
                    f"truncated file: {where} declares {length} bytes in field {rtype}.001 (LEN) but only "
                    f"{len(data) - offset} remain",
                    "truncated",
                )
            if length < 10 or data[offset + length - 1 : offset + length] != FS:
                nxt = re.search(rb"\x1c(\d{1,2})\.0*1:", data[offset:])
                hint = f"; the next record appears to start {nxt.start() + 1} bytes in" if nxt else ""
                raise _reject(
                    f"wrong length field: {where} declares {length} bytes in field {rtype}.001 (LEN), but the byte "
                    f"at that length is not the record separator 0x1C{hint}",
                    "wrong_length",
                )
            _check_tagged(data[offset : offset + length], rtype, idc, where)
        else:
            raise _reject(
                f"wrong record type: 1.003 CNT lists record {n} as Type-{rtype}, which ANSI/NIST-ITL does not define",
                "wrong_record_type",
            )
        frames.append(_Frame(n - 1, rtype, idc, offset, length))
        offset += length
    if offset != len(data):
        raise _reject(
            f"{len(data) - offset} unexpected bytes after the last record listed in 1.003 CNT (record "
            f"{len(cnt) + 1} ends at byte {offset})",
            "trailing_bytes",
        )
    return frames


def _check_tagged(rec: bytes, rtype: int, idc: int, where: str) -> None:
    """Field-level checks nistitl does not make: tag record numbers, duplicates, 999 last, IDC agreement."""
    seen: set[int] = set()
    pos = 0
    body = rec[:-1]
    while pos < len(body):
        m = _TAG.match(body, pos)
        if not m:
            raise _reject(f"{where}: malformed field at byte {pos} of the record: {body[pos:pos + 12]!r}", "bad_field")
        frec, ftag = int(m.group(1)), int(m.group(2))
        if frec != rtype:
            raise _reject(f"{where}: field {frec}.{ftag:03d} belongs to a Type-{frec} record", "wrong_record_type")
        if ftag in seen:
            raise _reject(f"{where}: field {rtype}.{ftag:03d} appears more than once", "duplicate_field")
        seen.add(ftag)
        start = m.end()
        if ftag == 999:
            value = body[start:]
            gs = value.find(GS, 0, 40)
            if not value.startswith(_IMAGE_MAGIC) and gs >= 0 and _TAG.match(value, gs + 1):
                tm = _TAG.match(value, gs + 1)
                raise _reject(
                    f"{where}: field {rtype}.999 (image data) must be the last field and appear once, but it holds "
                    f"{value[:gs]!r} and is followed by field {tm.group(1).decode()}.{tm.group(2).decode()}",
                    "duplicate_field",
                )
            break
        end = body.find(GS, start)
        if ftag == 2:
            raw = body[start : end if end >= 0 else len(body)]
            try:
                ridc = int(raw)
            except ValueError:
                raise _reject(f"{where}: field {rtype}.002 (IDC) is not a number: {raw!r}", "bad_field") from None
            if ridc != idc:
                raise _reject(f"{where}: field {rtype}.002 says IDC {ridc}, but 1.003 CNT lists IDC {idc}", "wrong_idc")
        if end < 0:
            break
        pos = end + 1


def _text(rec: nistitl.AsciiRecord, tag: int) -> str | None:
    f = rec[tag]
    if f is None:
        return None
    v = f.value
    if isinstance(v, list):
        return "\x1e".join("\x1f".join(str(x) for x in (sf if isinstance(sf, list) else [sf])) for sf in v)
    return None if v is None else str(v)


def _first_item(rec: nistitl.AsciiRecord, tag: int) -> str | None:
    v = _text(rec, tag)
    if v is None:
        return None
    return v.split("\x1e")[0].split("\x1f")[0]


def _int_field(rec: nistitl.AsciiRecord, tag: int, label: str, rtype: int, where: str) -> int:
    v = _first_item(rec, tag)
    if v is None or v.strip() == "":
        raise _reject(f"{where}: required field {rtype}.{tag:03d} ({label}) is missing", "missing_field")
    try:
        return int(v)
    except ValueError:
        raise _reject(f"{where}: field {rtype}.{tag:03d} ({label}) is not a number: {v!r}", "bad_field") from None


def _resolution(slc: int, hps: int) -> float | None:
    if slc == 1:
        return float(hps)
    if slc == 2:
        return hps * 2.54
    return None


def _check_image(
    data: bytes, cga: str, width: int, height: int, where: str, bits: int = 8
) -> tuple[int, int]:
    cga = cga.upper()
    if cga not in _COMPRESSION_FORMATS:
        raise _reject(f"{where}: compression {cga!r} is not one Custody reads (WSQ20, JPEGB, JPEGL, JP2, JP2L, PNG, NONE)", "unsupported_format")
    if not data:
        raise _reject(f"{where}: the image field is empty", "corrupt_image")
    if cga == "NONE":
        need = width * height * max(bits, 8) // 8
        if len(data) != need:
            raise _reject(
                f"{where}: uncompressed image should be {need} bytes ({width}x{height}, {bits} bits) but is {len(data)}",
                "truncated" if len(data) < need else "corrupt_image",
            )
        return width, height
    try:
        img, fmt = decode_image(data, what=f"image in {where}")
    except BiometricInputError as exc:
        raise _reject(str(exc), exc.code) from exc
    if fmt not in _COMPRESSION_FORMATS[cga]:
        raise _reject(f"{where}: compression field says {cga} but the image data is {fmt}", "corrupt_image")
    if img.size != (width, height):
        raise _reject(
            f"{where}: the record declares {width}x{height} px (HLL x VLL) but the {fmt} image is "
            f"{img.size[0]}x{img.size[1]} px",
            "size_mismatch",
        )
    return img.size


def import_transaction(data: bytes) -> NistTransaction:
    """Parse and validate a transaction; raise BiometricInputError with a precise message, or return it."""
    frames = frame(data)
    msg = nistitl.Message()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            msg.parse(data)
    except nistitl.NistException as exc:
        raise _reject(f"the transaction does not parse: {exc}", "bad_transaction") from exc
    records = list(msg)
    if len(records) != len(frames):
        raise _reject(f"parser found {len(records)} records where the length fields delimit {len(frames)}")
    t1 = records[0]
    tx = NistTransaction(
        version=_text(t1, 2) or "",
        tot=_text(t1, 4) or "",
        date=_text(t1, 5) or "",
        originating_agency=_text(t1, 8) or "",
        destination_agency=_text(t1, 7) or "",
        control_number=_text(t1, 9) or "",
        sha256=hashlib.sha256(data).hexdigest(),
        records=[(f.type, f.idc) for f in frames],
    )
    for fr, rec in zip(frames[1:], records[1:], strict=True):
        where = f"record {fr.index + 1} ({_describe(fr.type)}, IDC {fr.idc})"
        if fr.type == 2:
            for f in rec._fields:  # noqa: SLF001 - nistitl exposes fields only this way
                if f.tag > 2 and not isinstance(f, nistitl.BinaryField):
                    tx.biographic[f"2.{f.tag:03d}"] = _text(rec, f.tag) or ""
        elif fr.type == 10:
            imt = (_text(rec, 3) or "").upper()
            if imt != "FACE":
                tx.skipped.append(f"{where}: image type {imt or 'missing'} is not a face; not imported")
                continue
            tx.faces.append(_type10(rec, fr, where))
        elif fr.type == 14:
            tx.fingerprints.append(_type14(rec, fr, where))
        elif fr.type == 4:
            tx.fingerprints.append(_type4(data[fr.offset : fr.offset + fr.length], fr, where))
        else:
            tx.skipped.append(f"{where}: Custody does not import this record type; not imported")
    if not tx.faces and not tx.fingerprints:
        groups: dict[int, list[int]] = {}
        for f in frames[1:]:
            groups.setdefault(f.type, []).append(f.idc)
        held = "; ".join(
            f"{_describe(t)} IDC {ids[0]}" if len(ids) == 1 else f"{len(ids)} {_describe(t)} records, IDC {ids[0]}-{ids[-1]}"
            for t, ids in groups.items()
        ) or "no records besides Type-1"
        raise _reject(
            f"the transaction holds no face (Type-10, IMT FACE) or fingerprint (Type-4 or Type-14) record to "
            f"import; it holds: {held}",
            "nothing_to_import",
        )
    return tx


def _binary_field(rec: nistitl.AsciiRecord, where: str, rtype: int) -> bytes:
    f = rec[999]
    if f is None or not isinstance(f.value, bytes | bytearray):
        raise _reject(f"{where}: field {rtype}.999 (image data) is missing", "missing_field")
    return bytes(f.value)


def _type10(rec: nistitl.AsciiRecord, fr: _Frame, where: str) -> NistImage:
    hll = _int_field(rec, 6, "HLL, width", 10, where)
    vll = _int_field(rec, 7, "VLL, height", 10, where)
    slc = _int_field(rec, 8, "SLC, scale units", 10, where)
    hps = _int_field(rec, 9, "THPS, horizontal pixel scale", 10, where)
    cga = _text(rec, 11)
    if not cga:
        raise _reject(f"{where}: required field 10.011 (CGA, compression) is missing", "missing_field")
    data = _binary_field(rec, where, 10)
    w, h = _check_image(data, cga, hll, vll, where)
    return NistImage(fr.index, 10, fr.idc, "face", 0, None, cga.upper(), data, w, h, _resolution(slc, hps),
                     hashlib.sha256(data).hexdigest())


def _check_finger_ppi(ppi: float | None, where: str) -> None:
    if ppi is None:
        raise _reject(f"{where}: the scale units field does not give pixels per inch or per centimetre", "bad_field")
    if abs(ppi - 500) > 10:
        raise _reject(
            f"{where}: fingerprint resolution is {ppi:g} ppi; Custody requires 500 ppi fingerprints (ANSI/NIST-ITL "
            "Type-14 at 19.69 px/mm) and refuses the transaction",
            "wrong_resolution",
        )


def _type14(rec: nistitl.AsciiRecord, fr: _Frame, where: str) -> NistImage:
    imp = _int_field(rec, 3, "IMP, impression type", 14, where)
    hll = _int_field(rec, 6, "HLL, width", 14, where)
    vll = _int_field(rec, 7, "VLL, height", 14, where)
    slc = _int_field(rec, 8, "SLC, scale units", 14, where)
    hps = _int_field(rec, 9, "THPS, horizontal pixel scale", 14, where)
    cga = _text(rec, 11)
    if not cga:
        raise _reject(f"{where}: required field 14.011 (CGA, compression) is missing", "missing_field")
    bpx = _int_field(rec, 12, "BPX, bits per pixel", 14, where)
    fgp = _int_field(rec, 13, "FGP, finger position", 14, where)
    ppi = _resolution(slc, hps)
    _check_finger_ppi(ppi, where)
    data = _binary_field(rec, where, 14)
    w, h = _check_image(data, cga, hll, vll, where, bpx)
    return NistImage(fr.index, 14, fr.idc, "finger", fgp if fgp in FINGER_POSITIONS else 0, imp, cga.upper(), data,
                     w, h, ppi, hashlib.sha256(data).hexdigest())


def _type4(raw: bytes, fr: _Frame, where: str) -> NistImage:
    if len(raw) < 18:
        raise _reject(f"{where}: a Type-4 record needs an 18-byte header; it has {len(raw)} bytes", "truncated")
    imp, fgp0 = raw[5], raw[6]
    isr = raw[12]
    hll, vll = struct.unpack_from(">HH", raw, 13)
    gca = raw[17]
    image = raw[18:]
    if isr != 0:
        raise _reject(f"{where}: ISR={isr} means the image is not at native (500 ppi) resolution", "wrong_resolution")
    cga = {0: "NONE", 1: "WSQ20"}.get(gca)
    if cga is None:
        raise _reject(f"{where}: compression code GCA={gca} is not WSQ (1) or none (0)", "unsupported_format")
    w, h = _check_image(image, cga, hll, vll, where)
    return NistImage(fr.index, 4, fr.idc, "finger", fgp0 if fgp0 in FINGER_POSITIONS else 0, imp, cga, image, w, h,
                     500.0, hashlib.sha256(image).hexdigest())


# -- export ------------------------------------------------------------------------------------------------


@dataclass
class ExportFace:
    data: bytes  # JPEG (JPEGB) or PNG bytes exactly as stored
    source_agency: str = "CUSTODY"


@dataclass
class ExportFinger:
    wsq: bytes  # WSQ bytes at 500 ppi, exactly as stored
    position: int
    impression: int = 0  # 0 live-scan plain


def export_transaction(
    *,
    tot: str,
    originating_agency: str,
    destination_agency: str,
    control_number: str,
    biographic: dict[int, str] | None = None,
    faces: list[ExportFace] | None = None,
    fingers: list[ExportFinger] | None = None,
    date: dt.date | None = None,
) -> bytes:
    """Build a transaction: Type-1, one Type-2, a Type-10 per face, a Type-14 per finger."""
    faces = faces or []
    fingers = fingers or []
    if not faces and not fingers:
        raise BiometricInputError("nothing to export: no face and no fingerprint", "nothing_to_export")
    day = (date or dt.date.today()).strftime("%Y%m%d")
    msg = nistitl.Message()
    msg.TOT = tot
    msg[0].DAT = day
    msg[0].DAI = destination_agency
    msg[0].ORI = originating_agency
    msg[0].TCN = control_number
    idc = 0
    r2 = nistitl.AsciiRecord(2)
    r2.IDC = idc
    for tag, value in sorted((biographic or {}).items()):
        r2 += nistitl.Field(2, int(tag), value)
    msg += r2
    for face in faces:
        idc += 1
        img, fmt = decode_image(face.data, what="face image to export", allowed={"JPEG", "PNG"})
        r = nistitl.AsciiRecord(10)
        r.IDC = idc
        for tag, value in (
            (3, "FACE"), (4, face.source_agency), (5, day), (6, str(img.size[0])), (7, str(img.size[1])),
            (8, "0"), (9, "1"), (10, "1"), (11, "JPEGB" if fmt == "JPEG" else "PNG"),
            (12, "SRGB" if img.mode in ("RGB", "RGBA") else "GRAY"),
        ):
            r += nistitl.Field(10, tag, value)
        r += nistitl.BinaryField(10, 999, face.data)
        msg += r
    for finger in fingers:
        idc += 1
        img, _fmt = decode_image(finger.wsq, what="fingerprint to export", allowed={"WSQ"})
        r = nistitl.AsciiRecord(14)
        r.IDC = idc
        for tag, value in (
            (3, str(finger.impression)), (4, originating_agency), (5, day), (6, str(img.size[0])),
            (7, str(img.size[1])), (8, "1"), (9, "500"), (10, "500"), (11, "WSQ20"), (12, "8"),
            (13, str(finger.position)),
        ):
            r += nistitl.Field(14, tag, value)
        r += nistitl.BinaryField(14, 999, finger.wsq)
        msg += r
    return bytes(msg.NIST)


def image_to_jpeg(data: bytes, quality: int = 90) -> bytes:
    """Re-encode any readable photo as baseline JPEG for a Type-10 record."""
    img, _fmt = decode_image(data, what="face photo")
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def image_from_record(image: NistImage) -> Image.Image:
    img, _fmt = decode_image(image.data, what=image.label)
    return img
