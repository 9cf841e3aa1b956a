"""What an attachment really is, judged from its bytes, compared with what its extension claims.

An evidence file whose name says .pdf but whose bytes are an executable or a zip would travel into a
prosecution file under a false description; such files are refused at upload.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import PurePath

from django.utils.translation import gettext as _

from custody.core.errors import RuleError


def _is_pdf(data: bytes) -> bool:
    return data[:5] == b"%PDF-"


def _image(fmt: str) -> Callable[[bytes], bool]:
    def check(data: bytes) -> bool:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
                return (im.format or "").upper() == fmt
        except Exception:  # noqa: BLE001 - any decoder failure means "not this image type"
            return False

    return check


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _ooxml(part: str) -> Callable[[bytes], bool]:
    def check(data: bytes) -> bool:
        if data[:4] != b"PK\x03\x04":
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            return False
        return "[Content_Types].xml" in names and any(n.startswith(part) for n in names)

    return check


def _riff(kind: bytes) -> Callable[[bytes], bool]:
    return lambda data: data[:4] == b"RIFF" and data[8:12] == kind


def _is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


def _is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0)


# extension: (content type, check, human name)
TYPES: dict[str, tuple[str, Callable[[bytes], bool], str]] = {
    "pdf": ("application/pdf", _is_pdf, "PDF"),
    "png": ("image/png", _image("PNG"), "PNG"),
    "jpg": ("image/jpeg", _image("JPEG"), "JPEG"),
    "jpeg": ("image/jpeg", _image("JPEG"), "JPEG"),
    "tif": ("image/tiff", _image("TIFF"), "TIFF"),
    "tiff": ("image/tiff", _image("TIFF"), "TIFF"),
    "txt": ("text/plain", _is_text, "UTF-8 text"),
    "csv": ("text/csv", _is_text, "UTF-8 text"),
    "json": ("application/json", _is_json, "JSON"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ooxml("word/"), "Word document"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ooxml("xl/"), "Excel workbook"),
    "wav": ("audio/wav", _riff(b"WAVE"), "WAV audio"),
    "mp3": ("audio/mpeg", _is_mp3, "MP3 audio"),
    "mp4": ("video/mp4", _is_mp4, "MP4 video"),
}

MAX_BYTES = 50 * 1024 * 1024


def check_attachment(name: str, data: bytes) -> str:
    """The content type of a file whose bytes are what its extension says; RuleError otherwise."""
    ext = PurePath(name).suffix.lower().lstrip(".")
    if not data:
        raise RuleError(_("Attachment “%(name)s” is empty.") % {"name": name}, field="file")
    if len(data) > MAX_BYTES:
        raise RuleError(_("Attachment “%(name)s” is larger than 50 MB.") % {"name": name}, field="file")
    if ext not in TYPES:
        raise RuleError(_("Attachment “%(name)s”: the extension “.%(ext)s” is not accepted (accepted: %(list)s).")
                        % {"name": name, "ext": ext, "list": ", ".join(sorted(TYPES))}, rule="attachment_type", field="file")
    content_type, check, human = TYPES[ext]
    if not check(data):
        raise RuleError(_("Attachment “%(name)s” is not a %(kind)s file although its name ends in .%(ext)s; it was refused.")
                        % {"name": name, "kind": human, "ext": ext}, rule="attachment_type", field="file")
    return content_type
