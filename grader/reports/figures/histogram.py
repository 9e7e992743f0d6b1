"""The "histogram" figure: a student's samples as density bars, optionally drawn over the
expected uniform or normal density, with words that compare the two."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grader.reports.figures.svg import (
    BAR_STYLE,
    BOTTOM,
    DASHED,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    Figure,
    _axes,
    _labelled,
    _legend,
    _nice_range,
    _polyline,
    _Scale,
    _svg,
    _ticks,
)
from grader.reports.figures.values import (
    MAX_BARS,
    MAX_ITEMS,
    _bounded,
    _caption,
    _count,
    _fmt,
    _list,
    _pct,
    _plural,
)


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


def _uniform_inside(
    counts: list[float], low: float, width: float, d: _Density
) -> tuple[float, bool]:
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


def draw(spec: dict, uid: str) -> Figure | None:
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

    body = _axes(
        xs, ys, _labelled(_ticks(xs.lo, xs.hi)), _labelled(_ticks(0.0, yhi, 4)), "value", "density"
    )
    body.append(f'<g class="bars" {BAR_STYLE}>')
    base = ys(0.0)
    lefts, rights = xs.many([b[0] for b in bars]), xs.many([b[1] for b in bars])
    for x0, x1, y in zip(lefts, rights, ys.many(heights), strict=True):
        body.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.0):.1f}" '
            f'height="{base - y:.1f}"/>'
        )  # many() returns clamped, finite pixels
    body.append("</g>")
    legend = [("your samples", "bar")]
    if density:
        body.append(_density_path(density, xs, ys))
        legend.append(("expected density", DASHED))
    body += _legend(legend)

    caption = _caption(
        spec.get("title"),
        "Your samples against the expected density." if density else "Histogram of your samples.",
    )
    description = _histogram_words(
        counts, low, high, width, n, total, len(bars), invalid, density, peak_clipped
    )
    return Figure(_svg(uid, WIDTH, HEIGHT, caption, description, body), caption, description)


def _density_path(d: _Density, xs: _Scale, ys: _Scale) -> str:
    if d.dist == "uniform":
        # A step: zero, up at a, flat at 1 / (b - a), down at b, zero.
        points = [(xs.lo, 0.0), (d.a, 0.0), (d.a, d.peak), (d.b, d.peak), (d.b, 0.0), (xs.hi, 0.0)]
    else:
        steps = 120  # about 4px per segment at full width: smooth to the eye
        points = [
            (x, d.pdf(x)) for x in (xs.lo + (xs.hi - xs.lo) * i / steps for i in range(steps + 1))
        ]
    px, py = xs.many([x for x, _ in points]), ys.many([y for _, y in points])
    return f'<path class="expected" d="{_polyline(px, py)}" fill="none" {DASHED}/>'


def _histogram_words(
    counts: list[float],
    low: float,
    high: float,
    width: float,
    n: float,
    total: float,
    bars: int,
    invalid: int,
    density: _Density | None,
    peak_clipped: bool,
) -> str:
    head = (
        f"Histogram of your {_plural(n, 'sample')}, from {_fmt(low)} to {_fmt(high)}"
        if n
        else f"Histogram with no samples, from {_fmt(low)} to {_fmt(high)}"
    )
    parts = []
    if density is None:
        parts.append(head + ".")
    elif density.dist == "uniform" and n:
        inside, estimated = _uniform_inside(counts, low, width, density)
        outside = max(0.0, 1 - inside / n)
        about = "about " if estimated else ""
        parts.append(
            f"{head}, drawn over the expected density, {density.words()}: "
            f"{about}{_pct(100 * outside)} of your samples lie outside "
            f"[{_fmt(density.a)}, {_fmt(density.b)})."
        )
    elif density.dist == "normal" and total:
        mean, std = _histogram_stats(counts, low, width)
        parts.append(
            f"{head}, drawn over the expected density, {density.words()}: your "
            f"samples have a mean of about {_fmt(mean)} and a standard deviation "
            f"of about {_fmt(std)} (estimated from the histogram)."
        )
    else:
        parts.append(f"{head}, drawn over the expected density, {density.words()}.")
    if n > total:
        verb = "lies" if n - total == 1 else "lie"
        parts.append(f"{_plural(n - total, 'sample')} {verb} outside the histogram's range.")
    if bars < len(counts):
        parts.append(f"Its {len(counts)} bins are merged into {bars} bars.")
    if invalid:
        parts.append(
            f"{_plural(invalid, 'bin count')} could not be read and "
            f"{'is' if invalid == 1 else 'are'} drawn as empty."
        )
    if density and peak_clipped:
        parts.append(
            f"The expected density peaks at {_fmt(density.peak)}, above the top of the chart."
        )
    return " ".join(parts)
