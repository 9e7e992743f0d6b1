"""Progress output of `grader grade`: a redrawn bar on a terminal, plain lines in logs,
never a student's escape code or workflow command, and a truthful summary line."""

from __future__ import annotations

import io
import re
import sys
import threading

import pytest

from grader.grading.progress import Progress, summary


class FakeClock:
    """A clock the test moves by hand, so rates, ETAs and throttling are exact."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def plain_progress(total: int, clock: FakeClock | None = None) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(total, stream=out, tty=False, clock=clock or FakeClock()), out


def tty_progress(total: int, clock: FakeClock, width: int = 80) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(total, stream=out, tty=True, clock=clock, width=width), out


def screen_lines(text: str) -> list[str]:
    """What a terminal would show per line segment: the text between `\\r` and `\\n`."""
    return [part.replace("\x1b[K", "") for part in re.split(r"[\r\n]", text)]


# -- not a terminal: one plain line per submission ------------------------------------


def test_plain_mode_prints_one_aligned_line_per_submission():
    clock = FakeClock()
    progress, out = plain_progress(200, clock)
    assert out.getvalue() == ""  # nothing before the first result
    for name in ("ada", "bob"):
        clock.now += 1
        progress.done(f"{name}: 119/119 (0.4 s)")
    assert out.getvalue() == "[  1/200] ada: 119/119 (0.4 s)\n[  2/200] bob: 119/119 (0.4 s)\n"
    assert progress.count == 2
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_plain_mode_appends_rate_and_eta_every_tenth_item():
    clock = FakeClock()
    progress, out = plain_progress(55, clock)
    for i in range(1, 11):
        clock.now += 1.0
        progress.done(f"s{i}: 1/1")
    lines = out.getvalue().splitlines()
    assert lines[8] == "[ 9/55] s9: 1/1"
    assert lines[9] == "[10/55] s10: 1/1  1.0/s, ETA 0:45"  # 45 left at 1 per second


def test_plain_mode_appends_rate_when_15_seconds_passed():
    clock = FakeClock()
    progress, out = plain_progress(3724, clock)
    clock.now += 14.9
    progress.done("a: 1/1")
    clock.now += 0.1  # 15 s since the start, the first "last rate line"
    progress.done("b: 1/1")
    clock.now += 14.0  # only 14 s since the rate line
    progress.done("c: 1/1")
    assert out.getvalue().splitlines() == [
        "[   1/3724] a: 1/1",
        "[   2/3724] b: 1/1  0.13/s, ETA 7:45:15",  # 3722 / (2/15)
        "[   3/3724] c: 1/1",
    ]


def test_plain_mode_note_is_its_own_line():
    progress, out = plain_progress(5)
    progress.done("a: 1/1")
    progress.note("warning: no sandbox")
    progress.close()
    progress.close()
    assert out.getvalue() == "[1/5] a: 1/1\nwarning: no sandbox\n"


# -- ETA formatting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (46, "ETA 0:45"),
        (3724, "ETA 1:02:03"),
        (2, "ETA 0:01"),
    ],
)
def test_eta_is_a_clock(total: int, expected: str):
    clock = FakeClock()
    progress, out = tty_progress(total, clock)
    clock.now += 1.0
    progress.done("a: 1/1")  # 1 per second, total - 1 left
    assert screen_lines(out.getvalue())[-1].endswith(f"1/{total}  1.0/s  {expected}")


def test_eta_is_unknown_before_the_first_result():
    clock = FakeClock()
    progress, out = tty_progress(200, clock)
    assert out.getvalue() == "\rgrading [" + "-" * 30 + "] 0/200  ETA --:--\x1b[K"


# -- a terminal: one bar redrawn in place --------------------------------------------


def test_terminal_redraws_the_bar_in_place_without_result_lines():
    clock = FakeClock()
    progress, out = tty_progress(200, clock)
    start = len(out.getvalue())
    for _ in range(100):
        clock.now += 0.5
        progress.done("ada: 119/119 (0.4 s)")
    text = out.getvalue()
    assert "ada" not in text and "\n" not in text
    last = text[text.rindex("\r") :]
    assert last == "\rgrading [" + "#" * 15 + "-" * 15 + "] 100/200  2.0/s  ETA 0:50\x1b[K"
    assert text[start:].count("\r") == 100


def test_terminal_redraws_at_most_every_tenth_of_a_second_but_always_the_last():
    clock = FakeClock()
    progress, out = tty_progress(4, clock)
    assert out.getvalue().count("\r") == 1  # the initial empty bar
    clock.now += 0.05
    progress.done("a")
    clock.now += 0.04
    progress.done("b")
    assert out.getvalue().count("\r") == 1  # both within 0.1 s of the last redraw
    clock.now += 0.02  # 0.11 s since the last redraw
    progress.done("c")
    assert out.getvalue().count("\r") == 2
    assert " 3/4 " in screen_lines(out.getvalue())[-1]
    clock.now += 0.01
    progress.done("d")  # the last one is drawn even 0.01 s later
    assert out.getvalue().count("\r") == 3
    assert " 4/4 " in screen_lines(out.getvalue())[-1]


def test_terminal_note_clears_the_bar_prints_the_message_and_redraws():
    clock = FakeClock()
    progress, out = tty_progress(10, clock, width=60)
    clock.now += 2.0
    progress.done("a")
    before = len(out.getvalue())
    progress.note("warning: running without a sandbox")
    assert out.getvalue()[before:] == (
        "\r\x1b[Kwarning: running without a sandbox\n"
        "\rgrading [" + "#" * 2 + "-" * 25 + "] 1/10  0.5/s  ETA 0:18\x1b[K"
    )


def test_terminal_close_clears_the_bar_once():
    clock = FakeClock()
    progress, out = tty_progress(3, clock)
    progress.done("a")
    before = len(out.getvalue())
    progress.close()
    progress.close()
    assert out.getvalue()[before:] == "\r\x1b[K"
    progress.done("late")  # a straggler after close draws no new bar
    assert out.getvalue()[before:] == "\r\x1b[K"


@pytest.mark.parametrize("width", [80, 40, 30, 20, 12, 5])
def test_the_bar_never_reaches_the_last_column(width: int):
    clock = FakeClock()
    progress, out = tty_progress(12345, clock, width=width)
    for _ in range(12345):
        clock.now += 0.3
        progress.done("x")
    progress.note("n")
    lines = [line for line in screen_lines(out.getvalue()) if line and line != "n"]
    assert lines and all(len(line) <= width - 1 for line in lines), lines
    if width >= 50:  # room for a (shrunk) bar
        assert all("[" in line and "]" in line for line in lines)


def test_default_width_comes_from_the_terminal_size(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "33")
    out = io.StringIO()
    Progress(10, stream=out, tty=True, clock=FakeClock())
    assert len(screen_lines(out.getvalue())[1]) == 32


def test_tty_is_detected_from_the_stream_and_term(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    assert Progress(1, stream=FakeTerminal(), width=80).tty
    assert not Progress(1, stream=io.StringIO()).tty
    monkeypatch.setenv("TERM", "dumb")
    dumb = FakeTerminal()
    assert not Progress(1, stream=dumb).tty
    assert dumb.getvalue() == ""


def test_stream_defaults_to_stderr(capsys: pytest.CaptureFixture[str]):
    progress = Progress(2, tty=False)
    progress.done("ada: 1/1")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "[1/2] ada: 1/1\n"


# -- student text is defanged --------------------------------------------------------


def test_escape_codes_and_workflow_commands_are_defanged_in_plain_lines():
    progress, out = plain_progress(2)
    progress.done("\x1b[31mmallory\x1b[0m: 1/1\r[2/2] fake: 119/119")
    progress.note("::error file=x::pwned\n::add-mask::secret")
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text and "::" not in text
    assert text.count("\n") == 2  # neither a result nor a note can start a forged line
    assert text.splitlines()[0].startswith("[1/2] mallory: 1/1")


def test_note_is_defanged_on_a_terminal():
    clock = FakeClock()
    progress, out = tty_progress(2, clock)
    progress.note("\x1b[2J\x1b[31m::error::bad\x07")
    text = out.getvalue()
    assert "::" not in text and "\x1b[2J" not in text and "\x1b[31m" not in text
    assert "\x07" not in text
    assert set(re.findall(r"\x1b\[.", text)) == {"\x1b[K"}  # only our own erase-line


# -- thread safety -------------------------------------------------------------------


def test_concurrent_done_from_8_threads_counts_exactly():
    progress, out = plain_progress(8 * 300)
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(300):
            progress.done(f"w{n}-{i}: 1/1")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke races
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert progress.count == 2400
    lines = out.getvalue().splitlines()
    # Counted and printed under one lock: every number once, in order, lines never mixed.
    assert [int(line[1:5]) for line in lines] == list(range(1, 2401))
    assert all(re.fullmatch(r"\[ *\d+/2400\] w\d-\d+: 1/1(  ETA --:--)?", line) for line in lines)


# -- the summary line ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((200, 0, 61.2), "graded 200 submissions in 61.2 s (3.27 submissions/s, 0.31 s each)"),
        (
            (20, 180, 61.2),
            "graded 20 submissions in 61.2 s (0.33 submissions/s, 3.06 s each)"
            "; 180 unchanged, read from the store",
        ),
        ((1, 0, 2.04), "graded 1 submission in 2.0 s"),
        (
            (1, 1, 2.04, 1),
            "graded 1 submission in 2.0 s; 1 unchanged, read from the store; 1 could not be graded",
        ),
        (
            (197, 0, 61.2, 3),
            "graded 197 submissions in 61.2 s (3.22 submissions/s, 0.31 s each)"
            "; 3 could not be graded",
        ),
        (
            (0, 200, 0.43),
            "nothing to grade: all 200 submissions unchanged, read from the store (0.4 s)",
        ),
        (
            (0, 1, 0.43),
            "nothing to grade: the only submission is unchanged, read from the store (0.4 s)",
        ),
        ((0, 0, 0.0), "nothing to grade: no submissions (0.0 s)"),
        (
            (0, 5, 1.2, 1),
            "nothing graded: 1 submission could not be graded"
            "; 5 unchanged, read from the store (1.2 s)",
        ),
        ((0, 0, 1.2, 2), "nothing graded: 2 submissions could not be graded (1.2 s)"),
        ((5000, 0, 12.5), "graded 5000 submissions in 12.5 s (400 submissions/s, 0.0025 s each)"),
    ],
)
def test_summary_wording(args: tuple, expected: str):
    assert summary(*args) == expected
    assert "\n" not in summary(*args)


def test_summary_rate_ignores_reused_submissions():
    assert "(1.00 submissions/s" in summary(10, 990, 10.0)
