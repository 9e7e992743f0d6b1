"""Shared constants and the helpers that make untrusted spec values safe: numbers that may
be NaN, infinite, enormous or of the wrong type, text that may hold markup or control
characters; plus number formatting and the small word helpers every figure uses."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Callable, Sequence
from typing import Any

# Colours with at least 4.5:1 contrast on white (GitHub Primer palette). Lines never
# differ by colour alone: styles differ too and a legend names them.
INK = "#1b1f24"
MUTED = "#57606a"
GRID = "#d0d7de"
STUDENT = "#0969da"
REFERENCE = "#9a6700"
TARGET = "#cf222e"
NAN_RGB = (255, 0, 255)  # magenta marks NaN pixels: rare in real images, easy to spot

MAX_ITEMS = 100_000  # longest list looked at; beyond, losses are truncated, others refused
MAX_LINE_POINTS = 400  # per drawn line, after min/max decimation
MAX_BARS = 200  # histogram bins beyond this are merged: thinner bars would be sub-pixel
MAX_PIXELS = 64  # per side of a drawn pixel grid; larger grids are downsampled
MAX_CHANNELS = 8
MAX_TEXT = 120  # characters of any title or label
BIG = 1e100  # parameters (bounds, means, scores) beyond this are treated as invalid
NAN = math.nan
HUGE = 1e300  # coordinates are clamped here so that hi - lo can never overflow
CHANNEL_TOL = 1e-3  # a channel "differs" when some value is off by more than this


def _num(value: Any) -> float | None:
    """A finite float, or None for anything else (bools, strings, NaN, inf, huge ints)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return x if math.isfinite(x) else None


def _bounded(value: Any, limit: float = BIG) -> float | None:
    """``_num`` restricted to [-limit, limit], so that arithmetic on it stays finite."""
    x = _num(value)
    return x if x is not None and abs(x) <= limit else None


def _count(value: Any) -> float | None:
    x = _bounded(value, 1e15)
    return x if x is not None and x >= 0 else None


def _num_or_nan(value: Any) -> float:
    x = _num(value)
    return NAN if x is None else x


def _list(value: Any) -> Sequence[Any] | None:
    return value if isinstance(value, (list, tuple)) else None


def _floats(items: Sequence[Any], convert: Callable[[Any], float]) -> list[float]:
    """Every item as a float. The C-level array conversion takes the common case (all
    real numbers: bools count as 0 and 1 here) fast; anything else goes item by item
    through ``convert``, which decides what junk becomes (usually NaN)."""
    try:
        return array("d", items).tolist()
    except (TypeError, ValueError, OverflowError):
        return [convert(v) for v in items]


_UNSAFE_TEXT = re.compile(
    # C0/C1 controls, lone surrogates and non-characters are invalid or invisible in XML;
    # bidi overrides could make a title read differently from what it says.
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)


def _clean(value: Any, limit: int = MAX_TEXT) -> str:
    """Plain, single-line, length-limited text from an untrusted value ('' if not a str)."""
    if not isinstance(value, str):
        return ""
    text = " ".join(_UNSAFE_TEXT.sub(" ", value[: limit * 4]).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _safe_id(uid: Any) -> str:
    text = _ID_UNSAFE.sub("-", uid)[:64] if isinstance(uid, str) else ""
    return text if text[:1].isalpha() else f"fig-{text}"


def _fmt(x: float) -> str:
    """Compact number for ticks and descriptions: 3 significant digits, no '-0'; whole
    numbers below a million in full ('1500' reads better than '1.5e+03')."""
    if math.isfinite(x) and abs(x) < 1e6 and x == int(x):
        return str(int(x))
    text = f"{x:.3g}"
    return "0" if text == "-0" else text


def _pct(p: float) -> str:
    return f"{p:.0f}%" if abs(p) < 1e6 else f"{p:.3g}%"  # never a 200-digit number


def _plural(n: float, word: str, many: str | None = None) -> str:
    shown = str(int(n)) if n == int(n) and abs(n) < 1e15 else _fmt(n)  # "10000", not "1e+04"
    return f"{shown} {word if n == 1 else many or word + 's'}"


def _caption(title: Any, sentence: str) -> str:
    title = _clean(title).rstrip(".:; ")
    return f"{title}: {sentence[0].lower()}{sentence[1:]}" if title else sentence


def _spoken_list(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
