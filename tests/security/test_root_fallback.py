"""The fallback run by root (Gradescope, Docker): bubblewrap hidden, student code runs as
users of its own (grader/sandbox/confine.py).

One run grades the attack suite's snooping and tampering attackers, an honest student, an
accomplice and a prober that knows exactly where the course, the reports, the store, the
submissions and the other workers are, and tries to read, list and write each of them,
then reports what worked to a socket of this test. The course is this checkout, and the
submissions and reports sit in folders every user could read before the run, so the
grader has to close them itself.

Then the refusals: a protected folder that cannot be closed (a shared sticky folder), and
a Python other users cannot reach, each stop the run with a message that says why.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, exercise, results, write_student
from hostile import (
    SAVE_LOAD_SOLUTION,
    SECRET_TEXT,
    SOLUTION,
    WRONG,
    Listener,
    attackers,
    diff,
    kill_processes,
    mentions,
    new_marker,
    remove_forged,
    run_grader_with,
    settle_processes,
    top_level,
    tree,
    write_folder,
)
from world_python import reachable_by_others, world_python

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the confined fallback is root's"),
]

ATTACKS = (
    "a05_patch_runner",
    "a12_write_everywhere",
    "a13_sabotage_classmates",
    "a14_snoop",
    "a15_steal_reference_outputs",
    "a16_memory_hunt",
    "a27_symlink_to_solution",
)
ACCOMPLICE = "zz_accomplice"
PROBER = "p01_prober"

PROBE = """
import glob, json, os, socket

TARGETS = {targets!r}
found = {{"read": [], "listed": [], "wrote": [], "tried": 0}}


def attempt(path):
    found["tried"] += 1
    try:
        if os.path.isdir(path):
            os.listdir(path)
            found["listed"].append(path)
        else:
            with open(path, "rb") as f:
                f.read(64)
            found["read"].append(path)
    except OSError:
        pass
    try:
        if os.path.isdir(path):
            name = os.path.join(path, "written-by-prober")
            with open(name, "x") as f:
                f.write("x")
            os.unlink(name)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        found["wrote"].append(path)
    except OSError:
        pass


for pattern in TARGETS:
    for path in glob.glob(pattern) or [pattern]:
        attempt(path)
here = os.getcwd()
for pool in glob.glob("/dev/shm/grader-pool-*") + glob.glob("/tmp/grader-pool-*"):
    for path in [pool, *glob.glob(pool + "/worker-*"), *glob.glob(pool + "/judged-*")]:
        if not here.startswith(path + "/") or not os.path.basename(path).startswith("worker-"):
            attempt(path)  # everything but this job's own box
for pid in os.listdir("/proc"):
    try:
        if pid.isdigit() and os.stat(f"/proc/{{pid}}").st_uid != os.getuid():
            attempt(f"/proc/{{pid}}/environ")
    except OSError:
        pass
found["uid"] = os.getuid()
with socket.create_connection(("127.0.0.1", {port}), timeout=5) as s:
    s.sendall(json.dumps(found).encode()[:4000])


def linear_forward(x, weight, bias):
    return x


def column_mean(x):
    return x


def row_sum(x):
    return x
"""


def _world_folder(prefix: str) -> Path:
    """A folder any user could enter and read: the grader must close it itself."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    os.chmod(folder, 0o755)
    return folder


def _open_up(folder: Path) -> None:
    for top, _dirs, files in os.walk(folder):
        os.chmod(top, 0o755)
        for name in files:
            os.chmod(os.path.join(top, name), 0o644)


def _other_checkouts() -> list[str]:
    """Other copies of this course on this machine (a developer's worktrees and clones,
    found where the snooping attackers look): copies the run does not know of, named to
    the grader with GRADER_PROTECT as an instructor would. A clean CI machine has none."""
    ours = (ROOT / "solutions" / "tensor_ops.py").read_bytes()
    places = [
        "/work/*",
        "/tmp/*",
        "/var/tmp/*",
        "/srv/*",
        "/opt/*",
        "/home/*/*",
        f"{Path.home()}/*",
    ]
    found = set()
    for place in places:
        for candidate in glob.glob(f"{place}/solutions/tensor_ops.py"):
            course = Path(candidate).parents[1]
            try:
                same = Path(candidate).read_bytes() == ours
            except OSError:
                continue
            if same and course.resolve() != ROOT.resolve():
                found.add(str(course))
    return sorted(found)


def _grade(
    python: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    settings: dict[str, str | None] = {
        "GRADER_SANDBOX": "subprocess",
        "GRADER_PROTECT": os.pathsep.join(_other_checkouts()),
        "PYTHONPATH": None,  # cwd (the checkout) is on sys.path with -m
        **(env or {}),
    }
    return run_grader_with(settings, *args, python=python)


def _snapshot(subs: Path) -> dict:
    return {
        "subs": tree(subs),
        "repo": tree(ROOT),
        "tmp": top_level(Path("/tmp")),
        "var": top_level(Path("/var/tmp")),
        "root": top_level(Path("/")),
    }


@pytest.fixture(scope="module")
def python() -> str:
    found, why = world_python()
    if found is None:
        pytest.skip(why)
    return found


@pytest.fixture(scope="module")
def run(python: str):
    mark = new_marker()
    listener = Listener()
    base = _world_folder("grader-root-fallback-")
    subs, out = base / "subs", base / "out"
    try:
        team = [
            a for a in attackers(mark, listener.tcp_port, listener.udp_port) if a.slug in ATTACKS
        ]
        for attacker in team:
            write_folder(subs, attacker)
        write_student(
            subs, "honest", {"tensor_ops.py": SOLUTION, "save_load.py": SAVE_LOAD_SOLUTION}
        )
        write_student(subs, ACCOMPLICE, {"tensor_ops.py": WRONG})
        targets = [
            str(ROOT / "solutions" / "*"),
            str(ROOT / "exercises" / "*"),
            str(ROOT / "course.yaml"),
            str(ROOT),
            str(out),
            str(out / "*"),
            str(subs),
            str(subs / "honest" / "*"),
            str(subs / ACCOMPLICE / "*"),
            "/autograder/source/*",
        ]
        write_student(
            subs,
            PROBER,
            {
                "tensor_ops.py": textwrap.dedent(PROBE).format(
                    targets=targets, port=listener.tcp_port
                )
            },
        )
        out.mkdir()
        _open_up(base)
        os.chmod(ROOT, os.stat(ROOT).st_mode | 0o005)  # as cloned: a run before this one closed it
        before = _snapshot(subs)
        proc = _grade(python, "grade", str(subs), "--out", str(out), "--jobs", "2")
        processes = settle_processes(mark)
        after = _snapshot(subs)
    finally:
        listener.close()
    changes = [
        (zone, kind, path)
        for zone in before
        for kind, path in diff(before[zone], after[zone])
        if mentions(path, mark) or zone == "subs"
    ]
    kill_processes(processes, mark)
    remove_forged([p for _, kind, p in changes if kind != "removed"], mark)
    reports = [
        json.loads(data)
        for kind, data in listener.received
        if kind == "tcp" and data.startswith(b"{")
    ]
    yield {
        "proc": proc,
        "out": out,
        "subs": subs,
        "team": team,
        "changes": changes,
        "processes": processes,
        "probe": reports,
        "modes": {p: oct(os.stat(p).st_mode & 0o777) for p in (ROOT, out, subs)},
    }
    shutil.rmtree(base, ignore_errors=True)


def test_the_run_grades_under_the_confined_fallback(run: dict):
    proc = run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = results(run["out"])
    assert data["sandbox"] == "subprocess"
    assert any("as a user of its own" in w for w in data["warnings"]), data["warnings"]
    assert "closed to student code" in proc.stderr, proc.stderr[-2000:]


def test_the_prober_reached_nothing_protected(run: dict):
    """It ran (its report arrived) as a user that is not root, tried every target, and
    could read, list or write none of them."""
    assert run["probe"], "the prober's report never arrived"
    report = run["probe"][0]
    assert report["uid"] != 0
    assert report["tried"] > 20, report
    assert report["read"] == [] and report["listed"] == [] and report["wrote"] == [], report


def test_attacks_earn_nothing_and_the_honest_student_everything(run: dict):
    data = results(run["out"])
    for attacker in run["team"]:
        student = next(s for s in data["students"] if s["id"] == attacker.student)
        assert student["score"] == 0, (attacker.slug, student["score"])
    assert next(s for s in data["students"] if s["id"] == ACCOMPLICE)["score"] == 0
    for ex_id in ("tensor-ops", "save-load"):
        ex = exercise(data, "honest", ex_id)
        assert ex["score"] == ex["max_score"] > 0, ex


def test_no_solution_text_reaches_a_snooper(run: dict):
    data = results(run["out"])
    for slug in (
        "a14_snoop",
        "a15_steal_reference_outputs",
        "a16_memory_hunt",
        "a27_symlink_to_solution",
    ):
        student = next(s for s in data["students"] if s["id"] == slug)
        text = json.dumps(student)
        leaked = [s for s in SECRET_TEXT if s in text]
        assert not leaked, (slug, leaked)


def test_nothing_is_written_outside_the_job(run: dict):
    assert not run["changes"], run["changes"][:20]
    names = {p.name for p in run["out"].iterdir()}
    assert {"results.json", "grades.csv", "index.html", "grades.sqlite"} <= names
    assert not [n for n in names if not n.endswith((".html", ".json", ".csv", ".sqlite"))], names


def test_no_process_of_an_attacker_survives(run: dict):
    assert not run["processes"], run["processes"]


def test_the_protected_folders_stay_closed_to_others(run: dict):
    """The run took "other" permissions off the course, the reports and the submissions
    (kept after the run, and said on the terminal)."""
    for path, mode in run["modes"].items():
        assert int(mode, 8) & 0o007 == 0, (path, mode)


def _refused(python: str, tmp_path: Path, **env: str) -> str:
    """Grade one student; the run must stop (exit 2) before writing any result. Returns
    what it said."""
    subs = tmp_path / "subs"
    write_student(subs, "alice", {"tensor_ops.py": SOLUTION})
    out = tmp_path / "out"
    proc = _grade(python, "grade", str(subs), "--out", str(out), "--jobs", "1", env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert not (out / "results.json").exists()
    assert "root without bubblewrap" in proc.stderr, proc.stderr[-2000:]
    return proc.stderr


def test_a_folder_that_cannot_be_closed_stops_the_run(python: str, tmp_path: Path):
    """/tmp is shared (sticky): the grader never changes it, so protecting it must refuse."""
    said = _refused(python, tmp_path, GRADER_PROTECT="/tmp")
    assert "can read /tmp" in said, said[-2000:]


@pytest.mark.skipif(
    reachable_by_others(sys.executable) and reachable_by_others(sys.prefix),
    reason="this Python is reachable by every user",
)
def test_a_python_other_users_cannot_reach_stops_the_run(tmp_path: Path):
    said = _refused(sys.executable, tmp_path)
    assert f"this Python ({sys.executable}) cannot run as user" in said, said[-2000:]
