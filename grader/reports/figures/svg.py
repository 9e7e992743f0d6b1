"""SVG building blocks shared by every kind of figure: the ``Figure`` result, layout,
line styles, text, lines, legends, linear scales, round tick values and axes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from grader.reports.figures.values import (
    GRID,
    HUGE,
    INK,
    MUTED,
    REFERENCE,
    STUDENT,
    TARGET,
    _fmt,
)

FONT = "system-ui, sans-serif"
WIDTH, HEIGHT = 576, 320  # 36rem at 16px: one viewBox unit is one CSS pixel at full size
LEFT, RIGHT, TOP, BOTTOM = 60, 24, 44, 44  # plot margins: tick labels, legend, axis title


@dataclass(frozen=True)
class Figure:
    markup: Markup  # one <svg ...>...</svg> element, safe to insert in HTML
    caption: str  # one short visible sentence for <figcaption>, plain text
    description: str  # the text alternative, in words, with the key numbers


def _c(v: float) -> str:
    """A coordinate, clamped so that a stray value can never produce 'nan' or a giant."""
    if -1e4 < v < 1e4:
        return f"{v:.1f}"
    return "0" if v != v else f"{math.copysign(1e4, v):.0f}"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    fill: str = INK,
    size: int | None = None,
    extra: str = "",
) -> str:
    size_attr = f' font-size="{size}"' if size else ""
    return (
        f'<text x="{_c(x)}" y="{_c(y)}" text-anchor="{anchor}" fill="{fill}"'
        f"{size_attr}{extra}>{escape(text)}</text>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    """A line; ``style`` holds its stroke attributes, e.g. SOLID or 'stroke="#..."'."""
    return f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" {style}/>'


def _svg(
    uid: str, width: int, height: int, caption: str, description: str, body: list[str]
) -> Markup:
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
        return [
            low if p < low else high if p > high else p if p == p else mid  # NaN: mid
            for p in [p0 + k * (v - lo) for v in values]
        ]


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


def _axes(
    xs: _Scale,
    ys: _Scale,
    xticks: list[tuple[float, str]],
    yticks: list[tuple[float, str]],
    xtitle: str,
    ytitle: str,
) -> list[str]:
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
