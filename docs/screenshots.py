"""Remake the README's screenshots from the reports of the bundled examples.

    grader grade examples/submissions --out reports
    python docs/screenshots.py reports docs/images

Uses Playwright with Debian's /usr/bin/chromium (the browser tests' setup), so the
pictures show the reports exactly as the browser tests see them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
STUDENT = "ben_typical_mistakes.html"

# (file name, report, CSS selector of the part to show or None for the page's top, viewport)
SHOTS = [
    ("overview.png", "index.html", None, {"width": 1100, "height": 900}),
    ("student-top.png", STUDENT, None, {"width": 1000, "height": 760}),
    (
        "student-picture.png",
        STUDENT,
        "tr:has(figure.chart svg[aria-labelledby*='fig-3-'])",
        {"width": 1000, "height": 800},
    ),
    (
        "student-training.png",
        STUDENT,
        "section:has(h2:text-is('The training loop')) tr:has(figure.chart)",
        {"width": 1000, "height": 800},
    ),
    ("student-code.png", STUDENT, "tr:has(figure.excerpt)", {"width": 1000, "height": 800}),
    ("student-phone.png", STUDENT, None, {"width": 390, "height": 844}),
]


def main(reports: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for name, report, selector, viewport in SHOTS:
            page = browser.new_page(viewport=viewport, is_mobile=viewport["width"] < 500)
            page.goto((reports / report).resolve().as_uri())
            if selector is None:
                page.screenshot(path=out / name)
            else:
                page.locator(selector).first.screenshot(path=out / name)
            page.close()
            print(out / name)
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
