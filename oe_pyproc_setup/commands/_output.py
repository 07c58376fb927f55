"""Small text-output helpers shared by homes and configure: status marks with an ASCII fallback."""

from __future__ import annotations

import sys

_MARKS = {"ok": "✓", "warn": "!", "error": "✗"}
_ASCII_MARKS = {"ok": "+", "warn": "!", "error": "x"}


def can_encode(text: str, stream: object = None) -> bool:
    encoding = getattr(stream if stream is not None else sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def mark(status: str) -> str:
    """✓ / ! / ✗ for ok / warn / error, or + / ! / x when the console cannot encode them."""
    symbol = _MARKS.get(status, "?")
    return symbol if can_encode(symbol) else _ASCII_MARKS.get(status, "?")
