"""The fallback's confinement when the grader runs as root without bubblewrap (Gradescope,
most Docker containers): student code runs as a user of its own, never as root.

Grader side of the trust boundary. Without namespaces, file permissions are the wall:

- ``UserSlot``: a numeric user id that no account and no other grading run uses, one per
  worker, held (with a lock file) for the pool's life. Workers cannot signal, trace or
  read each other: they are different users.
- ``close_off``: takes the "other" permissions off what student code must not see (the
  course, the reports and the store, the submissions), leaving a path open only to what
  the worker needs (its Python environment). Root keeps full access, so the grader is
  not affected; the change is kept after the run and said on the terminal.
- ``probe``: proves it, as that user, before any student code runs. The pool refuses to
  grade (``SandboxUnavailable``) when something protected is still readable or
  writable, or the Python environment cannot be reached.
- ``sweep_user``: after each job, every process of the user is killed (the fallback has
  no PID namespace), and what it left in the machine's shared scratch folders is deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import secrets
import signal
import stat
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from grader.sandbox.cleanup import remove_tree

UID_BASE = 0x70000000  # far above accounts and the usual subordinate-id ranges
SLOTS = 4096
LOCK_DIRS = ("/run", "/var/lock", "/run/lock", "/tmp")  # the first one root alone can write
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")
# Folders the machine's other users and services rely on: never closed, even if named.
SYSTEM_FOLDERS = frozenset(
    {
        "/",
        "/home",
        "/usr",
        "/usr/local",
        "/var",
        "/opt",
        "/srv",
        "/etc",
        "/mnt",
        "/media",
        "/run",
        "/dev",
        "/proc",
        "/sys",
        "/boot",
        "/lib",
        "/bin",
        "/sbin",
        "/autograder",
    }
)
SAMPLES_PER_PATH = 200  # entries of each protected folder the probe tries
# Packages the sandbox's runner imports: the folders holding them must stay reachable.
SANDBOX_PACKAGES = ("torch", "safetensors", "IPython", "numpy", "matplotlib")


class ConfinementError(Exception):
    """The fallback cannot keep student code away from what it must not see."""


def needed() -> bool:
    """Whether the fallback must confine student code: the grader runs as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def uid_base() -> int:
    text = os.environ.get("GRADER_SANDBOX_UID_BASE", "")
    return int(text) if text.isdigit() and 1000 <= int(text) < 2**32 - SLOTS else UID_BASE


# --------------------------------------------------------------------------- users
@dataclass
class UserSlot:
    """A user id for one worker, reserved by an exclusive lock on a root-owned file."""

    uid: int
    _lock: int

    @classmethod
    def acquire(cls) -> UserSlot:
        folder = _lock_dir()
        base = uid_base()
        for uid in range(base, base + SLOTS):
            if _has_account(uid):
                continue
            fd = _open_lock(folder / f"torch-grader-uid-{uid}.lock")
            if fd is None:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            slot = cls(uid, fd)
            sweep_user(uid)  # what a run that crashed with this id left behind
            return slot
        raise ConfinementError(
            f"no free user id for student code in {base}..{base + SLOTS - 1} "
            "(set GRADER_SANDBOX_UID_BASE to another range)"
        )

    def release(self) -> None:
        if self._lock >= 0:
            sweep_user(self.uid)
            os.close(self._lock)
            self._lock = -1


def _lock_dir() -> Path:
    for name in LOCK_DIRS:
        try:
            st = os.stat(name)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and os.access(name, os.W_OK):
            return Path(name)
    raise ConfinementError("no folder to hold the user-id locks (/run, /var/lock or /tmp)")


def _open_lock(path: Path) -> int | None:
    """The lock file, if it is ours: a regular file owned by root (in a shared folder
    such as /tmp, a file someone else made first is never trusted)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    st = os.fstat(fd)
    if st.st_uid != 0 or not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def drop_to(uid: int) -> None:
    """In a child before exec: become ``uid`` (group of the same number, no others)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


# --------------------------------------------------------------------------- processes
def _processes_of(uid: int) -> list[int]:
    """Live processes whose real, effective, saved or file-system user is ``uid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                status = f.read(4096)
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
        if fields.get(b"State", b"").strip()[:1] in (b"Z", b"X"):
            continue
        if str(uid).encode() in fields.get(b"Uid", b"").split():
            found.append(int(entry))
    return found


def sweep_user(uid: int, spare: Iterable[int] = ()) -> int:
    """Kill every process of ``uid`` but ``spare``, until none is left (a process may
    fork while it is being killed), and delete what the user left in the machine's
    shared scratch folders. Returns how many processes were killed."""
    keep = set(spare)
    killed: set[int] = set()
    for attempt in range(200):
        found = [pid for pid in _processes_of(uid) if pid not in keep]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(min(0.001 * attempt, 0.02))
    clear_scratch_of(uid)
    return len(killed)


def clear_scratch_of(uid: int, folders: Iterable[str] = SHARED_SCRATCH) -> None:
    """Delete what ``uid`` made in the machine's world-writable folders (and in the
    world-writable folders inside them, such as /tmp/.X11-unix): nothing a job leaves
    there reaches the next job of the same worker."""
    for folder in folders:
        _clear_owned(Path(folder), uid, depth=2)


def _clear_owned(folder: Path, uid: int, depth: int) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        path = Path(entry.path)
        if st.st_uid == uid:
            remove_tree(path)
        elif depth > 1 and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH:
            _clear_owned(path, uid, depth - 1)


# --------------------------------------------------------------------------- permissions
def reachable_paths() -> list[Path]:
    """What a worker needs to reach: this Python (executable, standard library,
    site-packages) and the packages the sandbox's runner imports."""
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
    }
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            paths.add(sysconfig.get_paths()[key])
    for name in SANDBOX_PACKAGES:
        with contextlib.suppress(ImportError, ValueError):
            spec = find_spec(name)
            if spec is not None and spec.origin:
                paths.add(os.path.dirname(os.path.dirname(spec.origin)))
    return sorted({Path(os.path.realpath(p)) for p in paths if p and os.path.isdir(p)})


def close_off(protected: Iterable[Path], reachable: Iterable[Path]) -> list[Path]:
    """Take "other" read, write and search permission off each protected path, except
    that a folder on the way to something in ``reachable`` keeps search permission
    (not read: it cannot be listed) and only its other entries are closed. Returns the
    paths whose mode changed. Never changes the machine's own folders (/, /home, /usr...)
    or a shared sticky folder such as /tmp: the probe then refuses to grade."""
    keep = [Path(os.path.realpath(p)) for p in reachable]
    changed: list[Path] = []
    for path in protected:
        real = Path(os.path.realpath(path))
        if not real.exists():
            continue
        _close(real, [k for k in keep if k == real or real in k.parents], changed)
    return changed


def _close(path: Path, keep: list[Path], changed: list[Path]) -> None:
    if path in keep:
        return  # needed as a whole (a protected folder inside the Python environment)
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or str(path) in SYSTEM_FOLDERS or st.st_mode & stat.S_ISVTX:
        return
    mode = stat.S_IMODE(st.st_mode)
    new = (mode & ~0o007) | (0o001 if keep and stat.S_ISDIR(st.st_mode) else 0)
    if new != mode:
        os.chmod(path, new, follow_symlinks=False)
        changed.append(path)
    if not keep or not stat.S_ISDIR(st.st_mode):
        return
    for child in sorted(path.iterdir()):
        _close(child, [k for k in keep if k == child or child in k.parents], changed)


def samples(protected: Iterable[Path], per_path: int = SAMPLES_PER_PATH) -> list[str]:
    """Each protected path and up to ``per_path`` entries under it, shallow first: what
    the probe tries to open."""
    found: list[str] = []
    for path in protected:
        queue, taken = [Path(os.path.realpath(path))], 0
        while queue and taken <= per_path:
            current = queue.pop(0)
            found.append(str(current))
            taken += 1
            if current.is_dir() and not current.is_symlink():
                with contextlib.suppress(OSError):
                    queue.extend(sorted(current.iterdir()))
    return found


# --------------------------------------------------------------------------- the probe
PROBE = r"""
import json, os, sys
args = json.loads(sys.argv[1])
found = {"readable": [], "writable": [], "unreachable": []}
for path in args["closed"]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
        found["readable"].append(path)
    except OSError:
        pass
    try:
        if os.path.isdir(path):
            name = os.path.join(path, args["token"])
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            os.unlink(name)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK))
        found["writable"].append(path)
    except OSError:
        pass
for path in args["open"]:
    if not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
        found["unreachable"].append(path)
print(json.dumps(found))
"""


def probe(uid: int, closed: list[str], open_: list[str], python: str = sys.executable) -> list[str]:
    """Run as ``uid`` with ``python`` (the workers' own): try to read and write each of
    ``closed`` and to enter each of ``open_``. Returns the problems, in words (empty:
    confinement holds). Nothing of student code is involved: this runs before any job."""
    token = f".torch-grader-probe-{secrets.token_hex(8)}"
    try:
        proc = subprocess.run(
            [
                python,
                "-I",
                "-S",
                "-c",
                PROBE,
                json.dumps({"closed": closed, "open": open_, "token": token}),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"LANG": "C.UTF-8"},
            cwd="/",
            user=uid,
            group=uid,
            extra_groups=[],
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"a process as user {uid} could not start ({exc})"]
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return [f"this Python ({python}) cannot run as user {uid}: {last}"]
    found = json.loads(proc.stdout)
    problems = [f"user {uid} can read {p}" for p in found["readable"]]
    problems += [f"user {uid} can write {p}" for p in found["writable"]]
    problems += [
        f"user {uid} cannot reach {p}, which the sandbox needs" for p in found["unreachable"]
    ]
    return problems


def python_problems() -> list[str]:
    """Whether a user of the fallback could run this Python (what `grader doctor` says
    before any run; grading checks it again with the course's own paths)."""
    try:
        slot = UserSlot.acquire()
    except ConfinementError as exc:
        return [str(exc)]
    try:
        return probe(slot.uid, [], [str(p) for p in reachable_paths()])
    finally:
        slot.release()


def explain(problems: list[str]) -> str:
    """The refusal, with what to do."""
    shown = "; ".join(problems[:5]) + (
        f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    )
    return (
        "the grader runs as root without bubblewrap, so student code must run as a user of "
        f"its own that cannot read the course, but {shown}. Install the grader in a Python "
        "environment every user can reach (not under /root), keep the course, reports and "
        "submissions in folders of their own, or install bubblewrap (grader doctor says why "
        "it cannot run)"
    )
