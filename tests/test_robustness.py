"""One bad submission costs only itself, through the real CLI, the real pool and the
real sandbox: a class holding a notebook bomb, a folder whose name is not UTF-8, a
20,000-name file made to stall the forbidden-calls judge, a judge that never returns, a
job the grader itself fails on, and a submission that kills the grader's process in its
sandbox, graded in one run with honest classmates; and a folder named to issue GitHub
workflow commands, which the grader's own lines never let through."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_grader

from grader.grading.incidents import INTERNAL_ERROR
from grader.reports import report_filenames

pytestmark = pytest.mark.slow

SOLUTIONS = ROOT / "solutions"
NON_UTF8 = b"caf\xe9"  # Latin-1 "café": not valid UTF-8
WORKFLOW_NAME = "m_x\n::set-output name=result::PWNED\n::error::folder"

ECHO_YAML = """\
id: echo
title: Echo
file: echo
prompt: Return what you are given.
entry_points:
  - {name: echo, signature: (x), doc: Return x.}
limits:
  judge_time: 2
checks:
  - name: echo returns its input
    entry: echo
    points: 1
    call: [{randn: [3]}]
    judge: custom
    with: {function: "hidden/echo.py:judge_echo"}
"""

# An instructor's judge with two bugs that particular submissions set off: it loops
# forever on code that says "spin", and gives partial credit as text (which the grader
# cannot add to points: an internal error) on code that says "half".
ECHO_JUDGE = """\
from grader.judges.base import Verdict


def judge_echo(ctx):
    source = ctx.source or ""
    while "spin" in source:
        source = source + ""
    fraction = "one half" if "half" in source else None
    return Verdict(True, "echo returned its input", fraction=fraction)
"""

ECHO = "def echo(x):\n    return x\n"
KILL_PARENT = "import os\nimport signal\n\nos.kill(os.getppid(), signal.SIGKILL)\n"


def make_course(root: Path) -> Path:
    course = root / "course"
    (course / "exercises" / "hidden").mkdir(parents=True)
    (course / "solutions").mkdir()
    for name in ("activations", "tensor_ops"):
        shutil.copy(ROOT / "exercises" / f"{name}.yaml", course / "exercises")
        shutil.copy(SOLUTIONS / f"{name}.py", course / "solutions")
    (course / "exercises" / "echo.yaml").write_text(ECHO_YAML)
    (course / "exercises" / "hidden" / "echo.py").write_text(ECHO_JUDGE)
    (course / "solutions" / "echo.py").write_text(ECHO)
    return course


def student(subs: Path, name: str | bytes, **files: str | None) -> None:
    """An honest student's three files, with ``files`` replaced (None: left out)."""
    folder = os.path.join(os.fsencode(subs), os.fsencode(name))
    os.makedirs(folder)
    texts = {
        "activations.py": (SOLUTIONS / "activations.py").read_text(),
        "tensor_ops.py": (SOLUTIONS / "tensor_ops.py").read_text(),
        "echo.py": ECHO,
    }
    texts.update({key.replace("__", "."): text for key, text in files.items()})
    for filename, text in texts.items():
        if text is not None:
            with open(os.path.join(folder, filename.encode()), "w", encoding="utf-8") as f:
                f.write(text)


def names_file() -> str:
    """A correct activations.py ending in a never-run statement that binds 20,000 names:
    the old forbidden-calls judge walked it once per name, for hours."""
    names = ", ".join(f"a{i}" for i in range(20_000))
    return (SOLUTIONS / "activations.py").read_text() + f"\n\nif False:\n    {names} = 0\n"


def by_id(data: dict) -> dict[str, dict]:
    return {s["id"]: s for s in data["students"]}


def exercises(s: dict) -> dict[str, dict]:
    return {e["id"]: e for e in s["exercises"]}


def graded_at(out: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(out / "grades.sqlite") as conn:
        return {
            (s, e): t
            for s, e, t in conn.execute("SELECT student, exercise, graded_at FROM results")
        }


def test_a_class_with_broken_submissions_is_graded_and_only_they_are_graded_again(tmp_path: Path):
    course = make_course(tmp_path)
    subs = tmp_path / "subs"
    student(subs, "ada")
    student(subs, NON_UTF8)
    student(subs, "bomb", activations__py=None, activations__ipynb="[" * 200_000)
    student(subs, "names", activations__py=names_file())
    student(subs, "spinner", echo__py=ECHO + "# spin\n")
    student(subs, "breaker", echo__py=ECHO + "# half\n")
    student(subs, "killer", tensor_ops__py=KILL_PARENT + (SOLUTIONS / "tensor_ops.py").read_text())
    (subs / "zed_link").symlink_to(subs / "ada")
    out = tmp_path / "out"

    started = time.monotonic()
    first = run_grader(
        "grade", str(subs), "--out", str(out), "--course", str(course), "--jobs", "1", timeout=600
    )
    assert first.returncode == 0, first.stderr
    assert time.monotonic() - started < 300  # nothing stalled the run
    data = json.loads((out / "results.json").read_text())
    students = by_id(data)
    cafe = "caf\\xe9"  # the name's odd byte, shown as the escape that says which it was
    assert set(students) == {"ada", cafe, "bomb", "names", "spinner", "breaker", "killer"}
    for name in ("ada", cafe, "names"):  # honest, however odd their folders and files
        assert students[name]["score"] == students[name]["max_score"] == 24, students[name]
        assert all(e["final"] for e in students[name]["exercises"])

    # The notebook bomb costs its own exercise, explained; the rest is graded.
    bomb = exercises(students["bomb"])
    assert bomb["activations"]["status"] == "error" and bomb["activations"]["final"]
    assert "nested far too deeply" in bomb["activations"]["message"]
    assert bomb["tensor-ops"]["score"] == bomb["tensor-ops"]["max_score"]

    # A judge that never returns is that check's error, within its budget.
    echo = exercises(students["spinner"])["echo"]
    assert (
        echo["status"] == "error"
        and "could not be judged within 2 s" in echo["checks"][0]["message"]
    )
    assert students["spinner"]["score"] == 23

    # The job the grader failed on: every exercise an internal error, not final, with the
    # traceback in grader.log and one line on stderr, none of it in the report.
    breaker = students["breaker"]
    assert breaker["score"] == 0
    for ex in breaker["exercises"]:
        assert ex["status"] == "error" and not ex["final"] and ex["message"] == INTERNAL_ERROR
        assert {c["status"] for c in ex["checks"]} == {"error"}
    log = (out / "grader.log").read_text()
    assert (
        "internal error while grading 'breaker'" in log
        and "TypeError" in log
        and "Traceback" in log
    )
    said = [line for line in first.stderr.splitlines() if "internal error" in line]
    assert len(said) == 1 and "breaker" in said[0] and str(out / "grader.log") in said[0], said
    names = report_filenames(students)
    assert "Traceback" not in (out / names["breaker"]).read_text()

    # Killing its parent: the job's supervisor has no PID in the job's namespace (getppid()
    # is 0), so the student's kill(0) ends only its own process group. Its own doing:
    # an error, and final.
    killer = exercises(students["killer"])
    assert killer["tensor-ops"]["status"] == "error" and killer["tensor-ops"]["final"], killer[
        "tensor-ops"
    ]
    assert "ended the process" in killer["tensor-ops"]["message"], killer["tensor-ops"]["message"]
    assert all(
        e["final"]
        for s in ("ada", cafe, "bomb", "names", "spinner", "killer")
        for e in students[s]["exercises"]
    )

    # The odd name is one id everywhere: the store, the pages' names, the CSV.
    assert (out / names[cafe]).is_file() and re.fullmatch(r"[A-Za-z0-9._-]+", names[cafe])
    assert {s for s, _ in graded_at(out)} == set(students)
    assert cafe in (out / "grades.csv").read_text()
    # The link is not graded, and said so.
    assert "skipped zed_link: it is a link to a folder" in first.stderr
    assert "graded 6 submissions" in first.stderr and "1 could not be graded" in first.stderr

    # A re-run without --force grades again only what was not final.
    before = graded_at(out)
    time.sleep(1.1)  # graded_at has one-second resolution
    second = run_grader(
        "grade", str(subs), "--out", str(out), "--course", str(course), "--jobs", "1", timeout=600
    )
    assert second.returncode == 0, second.stderr
    assert "nothing graded: 1 submission could not be graded" in second.stderr, second.stderr
    assert "6 unchanged" in second.stderr, second.stderr
    changed = {key for key, when in graded_at(out).items() if when != before[key]}
    assert {s for s, _ in changed} == {"breaker"}


def unfenced(text: str) -> list[str]:
    """Lines of a log that start a workflow command outside a ``::stop-commands::`` fence,
    other than the grader's own (its annotations, groups and fences)."""
    found, token = [], None
    for line in text.splitlines():
        if token is not None:
            if line == f"::{token}::":
                token = None
            continue
        if line.startswith("::stop-commands::"):
            token = line.removeprefix("::stop-commands::")
        elif line.lstrip().startswith("::") and not re.match(
            r"::(error|warning) [^:]*::|::(end)?group::", line
        ):
            found.append(line)
        elif "##[" in line:
            found.append(line)
    return found


@pytest.mark.parametrize(
    "extra", [["--gradescope", "gradescope.json"], ["--fail-under", "101"], []]
)
def test_a_folder_named_to_issue_workflow_commands_issues_none(tmp_path: Path, extra: list[str]):
    course = make_course(tmp_path)
    subs = tmp_path / "subs"
    student(subs, "ada")
    student(
        subs, WORKFLOW_NAME, tensor_ops__py="raise ValueError('x\\n::error::from the message')\n"
    )
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    args = [
        "grade",
        str(subs),
        "--out",
        str(tmp_path / "out"),
        "--course",
        str(course),
        "--jobs",
        "1",
        *[str(tmp_path / a) if a.endswith(".json") else a for a in extra],
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == {"--gradescope": 2, "--fail-under": 1}.get(
        extra[0] if extra else "", 0
    ), proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert not unfenced(stream), unfenced(stream)
        assert "\n::set-output" not in stream and "\n::error::folder" not in stream
    assert "PWNED" in proc.stderr + proc.stdout  # the name is shown, made harmless
    if extra and extra[0] == "--gradescope":  # the line that printed the name as it was
        assert "for one submission" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_grader_check_prints_no_workflow_command_from_a_students_message(tmp_path: Path):
    course = make_course(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    solution = (SOLUTIONS / "tensor_ops.py").read_text()
    (work / "tensor_ops.py").write_text(
        solution.replace(
            "def column_mean(x: torch.Tensor) -> torch.Tensor:",
            "def column_mean(x: torch.Tensor) -> torch.Tensor:\n"
            "    raise ValueError('x\\n::error::forged\\n##[error]forged')\n",
            1,
        )
    )
    proc = run_grader("check", str(work), "--course", str(course))
    assert proc.returncode == 1 and "ValueError" in proc.stdout, proc.stdout + proc.stderr
    assert not unfenced(proc.stdout), proc.stdout
