"""Text for a terminal: student-controlled text loses its control characters (ANSI
escapes, carriage returns, bells) so it cannot rewrite or hide other lines."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    return _CONTROL.sub("", text)
