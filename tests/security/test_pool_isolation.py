"""Jobs that share a pool worker share nothing else: what one submission leaves behind
(files in any writable place, a daemon process, an attempt to kill every process it can
reach) never reaches the next submission graded by the same worker."""

from __future__ import annotations

import pytest
from conftest import ROOT, check, exercise, results, run_grader, write_student

from grader.sandbox.bwrap import availability

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not availability()[0], reason="bubblewrap cannot run here"),
]

SOLUTION = (ROOT / "solutions" / "tensor_ops.py").read_text()

# Graded first (folder names sort): leaves markers everywhere it can write, and a
# daemon that keeps dropping markers into whatever job folder appears in the box.
LEAVER = (
    SOLUTION
    + r"""

import os, time

MARK = "LEFT-BY-A"


def _drop(folder):
    try:
        with open(os.path.join(folder, MARK), "w") as f:
            f.write(MARK)
    except OSError:
        pass


def _leave():
    job = os.path.dirname(os.environ["HOME"])
    box = os.path.dirname(job)
    for folder in ("/tmp", "/dev/shm", box, job, os.environ["HOME"], "/", "/sandbox"):
        _drop(folder)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            deadline = time.time() + 120
            while time.time() < deadline:
                for folder in ("/tmp", "/dev/shm", box):
                    _drop(folder)
                try:
                    for name in os.listdir(box):
                        _drop(os.path.join(box, name))
                        _drop(os.path.join(box, name, "work"))
                        _drop(os.path.join(box, name, "submission"))
                except OSError:
                    pass
                time.sleep(0.01)
        os._exit(0)


_leave()
"""
)

# Graded next, by the same worker (--jobs 1): right answers only if it finds no marker.
FINDER = (
    SOLUTION
    + r"""

import os

MARK = "LEFT-BY-A"
SKIP = {"/proc", "/sys", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/root", "/dev/pts"}


def _found():
    job = os.path.dirname(os.environ["HOME"])
    hits = []
    for top in ("/tmp", "/dev/shm", os.path.dirname(job), "/", "/sandbox"):
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in SKIP]
            hits += [os.path.join(folder, f) for f in files if f == MARK]
    alive = [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 1
             and MARK not in open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace")
             and os.path.exists(f"/proc/{p}/stat")]
    return hits, alive


_original_column_mean = column_mean


def column_mean(x):
    hits, alive = _found()
    print("FOUND", hits, "PROCESSES", len(alive))
    return _original_column_mean(x) if not hits else torch.zeros(x.shape[1])
"""
)

# Graded third: kills every process it can reach, hoping for its worker.
KILLER = (
    SOLUTION
    + r"""

import os, signal


def row_sum(x):
    for pid in (1, -1):  # its parent has no PID here: os.getppid() is 0
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return x.sum(dim=1)
"""
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    subs = tmp_path_factory.mktemp("subs")
    write_student(subs, "a_leaver", {"tensor_ops.py": LEAVER})
    write_student(subs, "b_finder", {"tensor_ops.py": FINDER})
    write_student(subs, "c_killer", {"tensor_ops.py": KILLER})
    write_student(subs, "d_finder", {"tensor_ops.py": FINDER})
    out = tmp_path_factory.mktemp("out")
    proc = run_grader(
        "grade", str(subs), "--out", str(out), "--jobs", "1", "--sandbox", "bubblewrap"
    )
    assert proc.returncode == 0, proc.stderr
    # The worker is out of the killer's reach (it has no PID in the job's namespace).
    assert "restarted" not in proc.stderr, proc.stderr
    return results(out)


@pytest.mark.parametrize("student", ["b_finder", "d_finder"])
def test_nothing_left_behind_reaches_the_next_job(graded: dict, student: str):
    c = check(graded, student, "tensor-ops", "column_mean of a tall")
    assert "FOUND [] PROCESSES" in c["output"], c["output"]
    assert c["status"] == "passed", c["message"]
    assert (
        exercise(graded, student, "tensor-ops")["score"]
        == exercise(graded, student, "tensor-ops")["max_score"]
    )


def test_the_leaver_itself_is_graded_normally(graded: dict):
    ex = exercise(graded, "a_leaver", "tensor-ops")
    assert ex["score"] == ex["max_score"]


def test_the_worker_is_beyond_the_killers_reach(graded: dict):
    ex = exercise(graded, "c_killer", "tensor-ops")
    assert ex["score"] == ex["max_score"], [c["message"] for c in ex["checks"]]
