"""Each guard of a job's isolation (grader/sandbox/inside/jobns.py, the worker in runner.py,
bwrap.py) has a test here that fails without it.

One class is graded with `--jobs 1`, so one worker serves every student in folder
order: a prober that leaves state behind and reports what it can reach, then a second
prober that reports what it finds of the first, then an honest student. Probers print
one JSON line of findings at import time; the test reads them from the report data.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import ROOT, python_under_tmp, results, run_grader, write_student

from grader.sandbox.bwrap import availability

_usable, _why = availability()
pytestmark = pytest.mark.skipif(
    not _usable and not os.environ.get("CI"), reason=f"bubblewrap cannot run here: {_why}"
)

SOLUTION = (ROOT / "solutions" / "tensor_ops.py").read_text()

PROBE = r"""
import ctypes, json, os, platform, signal, socket, time

libc = ctypes.CDLL(None, use_errno=True)
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(platform.machine(), -1)
ADD_KEY = {"x86_64": 248, "aarch64": 217}.get(platform.machine(), -1)
found = {"role": ROLE}


def attempt(name, fn):
    try:
        found[name] = fn()
    except BaseException as exc:
        found[name] = f"refused: {type(exc).__name__}"


def write_to_pid1():
    fd = os.open("/proc/1/fd/1", os.O_WRONLY)
    os.write(fd, b'{"job": "nobody", "how": "exited", "code": 0, "leftovers": 0}\n')
    return "wrote"


def first_line(path):
    with open(path, "rb") as f:
        return f.read(200).decode("latin-1")


attempt("pid1_fd", write_to_pid1)
attempt("pid1_mem", lambda: first_line("/proc/1/mem") and "read")
attempt("pid1_environ", lambda: first_line("/proc/1/environ"))
attempt("parent_pid", os.getppid)  # 0: the job's supervisor has no PID in this namespace
attempt("nspid", lambda: [line.split()[1:] for line in open("/proc/self/status")
                          if line.startswith("NSpid")][0])


def bind_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    socket.create_connection(server.getsockname(), timeout=1)
    return "connected"


attempt("loopback", bind_loopback)  # up in the worker's network namespace, down in a new one
attempt("caps", lambda: {line.split(":")[0]: int(line.split(":")[1], 16)
                         for line in open("/proc/self/status") if line.startswith("Cap")})
attempt("no_new_privs", lambda: [line.split()[1] for line in open("/proc/self/status")
                                 if line.startswith("NoNewPrivs")][0])
attempt("keyctl", lambda: libc.syscall(KEYCTL, 0, -3, 0))  # the session keyring's id
attempt("box", lambda: os.listdir("/sandbox/box"))
attempt("tmp", lambda: sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm")))
attempt("sysv_shm", lambda: open("/proc/sysvipc/shm").read().splitlines()[1:])
attempt("sysv_msg", lambda: open("/proc/sysvipc/msg").read().splitlines()[1:])


def abstract_socket():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    s.connect("\0torch-grader-leaver")
    return "connected"


attempt("abstract", abstract_socket)

if ROLE == "leaver":
    for folder in ("/tmp", "/dev/shm"):
        open(os.path.join(folder, "LEFT-BEHIND"), "w").write("x")
    libc.shmget(0x5EC7E7, 4096, 0o1666)
    libc.msgget(0x5EC7E7, 0o1666)
    libc.syscall(ADD_KEY, b"user", b"torch-grader-leak", b"x", 1, -4)  # the user keyring
    if os.fork() == 0:  # a daemon that holds an abstract socket as long as it lives
        os.setsid()
        server = socket.socket(socket.AF_UNIX)
        server.bind("\0torch-grader-leaver")
        server.listen()
        time.sleep(300)
        os._exit(0)
    time.sleep(0.2)
    found["keys"] = "torch-grader-leak" in open("/proc/keys").read()
else:
    found["keys"] = "torch-grader-leak" in open("/proc/keys").read()

print("PROBE " + json.dumps(found), flush=True)
"""

STOPPER = SOLUTION.replace(
    "def column_mean(",
    """import os, signal


def column_mean(x):
    os.kill(os.getpid(), signal.SIGSTOP)
    return x.mean(dim=0)


def _unused_column_mean(""",
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("isolation")
    subs = base / "submissions"
    write_student(subs, "a_leaver", {"tensor_ops.py": f"ROLE = 'leaver'\n{PROBE}\n{SOLUTION}"})
    write_student(subs, "b_finder", {"tensor_ops.py": f"ROLE = 'finder'\n{PROBE}\n{SOLUTION}"})
    write_student(subs, "c_stopper", {"tensor_ops.py": STOPPER})
    write_student(subs, "d_honest", {"tensor_ops.py": SOLUTION})
    started = time.monotonic()
    proc = run_grader("grade", str(subs), "--out", str(base / "out"), "--jobs", "1", timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = results(base / "out")
    data["_seconds"] = time.monotonic() - started
    return data


def tensor_ops(data: dict, student: str) -> dict:
    s = next(s for s in data["students"] if s["id"] == student)
    return next(e for e in s["exercises"] if e["id"] == "tensor-ops")


def probe(data: dict, student: str) -> dict:
    output = tensor_ops(data, student)["output"]
    line = next((ln for ln in output.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, f"{student} printed no findings: {output[:500]!r}"
    return json.loads(line[len("PROBE ") :])


@pytest.mark.parametrize("student", ["a_leaver", "b_finder"])
def test_worker_is_out_of_reach(graded: dict, student: str) -> None:
    """--as-pid-1 and a non-dumpable worker: PID 1 is the worker, whose pipes, memory
    and environment no job process may open; the job's parent has no PID in its view."""
    found = probe(graded, student)
    for key in ("pid1_fd", "pid1_mem", "pid1_environ"):
        assert str(found[key]).startswith("refused"), f"{key}: {found[key]!r}"
    assert found["parent_pid"] == 0, f"the job's parent is visible as PID {found['parent_pid']}"


def test_each_job_has_namespaces_of_its_own(graded: dict) -> None:
    """jobns.enter_job_namespaces: a job's processes live in a PID namespace nested in
    the worker's, and in a network namespace of their own (whose loopback is down,
    where the worker's is up). (Namespace ids cannot be compared across jobs: the
    kernel reuses the number of a namespace that is gone.) IPC, mount and keyrings:
    the tests below."""
    for student in ("a_leaver", "b_finder"):
        found = probe(graded, student)
        assert isinstance(found["nspid"], list) and len(found["nspid"]) >= 2, found["nspid"]
        assert found["nspid"][-1] == "2", (
            f"not the first process after the job's init: {found['nspid']}"
        )
        assert str(found["loopback"]).startswith("refused"), f"{student}: {found['loopback']!r}"


def test_job_processes_hold_no_privilege(graded: dict) -> None:
    """jobns.drop_privileges: no capability in any set, no_new_privs on."""
    found = probe(graded, "a_leaver")
    assert isinstance(found["caps"], dict) and found["caps"], found["caps"]
    assert not any(found["caps"].values()), found["caps"]
    assert found["no_new_privs"] == "1"


def test_keyrings_are_closed(graded: dict) -> None:
    """jobns.restrict_syscalls: keyctl fails, and no key reaches the next job."""
    assert probe(graded, "a_leaver")["keyctl"] == -1
    assert probe(graded, "a_leaver")["keys"] is False
    assert probe(graded, "b_finder")["keys"] is False


def test_nothing_of_a_job_reaches_the_next(graded: dict) -> None:
    """Fresh /tmp and /dev/shm, IPC and network namespaces, the box hidden, and the
    leaver's daemon gone with its job."""
    found = probe(graded, "b_finder")
    assert sorted(found["tmp"]) == python_under_tmp(), found["tmp"]
    assert found["sysv_shm"] == [] and found["sysv_msg"] == [], (
        found["sysv_shm"],
        found["sysv_msg"],
    )
    assert str(found["abstract"]).startswith("refused"), found["abstract"]
    assert found["box"] == [], found["box"]


def test_a_stopped_process_costs_only_its_check(graded: dict) -> None:
    """Supervisor.watch notices a student process that stopped itself at once, instead
    of waiting out the check's time limit."""
    checks = tensor_ops(graded, "c_stopper")["checks"]
    stopped = [c for c in checks if c["name"].startswith("column_mean")]
    assert stopped and all(c["status"] in ("error", "timeout") for c in stopped), stopped
    assert all("stop" in c["message"] for c in stopped), [c["message"] for c in stopped]
    others = [c for c in checks if not c["name"].startswith("column_mean")]
    assert all(c["status"] == "passed" for c in others), [c["message"] for c in others]
    limit = max(c.get("seconds") or 0 for c in stopped)
    assert limit < 3, f"a stopped check took {limit} s"


def test_honest_student_keeps_full_marks(graded: dict) -> None:
    for student in ("a_leaver", "b_finder", "d_honest"):
        ex = tensor_ops(graded, student)
        assert ex["score"] == ex["max_score"], (student, [c["message"] for c in ex["checks"]])
