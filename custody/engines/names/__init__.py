"""Name engine: normalisation, parsing, cross-script comparison of personal names (no Django)."""

from custody.engines.names.normalise import fold_latin, normalise_arabic, search_tokens, skeleton

__all__ = ["fold_latin", "normalise_arabic", "search_tokens", "skeleton"]
