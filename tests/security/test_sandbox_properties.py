"""Each property the bubblewrap sandbox promises, observed from inside it.

A spy submission records what it can see and do while being graded; each test checks
one property against that record. Skipped where bubblewrap cannot run (CI installs it).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, exercise, python_under_tmp, results, run_grader, write_student
from hostile import Listener, run_grader_with
from world_python import world_python

from grader.sandbox.bwrap import availability

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not availability()[0], reason="bubblewrap cannot run here"),
]

# Dials a TCP and a UDP listener of the test process on 127.0.0.1 (ports filled in):
# run inside the sandbox by the spy, and outside it by the test, which must get through.
NET_PROBE = r"""
import socket


def reach(tcp_port, udp_port):
    seen = {}
    try:
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=2) as c:
            c.sendall(b"probe")
        seen["connect"] = "connected"
    except OSError as exc:
        seen["connect"] = type(exc).__name__
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"probe", ("127.0.0.1", udp_port))
        seen["udp"] = "sent"
    except OSError as exc:
        seen["udp"] = type(exc).__name__
    return seen
"""

SPY = (
    NET_PROBE
    + r"""
import json, os, socket, sys

def probe():
    seen = {}
    seen["pid"], seen["ppid"] = os.getpid(), os.getppid()
    seen["session_is_new"] = os.getsid(0) != int(os.environ.get("GRADER_OUTER_SID", "-1"))
    seen["env"] = sorted(os.environ)
    seen["uid"] = os.getuid()
    seen["cap_eff"] = open("/proc/self/status").read().split("CapEff:")[1].split()[0]
    seen["pids_visible"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    seen["interfaces"] = sorted(name for _, name in socket.if_nameindex())
    seen.update(reach(TCP_PORT, UDP_PORT))
    seen["root_listing"] = sorted(os.listdir("/"))
    seen["tmp_listing"] = os.listdir("/tmp")
    job = os.path.dirname(os.environ["HOME"])  # the job's folder: HOME is its work/
    seen["job"] = job
    seen["box_listing"] = sorted(os.listdir("/sandbox/box"))  # the worker's box, hidden from jobs
    seen["exists"] = {p: os.path.exists(p) for p in ("/work", "/home", "/etc/shadow", "/etc/passwd")}
    seen["exists"]["job/submission"] = os.path.exists(job + "/submission")
    seen["exists"]["job/out"] = os.path.exists(job + "/out")
    writable = {}
    for target in (sys.prefix + "/PROBE", "/usr/PROBE", "/PROBE", "/sandbox/PROBE", "/dev/PROBE",
                   "/sandbox/shared/PROBE", job + "/work/PROBE", "/tmp/PROBE", "/dev/shm/PROBE"):
        try:
            with open(target, "w") as f:
                f.write("x")
            writable[target] = True
        except OSError:
            writable[target] = False
    seen["writable"] = writable
    handles = []
    try:
        for _ in range(1000):
            handles.append(open("/dev/null"))
    except OSError:
        pass
    seen["open_files_allowed"] = len(handles)
    for h in handles:
        h.close()
    import torch
    seen["torch_threads"] = torch.get_num_threads()
    return seen


def linear_forward(x, weight, bias):
    print("SPY" + json.dumps(probe()))
    return x @ weight.T + bias


def column_mean(x):
    return x.mean(dim=0)


def row_sum(x):
    return x.sum(dim=1)
"""  # noqa: E501 (the probe's code, kept as written)
)


def _with_ports(code: str, listener: Listener) -> str:
    return f"TCP_PORT, UDP_PORT = {listener.tcp_port}, {listener.udp_port}\n" + code


@pytest.fixture(scope="module")
def listener():
    """A real TCP server and UDP socket on 127.0.0.1 in this process, for the spy to dial."""
    found = Listener()
    yield found
    found.close()


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> dict:
    subs = tmp_path_factory.mktemp("subs")
    write_student(subs, "spy", {"tensor_ops.py": _with_ports(SPY, listener)})
    out = tmp_path_factory.mktemp("out")
    proc = run_grader("grade", str(subs), "--out", str(out), "--sandbox", "bubblewrap")
    assert proc.returncode == 0, proc.stderr
    seen_by_listener = list(listener.received)
    data = results(out)
    assert data["sandbox"] == "bubblewrap" and data["warnings"] == []
    outputs = [
        c["output"] for c in exercise(data, "spy", "tensor-ops")["checks"] if "SPY" in c["output"]
    ]
    assert outputs, "the spy did not run"
    spied = json.loads(outputs[0].split("SPY", 1)[1].splitlines()[0])
    spied["received"] = [(kind, raw.decode("latin-1")) for kind, raw in seen_by_listener]
    return spied


def test_no_network(seen: dict, listener: Listener):
    assert seen["interfaces"] == ["lo"]
    inside = (seen["connect"], seen["received"])
    assert seen["connect"] != "connected" and not seen["received"], inside
    # The same probe, outside the sandbox, reaches both listeners: the one above could fail.
    before = len(listener.received)
    script = _with_ports(NET_PROBE, listener) + "\nprint(reach(TCP_PORT, UDP_PORT))\n"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    outside = ast.literal_eval(proc.stdout.strip())
    for _ in range(50):  # the listener threads record what arrives
        if len(listener.received) >= before + 2:
            break
        time.sleep(0.05)
    kinds = sorted(kind for kind, _ in listener.received[before:])
    reached = outside == {"connect": "connected", "udp": "sent"} and kinds == ["tcp", "udp"]
    assert reached, (outside, kinds, proc.stderr[-500:])


def test_own_pid_namespace(seen: dict):
    # Inside, process ids start from 1 and only the run's own processes exist.
    assert seen["pid"] < 50 and len(seen["pids_visible"]) < 20


def test_cleared_environment(seen: dict):
    assert set(seen["env"]) <= {
        "PWD",
        "PATH",
        "HOME",
        "TMPDIR",
        "USER",
        "LANG",
        "PYTHONHASHSEED",
        "PYTHONSAFEPATH",
        "PYTHONDONTWRITEBYTECODE",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "IPYTHONDIR",
        "MPLBACKEND",
        "TORCHINDUCTOR_CACHE_DIR",
    }


def test_no_capabilities(seen: dict):
    assert int(seen["cap_eff"], 16) == 0


def test_sees_only_its_job_and_the_system(seen: dict):
    assert not seen["exists"]["/work"] and not seen["exists"]["/home"]
    assert not seen["exists"]["/etc/shadow"]
    assert seen["exists"]["job/submission"] and seen["exists"]["job/out"]
    # The job has its own folder; the worker's box (where jobs arrive) is hidden: no
    # other student's job, no reference run.
    assert seen["job"] == "/sandbox/job"
    assert seen["box_listing"] == []
    assert sorted(seen["tmp_listing"]) == python_under_tmp()
    assert str(ROOT) not in json.dumps(seen["root_listing"])


def test_python_and_system_are_read_only(seen: dict):
    # Nothing outside the job's folder, /tmp and /dev/shm (emptied between jobs) is
    # writable, so nothing can be left behind for the next job of the same worker.
    scratch = (seen["job"] + "/work/PROBE", "/tmp/PROBE", "/dev/shm/PROBE")
    read_only = [k for k in seen["writable"] if k not in scratch]
    assert len(read_only) == 6  # the Python prefix, /usr, /, /sandbox, /dev, the shared inputs
    assert not any(seen["writable"][k] for k in read_only), seen["writable"]


def test_private_scratch_is_writable(seen: dict):
    assert all(
        seen["writable"][k] for k in (seen["job"] + "/work/PROBE", "/tmp/PROBE", "/dev/shm/PROBE")
    )


def test_open_files_are_capped(seen: dict):
    assert 100 < seen["open_files_allowed"] < 256


def test_torch_runs_single_threaded(seen: dict):
    assert seen["torch_threads"] == 1


def test_doctor_names_the_sandbox_in_force():
    proc = run_grader("doctor")
    assert proc.returncode == 0 and "\nsandbox: bubblewrap (" in proc.stdout
    env_proc = run_grader("doctor", "--sandbox", "subprocess")
    assert "\nsandbox: subprocess (" in env_proc.stdout
    # As root, the fallback's users must reach this Python: refused (exit 1) when they
    # cannot (a pyenv under /root), as grading would be.
    refused = "refused: the grader runs as root" in env_proc.stdout
    assert env_proc.returncode == (1 if refused else 0), env_proc.stdout
    assert "install bubblewrap" in env_proc.stdout


def test_fallback_warns_on_the_terminal(tmp_path: Path):
    write_student(
        tmp_path / "subs",
        "honest",
        {"tensor_ops.py": (ROOT / "solutions" / "tensor_ops.py").read_text()},
    )
    python = sys.executable
    if os.geteuid() == 0:  # the confined fallback: its users need a Python they can reach
        found, why = world_python()
        if found is None:
            pytest.skip(why)
        python = found
    proc = run_grader_with(
        {"PYTHONPATH": None},
        "grade",
        str(tmp_path / "subs"),
        "--out",
        str(tmp_path / "out"),
        "--sandbox",
        "subprocess",
        python=python,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WARNING: Student code ran in a plain subprocess" in proc.stderr
    data = results(tmp_path / "out")
    assert data["sandbox"] == "subprocess" and data["warnings"]
    assert "plain subprocess" in (tmp_path / "out" / "honest.html").read_text()
