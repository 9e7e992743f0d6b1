"""The harness of the issue-14 attack tests: grade a class (attackers first, honest
classmates after them, on one sandbox worker) with the real CLI, and collect what went
wrong as findings, so that one failing test says everything that leaked or broke.

Attackers print a line starting with the run's marker for what they did; processes they
leave carry the marker in their command line, so they are found (and killed, by id) after
the run. The sources of the attackers are in issue14_attackers.py.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ROOT
from hostile import kill_processes, new_marker, settle_processes, tree

from grader.sandbox.choice import choose

SOLUTIONS = ROOT / "solutions"
RUN_TIMEOUT = 600.0  # seconds: a run that takes this long is stuck, and is killed


def require_bubblewrap() -> None:
    """These tests are about the bubblewrap sandbox: skip where it cannot run, except in
    CI, where a missing sandbox is a broken machine and must fail."""
    sandbox = choose()
    if sandbox.kind == "bubblewrap":
        return
    message = f"the bubblewrap sandbox is not usable here ({sandbox.reason})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; in CI it must be")
    pytest.skip(message)


# ------------------------------------------------------------------ the class
def honest_files() -> dict[str, str]:
    """A copy of every reference solution: full marks on every exercise."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SOLUTIONS.glob("*.py"))}


def stub_files(comment: str = "") -> dict[str, str]:
    """The bundle's stubs for every exercise (each scores 0), with ``comment`` on top."""
    from grader.course.loading import load_course
    from grader.course.stubs import stub_source

    course = load_course(ROOT)
    return {
        f"{ex.file}.py": (f"# {comment}\n" if comment else "") + stub_source(ex)
        for ex in course.exercises
    }


def exercise_files() -> list[str]:
    """The file name (``tensor_ops.py``) of every exercise, in the course's order."""
    from grader.course.loading import load_course

    return [f"{ex.file}.py" for ex in load_course(ROOT).exercises]


def write_class(subs: Path, students: dict[str | bytes, dict[str, str | bytes]]) -> None:
    """One folder per student; a bytes name is a folder name that is not UTF-8."""
    subs.mkdir(parents=True, exist_ok=True)
    for name, files in students.items():
        folder = os.path.join(
            os.fsencode(subs), name if isinstance(name, bytes) else os.fsencode(name)
        )
        os.makedirs(folder, exist_ok=True)
        for filename, content in files.items():
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            with open(os.path.join(folder, os.fsencode(filename)), "wb") as f:
                f.write(data)


# ------------------------------------------------------------------ a run
@dataclass
class Run:
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    seconds: float
    out: Path
    mark: str
    survivors: dict[int, str] = field(default_factory=dict)  # marked processes alive after it
    left_pools: list[str] = field(default_factory=list)  # its pool folders, still there after it

    @functools.cached_property
    def data(self) -> dict | None:
        """results.json as the run left it (None if it wrote none)."""
        path = self.out / "results.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def student(self, name: str) -> dict | None:
        data = self.data or {"students": []}
        return next((s for s in data["students"] if s["id"] == name), None)

    def said(self, student: str) -> str:
        """What the attacker's code printed (its marked lines), for failure messages."""
        s = self.student(student)
        if s is None:
            return ""
        texts = [e.get("output", "") for e in s["exercises"]]
        texts += [c.get("output", "") for e in s["exercises"] for c in e["checks"]]
        lines = [ln for t in texts for ln in t.splitlines() if self.mark in ln]
        return " | ".join(dict.fromkeys(lines))[:1500]

    def tail(self) -> str:
        """The end of what the grader said: its last line first (an exception's), then more."""
        text = (self.stderr.strip() or self.stdout.strip()) or "no output"
        return f"{text.splitlines()[-1][:300]} ... {text[-1200:]}"


def grade(
    subs: Path,
    out: Path,
    mark: str,
    *args: str,
    env: dict[str, str | None] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> Run:
    """``python -m grader grade SUBS --out OUT --jobs 1 ARGS`` from the repository root,
    killed (with its whole process group) after ``timeout`` seconds."""
    environ = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    cmd = [
        sys.executable,
        "-m",
        "grader",
        "grade",
        str(subs),
        "--out",
        str(out),
        "--jobs",
        "1",
        *args,
    ]
    pools = pool_homes()
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its sandboxes die with it (--die-with-parent)
        stdout, stderr = proc.communicate()
        code = None
    seconds = time.monotonic() - started
    survivors = settle_processes(mark)
    kill_processes(survivors, mark)
    left = remove_marked_pools(pools, mark)
    return Run(code, stdout, stderr, seconds, out, mark, survivors, left)


# ------------------------------------------------------------------ findings
class Findings:
    """What leaked or broke, collected over a whole test and reported together."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def check(self, ok: bool, text: str) -> bool:
        if not ok:
            self.add(text)
        return ok

    def assert_none(self, what: str) -> None:
        assert not self.items, f"{what}:\n- " + "\n- ".join(self.items)

    def run_completed(self, run: Run, label: str = "the run") -> bool:
        """Exit 0, in time, and the reports written (results, CSV, overview)."""
        if run.returncode is None:
            self.add(
                f"{label} did not finish within {run.seconds:.0f} s and was killed: {run.tail()}"
            )
            return False
        if not self.check(run.returncode == 0, f"{label} exited {run.returncode}: {run.tail()}"):
            return False
        missing = [
            n for n in ("results.json", "grades.csv", "index.html") if not (run.out / n).is_file()
        ]
        return self.check(
            not missing and run.data is not None, f"{label} wrote no {missing or 'results'}"
        )

    def full_marks(self, run: Run, students: list[str], label: str = "") -> None:
        """Every exercise of every honest classmate at its maximum score."""
        for name in students:
            s = run.student(name)
            if s is None:
                self.add(f"{label}honest classmate {name} is not in the results")
                continue
            lost = [
                ex
                for ex in s["exercises"]
                if not (ex["max_score"] > 0 and ex["score"] == ex["max_score"])
            ]
            if lost:
                first = lost[0]
                why = first["message"] or next(
                    (
                        f"{c['status']}: {c['message']}"
                        for c in first["checks"]
                        if c["status"] != "passed"
                    ),
                    "",
                )
                scores = ", ".join(f"{ex['id']} {ex['score']:g}/{ex['max_score']:g}" for ex in lost)
                self.add(
                    f"{label}honest classmate {name} lost points on {scores}; "
                    f"{first['id']}: {why[:240]}"
                )

    def earns_nothing(self, run: Run, student: str, what: str) -> None:
        s = run.student(student)
        if s is None:
            self.add(f"{what}: the attacker {student!r} is not in the results")
            return
        passed = [
            f"{e['id']}: {c['name']}"
            for e in s["exercises"]
            for c in e["checks"]
            if c["status"] == "passed" and c["score"] > 0
        ]
        self.check(
            s["score"] == 0 and not passed,
            f"{what}: {student} earned {s['score']} points ({passed[:4]}); "
            f"it said: {run.said(student)}",
        )

    def no_survivors(self, run: Run) -> None:
        """No process of the attack outlives the run, and the grader removed its scratch
        folders (unless the test killed it)."""
        self.check(
            not run.survivors,
            "processes of the attack outlived the run (killed now): "
            + str({pid: cmd[:120] for pid, cmd in list(run.survivors.items())[:5]}),
        )
        self.check(
            run.returncode is None or not run.left_pools,
            f"the run left its sandbox folders behind (removed now): {run.left_pools}",
        )

    def unchanged(self, before: dict, after: dict, where: str) -> None:
        changed = sorted(set(before.items()) ^ set(after.items()))
        self.check(not changed, f"{where} changed: {[p for p, _ in changed][:10]}")


# ------------------------------------------------------------------ scratch left behind
POOL_FOLDERS = (Path("/dev/shm"), Path(os.environ.get("TMPDIR", "/tmp")))


def pool_homes() -> set[Path]:
    """The grader's pool folders on this machine (other runs may own some)."""
    return {p for base in POOL_FOLDERS if base.is_dir() for p in base.glob("grader-pool-*")}


def remove_marked_pools(before: set[Path], mark: str) -> list[str]:
    """Remove pool folders that appeared since ``before`` and hold this run's attackers
    (a name or a file with ``mark``): left by a grader that crashed or was killed.
    Returns what was removed. `rm` copes with folder chains deeper than Python's
    recursion limit."""
    removed = []
    for home in sorted(pool_homes() - before):
        if _holds(home, mark, depth=5):
            subprocess.run(["rm", "-rf", "--one-file-system", str(home)], check=False)
            removed.append(str(home))
    return removed


def _holds(folder: Path, text: str, depth: int) -> bool:
    """A name or a small file with ``text`` in ``folder``, down to ``depth`` levels."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        if text in entry.name:
            return True
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_size < 2**20:
                with open(entry.path, "rb") as f:
                    if text.encode() in f.read():
                        return True
            elif (
                depth > 0
                and entry.is_dir(follow_symlinks=False)
                and _holds(Path(entry.path), text, depth - 1)
            ):
                return True
        except OSError:
            continue
    return False


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``folder`` with its size and time: compare two to see a change."""
    return tree(folder)


# ------------------------------------------------------------------ workflow commands
FENCE_START = re.compile(r"::stop-commands::(\S+)\s*$")
GRADER_COMMAND = re.compile(r"::(?:error|warning|notice) (?:[a-z]+=[^,:]*,)*title=[^:]*::")


def forged_commands(text: str) -> list[str]:
    """Lines that GitHub's runner would act on as workflow commands and that the grader
    did not write: outside a ``::stop-commands::TOKEN`` ... ``::TOKEN::`` fence, a line
    starting with ``::`` that is not one of the grader's own (an annotation with a title,
    a group, the fences themselves)."""
    forged, token = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if token is not None:
            if stripped == f"::{token}::":
                token = None
            continue
        fence = FENCE_START.match(stripped)
        if fence:
            token = fence.group(1)
            continue
        if not stripped.startswith("::"):
            continue
        if stripped.startswith(("::group::", "::endgroup::")) or GRADER_COMMAND.match(stripped):
            continue
        forged.append(line)
    return forged


def fresh_mark() -> str:
    return new_marker()
