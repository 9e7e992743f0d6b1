"""Student-controlled text on the grader's terminal and in CI logs: the one place that
makes it harmless, used by every line the grader prints (progress, warnings, errors)
and by the GitHub export's fenced output.

Student text (folder names, messages quoting their exceptions, printed output) loses
its control characters (ANSI escapes, carriage returns, bells), so it cannot rewrite or
hide other lines; on one line it also cannot start a GitHub workflow command, and a
block of it is fenced between ``::stop-commands::TOKEN`` and ``::TOKEN::``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1, but tab and newline
_CONTROL = re.compile(f"{ANSI_ESCAPE.pattern}|{CONTROL_CHARS.pattern}")


def without_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def printable(text: str) -> str:
    """Lone surrogates (from a file name that is not UTF-8) as backslash escapes: a
    stream that encodes strictly would fail on them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_line(text: str) -> str:
    """One line of student-controlled text for a terminal or a CI log: no control
    characters, no line breaks, no GitHub workflow command (``::name::``, or the
    older ``##[name]`` anywhere in a line)."""
    line = without_controls(printable(text)).replace("\n", " ").replace("\r", " ")
    return line.replace("::", ":\u200b:").replace("##[", "#\u200b#[")


def stop_token(texts: Iterable[str] = ()) -> str:
    """A fresh token for ``::stop-commands::`` that nobody could guess (student code ran
    before it existed), and one that occurs in none of ``texts`` (the runner compares
    it ignoring case)."""
    texts = [t.lower() for t in texts]
    while True:
        token = secrets.token_hex(16)
        if not any(token in t for t in texts):
            return token


def fenced(lines: list[str], token: str | None = None) -> list[str]:
    """``lines`` between ``::stop-commands::TOKEN`` and ``::TOKEN::``: GitHub's runner
    acts on no workflow command in between."""
    token = token or stop_token(lines)
    return [f"::stop-commands::{token}", *lines, f"::{token}::"]
