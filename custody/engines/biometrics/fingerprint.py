"""Fingerprint adapter: NIST MINDTCT minutiae, BOZORTH3 comparison and NFIQ 2 quality through nbis-py.

Images are checked before anything is extracted: they must decode, be large enough to hold a finger, and
really be about 500 ppi. The declared resolution is not trusted alone: the ridge spacing is measured
(adult ridges are 0.3-0.8 mm apart), so a 100 ppi scan labelled 500 ppi is refused. Templates are
ISO/IEC 19794-2:2005 records; the archival image is WSQ at 500 ppi as ANSI/NIST-ITL expects.
"""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version as _dist_version

import nbis
import numpy as np
import wsq  # noqa: F401  (registers the WSQ codec with Pillow)
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import BiometricInputError
from .templates import FINGER, ISO_19794_2_2005, Template, require_same_kind

EXTRACTOR = "NIST NBIS MINDTCT+BOZORTH3 (nbis-py)"
EXTRACTOR_VERSION = _dist_version("nbis-py")
QUALITY_MEASURE = "NFIQ 2 (NIST Fingerprint Image Quality 2, as bundled in nbis-py)"
NOMINAL_PPI = 500.0
# ISO/IEC 19794-2 records resolution in pixels per centimetre.
_PPCM_500 = 197

FINGER_POSITIONS: dict[int, str] = {
    0: "unknown finger",
    1: "right thumb",
    2: "right index",
    3: "right middle",
    4: "right ring",
    5: "right little",
    6: "left thumb",
    7: "left index",
    8: "left middle",
    9: "left ring",
    10: "left little",
}

# Accepted capture formats. Lossy JPEG is accepted because partner files carry it, but WSQ/PNG are preferred.
_FINGER_FORMATS = {"PNG", "WSQ", "BMP", "TIFF", "JPEG", "JPEG2000", "PPM"}
_PPI_TOLERANCE = 0.02
# A finger at 500 ppi is at least ~0.3 inch across even for a partial roll/flat.
_MIN_SIDE_PX = 150
_MAX_SIDE_PX = 4000
# Human ridge period in millimetres: children ~0.3, adults 0.4-0.55; beyond 0.75 it is not a 500 ppi finger.
_RIDGE_MM_MIN = 0.28
_RIDGE_MM_MAX = 0.75
_TYPICAL_RIDGE_MM = 0.47


@dataclass(frozen=True)
class Minutia:
    x: int
    y: int
    # Degrees, counter-clockwise, as MINDTCT/ISO report them.
    angle: float
    kind: str
    quality: int


@dataclass
class FingerprintImage:
    pixels: np.ndarray  # uint8, H x W
    source_format: str
    declared_ppi: float | None
    ppi: float
    ridge_period_px: float

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass
class FingerprintCapture:
    position: int
    image: FingerprintImage
    original: bytes
    sha256: str
    wsq: bytes
    nfiq2: int
    nfiq2_feedback: dict[str, float]
    minutiae: list[Minutia]
    template: Template
    recapture: str | None = None
    roi: tuple[int, int, int, int] | None = None
    extra: dict[str, float] = field(default_factory=dict)


def decode_image(data: bytes, *, what: str = "image", allowed: set[str] | None = None) -> tuple[Image.Image, str]:
    """Decode bytes fully (so truncation is found now, not later) or raise a precise error."""
    if not data:
        raise BiometricInputError(f"the {what} is empty (0 bytes)", "corrupt_image")
    # weasyprint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES to True when it is imported (for the
    # PDF reports); a truncated capture must still be refused here, whatever else the process has loaded.
    tolerant = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            img.load()
    except UnidentifiedImageError as exc:
        head = data[:8].hex(" ")
        raise BiometricInputError(
            f"the {what} is not a readable image: its first bytes ({head}) match no supported format",
            "corrupt_image",
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BiometricInputError(f"the {what} is implausibly large: {exc}", "corrupt_image") from exc
    except (OSError, SyntaxError, ValueError, struct.error, IndexError) as exc:
        raise BiometricInputError(
            f"the {what} ({fmt}) is corrupt or truncated and does not decode: {exc}", "corrupt_image"
        ) from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = tolerant
    if allowed is not None and fmt not in allowed:
        raise BiometricInputError(
            f"the {what} is {fmt}; accepted formats are {', '.join(sorted(allowed))}", "unsupported_format"
        )
    return img, fmt


def _declared_ppi(img: Image.Image, fmt: str, data: bytes) -> float | None:
    if fmt == "WSQ":
        try:
            import _wsq  # the C codec behind the Pillow plugin; it reports the encoded ppi

            ppi = float(_wsq.decompress(data)[3])
        except Exception:  # noqa: BLE001 - a missing ppi is not a reason to refuse the image
            return None
        return ppi if ppi > 0 else None
    dpi = img.info.get("dpi")
    if dpi:
        try:
            x = float(dpi[0])
        except (TypeError, ValueError, IndexError):
            return None
        # Pillow reports 72 or 96 dpi for files that carry no real resolution (JFIF default, screen PNGs).
        return x if x > 1 else None
    return None


def ridge_period_px(pixels: np.ndarray, block: int = 32) -> float:
    """Median dominant ridge period, in pixels, over the image's high-contrast blocks.

    The period is read from the peak of each block's 2-D spectrum; background blocks (low variance)
    are ignored. Returns 0.0 when nothing ridge-like is found.
    """
    a = pixels.astype(np.float32)
    h, w = a.shape
    if h < block or w < block:
        return 0.0
    win = np.outer(np.hanning(block), np.hanning(block)).astype(np.float32)
    fy = np.fft.fftfreq(block)[:, None]
    fx = np.fft.rfftfreq(block)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    # Below 1.5 cycles per block the "period" is illumination, not ridges.
    valid = radius >= 1.5 / block
    blocks = []
    step = block
    for y in range(0, h - block + 1, step):
        for x in range(0, w - block + 1, step):
            blocks.append(a[y : y + block, x : x + block])
    stack = np.stack(blocks)
    var = stack.reshape(len(blocks), -1).var(axis=1)
    keep = var >= max(50.0, float(np.percentile(var, 50)))
    if not keep.any():
        return 0.0
    stack = stack[keep]
    stack = (stack - stack.mean(axis=(1, 2), keepdims=True)) * win
    spec = np.abs(np.fft.rfft2(stack)) ** 2
    spec[:, ~valid] = 0.0
    flat = spec.reshape(len(stack), -1)
    idx = flat.argmax(axis=1)
    r = radius.reshape(-1)[idx]
    # Blocks whose peak sits at the Nyquist corner are aliasing, not a measurable period.
    r = r[r > 0]
    if r.size == 0:
        return 0.0
    return float(np.median(1.0 / r))


def load_fingerprint(data: bytes, *, what: str = "fingerprint image", ppi: float | None = None) -> FingerprintImage:
    """Decode and validate a fingerprint capture; refuses anything not really ~500 ppi."""
    img, fmt = decode_image(data, what=what, allowed=_FINGER_FORMATS)
    declared = ppi if ppi is not None else _declared_ppi(img, fmt, data)
    if declared is not None and abs(declared - NOMINAL_PPI) > NOMINAL_PPI * _PPI_TOLERANCE:
        raise BiometricInputError(
            f"the {what} is {declared:.0f} ppi; fingerprints must be captured at 500 ppi "
            "(ANSI/NIST-ITL and the matcher expect it) - rescan at 500 ppi",
            "wrong_resolution",
        )
    gray = np.asarray(img.convert("L"), dtype=np.uint8)
    h, w = gray.shape
    if min(h, w) < _MIN_SIDE_PX or max(h, w) > _MAX_SIDE_PX:
        raise BiometricInputError(
            f"the {what} is {w}x{h} px, that is {w / NOMINAL_PPI * 25.4:.1f}x{h / NOMINAL_PPI * 25.4:.1f} mm at "
            f"500 ppi; a fingerprint needs {_MIN_SIDE_PX}-{_MAX_SIDE_PX} px a side "
            "(too small usually means the scan is not really 500 ppi)",
            "wrong_resolution",
        )
    period = ridge_period_px(gray)
    if period <= 0:
        raise BiometricInputError(f"the {what} shows no ridge pattern (blank or flat image)", "no_ridges")
    period_mm = period / NOMINAL_PPI * 25.4
    if not (_RIDGE_MM_MIN <= period_mm <= _RIDGE_MM_MAX):
        claimed = f"declares {declared:.0f} ppi" if declared else "is taken as 500 ppi"
        if period_mm < _RIDGE_MM_MIN:
            verdict = f"it looks like about {NOMINAL_PPI * period_mm / _TYPICAL_RIDGE_MM:.0f} ppi"
        else:
            # Coarser than any finger: either a higher-resolution scan or no resolvable ridges at all
            # (a low-resolution scan blurs them away and only the finger outline is left).
            verdict = "either it is not really 500 ppi or its ridges are not resolved"
        raise BiometricInputError(
            f"the {what} {claimed}, but its ridges are {period:.1f} px apart, i.e. {period_mm:.2f} mm at "
            f"500 ppi where fingers measure {_RIDGE_MM_MIN}-{_RIDGE_MM_MAX} mm: {verdict}",
            "wrong_resolution",
        )
    return FingerprintImage(gray, fmt, declared, NOMINAL_PPI, period)


def encode_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "L").save(buf, "PNG", compress_level=1, dpi=(NOMINAL_PPI, NOMINAL_PPI))
    return buf.getvalue()


def encode_wsq(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "L").save(buf, "WSQ")
    return buf.getvalue()


def decode_wsq(data: bytes) -> np.ndarray:
    img, _fmt = decode_image(data, what="WSQ image", allowed={"WSQ"})
    return np.asarray(img.convert("L"), dtype=np.uint8)


# ISO/IEC 19794-2:2005 record layout (big endian): 24-byte record header, then per view a 4-byte
# header and 6 bytes per minutia, then a 2-byte extended-data length.
_ISO_HEADER = struct.Struct(">4s4sIHHHHHBB")
_ISO_VIEW = struct.Struct(">BBBB")
_ISO_MINUTIA = struct.Struct(">HHBB")
_ISO_KINDS = {0: "OTHER", 1: "RIDGE_ENDING", 2: "BIFURCATION", 3: "RESERVED"}


def parse_iso_19794_2(data: bytes) -> tuple[int, int, int, list[Minutia]]:
    """Return (width, height, finger position, minutiae) of the first view of an ISO 19794-2:2005 record."""
    if len(data) < _ISO_HEADER.size + _ISO_VIEW.size or data[:4] != b"FMR\x00":
        raise BiometricInputError("not an ISO/IEC 19794-2 finger minutiae record (missing 'FMR' header)", "bad_template")
    magic, ver, length, _equip, width, height, _xres, _yres, _views, _res = _ISO_HEADER.unpack_from(data, 0)
    if ver != b" 20\x00":
        raise BiometricInputError(f"ISO 19794-2 record version {ver!r} is not 2005 (' 20')", "bad_template")
    if length != len(data):
        raise BiometricInputError(
            f"ISO 19794-2 record length field says {length} bytes but the record has {len(data)}", "bad_template"
        )
    pos, _view, _q, count = _ISO_VIEW.unpack_from(data, _ISO_HEADER.size)
    off = _ISO_HEADER.size + _ISO_VIEW.size
    if off + count * _ISO_MINUTIA.size > len(data):
        raise BiometricInputError(f"ISO 19794-2 record declares {count} minutiae but is too short", "bad_template")
    out = []
    for i in range(count):
        tx, ry, ang, q = _ISO_MINUTIA.unpack_from(data, off + i * _ISO_MINUTIA.size)
        out.append(Minutia(tx & 0x3FFF, ry & 0x3FFF, ang * 360.0 / 256.0, _ISO_KINDS[tx >> 14], q))
    return width, height, pos, out


def build_iso_19794_2(width: int, height: int, position: int, quality: int, minutiae: list[Minutia]) -> bytes:
    """Write an ISO/IEC 19794-2:2005 record (one view, 500 ppi, no extended data)."""
    count = min(len(minutiae), 255)
    length = _ISO_HEADER.size + _ISO_VIEW.size + count * _ISO_MINUTIA.size + 2
    kinds = {v: k for k, v in _ISO_KINDS.items()}
    parts = [
        _ISO_HEADER.pack(b"FMR\x00", b" 20\x00", length, 0, width, height, _PPCM_500, _PPCM_500, 1, 0),
        _ISO_VIEW.pack(position & 0xFF, 0, max(0, min(100, quality)), count),
    ]
    for m in minutiae[:count]:
        ang = int(round(m.angle * 256.0 / 360.0)) % 256
        parts.append(
            _ISO_MINUTIA.pack((kinds.get(m.kind, 0) << 14) | (m.x & 0x3FFF), m.y & 0x3FFF, ang, max(0, min(100, m.quality)))
        )
    parts.append(b"\x00\x00")
    return b"".join(parts)


def _nbis_layout(width: int, height: int, quality: int, minutiae: list[Minutia]) -> bytes:
    """Re-pack minutiae in the variant layout nbis-py reads.

    nbis-py 0.1.3 labels its templates ISO 19794-2:2005 but writes a 26-byte header without resolution,
    view count or extended-data length, and minutia quality on 0-63. We store conformant records and
    convert only at comparison time, so our stored templates stay readable by other ISO matchers.
    """
    count = min(len(minutiae), 255)
    kinds = {v: k for k, v in _ISO_KINDS.items()}
    head = b"FMR\x00 20\x00" + struct.pack(">IHHHBBB4sB", 26 + 6 * count, 0, width, height, 0, 0, max(0, min(100, quality)), b"\x00" * 4, count)
    body = b"".join(
        _ISO_MINUTIA.pack(
            (kinds.get(m.kind, 1) << 14) | (m.x & 0x3FFF),
            m.y & 0x3FFF,
            int(round(m.angle * 256.0 / 360.0)) % 256,
            min(63, m.quality * 63 // 100),
        )
        for m in minutiae[:count]
    )
    return head + body


_extractors: dict[bool, nbis.NbisExtractor] = {}
_extractors_lock = threading.Lock()


def _extractor(nfiq2: bool) -> nbis.NbisExtractor:
    # Creating an extractor costs ~2 s (NFIQ 2 model set-up), so there is one per setting for the process;
    # uniffi objects are Send + Sync, and the calls release the GIL, so threads share it.
    ex = _extractors.get(nfiq2)
    if ex is None:
        with _extractors_lock:
            ex = _extractors.get(nfiq2)
            if ex is None:
                settings = nbis.NbisExtractorSettings(
                    min_quality=0.0, get_center=True, check_fingerprint=False, compute_nfiq2=nfiq2, ppi=NOMINAL_PPI
                )
                ex = _extractors[nfiq2] = nbis.new_nbis_extractor(settings)
    return ex


class FingerprintAdapter:
    """MINDTCT extraction, NFIQ 2 quality and BOZORTH3 comparison behind one object."""

    modality = FINGER
    extractor = EXTRACTOR
    version = EXTRACTOR_VERSION

    def __init__(self, min_nfiq2: int = 20, min_minutiae: int = 12, compute_quality: bool = True) -> None:
        self.min_nfiq2 = min_nfiq2
        self.min_minutiae = min_minutiae
        self.compute_quality = compute_quality

    def capture(self, data: bytes, position: int = 0, *, ppi: float | None = None) -> FingerprintCapture:
        if position not in FINGER_POSITIONS:
            raise BiometricInputError(f"finger position {position} is not an ANSI/NIST FGP code 0-10", "bad_position")
        what = f"{FINGER_POSITIONS[position]} image"
        image = load_fingerprint(data, what=what, ppi=ppi)
        return self.capture_pixels(image, position, original=data)

    def capture_pixels(self, image: FingerprintImage, position: int, *, original: bytes) -> FingerprintCapture:
        png = encode_png(image.pixels)
        try:
            raw = _extractor(self.compute_quality).extract_minutiae(png)
        except nbis.NbisError as exc:
            raise BiometricInputError(f"MINDTCT could not process the image: {exc!r}", "extraction_failed") from exc
        minutiae = [
            Minutia(m.x(), m.y(), float(m.angle()), m.kind().name, int(round(m.reliability() * 100)))
            for m in raw.get()
        ]
        nfiq2, feedback = -1, {}
        if self.compute_quality:
            q = raw.quality()
            nfiq2 = int(q.score)
            feedback = {v.name: float(v.value) for v in q.actionable}
        roi = raw.roi()
        template = Template(
            modality=FINGER,
            extractor=EXTRACTOR,
            version=EXTRACTOR_VERSION,
            format=ISO_19794_2_2005,
            data=build_iso_19794_2(image.width, image.height, position, max(nfiq2, 0), minutiae),
            position=position,
            quality=nfiq2 if nfiq2 >= 0 else None,
        )
        recapture = None
        if self.compute_quality and nfiq2 < self.min_nfiq2:
            recapture = f"NFIQ 2 score {nfiq2} is below the floor {self.min_nfiq2}: clean the finger and platen and capture again"
        elif len(minutiae) < self.min_minutiae:
            recapture = f"only {len(minutiae)} minutiae found (need {self.min_minutiae}): capture again, roll the finger fully"
        return FingerprintCapture(
            position=position,
            image=image,
            original=original,
            sha256=hashlib.sha256(original).hexdigest(),
            wsq=encode_wsq(image.pixels),
            nfiq2=nfiq2,
            nfiq2_feedback=feedback,
            minutiae=minutiae,
            template=template,
            recapture=recapture,
            roi=(roi.x1, roi.y1, roi.x2, roi.y2) if roi is not None else None,
        )

    @staticmethod
    def load(template: Template) -> nbis.Minutiae:
        if template.modality != FINGER or template.extractor != EXTRACTOR:
            raise BiometricInputError(
                f"template from {template.extractor} is not a {EXTRACTOR} fingerprint template", "bad_template"
            )
        width, height, _pos, minutiae = parse_iso_19794_2(template.data)
        try:
            return _extractor(False).load_iso_19794_2_2005(_nbis_layout(width, height, template.quality or 0, minutiae))
        except nbis.NbisError as exc:
            raise BiometricInputError(f"stored ISO 19794-2 template does not load: {exc!r}", "bad_template") from exc

    def compare(self, a: Template, b: Template) -> int:
        """BOZORTH3 score; higher is more similar (about 40 and above is a likely match at 500 ppi)."""
        require_same_kind(a, b)
        return int(self.load(a).compare(self.load(b)))
