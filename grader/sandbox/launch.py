"""Starts the sandbox runner on a prepared job folder and makes sure it ends.

Grader side of the trust boundary: this module decides how the untrusted process is
started and limited; it reads nothing the process produced.
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

RUNNER = Path(__file__).with_name("runner.py")
LOG_CAP = 64 * 1024  # bytes of the runner's own stderr we keep


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    file_size_mb: int = 256
    open_files: int = 256


@dataclass(frozen=True)
class Outcome:
    """How the runner process ended; never used to decide a score."""

    how: str  # "exited", "timeout" or "signal"
    code: int
    seconds: float
    log: str


def _clean_environment(job_dir: Path) -> dict[str, str]:
    home = job_dir / "work"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",  # deterministic set/dict order in student code
        "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",  # forking after torch's thread pools start can deadlock
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "IPYTHONDIR": str(home / ".ipython"),
        "MPLBACKEND": "Agg",
    }


def _limit_child(limits: Limits):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        size = limits.file_size_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))

    return apply


def run_job(job_dir: Path, limits: Limits) -> Outcome:
    """Run the runner on ``job_dir`` and kill its whole process group when done."""
    log_path = job_dir / "runner.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-s", str(RUNNER), str(job_dir)],
            cwd=job_dir / "work",
            env=_clean_environment(job_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=_limit_child(limits),
        )
        try:
            code = proc.wait(timeout=limits.wall_seconds)
            how = "exited" if code >= 0 else "signal"
        except subprocess.TimeoutExpired:
            how, code = "timeout", -1
        finally:
            _kill_group(proc.pid)
            proc.wait()
    with open(log_path, "rb") as log:
        text = log.read(LOG_CAP).decode("utf-8", "replace")
    return Outcome(how=how, code=code, seconds=time.monotonic() - started, log=text)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
