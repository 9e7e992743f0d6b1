"""Progress of `grader grade`: hundreds of submissions are graded in parallel, and a
silent terminal for minutes looks like a hang.

On a terminal one status line is redrawn in place; in CI logs and pipes (where `\\r`
and escape codes turn into garbage) every finished submission gets one plain line.
Everything printed goes through `safe_line` because ids and messages come from students.
Standard library only: the CLI shows progress before torch is ever imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from grader.terminal import safe_line

REDRAW_EVERY = 0.1  # seconds between redraws of the bar: faster only costs terminal time
RATE_LINE_EVERY = 10  # items between rate/ETA notes in plain logs ...
RATE_LINE_SECONDS = 15.0  # ... or seconds, whichever comes first, so slow runs still show an ETA
BAR_CELLS = 30  # the widest the bar itself gets; narrower terminals shrink it
MIN_BAR_CELLS = 4  # below this a bar tells nothing: it is dropped instead
CLEAR = "\r\x1b[K"  # back to column 0 and erase to the end of the line


def _duration(seconds: float) -> str:
    """m:ss or h:mm:ss: an ETA reads as a clock, not as 2712.4 s."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rate(per_second: float) -> str:
    """Few digits: the rate jitters, more precision would only flicker."""
    if per_second >= 10:
        return f"{per_second:.0f}"
    if per_second >= 1:
        return f"{per_second:.1f}"
    return f"{per_second:.2g}"


def _number(value: float) -> str:
    """Three significant-ish digits without scientific notation, for the summary."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _submissions(n: int) -> str:
    return f"{n} submission" if n == 1 else f"{n} submissions"


def _is_terminal(stream: TextIO) -> bool:
    """A real terminal that understands `\\r` and erase-line (TERM=dumb ones do not)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
    return bool(tty) and os.environ.get("TERM") != "dumb"


class Progress:
    """Shows how far a grading run is; safe to call from several worker threads.

    `done(line)` is called once per finished submission, `note(message)` for a warning
    that must stay visible, `close()` once at the end (also via `with`).
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.total = max(0, total)
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self.tty = _is_terminal(self.stream) if tty is None else tty
        self._clock = clock
        self._width = width  # None: ask the terminal at every redraw, so a resize is followed
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        # Elapsed time counts from here, not from the first result: the workers'
        # start-up is part of what the remaining submissions will cost too.
        self._start = clock()
        self._last_draw = self._start
        self._last_rate_line = self._start
        self._shown = False  # is a bar on the screen (so there is something to clear)?
        if self.tty and self.total:
            with self._lock:
                self._draw()

    @property
    def count(self) -> int:
        """Submissions finished so far."""
        with self._lock:
            return self._count

    def done(self, line: str) -> None:
        """One submission finished; `line` is its one-line result, e.g. "ada: 119/119 (0.4 s)"."""
        with self._lock:
            self._count += 1
            now = self._clock()
            if self.tty:
                # Only the bar: hundreds of result lines would bury the warnings.
                last = self._count >= self.total
                if not self._closed and (last or now - self._last_draw >= REDRAW_EVERY):
                    self._draw(now)
                return
            text = f"[{self._count:>{len(str(self.total))}}/{self.total}] {safe_line(line)}"
            if (
                self._count % RATE_LINE_EVERY == 0
                or now - self._last_rate_line >= RATE_LINE_SECONDS
            ):
                rate, eta = self._rate_eta(now)
                text += f"  {rate}, {eta}" if rate else f"  {eta}"
                self._last_rate_line = now
            self._write(text + "\n")

    def note(self, message: str) -> None:
        """A message that must stay visible: printed on its own line, above the bar."""
        with self._lock:
            text = safe_line(message)
            if self.tty and self._shown:
                self._write(CLEAR + text + "\n")
                self._shown = False
                if not self._closed:
                    self._draw()
            else:
                self._write(text + "\n")

    def close(self) -> None:
        """Ends the bar, so the caller's next line (the summary) starts in column 0."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.tty and self._shown:
                self._write(CLEAR)
                self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals; the caller holds the lock ------------------------------------------

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()  # a `\r` line has no newline to trigger a line-buffered flush

    def _columns(self) -> int:
        if self._width is not None:
            return self._width
        columns = shutil.get_terminal_size((80, 24)).columns
        return columns if columns > 0 else 80

    def _rate_eta(self, now: float) -> tuple[str, str]:
        """("3.2/s", "ETA 0:45"); ("", "ETA --:--") while nothing is known yet."""
        elapsed = now - self._start
        if self._count == 0 or elapsed <= 0:
            return "", "ETA --:--"
        per_second = self._count / elapsed
        remaining = max(0, self.total - self._count)
        return f"{_rate(per_second)}/s", f"ETA {_duration(remaining / per_second)}"

    def _draw(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._last_draw = now
        self._write("\r" + self._bar(now) + "\x1b[K")
        self._shown = True

    def _bar(self, now: float) -> str:
        """The status line, at most width - 1 columns: writing the last column makes some
        terminals wrap, and a wrapped line can no longer be redrawn with `\\r`."""
        rate, eta = self._rate_eta(now)
        tail = f" {self._count}/{self.total}" + (f"  {rate}" if rate else "") + f"  {eta}"
        limit = max(1, self._columns() - 1)
        cells = min(BAR_CELLS, limit - len("grading []") - len(tail))
        if cells < MIN_BAR_CELLS:
            return ("grading" + tail)[:limit]
        filled = cells * min(self._count, self.total) // self.total if self.total else cells
        return f"grading [{'#' * filled}{'-' * (cells - filled)}]{tail}"


def summary(graded: int, reused: int, seconds: float, failed: int = 0) -> str:
    """The run's last line: how much work was done and how fast.

    `graded` submissions were graded now, `reused` were unchanged and read from the
    store, `failed` could not be graded; the three do not overlap. Rates count only
    the graded ones: reused results cost nothing and would flatter the speed.
    """
    took = f"{seconds:.1f} s"
    unchanged = f"; {reused} unchanged, read from the store" if reused else ""
    broken = f"; {failed} could not be graded" if failed else ""
    if graded > 0:
        text = f"graded {_submissions(graded)} in {took}"
        if graded > 1 and seconds > 0:  # for a single one the rate only repeats the time
            text += (
                f" ({_number(graded / seconds)} submissions/s, {_number(seconds / graded)} s each)"
            )
        return text + unchanged + broken
    if failed:
        return f"nothing graded: {_submissions(failed)} could not be graded{unchanged} ({took})"
    if reused == 1:
        return f"nothing to grade: the only submission is unchanged, read from the store ({took})"
    if reused:
        return f"nothing to grade: all {reused} submissions unchanged, read from the store ({took})"
    return f"nothing to grade: no submissions ({took})"
