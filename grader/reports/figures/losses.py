"""The "losses" figure: a student's loss per epoch, optionally with a reference curve and
a target line; long or gappy series are decimated, wild ranges get a log or cut axis."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any

from grader.reports.figures.svg import (
    BOTTOM,
    DASHED,
    DOTTED,
    HEIGHT,
    LEFT,
    RIGHT,
    SOLID,
    TOP,
    WIDTH,
    Figure,
    _axes,
    _labelled,
    _legend,
    _line,
    _nice_range,
    _polyline,
    _Scale,
    _svg,
    _text,
    _ticks,
)
from grader.reports.figures.values import (
    HUGE,
    MAX_ITEMS,
    MAX_LINE_POINTS,
    MUTED,
    TARGET,
    _caption,
    _clean,
    _floats,
    _fmt,
    _list,
    _num,
    _num_or_nan,
    _plural,
    _spoken_list,
)


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
    inner = list(compress(bucket[first + 1 : last], ok[first + 1 : last]))
    if inner:
        where = list(compress(range(start + first + 1, start + last), ok[first + 1 : last]))
        events += [*_extremes(where, inner), None]
    if last < n - 1:
        events += _extremes(range(start + last + 1, start + n), bucket[last + 1 :])
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
    buckets = [values[i : i + size] for i in starts]
    # Every bucket's extremes at once, in C (meaningless for gappy buckets: not used).
    lows, highs = list(map(min, buckets)), list(map(max, buckets))
    at_low, at_high = list(map(list.index, buckets, lows)), list(map(list.index, buckets, highs))
    segments: list[list[Point]] = [[]]
    for k, start in enumerate(starts):
        if all(ok[start : start + size]):
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
    ordered = sorted(finite[:: max(1, len(finite) // 2000)])
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
    return _fmt(10.0**e) if -3 <= e <= 3 else f"1e{e:+03d}"


def _loss_path(segments: list[list[Point]], xs: _Scale, y: _YAxis, style: str, cls: str) -> str:
    parts = []
    for seg in segments:
        epochs, values = zip(*seg, strict=True)
        px, py = xs.many([i + 1 for i in epochs]), y.many(values)
        # A lone point between gaps: a zero-length subpath, drawn as a dot by round caps.
        parts.append(_polyline(px, py) + (" h0" if len(seg) == 1 else ""))
    return (
        f'<path class="{cls}" d="{" ".join(parts)}" fill="none" stroke-linecap="round" '
        f'stroke-linejoin="round" {style}/>'
    )


def _finite(values: list[float]) -> list[float]:
    return list(compress(values, map(math.isfinite, values)))


def _curve_words(values: list[float]) -> tuple[float, float, float] | None:
    finite = _finite(values)
    return (finite[0], finite[-1], min(finite)) if finite else None


def draw(spec: dict, uid: str) -> Figure | None:
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
    body = _axes(
        xs, y.scale, _labelled(xticks), y.ticks, "epoch", "loss (log scale)" if y.log else "loss"
    )

    legend = []
    if target is not None:
        ty = y(target)
        body.append(_line(LEFT, ty, WIDTH - RIGHT, ty, f'class="target" {DOTTED}'))
        # Labelled at the line's end, with a white halo so that curves cannot hide it.
        halo = ' stroke="#fff" stroke-width="3" paint-order="stroke"'
        body.append(
            _text(
                WIDTH - RIGHT - 4,
                ty - 6,
                _clean(label, 48) or f"target {_fmt(target)}",
                anchor="end",
                fill=TARGET,
                extra=halo,
            )
        )
    if reference:
        body.append(_loss_path(_segments(reference), xs, y, DASHED, "reference"))
        legend.append(("reference", DASHED))
    if losses:
        body.append(_loss_path(_segments(losses), xs, y, SOLID, "yours"))
        legend.insert(0, ("your loss", SOLID))
    if target is not None:
        legend.append(("target", DOTTED))
    if not finite:
        body.append(
            _text(WIDTH / 2, HEIGHT / 2, "no finite values to draw", anchor="middle", fill=MUTED)
        )
    body += _legend(legend)

    extras = [
        w
        for w, present in (("the reference's", reference), ("the target", target is not None))
        if present
    ]
    sentence = (
        f"Your loss per epoch, with {_spoken_list(extras)}." if extras else ("Your loss per epoch.")
    )
    caption = _caption(spec.get("title"), sentence)
    description = _loss_words(losses, reference, target, label, raw_length, y, finite)
    return Figure(_svg(uid, WIDTH, HEIGHT, caption, description, body), caption, description)


def _loss_words(
    losses: list[float] | None,
    reference: list[float] | None,
    target: float | None,
    label: str,
    raw_length: int,
    y: _YAxis,
    finite: list[float],
) -> str:
    clauses = []
    if losses is not None:
        curve = _curve_words(losses)
        over = f"over {_plural(len(losses), 'epoch')}"
        if curve:
            first, last, lowest = curve
            clauses.append(
                f"Your loss {over} went from {_fmt(first)} to {_fmt(last)} (lowest {_fmt(lowest)})"
            )
        else:
            clauses.append(f"Your loss {over} was never a finite number")
    else:
        clauses.append("Your loss is missing")
    if reference is not None:
        curve = _curve_words(reference)
        clauses.append(
            f"the reference's went from {_fmt(curve[0])} to {_fmt(curve[1])}"
            if curve
            else "the reference's was never a finite number"
        )
    if target is not None:
        named = f" (\u201c{label}\u201d)" if label else ""
        clauses.append(f"the target{named}, {_fmt(target)}, is drawn as a dotted line")
    sentences = ["; ".join(clauses) + "."]
    if losses:
        ok = list(map(math.isfinite, losses))
        bad = ok.count(False)
        if 0 < bad < len(losses):
            sentences.append(
                f"{_plural(bad, 'epoch')} of yours (first: epoch "
                f"{ok.index(False) + 1}) had a loss that is not a finite number "
                f"(NaN or infinite), shown as {'a gap' if bad == 1 else 'gaps'} "
                f"in the line."
            )
    if raw_length > MAX_ITEMS:
        sentences.append(f"Only the first {MAX_ITEMS} of your {raw_length} epochs are drawn.")
    if y.log:
        sentences.append(
            "The loss axis is logarithmic, as the values span many orders of magnitude."
        )
    if y.clipped:
        lo, hi = y.clipped
        beyond = sum(map(operator.lt, finite, repeat(lo))) + sum(
            map(operator.gt, finite, repeat(hi))
        )
        sentences.append(
            f"The loss axis is cut to [{_fmt(lo)}, {_fmt(hi)}] so the bulk of "
            f"the curve stays readable: {_plural(beyond, 'value')} beyond it "
            f"{'is' if beyond == 1 else 'are'} drawn at the edge (extremes "
            f"{_fmt(min(finite))} and {_fmt(max(finite))})."
        )
    return " ".join(sentences)
