"""The "scores" figure: the class's total scores as ten bars of 10 percentage points."""

from __future__ import annotations

from grader.reports.figures.svg import (
    BAR_STYLE,
    BOTTOM,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    Figure,
    _axes,
    _c,
    _nice_range,
    _Scale,
    _svg,
    _text,
)
from grader.reports.figures.values import (
    BIG,
    MAX_ITEMS,
    _bounded,
    _caption,
    _floats,
    _fmt,
    _list,
    _num_or_nan,
    _pct,
    _plural,
)


def draw(spec: dict, uid: str) -> Figure | None:
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
    body = _axes(
        xs, ys, xticks, [], f"score, as a percentage of {_fmt(max_score)} points", "students"
    )
    body.append(f'<g class="bars" {BAR_STYLE}>')
    for k, n in enumerate(bins):
        x0, x1, y = xs(10 * k) + 2, xs(10 * k + 10) - 2, ys(n)
        body.append(
            f'<rect x="{_c(x0)}" y="{_c(y)}" width="{_c(x1 - x0)}" height="{_c(ys(0) - y)}"/>'
        )
    body.append("</g>")
    body += [_text(xs(10 * k + 5), ys(n) - 5, str(n), anchor="middle") for k, n in enumerate(bins)]

    caption = _caption(spec.get("title"), "Distribution of the class's total scores.")
    description = _score_words(percents, bins, max_score, len(raw) - len(scores))
    return Figure(_svg(uid, WIDTH, chart_h, caption, description, body), caption, description)


def _score_words(percents: list[float], bins: list[int], max_score: float, skipped: int) -> str:
    ordered = sorted(percents)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    below = sum(p < 50 for p in percents)
    busiest = max(range(10), key=lambda k: bins[k])
    words = [
        f"Scores of {_plural(len(percents), 'student')}: median {_pct(median)} of "
        f"{_fmt(max_score)} points, from {_pct(ordered[0])} to {_pct(ordered[-1])}; "
        f"{_plural(below, 'student')} below 50%; the most common range is "
        f"{busiest * 10}\u2013{busiest * 10 + 10}% ({_plural(bins[busiest], 'student')})."
    ]
    outside = sum(not 0 <= p <= 100 for p in percents)
    if outside:
        words.append(
            f"{_plural(outside, 'score')} outside 0\u2013{_fmt(max_score)} points "
            f"{'is' if outside == 1 else 'are'} counted in the nearest end bar."
        )
    if skipped:
        verb = "is" if skipped == 1 else "are"
        words.append(
            f"{_plural(skipped, 'entry', 'entries')} that {verb} not a finite "
            f"number {verb} left out."
        )
    return " ".join(words)
