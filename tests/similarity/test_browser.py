"""The similarity page in a real browser (Debian's Chromium under Playwright, as
tests/test_browser.py opens the grading reports): on a desktop and on a phone it requests
nothing, logs no error, runs none of the students' text, does not scroll sideways outside
its code, and has no serious axe-core violation. Skips without the tools, except in CI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    DESKTOP,
    OVERFLOW_JS,
    PHONE,
    WIDE_ELEMENTS_JS,
    PageWatch,
    blocking,
    describe,
    launched_chromium,
    require_browser,
    run_axe,
)
from similarity_corpus import SCRIPT, build, hostile_class

from grader.course.loading import load_course
from grader.similarity import report
from grader.similarity.run import similarity

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    require_browser()
    course = load_course(ROOT, resolve_helpers=False)
    root = tmp_path_factory.mktemp("class")
    build(root, course)
    hostile_class(root)
    out = tmp_path_factory.mktemp("out")
    report.write(similarity(course, root), out / "s.html", out / "s.json")
    return (out / "s.html").as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_page_in_chromium(browser: Any, page_url: str, device: str) -> None:
    viewport = DESKTOP if device == "desktop" else PHONE
    options = {"is_mobile": True, "has_touch": True} if device == "phone" else {}
    context = browser.new_context(locale="en-US", viewport=viewport, **options)
    page = context.new_page()
    watch = PageWatch(allowed_url=page_url)
    watch.attach(page)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(page_url)
        assert page.get_by_text("Not a score.").count() == 1
        # The students' script is on the page as text, and nothing of it ran.
        assert page.locator("pre.sim-code", has_text=SCRIPT).count() >= 1
        assert page.locator("script, img").count() == 0
        assert dialogs == []
        assert not watch.problems(), "\n".join(watch.problems())
        overflow = page.evaluate(OVERFLOW_JS, viewport["width"])
        assert overflow <= 0, page.evaluate(WIDE_ELEMENTS_JS, viewport["width"])
        serious = blocking(run_axe(page))
        assert not serious, describe(serious)
    finally:
        context.close()
