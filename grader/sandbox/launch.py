"""Starts the sandbox runner on a prepared job folder and makes sure it ends.

Grader side of the trust boundary: this module decides how the untrusted process is
isolated and limited; it reads nothing the process produced.

Two kinds of sandbox:
- ``bubblewrap`` (Linux): namespaces, read-only system, only the job folder visible
  (see bwrap.py), plus the limits below.
- ``subprocess``: the fallback where bubblewrap is missing or cannot run. The same
  limits, but student code sees this machine's files and network. Said loudly.

Limits for every run: wall time (then the whole tree is killed), CPU time per check
(set by the runner), memory (a cgroup for the tree where available, RLIMIT_AS per
file), number of processes (a cgroup's pids.max; RLIMIT_NPROC for non-root users),
file size, open files, no core dumps.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import bwrap, cgroups

RUNNER = Path(__file__).with_name("runner.py")
LOG_CAP = 64 * 1024  # bytes of the runner's own stderr we keep
KINDS = ("auto", "bubblewrap", "subprocess")


class SandboxUnavailable(Exception):
    """The sandbox that was asked for cannot run on this machine."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    memory_mb: int = 6144  # the whole process tree, where a cgroup is available
    max_pids: int = 256  # processes and threads of the whole tree
    file_size_mb: int = 64
    open_files: int = 256


@dataclass(frozen=True)
class Outcome:
    """How the runner process ended; never used to decide a score."""

    how: str  # "exited", "timeout" or "signal"
    code: int
    seconds: float
    log: str
    leftovers: int = 0  # processes still alive at the end, killed by the grader
    out_of_memory: bool = False


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap" or "subprocess"
    reason: str  # why this kind is in force, for `grader doctor` and warnings

    @property
    def isolated(self) -> bool:
        return self.kind == "bubblewrap"

    def warning(self) -> str | None:
        if self.isolated:
            return None
        return ("Student code ran in a plain subprocess with resource limits, not in the bubblewrap "
                f"sandbox ({self.reason}): it could read this machine's files and use its network.")


def choose(requested: str | None = None) -> Sandbox:
    """The sandbox to use: ``requested``, else $GRADER_SANDBOX, else auto."""
    kind = requested or os.environ.get("GRADER_SANDBOX", "auto") or "auto"
    if kind not in KINDS:
        raise SandboxUnavailable(f"unknown sandbox '{kind}' (choose from {', '.join(KINDS)})")
    if kind == "subprocess":
        return Sandbox("subprocess", "the plain subprocess was asked for")
    usable, why = bwrap.availability()
    if usable:
        return Sandbox("bubblewrap", why)
    if kind == "bubblewrap":
        raise SandboxUnavailable(f"the bubblewrap sandbox was asked for, but {why}")
    return Sandbox("subprocess", why)


def environment(job: str) -> dict[str, str]:
    """The only environment variables student code sees; ``job`` as seen inside."""
    home = f"{job}/work"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "USER": "student",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",  # deterministic set/dict order in student code
        "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",  # forking after torch's thread pools start can deadlock
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "IPYTHONDIR": f"{home}/.ipython",
        "MPLBACKEND": "Agg",
        "TORCHINDUCTOR_CACHE_DIR": f"{home}/.torchinductor",
    }


def _prepare_child(limits: Limits, group: cgroups.RunCgroup | None):
    def apply() -> None:
        if group is not None:
            group.enter()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        size = limits.file_size_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if group is None and os.geteuid() != 0:
            # Counts all of this user's processes: generous, but a fork bomb still stops.
            cap = limits.max_pids + 512
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))

    return apply


def run_job(job_dir: Path, limits: Limits, sandbox: Sandbox) -> Outcome:
    """Run the runner on ``job_dir``; afterwards nothing it started is left alive."""
    if sandbox.isolated:
        env = environment(bwrap.INSIDE_JOB)
        argv = [sys.executable, "-s", bwrap.INSIDE_RUNNER, bwrap.INSIDE_JOB]
        cmd = bwrap.command(job_dir, RUNNER, env, argv)
        outer_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    else:
        cmd = [sys.executable, "-s", str(RUNNER), str(job_dir)]
        outer_env = environment(str(job_dir))
    group = cgroups.create(limits.max_pids, limits.memory_mb * 2**20)
    log_path = job_dir / "runner.log"
    started = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=job_dir / "work", env=outer_env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True,
                                    preexec_fn=_prepare_child(limits, group))
            try:
                code = proc.wait(timeout=limits.wall_seconds)
                how = "exited" if code >= 0 else "signal"
            except subprocess.TimeoutExpired:
                how, code = "timeout", -1
            finally:
                _kill_group(proc.pid)
                proc.wait()
        leftovers = group.kill_all() if group else 0
        oom = group.oom_killed() if group else False
    finally:
        if group is not None:
            group.remove()
    with open(log_path, "rb") as log:
        text = log.read(LOG_CAP).decode("utf-8", "replace")
    return Outcome(how=how, code=code, seconds=time.monotonic() - started, log=text,
                   leftovers=leftovers, out_of_memory=oom)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
