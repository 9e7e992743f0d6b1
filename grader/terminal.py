"""Text for a terminal: student-controlled text loses its control characters (ANSI
escapes, carriage returns, bells) so it cannot rewrite or hide other lines."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    return _CONTROL.sub("", text)


def safe_line(text: str) -> str:
    """One line of student-controlled text for a terminal or a CI log: no control
    characters, no line breaks, and no GitHub workflow command (``::name::``)."""
    line = plain(text).replace("\n", " ").replace("\r", " ")
    return line.replace("::", ":\u200b:")
