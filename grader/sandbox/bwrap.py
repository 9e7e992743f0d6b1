"""The bubblewrap command line that isolates a sandbox run.

What the student's code gets:
- no network (its own, empty network namespace), its own PID, IPC and UTS namespaces,
  a new session (no terminal to inject into), death with its parent, no capabilities;
- a cleared environment (only the variables the runner needs);
- read-only: the system's /usr (and its /lib, /bin links) and the Python environment
  that runs the grader (its prefix and site-packages), plus the runner script and the
  protocol package it imports (grader/sandbox/protocol: names and value encoding only);
- its worker's box, where the grader puts one job folder at a time (writable), and the
  shared inputs (read-only);
- an empty /tmp and /dev/shm, emptied between jobs. Nothing else: not the course (exercises,
  solutions, hidden helpers), not other students, not reports/, not the grader's working
  files, not /root or /home.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.sandbox.diagnosis import explain

INSIDE_HOME = "/sandbox"
INSIDE_BOX = "/sandbox/box"  # the worker's job folders
INSIDE_SHARED = "/sandbox/shared"  # read-only inputs shared by all jobs
INSIDE_CODE = "/opt/torch-grader/sandbox"  # the grader's code that runs inside: runner.py, jobns.py
INSIDE_RUNNER = f"{INSIDE_CODE}/runner.py"
INSIDE_JOBNS = f"{INSIDE_CODE}/jobns.py"
INSIDE_PROTOCOL = "/opt/torch-grader/protocol"  # beside sandbox/, where the runner imports it
INSIDE_JOB = "/sandbox/job"  # a job's own folder, in the job's mount namespace (jobns.py)
HERE = Path(__file__).resolve().parent
INSIDE = HERE / "inside"  # mounted at INSIDE_CODE
PROTOCOL = HERE / "protocol"  # mounted at INSIDE_PROTOCOL
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
# /etc/fonts: matplotlib asks fontconfig for the system's fonts.
SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/fonts",
)


def python_paths() -> list[str]:
    """Folders the sandbox's Python needs, outside the system folders."""
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(sys.executable).resolve().parent),
    }
    try:
        paths.update(site.getsitepackages())
    except AttributeError:  # some virtualenvs lack it
        pass
    paths = {str(Path(p).resolve()) for p in paths if Path(p).exists()}
    kept = [
        p for p in sorted(paths) if not any(p.startswith(d + "/") or p == d for d in SYSTEM_DIRS)
    ]
    # Drop nested paths: binding a parent already covers them.
    return [p for p in kept if not any(p != q and p.startswith(q + "/") for q in kept)]


def command(box: Path, shared: Path, env: dict[str, str], argv: list[str]) -> list[str]:
    """A worker's sandbox: ``box`` (the current job's folder lives in it) is the only
    writable folder of this machine it sees; ``shared`` (inputs) is read-only.

    The worker is the sandbox's PID 1 (``--as-pid-1``: no bubblewrap init beside it
    holding its pipes) and makes itself non-dumpable before any job; each job then runs
    in namespaces of its own, nested in these (jobns.py)."""
    cmd = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--as-pid-1",
        "--hostname",
        "sandbox",
        "--clearenv",
    ]
    if os.geteuid() == 0:
        # Inside, the worker is this machine's root: only with CAP_SETFCAP may it make
        # the user namespace of each job (jobns.py, which keeps it from everything else).
        cmd += ["--cap-add", "CAP_SETFCAP"]
    # Scratch file systems first: a Python environment under /tmp (a venv made there)
    # is bound on top of them below, not hidden by them.
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            cmd += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            cmd += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        cmd += ["--ro-bind-try", path, path]
    for path in python_paths():
        cmd += ["--ro-bind", path, path]
    cmd += [
        "--dir",
        INSIDE_HOME,
        "--dir",
        INSIDE_JOB,
        "--bind",
        str(box),
        INSIDE_BOX,
        "--ro-bind",
        str(shared),
        INSIDE_SHARED,
        "--ro-bind",
        str(INSIDE / "runner.py"),
        INSIDE_RUNNER,
        "--ro-bind",
        str(INSIDE / "jobns.py"),
        INSIDE_JOBNS,
        "--ro-bind",
        str(PROTOCOL),
        INSIDE_PROTOCOL,
        # Nothing else is writable: the worker's box, and /tmp and /dev/shm, which
        # each job gets new (jobns.py).
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        INSIDE_BOX,
    ]
    for key, value in sorted(env.items()):
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


@functools.lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """(usable, why): bubblewrap is installed, can create its namespaces here, and a
    worker inside it can give each job namespaces of its own (jobns.py). The probe runs
    the same command line as a worker, so what it accepts is what grading gets."""
    path = shutil.which("bwrap")
    if path is None:
        return (
            False,
            "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt-get install bubblewrap",
        )
    with tempfile.TemporaryDirectory(prefix="grader-probe-") as home:
        box, shared = Path(home, "box"), Path(home, "shared")
        box.mkdir()
        shared.mkdir()
        probe = command(
            box,
            shared,
            {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            [sys.executable, "-s", "-S", INSIDE_JOBNS, "probe"],
        )
        try:
            proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bubblewrap could not start: {exc}"
    if proc.returncode != 0:
        said = (proc.stdout + proc.stderr).strip().splitlines() or ["no message"]
        if said[-1].startswith("bwrap:"):
            return False, explain(f"bubblewrap cannot create namespaces here ({said[-1]})")
        return False, explain(
            "bubblewrap runs, but a worker inside it cannot give each job namespaces "
            f"of its own ({said[-1]})"
        )
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    return True, f"{version or 'bubblewrap'} at {path}"
