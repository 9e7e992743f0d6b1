"""Which sandbox student code runs in, and the limits every sandboxed run gets.

Grader side of the trust boundary: this module (with pool.py, bwrap.py and cgroups.py)
decides how the untrusted processes are isolated and limited.

Two kinds of sandbox:
- ``bubblewrap`` (Linux): namespaces, read-only system, only the job folder visible
  (see bwrap.py), plus the limits below.
- ``subprocess``: the fallback where bubblewrap is missing or cannot run. The same
  limits, but student code sees this machine's files and network. Said loudly. When
  the grader is root (Gradescope, Docker), student code runs as users of its own that
  cannot read the course, the reports or the submissions (confine.py); if that cannot
  be arranged, grading is refused.

Limits for every worker: wall time per job and per check (then the processes are
killed), memory (a cgroup per worker where available, RLIMIT_AS for student code),
number of processes (a cgroup's pids.max; RLIMIT_NPROC for non-root users), file
size, open files, no core dumps.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from grader.sandbox import bwrap, confine

KINDS = ("auto", "bubblewrap", "subprocess")


class SandboxUnavailable(Exception):
    """The sandbox that was asked for cannot run on this machine."""


@dataclass(frozen=True)
class WorkerLimits:
    memory_mb: int = 6144  # the whole process tree, where a cgroup is available
    max_pids: int = 256  # processes and threads of the whole tree
    file_size_mb: int = 64
    open_files: int = 256

    WORKER_MB: ClassVar[int] = 1024  # the worker itself: torch, imported once

    @classmethod
    def for_student_code(cls, memory_mb: Iterable[int]) -> WorkerLimits:
        """A worker's limits when student code may use up to the most of ``memory_mb``
        (the exercises' own limits), plus what the worker needs."""
        return cls(memory_mb=max(memory_mb, default=3072) + cls.WORKER_MB)


@dataclass(frozen=True)
class JobEnd:
    """How a job ended in its worker; never used to decide a score."""

    how: str  # "exited", "timeout" or "signal" (the worker itself was killed)
    code: int
    seconds: float
    log: str
    leftovers: int = 0  # processes still alive at the end, killed by the grader
    out_of_memory: bool = False


@dataclass(frozen=True)
class Sandbox:
    kind: str  # "bubblewrap" or "subprocess"
    reason: str  # why this kind is in force, for `grader doctor` and warnings
    # The fallback run by root: student code runs as users of its own, with the course,
    # reports and submissions closed to them (confine.py). Never with bubblewrap.
    confined: bool = False

    @property
    def isolated(self) -> bool:
        return self.kind == "bubblewrap"

    def warning(self) -> str | None:
        if self.isolated:
            return None
        if self.confined:
            return (
                "Student code ran in a plain subprocess with resource limits, as a user of its "
                f"own, not in the bubblewrap sandbox ({self.reason}): the course, the reports and "
                "the submissions were closed to it, but it could read this machine's other files "
                "that every user may read, and use its network."
            )
        return (
            "Student code ran in a plain subprocess with resource limits, not in the bubblewrap "
            f"sandbox ({self.reason}): it could read this machine's files and use its network."
        )

    def unconfined(self) -> Sandbox:
        """The same sandbox without the confined fallback's users: for `grader check`, where
        a student runs their own code on their own machine (perhaps as root in a container
        whose Python other users cannot reach)."""
        return dataclasses.replace(self, confined=False)


def choose(requested: str | None = None) -> Sandbox:
    """The sandbox to use: ``requested``, else $GRADER_SANDBOX, else auto."""
    kind = requested or os.environ.get("GRADER_SANDBOX", "auto") or "auto"
    if kind not in KINDS:
        raise SandboxUnavailable(f"unknown sandbox '{kind}' (choose from {', '.join(KINDS)})")
    if kind == "subprocess":
        return Sandbox(
            "subprocess", "the plain subprocess was asked for", confined=confine.needed()
        )
    usable, why = bwrap.availability()
    if usable:
        return Sandbox("bubblewrap", why)
    if kind == "bubblewrap":
        raise SandboxUnavailable(f"the bubblewrap sandbox was asked for, but {why}")
    return Sandbox("subprocess", why, confined=confine.needed())


def environment(home: str) -> dict[str, str]:
    """The only environment variables student code sees (each job's supervisor points
    HOME and TMPDIR at its own scratch folder); ``home`` as seen inside."""
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
