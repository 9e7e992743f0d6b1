"""The bubblewrap command line that isolates a sandbox run.

What the student's code gets:
- no network (its own, empty network namespace), its own PID, IPC and UTS namespaces,
  a new session (no terminal to inject into), death with its parent, no capabilities;
- a cleared environment (only the variables the runner needs);
- read-only: the system's /usr (and its /lib, /bin links) and the Python environment
  that runs the grader (its prefix and site-packages), plus the runner script and the
  protocol package it imports (grader/protocol: names and value encoding only);
- its worker's box, where the grader puts one job folder at a time (writable), and the
  shared inputs (read-only);
- an empty /tmp and /dev/shm, emptied between jobs. Nothing else: not the course (exercises, solutions, hidden helpers),
  not other students, not reports/, not the grader's working files, not /root or /home.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

INSIDE_HOME = "/sandbox"
INSIDE_BOX = "/sandbox/box"  # the worker's job folders
INSIDE_SHARED = "/sandbox/shared"  # read-only inputs shared by all jobs
INSIDE_RUNNER = "/opt/torch-grader/sandbox/runner.py"
INSIDE_PROTOCOL = "/opt/torch-grader/protocol"  # beside sandbox/, where the runner imports it
PROTOCOL = Path(__file__).resolve().parents[1] / "protocol"
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
# /etc/fonts: matplotlib asks fontconfig for the system's fonts.
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf", "/etc/fonts")


def python_paths() -> list[str]:
    """Folders the sandbox's Python needs, outside the system folders."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent)}
    try:
        paths.update(site.getsitepackages())
    except AttributeError:  # some virtualenvs lack it
        pass
    paths = {str(Path(p).resolve()) for p in paths if Path(p).exists()}
    kept = [p for p in sorted(paths) if not any(p.startswith(d + "/") or p == d for d in SYSTEM_DIRS)]
    # Drop nested paths: binding a parent already covers them.
    return [p for p in kept if not any(p != q and p.startswith(q + "/") for q in kept)]


def command(box: Path, shared: Path, runner: Path, env: dict[str, str], argv: list[str]) -> list[str]:
    """A worker's sandbox: ``box`` (the current job's folder lives in it) is the only
    writable folder of this machine it sees; ``shared`` (inputs) is read-only."""
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--hostname", "sandbox", "--clearenv"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            cmd += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            cmd += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        cmd += ["--ro-bind-try", path, path]
    for path in python_paths():
        cmd += ["--ro-bind", path, path]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp",
            "--dir", INSIDE_HOME,
            "--bind", str(box), INSIDE_BOX,
            "--ro-bind", str(shared), INSIDE_SHARED,
            "--ro-bind", str(runner), INSIDE_RUNNER,
            "--ro-bind", str(PROTOCOL), INSIDE_PROTOCOL,
            # Nothing else is writable, so nothing can pass from one job to the next
            # except through /tmp and /dev/shm, which the worker empties between jobs.
            "--remount-ro", "/dev", "--remount-ro", "/",
            "--chdir", INSIDE_BOX]
    for key, value in sorted(env.items()):
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


@functools.lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """(usable, why): bubblewrap is installed and can create its namespaces here."""
    path = shutil.which("bwrap")
    if path is None:
        return False, "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt-get install bubblewrap"
    probe = [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
             "--dev", "/dev", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap could not start: {exc}"
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"bubblewrap cannot create namespaces here ({reason})"
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    return True, f"{version or 'bubblewrap'} at {path}"
