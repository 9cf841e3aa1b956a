"""Errors raised by the biometric engine.

Every rejection carries a stable machine code (for the API and tests) and a sentence an operator can act on;
callers store nothing when one is raised.
"""

from __future__ import annotations


class BiometricError(Exception):
    """Base class: ``code`` is stable, ``str(err)`` is the operator-facing message."""

    code: str = "biometric_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class BiometricInputError(BiometricError):
    """A capture or file was refused: corrupt, wrong resolution, no face, malformed transaction..."""

    code = "bad_input"


class QualityTooLow(BiometricInputError):
    """The capture decoded but is below the configured quality floor: the operator should re-capture."""

    code = "quality_too_low"


class TemplateMismatchError(BiometricError):
    """Two templates made by different extractors (or versions) were about to be compared.

    Scores from different extractors are not on the same scale; comparing them silently would make
    thresholds meaningless, so the caller must re-extract instead.
    """

    code = "template_mismatch"
