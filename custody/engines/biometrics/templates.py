"""Biometric templates: the stored, comparable form of a capture.

A template always says which extractor and which version of it produced the bytes. Matchers refuse to
compare templates whose (modality, extractor, version) differ: a change of extractor means re-extraction
from the stored images, never a silent mix of score scales.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from .errors import BiometricInputError, TemplateMismatchError

FINGER = "finger"
FACE = "face"

ISO_19794_2_2005 = "ISO/IEC 19794-2:2005"
FLOAT32_VECTOR = "float32-le"


@dataclass(frozen=True)
class Template:
    modality: str
    extractor: str
    version: str
    format: str
    data: bytes
    # ANSI/NIST finger position code (FGP, 0-10) for fingers; 0 for faces.
    position: int = 0
    quality: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> tuple[str, str, str]:
        return (self.modality, self.extractor, self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "extractor": self.extractor,
            "version": self.version,
            "format": self.format,
            "position": self.position,
            "quality": self.quality,
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Template:
        try:
            return cls(
                modality=str(d["modality"]),
                extractor=str(d["extractor"]),
                version=str(d["version"]),
                format=str(d["format"]),
                data=base64.b64decode(d["data"]),
                position=int(d.get("position") or 0),
                quality=None if d.get("quality") is None else int(d["quality"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise BiometricInputError(f"template record is incomplete or malformed: {exc}", "bad_template") from exc


def require_same_kind(a: Template, b: Template) -> None:
    if a.kind != b.kind:
        raise TemplateMismatchError(
            f"cannot compare a template from {a.extractor} {a.version} ({a.modality}) with one from "
            f"{b.extractor} {b.version} ({b.modality}); re-extract the older one from its stored image"
        )
