"""Small inline SVG figures for the HTML reports, drawn from plain JSON-like specs.

``render(spec, uid)`` turns one figure spec from the results model into a ``Figure``: an
``<svg>`` element plus a caption and a text alternative that states the key numbers.

Everything in a spec ultimately comes from student code, so nothing here trusts it: every
number may be NaN, infinite, enormous or of the wrong type, every string may hold markup or
control characters, every list may be empty, ragged or huge. ``render`` never raises; it
draws what it sensibly can or returns None. All text reaches the SVG through
``markupsafe.escape`` after ``_clean``; numbers are formatted by this module.

No third-party plotting: the figures are a few hundred bytes to a few kilobytes of SVG
built from strings (pixel grids as hand-encoded PNG data URIs), fast enough to draw a
handful per student for a whole class in well under a second.
"""

from __future__ import annotations

import base64
import logging
import math
import operator
import re
import struct
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from typing import Any

from markupsafe import Markup, escape

__all__ = ["Figure", "render"]

log = logging.getLogger(__name__)

# Colours with at least 4.5:1 contrast on white (GitHub Primer palette). Lines never
# differ by colour alone: styles differ too and a legend names them.
INK = "#1b1f24"
MUTED = "#57606a"
GRID = "#d0d7de"
STUDENT = "#0969da"
REFERENCE = "#9a6700"
TARGET = "#cf222e"
NAN_RGB = (255, 0, 255)  # magenta marks NaN pixels: rare in real images, easy to spot

FONT = "system-ui, sans-serif"
WIDTH, HEIGHT = 576, 320  # 36rem at 16px: one viewBox unit is one CSS pixel at full size
LEFT, RIGHT, TOP, BOTTOM = 60, 24, 44, 44  # plot margins: tick labels, legend, axis title

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


@dataclass(frozen=True)
class Figure:
    markup: Markup  # one <svg ...>...</svg> element, safe to insert in HTML
    caption: str  # one short visible sentence for <figcaption>, plain text
    description: str  # the text alternative, in words, with the key numbers


def render(spec: Any, uid: str = "fig") -> Figure | None:
    """Draw ``spec`` (dispatching on ``spec["kind"]``) or return None when nothing
    sensible can be drawn. ``uid`` prefixes the element ids, so it must be unique on the
    page. Never raises."""
    if not isinstance(spec, dict):
        return None
    kind = spec.get("kind")
    drawer = _DRAWERS.get(kind) if isinstance(kind, str) else None
    if drawer is None:
        return None
    try:
        return drawer(spec, _safe_id(uid))
    except Exception:  # a bug here must not cost a student their report
        log.warning("could not draw a %r figure", kind, exc_info=True)
        return None


# ------------------------------------------------------------------ hostile values
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


# ------------------------------------------------------------------ SVG building blocks
def _c(v: float) -> str:
    """A coordinate, clamped so that a stray value can never produce 'nan' or a giant."""
    if -1e4 < v < 1e4:
        return f"{v:.1f}"
    return "0" if v != v else f"{math.copysign(1e4, v):.0f}"


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK,
          size: int | None = None, extra: str = "") -> str:
    size_attr = f' font-size="{size}"' if size else ""
    return (f'<text x="{_c(x)}" y="{_c(y)}" text-anchor="{anchor}" fill="{fill}"'
            f'{size_attr}{extra}>{escape(text)}</text>')


def _line(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    """A line; ``style`` holds its stroke attributes, e.g. SOLID or 'stroke="#..."'."""
    return f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" {style}/>'


def _svg(uid: str, width: int, height: int, caption: str, description: str,
         body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:36rem;height:auto" role="img" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="{FONT}" font-size="12">'
        f'<title id="{uid}-title">{escape(caption)}</title>'
        f'<desc id="{uid}-desc">{escape(description)}</desc>'
        f'<rect width="{width}" height="{height}" fill="#fff"/>'  # readable in dark mode
        + "".join(body)
        + "</svg>"
    )


# Line styles, shared by plot lines and their legend swatches.
SOLID = f'stroke="{STUDENT}" stroke-width="2"'
DASHED = f'stroke="{REFERENCE}" stroke-width="2" stroke-dasharray="7 4"'
DOTTED = f'stroke="{TARGET}" stroke-width="2" stroke-dasharray="1 4" stroke-linecap="round"'
BAR_STYLE = f'fill="{STUDENT}" fill-opacity="0.3" stroke="{STUDENT}" stroke-width="0.75"'


def _legend(items: list[tuple[str, str]], x: float = LEFT, y: float = 16) -> list[str]:
    """Swatch + label pairs in a row; ``style`` 'bar' draws a box, else a line style."""
    out = []
    for label, style in items:
        if style == "bar":
            out.append(f'<rect x="{_c(x)}" y="{_c(y - 6)}" width="22" height="10" {BAR_STYLE}/>')
        else:
            out.append(_line(x, y - 1, x + 22, y - 1, style))
        out.append(_text(x + 28, y + 3, label))
        x += 28 + 7 * len(label) + 18  # a generous 7px per character at 12px
    return out


class _Scale:
    """Linear map from data [lo, hi] to pixels [p0, p1]; values outside are clamped to
    the edge, which is how clipped spikes stay visible."""

    __slots__ = ("lo", "hi", "p0", "p1", "_k", "_mid", "_min", "_max")

    def __init__(self, lo: float, hi: float, p0: float, p1: float) -> None:
        self.lo, self.hi, self.p0, self.p1 = max(-HUGE, lo), min(HUGE, hi), p0, p1
        span = self.hi - self.lo  # finite: both ends lie within +-HUGE
        self._k = (p1 - p0) / span if span > 0 else 0.0
        self._mid, self._min, self._max = (p0 + p1) / 2, min(p0, p1), max(p0, p1)

    def __call__(self, v: float) -> float:
        return self.many((v,))[0]

    def many(self, values: Sequence[float]) -> list[float]:
        """Pixels for many values at once: one comprehension, no call per value."""
        p0, k, lo, low, high, mid = self.p0, self._k, self.lo, self._min, self._max, self._mid
        return [low if p < low else high if p > high else p if p == p else mid  # NaN: mid
                for p in [p0 + k * (v - lo) for v in values]]


def _polyline(px: list[float], py: list[float]) -> str:
    """Path data 'Mx y Lx y ...' from pixels as ``_Scale.many`` returns them (finite)."""
    return "M" + " L".join([f"{x:.1f} {y:.1f}" for x, y in zip(px, py, strict=True)])


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round values within [lo, hi]; just the ends when that fails."""
    lo, hi = max(-HUGE, lo), min(HUGE, hi)
    span = hi - lo
    if not (span > 0 and math.isfinite(span)) or span < abs(lo) * 1e-12:
        return [lo] if lo == hi else [lo, hi]
    step = _nice_step(span, count)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    if not 0 <= last - first <= 4 * count:
        return [lo, hi]
    return [k * step for k in range(first, last + 1)]


def _nice_range(lo: float, hi: float, count: int = 4) -> tuple[float, float]:
    """[lo, hi] widened to round values (and to a non-empty range)."""
    lo, hi = max(-HUGE, lo), min(HUGE, hi)
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo, count)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _axes(xs: _Scale, ys: _Scale, xticks: list[tuple[float, str]],
          yticks: list[tuple[float, str]], xtitle: str, ytitle: str) -> list[str]:
    """Grid lines, tick labels, the two axis lines and their titles."""
    x0, x1, y0, y1 = xs.p0, xs.p1, ys.p1, ys.p0  # ys maps upwards: p0 is the bottom
    out = [f'<g fill="{MUTED}">']
    for value, label in yticks:
        y = ys(value)
        out.append(_line(x0, y, x1, y, f'stroke="{GRID}"'))
        out.append(_text(x0 - 6, y + 4, label, anchor="end", fill=MUTED))
    for value, label in xticks:
        x = xs(value)
        out.append(_line(x, y1, x, y1 + 5, f'stroke="{MUTED}"'))
        out.append(_text(x, y1 + 18, label, anchor="middle", fill=MUTED))
    out.append("</g>")
    out.append(_line(x0, y1, x1, y1, f'stroke="{INK}"'))
    out.append(_line(x0, y0, x0, y1, f'stroke="{INK}"'))
    if xtitle:
        out.append(_text((x0 + x1) / 2, y1 + 36, xtitle, anchor="middle"))
    if ytitle:
        out.append(_text(4, y0 - 10, ytitle))
    return out


def _labelled(values: list[float]) -> list[tuple[float, str]]:
    return [(v, _fmt(v)) for v in values]


# ------------------------------------------------------------------ 1. histogram
@dataclass(frozen=True)
class _Density:
    """An expected probability density: uniform on [a, b) or normal(mean, std)."""

    dist: str
    a: float  # uniform: low; normal: mean
    b: float  # uniform: high; normal: std

    @property
    def peak(self) -> float:
        if self.dist == "uniform":
            return 1 / (self.b - self.a)
        return 1 / (self.b * math.sqrt(2 * math.pi))

    @property
    def bulk(self) -> tuple[float, float]:
        """The x-range holding (nearly) all of its mass."""
        if self.dist == "uniform":
            return self.a, self.b
        return self.a - 4 * self.b, self.a + 4 * self.b

    def pdf(self, x: float) -> float:
        if self.dist == "uniform":
            return self.peak if self.a <= x < self.b else 0.0
        z = (x - self.a) / self.b
        return math.exp(-0.5 * min(z * z, 1e4)) * self.peak

    def words(self) -> str:
        if self.dist == "uniform":
            return f"uniform on [{_fmt(self.a)}, {_fmt(self.b)})"
        return f"normal with mean {_fmt(self.a)} and standard deviation {_fmt(self.b)}"


def _density(spec: Any) -> _Density | None:
    if not isinstance(spec, dict):
        return None
    if spec.get("dist") == "uniform":
        a, b = _bounded(spec.get("low")), _bounded(spec.get("high"))
        if a is not None and b is not None and b - a > 1e-100:
            return _Density("uniform", a, b)
    elif spec.get("dist") == "normal":
        mean, std = _bounded(spec.get("mean")), _bounded(spec.get("std"))
        if mean is not None and std is not None and std > 1e-100:
            return _Density("normal", mean, std)
    return None


def _merge_bins(counts: list[float], low: float, width: float) -> list[tuple[float, float, float]]:
    """(left, right, count) bars, merging neighbouring bins down to at most MAX_BARS."""
    group = math.ceil(len(counts) / MAX_BARS)
    bars = []
    for start in range(0, len(counts), group):
        stop = min(start + group, len(counts))
        bars.append((low + start * width, low + stop * width, sum(counts[start:stop])))
    return bars


def _uniform_inside(counts: list[float], low: float, width: float,
                    d: _Density) -> tuple[float, bool]:
    """Samples inside [a, b), assuming samples spread evenly within a bin; and whether
    that assumption was needed (a bin straddles a or b)."""
    inside, estimated = 0.0, False
    for i, c in enumerate(counts):
        left, right = low + i * width, low + (i + 1) * width
        overlap = min(right, d.b) - max(left, d.a)
        if overlap <= 0 or not c:
            continue
        share = min(overlap / width, 1.0)
        estimated = estimated or share < 1.0 - 1e-9
        inside += c * share
    return inside, estimated


def _histogram_stats(counts: list[float], low: float, width: float) -> tuple[float, float]:
    """Mean and standard deviation of the samples, taking each at its bin centre."""
    total = sum(counts)
    centres = [low + (i + 0.5) * width for i in range(len(counts))]
    mean = sum(c * x for c, x in zip(counts, centres, strict=True)) / total
    var = sum(c * (x - mean) * (x - mean) for c, x in zip(counts, centres, strict=True)) / total
    return mean, math.sqrt(max(var, 0.0))


def _draw_histogram(spec: dict, uid: str) -> Figure | None:
    raw = _list(spec.get("counts"))
    low, high = _bounded(spec.get("low")), _bounded(spec.get("high"))
    if not raw or len(raw) > MAX_ITEMS or low is None or high is None or not high - low > 0:
        return None
    parsed = [_count(c) for c in raw]
    invalid = sum(c is None for c in parsed)
    counts = [c or 0.0 for c in parsed]
    total = sum(counts)
    samples = _count(spec.get("samples"))
    n = samples if samples is not None and samples >= total else total
    width = (high - low) / len(counts)
    bars = _merge_bins(counts, low, width)
    density = _density(spec.get("density"))

    # x covers the bars and the bulk of the expected density, with a margin so that a
    # uniform density's steps down to zero stay visible.
    xlo, xhi = low, high
    if density:
        xlo, xhi = min(xlo, density.bulk[0]), max(xhi, density.bulk[1])
    pad = (xhi - xlo) * 0.04
    xs = _Scale(xlo - pad, xhi + pad, LEFT, WIDTH - RIGHT)

    heights = [c / (n * (right - left)) if n else 0.0 for left, right, c in bars]
    bar_top = max(heights)
    top = bar_top
    peak_clipped = False
    if density:
        # A very narrow expected density would squash the bars flat: cut its peak off.
        top = max(bar_top, min(density.peak, 10 * bar_top)) if bar_top else density.peak
        peak_clipped = density.peak > top * 1.0001
    ylo, yhi = _nice_range(0.0, top or 1.0)
    ys = _Scale(0.0, yhi, HEIGHT - BOTTOM, TOP)

    body = _axes(xs, ys, _labelled(_ticks(xs.lo, xs.hi)), _labelled(_ticks(0.0, yhi, 4)),
                 "value", "density")
    body.append(f'<g class="bars" {BAR_STYLE}>')
    base = ys(0.0)
    lefts, rights = xs.many([b[0] for b in bars]), xs.many([b[1] for b in bars])
    for x0, x1, y in zip(lefts, rights, ys.many(heights), strict=True):
        body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.0):.1f}" '
                    f'height="{base - y:.1f}"/>')  # many() returns clamped, finite pixels
    body.append("</g>")
    legend = [("your samples", "bar")]
    if density:
        body.append(_density_path(density, xs, ys))
        legend.append(("expected density", DASHED))
    body += _legend(legend)

    caption = _caption(spec.get("title"), "Your samples against the expected density."
                       if density else "Histogram of your samples.")
    description = _histogram_words(counts, low, high, width, n, total, len(bars), invalid,
                                   density, peak_clipped)
    return Figure(_svg(uid, WIDTH, HEIGHT, caption, description, body), caption, description)


def _density_path(d: _Density, xs: _Scale, ys: _Scale) -> str:
    if d.dist == "uniform":
        # A step: zero, up at a, flat at 1 / (b - a), down at b, zero.
        points = [(xs.lo, 0.0), (d.a, 0.0), (d.a, d.peak), (d.b, d.peak), (d.b, 0.0),
                  (xs.hi, 0.0)]
    else:
        steps = 120  # about 4px per segment at full width: smooth to the eye
        points = [(x, d.pdf(x)) for x in
                  (xs.lo + (xs.hi - xs.lo) * i / steps for i in range(steps + 1))]
    px, py = xs.many([x for x, _ in points]), ys.many([y for _, y in points])
    return f'<path class="expected" d="{_polyline(px, py)}" fill="none" {DASHED}/>'


def _histogram_words(counts: list[float], low: float, high: float, width: float, n: float,
                     total: float, bars: int, invalid: int, density: _Density | None,
                     peak_clipped: bool) -> str:
    head = (f"Histogram of your {_plural(n, 'sample')}, from {_fmt(low)} to {_fmt(high)}"
            if n else f"Histogram with no samples, from {_fmt(low)} to {_fmt(high)}")
    parts = []
    if density is None:
        parts.append(head + ".")
    elif density.dist == "uniform" and n:
        inside, estimated = _uniform_inside(counts, low, width, density)
        outside = max(0.0, 1 - inside / n)
        about = "about " if estimated else ""
        parts.append(f"{head}, drawn over the expected density, {density.words()}: "
                     f"{about}{_pct(100 * outside)} of your samples lie outside "
                     f"[{_fmt(density.a)}, {_fmt(density.b)}).")
    elif density.dist == "normal" and total:
        mean, std = _histogram_stats(counts, low, width)
        parts.append(f"{head}, drawn over the expected density, {density.words()}: your "
                     f"samples have a mean of about {_fmt(mean)} and a standard deviation "
                     f"of about {_fmt(std)} (estimated from the histogram).")
    else:
        parts.append(f"{head}, drawn over the expected density, {density.words()}.")
    if n > total:
        verb = "lies" if n - total == 1 else "lie"
        parts.append(f"{_plural(n - total, 'sample')} {verb} outside the histogram's range.")
    if bars < len(counts):
        parts.append(f"Its {len(counts)} bins are merged into {bars} bars.")
    if invalid:
        parts.append(f"{_plural(invalid, 'bin count')} could not be read and "
                     f"{'is' if invalid == 1 else 'are'} drawn as empty.")
    if density and peak_clipped:
        parts.append(f"The expected density peaks at {_fmt(density.peak)}, above the top "
                     f"of the chart.")
    return " ".join(parts)


# ------------------------------------------------------------------ 2. losses
def _series(raw: Any) -> list[float] | None:
    """The values as floats (at most MAX_ITEMS); NaN, inf, 'nan' and junk become NaN,
    which the line leaves as a gap."""
    items = _list(raw)
    if not items:
        return None
    return _floats(items[:MAX_ITEMS], _num_or_nan)


Point = tuple[int, float]  # (index, value) of one epoch


def _extremes(indices: Sequence[int], values: list[float]) -> list[Point]:
    """The min and max of a run of finite values as points, in index order."""
    a, b = sorted((values.index(min(values)), values.index(max(values))))
    return [(indices[a], values[a])] + ([(indices[b], values[b])] if b != a else [])


def _gappy_bucket(start: int, bucket: list[float]) -> list[Point | None]:
    """Points, and None for gaps, standing for a bucket with non-finite values: the
    extremes of the run before its first gap, of the finite values between its first and
    last gap (merged: they span a pixel or two), and of the run after its last gap."""
    ok = list(map(math.isfinite, bucket))
    n, first = len(bucket), ok.index(False)
    last = n - 1 - ok[::-1].index(False)
    events: list[Point | None] = []
    if first:
        events += _extremes(range(start, start + first), bucket[:first])
    events.append(None)
    inner = list(compress(bucket[first + 1:last], ok[first + 1:last]))
    if inner:
        where = list(compress(range(start + first + 1, start + last), ok[first + 1:last]))
        events += [*_extremes(where, inner), None]
    if last < n - 1:
        events += _extremes(range(start + last + 1, start + n), bucket[last + 1:])
    return events


def _segments(values: list[float]) -> list[list[Point]]:
    """Runs of consecutive finite points, decimated to about MAX_LINE_POINTS points in
    all by keeping each bucket's min and max (so that spikes survive); non-finite values
    split runs (gaps in the line). The gap-free cases stay at C speed."""
    ok = list(map(math.isfinite, values))
    size = max(1, math.ceil(len(values) / (MAX_LINE_POINTS // 2)))
    if size == 1 and all(ok):
        return [list(enumerate(values))]
    starts = range(0, len(values), size)
    buckets = [values[i:i + size] for i in starts]
    # Every bucket's extremes at once, in C (meaningless for gappy buckets: not used).
    lows, highs = list(map(min, buckets)), list(map(max, buckets))
    at_low, at_high = list(map(list.index, buckets, lows)), list(map(list.index, buckets, highs))
    segments: list[list[Point]] = [[]]
    for k, start in enumerate(starts):
        if all(ok[start:start + size]):
            a, b = start + at_low[k], start + at_high[k]
            if a == b:
                segments[-1].append((a, lows[k]))
            else:
                pair = [(a, lows[k]), (b, highs[k])]
                segments[-1] += pair if a < b else pair[::-1]
            continue
        for event in _gappy_bucket(start, buckets[k]):
            if event is not None:
                segments[-1].append(event)
            elif segments[-1]:
                segments.append([])
    return [s for s in segments if s]


@dataclass(frozen=True)
class _YAxis:
    scale: _Scale
    ticks: list[tuple[float, str]]
    log: bool = False
    clipped: tuple[float, float] | None = None

    def __call__(self, v: float) -> float:
        """The pixel height of a finite loss (positive on a log axis)."""
        return self.scale(math.log10(v) if self.log else v)

    def many(self, values: Sequence[float]) -> list[float]:
        return self.scale.many(list(map(math.log10, values)) if self.log else values)


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[int(q * (len(ordered) - 1))]


def _loss_axis(finite: list[float]) -> _YAxis:
    """Linear axis, log axis when positive values span many orders of magnitude, or a
    linear axis cut to the bulk of the values when a few outliers would flatten it."""
    # Quantiles from at most ~2000 evenly spread values: sorting 100000 costs too much.
    ordered = sorted(finite[::max(1, len(finite) // 2000)])
    lo, hi = max(-HUGE, min(finite)), min(HUGE, max(finite))
    bottom, top = HEIGHT - BOTTOM, TOP
    if lo > 0 and hi / lo > 1e3:
        e_lo, e_hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        # Decades at round multiples (1, 1e+10, 1e+20), not every seventh one.
        step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200) if (e_hi - e_lo) / s <= 6)
        first = -(-e_lo // step) * step
        ticks = [(float(e), _decade(e)) for e in range(first, e_hi + 1, step)]
        return _YAxis(_Scale(e_lo, e_hi, bottom, top), ticks, log=True)
    clipped = None
    p10, p90 = (max(-HUGE, min(HUGE, _quantile(ordered, q))) for q in (0.1, 0.9))
    core = p90 - p10 or abs(_quantile(ordered, 0.5)) * 0.1 or 1.0
    if hi - lo > 50 * core:
        lo, hi = max(lo, p10 - 5 * core), min(hi, p90 + 5 * core)
        clipped = (lo, hi)
    lo, hi = _nice_range(lo, hi)
    return _YAxis(_Scale(lo, hi, bottom, top), _labelled(_ticks(lo, hi, 5)), clipped=clipped)


def _decade(e: int) -> str:
    return _fmt(10.0 ** e) if -3 <= e <= 3 else f"1e{e:+03d}"


def _loss_path(segments: list[list[Point]], xs: _Scale, y: _YAxis, style: str, cls: str) -> str:
    parts = []
    for seg in segments:
        epochs, values = zip(*seg, strict=True)
        px, py = xs.many([i + 1 for i in epochs]), y.many(values)
        # A lone point between gaps: a zero-length subpath, drawn as a dot by round caps.
        parts.append(_polyline(px, py) + (" h0" if len(seg) == 1 else ""))
    return (f'<path class="{cls}" d="{" ".join(parts)}" fill="none" stroke-linecap="round" '
            f'stroke-linejoin="round" {style}/>')


def _finite(values: list[float]) -> list[float]:
    return list(compress(values, map(math.isfinite, values)))


def _curve_words(values: list[float]) -> tuple[float, float, float] | None:
    finite = _finite(values)
    return (finite[0], finite[-1], min(finite)) if finite else None


def _draw_losses(spec: dict, uid: str) -> Figure | None:
    losses, reference = _series(spec.get("losses")), _series(spec.get("reference"))
    if losses is None and reference is None:
        return None
    target = _num(spec.get("target"))
    raw_length = len(spec["losses"]) if losses is not None else 0
    label = _clean(spec.get("target_label"))
    finite = _finite(losses or []) + _finite(reference or [])
    epochs = max(len(losses or []), len(reference or []))

    y = _YAxis(_Scale(0, 1, HEIGHT - BOTTOM, TOP), _labelled([0.0, 0.5, 1.0]))
    if finite or target is not None:
        y = _loss_axis(finite + ([target] if target is not None else []))
    xs = _Scale(1, max(epochs, 2), LEFT, WIDTH - RIGHT)
    xticks = [t for t in _ticks(1, max(epochs, 2), 6) if t == int(t)]
    body = _axes(xs, y.scale, _labelled(xticks), y.ticks, "epoch",
                 "loss (log scale)" if y.log else "loss")

    legend = []
    if target is not None:
        ty = y(target)
        body.append(_line(LEFT, ty, WIDTH - RIGHT, ty, f'class="target" {DOTTED}'))
        # Labelled at the line's end, with a white halo so that curves cannot hide it.
        halo = ' stroke="#fff" stroke-width="3" paint-order="stroke"'
        body.append(_text(WIDTH - RIGHT - 4, ty - 6, _clean(label, 48) or f"target {_fmt(target)}",
                          anchor="end", fill=TARGET, extra=halo))
    if reference:
        body.append(_loss_path(_segments(reference), xs, y, DASHED, "reference"))
        legend.append(("reference", DASHED))
    if losses:
        body.append(_loss_path(_segments(losses), xs, y, SOLID, "yours"))
        legend.insert(0, ("your loss", SOLID))
    if target is not None:
        legend.append(("target", DOTTED))
    if not finite:
        body.append(_text(WIDTH / 2, HEIGHT / 2, "no finite values to draw", anchor="middle",
                          fill=MUTED))
    body += _legend(legend)

    extras = [w for w, present in (("the reference's", reference),
                                   ("the target", target is not None)) if present]
    sentence = f"Your loss per epoch, with {_spoken_list(extras)}." if extras else (
        "Your loss per epoch.")
    caption = _caption(spec.get("title"), sentence)
    description = _loss_words(losses, reference, target, label, raw_length, y, finite)
    return Figure(_svg(uid, WIDTH, HEIGHT, caption, description, body), caption, description)


def _loss_words(losses: list[float] | None, reference: list[float] | None,
                target: float | None, label: str, raw_length: int, y: _YAxis,
                finite: list[float]) -> str:
    clauses = []
    if losses is not None:
        curve = _curve_words(losses)
        over = f"over {_plural(len(losses), 'epoch')}"
        if curve:
            first, last, lowest = curve
            clauses.append(f"Your loss {over} went from {_fmt(first)} to {_fmt(last)} "
                           f"(lowest {_fmt(lowest)})")
        else:
            clauses.append(f"Your loss {over} was never a finite number")
    else:
        clauses.append("Your loss is missing")
    if reference is not None:
        curve = _curve_words(reference)
        clauses.append(f"the reference's went from {_fmt(curve[0])} to {_fmt(curve[1])}"
                       if curve else "the reference's was never a finite number")
    if target is not None:
        named = f" (\u201c{label}\u201d)" if label else ""
        clauses.append(f"the target{named}, {_fmt(target)}, is drawn as a dotted line")
    sentences = ["; ".join(clauses) + "."]
    if losses:
        ok = list(map(math.isfinite, losses))
        bad = ok.count(False)
        if 0 < bad < len(losses):
            sentences.append(f"{_plural(bad, 'epoch')} of yours (first: epoch "
                             f"{ok.index(False) + 1}) had a loss that is not a finite number "
                             f"(NaN or infinite), shown as {'a gap' if bad == 1 else 'gaps'} "
                             f"in the line.")
    if raw_length > MAX_ITEMS:
        sentences.append(f"Only the first {MAX_ITEMS} of your {raw_length} epochs are drawn.")
    if y.log:
        sentences.append("The loss axis is logarithmic, as the values span many orders "
                         "of magnitude.")
    if y.clipped:
        lo, hi = y.clipped
        beyond = (sum(map(operator.lt, finite, repeat(lo)))
                  + sum(map(operator.gt, finite, repeat(hi))))
        sentences.append(f"The loss axis is cut to [{_fmt(lo)}, {_fmt(hi)}] so the bulk of "
                         f"the curve stays readable: {_plural(beyond, 'value')} beyond it "
                         f"{'is' if beyond == 1 else 'are'} drawn at the edge (extremes "
                         f"{_fmt(min(finite))} and {_fmt(max(finite))}).")
    return " ".join(sentences)


# ------------------------------------------------------------------ 3. channels
def _pixel(v: Any) -> float:
    """A value as a float: NaN when it is not a number, +-inf for giant ints."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return NAN
    try:
        return float(v)
    except OverflowError:  # as good as infinite: drawn clamped
        return math.inf if v > 0 else -math.inf


def _picks(size: int) -> list[int]:
    """Nearest-neighbour indices that downsample ``size`` to at most MAX_PIXELS."""
    if size <= MAX_PIXELS:
        return list(range(size))
    return [int((k + 0.5) * size / MAX_PIXELS) for k in range(MAX_PIXELS)]


@dataclass(frozen=True)
class _Grid:
    """One channel: its full size and the values drawn (downsampled when large), row by
    row, with NaN for NaN or anything that is not a number."""

    height: int
    width: int
    rows: int  # drawn
    cols: int
    flat: list[float]

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def downsampled(self) -> bool:
        return (self.rows, self.cols) != self.shape

    @cached_property
    def nan(self) -> list[int]:
        """Positions of NaN values (the map/any test keeps the common case at C speed)."""
        if not any(map(math.isnan, self.flat)):
            return []
        return [k for k, v in enumerate(self.flat) if v != v]

    @cached_property
    def in_range(self) -> bool:
        """All values in [0, 1] (min/max run in C; NaN would fool them, hence the check)."""
        return not self.nan and 0.0 <= min(self.flat) and max(self.flat) <= 1.0

    @cached_property
    def out_of_range(self) -> int:
        if self.in_range:
            return 0
        return (sum(map(operator.lt, self.flat, repeat(0.0)))
                + sum(map(operator.gt, self.flat, repeat(1.0))))

    @cached_property
    def levels(self) -> bytes:
        """Values clamped to [0, 1] as bytes 0..255 (NaN becomes 0; it is painted over).
        A plain comprehension: several times faster than chained map(min/max) here."""
        if self.in_range:
            return bytes([int(v * 255.0 + 0.5) for v in self.flat])
        return bytes([int(v * 255.0 + 0.5) if 0.0 <= v <= 1.0 else 255 if v > 1.0 else 0
                      for v in self.flat])


def _grid(channel: Any) -> _Grid | None:
    """A rectangular, non-empty H x W list of lists, or None. Only the rows and columns
    that will be drawn are converted, so a huge grid costs little."""
    rows = _list(channel)
    if not rows or len(rows) > MAX_ITEMS:
        return None
    first = _list(rows[0])
    width = len(first) if first else 0
    if not 0 < width <= MAX_ITEMS:
        return None
    if not all(isinstance(r, (list, tuple)) and len(r) == width for r in rows):
        return None
    cols, picked_rows = _picks(width), _picks(len(rows))
    flat: list[Any] = []
    if len(cols) == width:
        for i in picked_rows:
            flat += rows[i]
    else:
        pick = operator.itemgetter(*cols)  # len(cols) == MAX_PIXELS > 1: returns tuples
        for i in picked_rows:
            flat += pick(rows[i])
    return _Grid(len(rows), width, len(picked_rows), len(cols), _floats(flat, _pixel))


@dataclass(frozen=True)
class _Image:
    """One row of the figure: the channels of a [C, H, W] value (None where invalid)."""

    channels: list[_Grid | None]
    total: int  # channels in the spec, including those not drawn

    @property
    def valid(self) -> list[_Grid]:
        return [g for g in self.channels if g is not None]

    @property
    def composable(self) -> bool:
        shapes = {g.shape for g in self.valid}
        return len(self.channels) == 3 and len(self.valid) == 3 and len(shapes) == 1


def _image(raw: Any) -> _Image | None:
    channels = _list(raw)
    if not channels:
        return None
    image = _Image([_grid(c) for c in channels[:MAX_CHANNELS]], len(channels))
    return image if image.valid else None


def _png(pixels: bytes | bytearray, width: int, height: int) -> bytes:
    """An 8-bit RGB PNG from packed RGB pixels, row by row (filter type 0 on each row)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    stride = 3 * width
    raw = b"".join(b"\x00" + pixels[r * stride:(r + 1) * stride] for r in range(height))
    # A 4 KiB window and small memLevel: zlib's default set-up alone costs more than
    # compressing these few kilobytes, and compresses them no better.
    packer = zlib.compressobj(6, zlib.DEFLATED, 12, 4)
    data = packer.compress(raw) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def _rgb(red: _Grid, green: _Grid, blue: _Grid) -> bytes:
    """A PNG of three same-sized grids (one grid three times gives grey), NaN in magenta.
    Interleaving by strided slices keeps the per-pixel work in C."""
    pixels = bytearray(3 * len(red.flat))
    pixels[0::3], pixels[1::3], pixels[2::3] = red.levels, green.levels, blue.levels
    for k in {*red.nan, *green.nan, *blue.nan}:
        pixels[3 * k:3 * k + 3] = NAN_RGB
    return _png(pixels, red.cols, red.rows)


CELL, GAP_X, ROW_LABEL = 96, 16, 76  # image box, space between boxes, row-label column


def _picture(png: bytes, grid: _Grid, col: int, top: float, label: str) -> list[str]:
    """An <image> fitted into the box of column ``col``, with an outline and a label."""
    scale = CELL / max(grid.rows, grid.cols)
    iw, ih = grid.cols * scale, grid.rows * scale
    x = ROW_LABEL + col * (CELL + GAP_X) + (CELL - iw) / 2
    y = top + (CELL - ih) / 2
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return [
        f'<image x="{_c(x)}" y="{_c(y)}" width="{_c(iw)}" height="{_c(ih)}" '
        f'preserveAspectRatio="none" style="image-rendering:pixelated" href="{uri}"/>',
        f'<rect x="{_c(x - 0.5)}" y="{_c(y - 0.5)}" width="{_c(iw + 1)}" height="{_c(ih + 1)}" '
        f'fill="none" stroke="{MUTED}"/>',
        _text(ROW_LABEL + col * (CELL + GAP_X) + CELL / 2, top + CELL + 15, label,
              anchor="middle", fill=MUTED),
    ]


def _channel_labels(raw: Any, count: int) -> list[str]:
    labels = _list(raw) or (["red", "green", "blue"] if count == 3 else [])
    out = []
    for c in range(count):
        label = _clean(labels[c], 16) if c < len(labels) else ""
        out.append(label or f"channel {c + 1}")
    return out


def _draw_channels(spec: dict, uid: str) -> Figure | None:
    rows = [(name, image) for name, image in (("expected", _image(spec.get("expected"))),
                                              ("yours", _image(spec.get("got")))) if image]
    if not rows:
        return None
    count = max(len(image.channels) for _, image in rows)
    labels = _channel_labels(spec.get("labels"), count)
    composite = any(image.composable for _, image in rows)
    width = ROW_LABEL + (count + composite) * (CELL + GAP_X)
    height = 8 + len(rows) * (CELL + 28)

    body = []
    for r, (name, image) in enumerate(rows):
        top = 8 + r * (CELL + 28)
        body.append(_text(4, top + CELL / 2 + 4, name, size=13))
        if image.composable:
            red, green, blue = image.valid
            body += _picture(_rgb(red, green, blue), red, 0, top, "colour")
        for c, grid in enumerate(image.channels):
            col = c + composite
            if grid is None:
                body.append(_text(ROW_LABEL + col * (CELL + GAP_X) + CELL / 2, top + CELL / 2,
                                  "not drawn", anchor="middle", fill=MUTED))
            else:
                body += _picture(_rgb(grid, grid, grid), grid, col, top, labels[c])

    caption = _caption(spec.get("title"), "The expected image and yours, channel by channel."
                       if len(rows) == 2 else "The image, channel by channel.")
    description = _channel_words(dict(rows), labels)
    return Figure(_svg(uid, width, height, caption, description, body), caption, description)


def _shapes(image: _Image) -> set[tuple[int, int]]:
    return {g.shape for g in image.valid}


def _size_words(image: _Image) -> str:
    shapes = _shapes(image)
    if len(shapes) > 1:
        return "images of different sizes"
    h, w = next(iter(shapes))
    return f"{h} x {w} {'image' if len(image.valid) == 1 else 'images'}"


def _compare(expected: _Image, got: _Image) -> tuple[int, float, int]:
    """Channels that differ, the largest difference, channels compared (same-shaped
    pairs). NaN where the other has a number counts as a difference of unknown size."""
    differ, largest, compared = 0, 0.0, 0
    for e, g in zip(expected.channels, got.channels, strict=False):
        if e is None or g is None or e.shape != g.shape:
            continue
        compared += 1
        diffs = list(map(abs, map(operator.sub, e.flat, g.flat)))
        # Drop NaN differences (NaN on either side, or inf - inf): max() mishandles them.
        worst = max(compress(diffs, map(operator.eq, diffs, diffs)), default=0.0)
        differ += e.nan != g.nan or worst > CHANNEL_TOL
        largest = max(largest, worst)
    return differ, largest, compared


def _value_words(name: str, image: _Image) -> list[str]:
    """NaN, out-of-range, downsampling and invalid-channel notes for one row."""
    whose = "your" if name == "yours" else "the expected"
    nan = sum(len(g.nan) for g in image.valid)
    out = sum(g.out_of_range for g in image.valid)
    notes = []
    if nan:
        notes.append(f"{_plural(nan, 'value')} in {whose} image {'is' if nan == 1 else 'are'} "
                     f"NaN or not a number, drawn in magenta.")
    if out:
        notes.append(f"{_plural(out, 'value')} in {whose} image {'lies' if out == 1 else 'lie'} "
                     f"outside [0, 1] and {'is' if out == 1 else 'are'} drawn clamped.")
    big = next((g for g in image.valid if g.downsampled), None)
    if big:
        notes.append(f"{whose.capitalize()} {big.height} x {big.width} image is shown "
                     f"downsampled to {big.rows} x {big.cols}" + (
                         ", so these counts cover the pixels shown." if nan or out else "."))
    skipped = image.total - len(image.valid)
    if skipped:
        notes.append(f"{_plural(skipped, 'channel')} of {whose} image "
                     f"{'is' if skipped == 1 else 'are'} not drawn (not a rectangular grid of "
                     f"numbers, or beyond the first {MAX_CHANNELS}).")
    return notes


def _channel_phrase(labels: list[str]) -> str:
    """'its red, green and blue channels', 'its single channel, depth', 'its 8 channels'."""
    if len(labels) == 1:
        return f"its single channel, {labels[0]}"
    if len(labels) <= 4:
        return f"its {_spoken_list(labels)} channels"
    return f"its {len(labels)} channels"


def _channel_words(rows: dict[str, _Image], labels: list[str]) -> str:
    expected, got = rows.get("expected"), rows.get("yours")
    names = _channel_phrase(labels)
    if expected and got:
        head = _comparison_words(expected, got, names)
    elif got:
        head = (f"Your result as {_size_words(got)} with {names} (no expected result to "
                f"compare with).")
    else:
        assert expected is not None  # _draw_channels only passes rows it could read
        head = (f"The expected result as {_size_words(expected)} with {names} (no result "
                f"of yours to compare with).")
    notes = [n for name, image in rows.items() for n in _value_words(name, image)]
    return " ".join([head, *notes])


def _comparison_words(expected: _Image, got: _Image, names: str) -> str:
    if _shapes(expected) != _shapes(got) or expected.total != got.total:
        return (f"Your result ({_size_words(got)}, {_plural(got.total, 'channel')}) and the "
                f"expected one ({_size_words(expected)}, {_plural(expected.total, 'channel')}) "
                f"differ in shape, so they are not compared value by value.")
    head = f"Expected and your result as {_size_words(got)}, each with {names}"
    differ, largest, compared = _compare(expected, got)
    if not compared:
        return head + "."
    if not differ:
        return (f"{head}: all {_plural(compared, 'channel')} match the expected ones to within "
                f"{_fmt(CHANNEL_TOL)}.")
    one = differ == 1
    return (f"{head}: {_plural(differ, 'channel')} of {compared} {'differs' if one else 'differ'} "
            f"from the expected {'one' if one else 'ones'} (the largest difference is "
            f"{_fmt(largest)}).")


# ------------------------------------------------------------------ 4. scores
def _draw_scores(spec: dict, uid: str) -> Figure | None:
    raw = _list(spec.get("scores"))
    max_score = _bounded(spec.get("max_score"))
    if not raw or len(raw) > MAX_ITEMS or max_score is None or max_score <= 0:
        return None
    scores = [s for s in _floats(raw, _num_or_nan) if -BIG <= s <= BIG]  # drops NaN, inf
    if not scores:
        return None
    percents = [100 * s / max_score for s in scores]
    bins = [0] * 10
    for p in percents:
        bins[min(max(int(p / 10 + 1e-9), 0), 9)] += 1  # 100 % joins the 90-100 % bin

    chart_h = 300
    xs = _Scale(0, 100, LEFT, WIDTH - RIGHT)
    _, top = _nice_range(0, max(bins) * 1.15)  # headroom for the count labels
    ys = _Scale(0, top, chart_h - BOTTOM, TOP)
    xticks = [(10.0 * k, f"{10 * k}%") for k in range(11)]
    body = _axes(xs, ys, xticks, [], f"score, as a percentage of {_fmt(max_score)} points",
                 "students")
    body.append(f'<g class="bars" {BAR_STYLE}>')
    for k, n in enumerate(bins):
        x0, x1, y = xs(10 * k) + 2, xs(10 * k + 10) - 2, ys(n)
        body.append(f'<rect x="{_c(x0)}" y="{_c(y)}" width="{_c(x1 - x0)}" '
                    f'height="{_c(ys(0) - y)}"/>')
    body.append("</g>")
    body += [_text(xs(10 * k + 5), ys(n) - 5, str(n), anchor="middle")
             for k, n in enumerate(bins)]

    caption = _caption(spec.get("title"), "Distribution of the class's total scores.")
    description = _score_words(percents, bins, max_score, len(raw) - len(scores))
    return Figure(_svg(uid, WIDTH, chart_h, caption, description, body), caption, description)


def _score_words(percents: list[float], bins: list[int], max_score: float, skipped: int) -> str:
    ordered = sorted(percents)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    below = sum(p < 50 for p in percents)
    busiest = max(range(10), key=lambda k: bins[k])
    words = [f"Scores of {_plural(len(percents), 'student')}: median {_pct(median)} of "
             f"{_fmt(max_score)} points, from {_pct(ordered[0])} to {_pct(ordered[-1])}; "
             f"{_plural(below, 'student')} below 50%; the most common range is "
             f"{busiest * 10}\u2013{busiest * 10 + 10}% ({_plural(bins[busiest], 'student')})."]
    outside = sum(not 0 <= p <= 100 for p in percents)
    if outside:
        words.append(f"{_plural(outside, 'score')} outside 0\u2013{_fmt(max_score)} points "
                     f"{'is' if outside == 1 else 'are'} counted in the nearest end bar.")
    if skipped:
        verb = "is" if skipped == 1 else "are"
        words.append(f"{_plural(skipped, 'entry', 'entries')} that {verb} not a finite "
                     f"number {verb} left out.")
    return " ".join(words)


_DRAWERS: dict[str, Callable[[dict, str], Figure | None]] = {
    "histogram": _draw_histogram,
    "losses": _draw_losses,
    "channels": _draw_channels,
    "scores": _draw_scores,
}
