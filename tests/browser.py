"""Helpers for the browser tests: Debian's Chromium driven by Playwright, and axe-core.

Playwright never downloads a browser here: it drives the system's /usr/bin/chromium. The
axe-core script comes bundled in the PyPI package axe-playwright-python; it is injected into
the page with ``page.evaluate``, so running it makes no request either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}  # a common phone's CSS pixels (iPhone 12 to 15)
# A4 paper less Chromium's default 1 cm margins, in CSS pixels: what a printed page offers.
PAPER = {"width": 718, "height": 1047}
BLOCKING = ("serious", "critical")  # axe impacts that fail a test


def missing_tools() -> list[str]:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright (pip install -e '.[dev]')")
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        missing.append("axe-playwright-python (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    return missing


def require_browser() -> None:
    """Skip when the tools are missing on a developer's machine; fail in CI, which installs them."""
    missing = missing_tools()
    if not missing:
        return
    reason = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI (CI={os.environ['CI']}) must install them", pytrace=False)
    pytest.skip(reason)


@dataclass
class PageWatch:
    """What a page did that a self-contained, working report never does."""

    allowed_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # blocked: everything but the report

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.route("**/*", self._route)  # file:// too; data: URLs never reach a route

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url == self.allowed_url and route.request.is_navigation_request():
            route.continue_()
        else:
            self.requests.append(f"{route.request.resource_type} {url}")
            route.abort()

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"request (not self-contained): {r}" for r in self.requests]
        )


def run_axe(page: Any) -> list[dict]:
    """axe-core's violations on the page as it is now (all rules, WCAG and best practice)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page, options={"resultTypes": ["violations"]}).response["violations"]


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(violations: list[dict], max_nodes: int = 5) -> str:
    """Violations as readable lines: rule id, impact, help, and the offending nodes."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} node(s)]")
        lines.append(f"    {v['helpUrl']}")
        for node in v["nodes"][:max_nodes]:
            target = " ".join(str(t) for t in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    at {target}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(v["nodes"]) > max_nodes:
            lines.append(f"    ... and {len(v['nodes']) - max_nodes} more")
    return "\n".join(lines)


# How far the page is wider than the device, i.e. what scrolls sideways outside any scroll
# container of its own (a wide table inside .table-wrap scrolls there, not here). On a phone
# (is_mobile) Chromium widens the layout viewport to fit wide content, as phones do, so
# window.innerWidth grows too: compare with the device's width, not with innerWidth.
OVERFLOW_JS = (
    """width => Math.max(document.documentElement.scrollWidth, window.innerWidth) - width"""
)

# For a failure message: the viewport meta tag, and the elements whose right edge is past
# the device's width outside any table wrapper or code block (absolute ones escape those).
WIDE_ELEMENTS_JS = """width => ({
  viewport: document.querySelector('meta[name=viewport]')?.content ?? 'missing',
  sticking_out: [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .filter(e => !e.closest('.table-wrap, pre')
                 || ['absolute', 'fixed'].includes(getComputedStyle(e).position))
    .slice(0, 8)
    .map(e => `${e.tagName.toLowerCase()}.${e.className} (right edge at ${
        Math.round(e.getBoundingClientRect().right)}px): ${e.textContent.slice(0, 60)}`)})"""


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, for a module's tests (skips, or fails in CI,
    without the tools)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # No --no-sandbox here: Playwright passes it itself (its chromiumSandbox option is
        # off by default), which Chromium needs when run as root, as in CI.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()
