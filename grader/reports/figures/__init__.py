"""Small inline SVG figures for the HTML reports, drawn from plain JSON-like specs.

``render(spec, uid)`` turns one figure spec from the results model into a ``Figure``: an
``<svg>`` element plus a caption and a text alternative that states the key numbers.

Everything in a spec ultimately comes from student code, so nothing here trusts it: every
number may be NaN, infinite, enormous or of the wrong type, every string may hold markup or
control characters, every list may be empty, ragged or huge. ``render`` never raises; it
draws what it sensibly can or returns None. All text reaches the SVG through
``markupsafe.escape`` after ``_clean``; numbers are formatted by this package.

No third-party plotting: the figures are a few hundred bytes to a few kilobytes of SVG
built from strings (pixel grids as hand-encoded PNG data URIs), fast enough to draw a
handful per student for a whole class in well under a second.

Layout: ``values`` holds the limits, colours and hostile-value and word helpers;
``svg`` holds ``Figure`` and the SVG building blocks; ``histogram``, ``losses``,
``channels`` and ``scores`` each draw one kind with ``draw(spec, uid)``. This module
only dispatches on the kind and keeps ``render``'s never-raise promise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from grader.reports.figures import channels, histogram, losses, scores
from grader.reports.figures.svg import Figure
from grader.reports.figures.values import _safe_id

__all__ = ["Figure", "render"]

log = logging.getLogger(__name__)


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


_DRAWERS: dict[str, Callable[[dict, str], Figure | None]] = {
    "histogram": histogram.draw,
    "losses": losses.draw,
    "channels": channels.draw,
    "scores": scores.draw,
}
