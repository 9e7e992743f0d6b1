"""Student text on the grader's terminal and in CI logs (grader/terminal.py): one line,
no control characters, no GitHub workflow command; and the fence around blocks of it."""

from __future__ import annotations

from grader.terminal import fenced, printable, safe_line, stop_token


def test_a_safe_line_is_one_line_without_controls():
    line = safe_line("esc\x1b[31m red\rX\x07\nnext\x9b line\ttab")
    assert line == "esc redX next line\ttab"


def test_a_safe_line_starts_no_workflow_command():
    name = "m_x\n::set-output name=result::PWNED\n::error::folder ##[error]old"
    line = safe_line(name)
    assert "\n" not in line and "::" not in line and "##[" not in line
    assert "set-output name=result" in line and "PWNED" in line  # still readable
    assert not safe_line("::error::x").startswith("::")


def test_names_that_are_not_utf8_are_printed_as_escapes():
    name = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert printable(name) == "caf\\udce9"
    assert safe_line(name).encode("utf-8")  # a strict stream takes it
    assert printable("café") == "café"


def test_a_fence_ends_only_with_its_own_token():
    lines = ["::error::forged", "::stop-commands::other", "printed ::ABC::"]
    block = fenced(lines)
    token = block[0].removeprefix("::stop-commands::")
    assert block == [f"::stop-commands::{token}", *lines, f"::{token}::"]
    assert all(token.lower() not in line.lower() for line in lines)
    assert len(stop_token()) == 32 and stop_token() != stop_token()
