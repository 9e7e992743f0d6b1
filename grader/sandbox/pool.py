"""A pool of sandboxed workers: each imports torch once, then runs one job at a time in
a fresh forked child (see ``Worker`` in runner.py).

Grader side of the trust boundary. Each worker is one sandbox (bubblewrap, or the
fallback subprocess) with its own cgroup and a private "box" folder: the grader puts a
job folder in the box, asks the worker to run it, reads the results once the worker
says every process of the job is dead, and deletes the folder before the next job.
Nothing hidden is ever in the box: no expected answer, no held-out data, no check code.

A worker that dies (student code may kill it) or stops answering is killed with
everything it started and replaced before its next job; the job it was running is
charged with what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import resource
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from grader.sandbox import bwrap, cgroups, confine
from grader.sandbox.choice import JobEnd, Sandbox, SandboxUnavailable, WorkerLimits, environment
from grader.sandbox.cleanup import empty_folder, remove_tree
from grader.sandbox.protocol.reading import read_runner_log
from grader.terminal import safe_line

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "inside" / "runner.py"  # a file to run, never imported by the grader
# What runs inside the sandbox: the runner script, jobns.py beside it, and the protocol
# package beside its folder. The confined fallback copies them into the pool's home, so
# its users need not reach the grader's own installation (which may sit in the course).
# Each copied folder: (its source here, its files); the copies keep bwrap's layout
# (/opt/torch-grader/sandbox/runner.py beside /opt/torch-grader/protocol).
SANDBOX_CODE = {
    "sandbox": (HERE / "inside", ("runner.py", "jobns.py")),
    "protocol": (
        HERE / "protocol",
        ("__init__.py", "layout.py", "values.py", "reading.py", "mlp.py"),
    ),
}
LOG_CAP = 64 * 1024  # bytes of a job's own log we keep
READY_SECONDS = 180.0  # a worker's start: importing torch on a busy machine
GRACE_SECONDS = 15.0  # beyond a job's own time limit, before the worker is presumed stuck
# Gradescope's autograder folders: the course as uploaded, and where results are written.
GRADESCOPE_FOLDERS = (Path("/autograder/source"), Path("/autograder/results"))


class WorkerProcess:
    """One sandboxed worker, seen from the grader."""

    def __init__(
        self, index: int, home: Path, shared: Path, sandbox: Sandbox, limits: WorkerLimits
    ) -> None:
        self.index = index
        self.box = home / f"worker-{index}"
        self.shared = shared
        self.sandbox = sandbox
        self.limits = limits
        self.slot: confine.UserSlot | None = None  # the confined fallback's user for this worker
        self.runner = RUNNER
        self.proc: subprocess.Popen[bytes] | None = None
        self.group: cgroups.RunCgroup | None = None
        self.ready = False
        self.starts = 0
        self._pending = b""
        self._log_path = home / f"worker-{index}.log"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the process; it becomes ready (torch imported) a few seconds later."""
        self.box.mkdir(parents=True, exist_ok=True)
        uid = self.user() if self.sandbox.confined else None
        if uid is not None:
            os.chown(self.box, uid, uid)
            os.chmod(self.box, 0o700)
        if self.sandbox.isolated:
            argv = [
                sys.executable,
                "-s",
                bwrap.INSIDE_RUNNER,
                "serve",
                bwrap.INSIDE_BOX,
                bwrap.INSIDE_SHARED,
                "--isolated",
            ]
            # The worker's own HOME is /tmp (emptied between jobs); each job gets its own.
            cmd = bwrap.command(self.box, self.shared, environment("/tmp"), argv)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        else:
            cmd = [sys.executable, "-s", str(self.runner), "serve", str(self.box), str(self.shared)]
            env = environment(str(self.box))
        self.group = cgroups.create(self.limits.max_pids, self.limits.memory_mb * 2**20)
        log = os.open(self._log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.box,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                preexec_fn=_prepare_child(self.limits, self.group, uid),
            )
        except OSError as exc:
            if uid is None:
                raise
            self.stop()
            raise SandboxUnavailable(
                confine.explain(
                    [f"this Python ({sys.executable}) cannot run as user {uid} ({exc.strerror})"]
                )
            ) from exc
        finally:
            os.close(log)
        self.ready = False
        self._pending = b""
        self.starts += 1

    def wait_ready(self) -> None:
        if self.proc is None:
            self.start()
        if self.ready:
            return
        line = self._readline(time.monotonic() + READY_SECONDS)
        try:
            ok = bool(line) and json.loads(line).get("ready") is True
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            self.stop()
            raise SandboxUnavailable(
                f"a {self.sandbox.kind} worker did not start: {self.log_tail()}"
            )
        self._empty_box()  # what starting up wrote there is not the first job's
        self.ready = True

    def user(self) -> int:
        """The confined fallback's user id for this worker, reserved on first use."""
        if self.slot is None:
            try:
                self.slot = confine.UserSlot.acquire()
            except confine.ConfinementError as exc:
                raise SandboxUnavailable(str(exc)) from exc
        return self.slot.uid

    def release(self) -> None:
        if self.slot is not None:
            self.slot.release()
            self.slot = None

    def stop(self) -> None:
        """End the worker and everything it started."""
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # type: ignore[union-attr]
            _kill_group(self.proc.pid)
            self.proc.wait()
            with contextlib.suppress(OSError):
                self.proc.stdout.close()  # type: ignore[union-attr]
            self.proc = None
        if self.slot is not None:  # whatever escaped its process group, as this worker's user
            confine.sweep_user(self.slot.uid)
        if self.group is not None:
            self.group.remove()
            self.group = None
        self.ready = False

    def log_tail(self) -> str:
        try:
            text = self._log_path.read_bytes()[-2000:].decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        return text.splitlines()[-1] if text else "no message"

    # ------------------------------------------------------------------ jobs
    def job_dir(self, name: str) -> Path:
        return self.box / name

    def run(self, name: str, wall: float) -> JobEnd:
        """Run the job folder ``box/name``; when this returns, no process of the job is
        alive, so its outputs can be read without racing it."""
        self.wait_ready()
        assert self.proc is not None and self.proc.stdin is not None
        if self.slot is not None:
            self._hand_over(self.job_dir(name))
        oom_before = self.group.oom_kills() if self.group else 0
        started = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps({"job": name, "wall": wall}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            pass  # it died; the read below sees that
        line = self._readline(started + wall + GRACE_SECONDS)
        reply = _parse_reply(line, name)
        if reply is None:  # the worker died or hung: nothing it says can be trusted
            how = "timeout" if line is None else "signal"
            self.stop()
            code, leftovers = -1, 0
        else:
            how, code, leftovers = reply
            leftovers += self._sweep()
        oom = bool(self.group and self.group.oom_kills() > oom_before)
        return JobEnd(
            how=how,
            code=code,
            seconds=time.monotonic() - started,
            log=read_runner_log(self.job_dir(name), LOG_CAP),
            leftovers=leftovers,
            out_of_memory=oom,
        )

    def take(self, name: str, dest: Path) -> Path:
        """Move a finished job's folder out of the box (to be judged), and empty the box:
        nothing a job wrote there is seen by the next one."""
        try:  # the same file system: a rename, whatever the job left (a link, a deep tree)
            os.rename(self.job_dir(name), dest)
        except OSError:  # the job's code deleted its own folder: judged as missing
            pass
        self._empty_box()
        return dest

    def _empty_box(self) -> None:
        empty_folder(self.box)  # whatever the job left there: deep folders, links

    def _hand_over(self, job_dir: Path) -> None:
        """Give the job folder the grader just wrote to the worker's user (the confined
        fallback): its own files, which nobody else's code can read."""
        assert self.slot is not None
        uid = self.slot.uid
        for entry in os.scandir(self.shared):  # inputs every job reads (some writers make 0600)
            if entry.is_file(follow_symlinks=False) and stat.S_IMODE(entry.stat().st_mode) != 0o644:
                os.chmod(entry.path, 0o644)
        for top, dirs, files in os.walk(job_dir):
            for name in (*dirs, *files):
                os.chown(os.path.join(top, name), uid, uid, follow_symlinks=False)
        os.chown(job_dir, uid, uid)

    def _sweep(self) -> int:
        """The fallback has no PID namespace for the worker to clear: kill whatever else
        runs as the worker's own user (confined), or is in the worker's cgroup."""
        if self.sandbox.isolated or self.proc is None:
            return 0
        if self.slot is not None:
            return confine.sweep_user(self.slot.uid, spare={self.proc.pid})
        if self.group is None:
            return 0
        others = self.group.pids() - {self.proc.pid}
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return len(others)

    def _readline(self, deadline: float) -> bytes | None:
        """One line from the worker; b"" when it ended, None when the deadline passed."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            self._pending += chunk
            if len(self._pending) > 65536:
                return b""  # a worker never says that much: treat it as broken
        line, self._pending = self._pending.split(b"\n", 1)
        return line


def _parse_reply(line: bytes | None, name: str) -> tuple[str, int, int] | None:
    if not line:
        return None
    try:
        data = json.loads(line)
        how, code, leftovers = data["how"], data["code"], data.get("leftovers", 0)
    except (ValueError, KeyError, TypeError):
        return None
    if (
        data.get("job") != name
        or how not in ("exited", "signal", "timeout")
        or type(code) is not int
        or type(leftovers) is not int
    ):
        return None
    return how, code, leftovers


def _prepare_child(limits: WorkerLimits, group: cgroups.RunCgroup | None, uid: int | None = None):
    def apply() -> None:
        if group is not None:
            group.enter()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        size = limits.file_size_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if uid is not None:  # a user of this worker's own: the cap counts its processes alone
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_pids, limits.max_pids))
            confine.drop_to(uid)
        elif group is None and os.geteuid() != 0:
            # Counts all of this user's processes: generous, but a fork bomb still stops.
            cap = limits.max_pids + 512
            resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))

    return apply


def _fast_folder() -> str | None:
    """A memory-backed folder for job files where there is one: a job writes a few
    hundred small files, several times faster on tmpfs than on disk. What student code
    writes there is charged to its worker's memory cgroup."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class Pool:
    """``size`` workers sharing one read-only folder of inputs.

    Start it early (``start``): workers import torch while the grader prepares the
    plan. ``worker()`` lends an idle worker to one thread at a time.
    """

    def __init__(
        self, size: int, sandbox: Sandbox, limits: WorkerLimits, home: Path | None = None
    ) -> None:
        self.sandbox = sandbox
        self._own_home = home is None
        self.home = (
            Path(tempfile.mkdtemp(prefix="grader-pool-", dir=_fast_folder()))
            if home is None
            else home
        )
        self.shared = self.home / "shared"
        self.shared.mkdir(parents=True, exist_ok=True)
        self.workers = [
            WorkerProcess(i, self.home, self.shared, sandbox, limits) for i in range(max(1, size))
        ]
        self._protected: set[Path] = set()
        self._confined_for: frozenset[Path] | None = None
        self._confine_lock = threading.Lock()
        if sandbox.confined:
            self._prepare_confinement()
        self._idle: queue.Queue[WorkerProcess] = queue.Queue()
        for w in self.workers:
            self._idle.put(w)
        self._lock = threading.Lock()
        self._jobs = 0

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, count: int | None = None) -> None:
        """Start workers (the first ``count``, or all) without waiting for them."""
        for w in self.workers[:count]:
            if w.proc is None:
                w.start()

    def limit(self, size: int) -> None:
        """Keep at most ``size`` workers (drop ones never started); before any job."""
        keep = [w for i, w in enumerate(self.workers) if i < max(1, size) or w.proc is not None]
        for w in self.workers:
            if w not in keep:
                w.stop()
                w.release()
        self.workers = keep
        self._idle = queue.Queue()
        for w in keep:
            self._idle.put(w)

    def set_memory(self, memory_mb: int) -> None:
        """The memory cap of every worker's cgroup, known once the course is read (a
        worker may have started before)."""
        for w in self.workers:
            w.limits = dataclasses.replace(w.limits, memory_mb=memory_mb)
            if w.group is not None:
                w.group.set_memory(memory_mb * 2**20)

    @property
    def restarts(self) -> int:
        return sum(max(0, w.starts - 1) for w in self.workers)

    def new_job_name(self) -> str:
        """A name no job can guess: it is never a way to address another job."""
        with self._lock:
            self._jobs += 1
        return f"job-{secrets.token_hex(8)}"

    # ------------------------------------------------------------ confined fallback
    def _prepare_confinement(self) -> None:
        """The pool's home as the workers' users find it: they may pass through it (not
        list it) to their own box, read the shared inputs and the sandbox's code, and
        nothing else (other boxes are other users', judged folders and logs are root's)."""
        os.chmod(self.home, 0o711)
        os.chmod(self.shared, 0o755)
        code = self.home / "code"
        for folder, (source, names) in SANDBOX_CODE.items():
            (code / folder).mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copyfile(source / name, code / folder / name)
                os.chmod(code / folder / name, 0o644)
            os.chmod(code / folder, 0o755)
        os.chmod(code, 0o755)
        for w in self.workers:
            w.runner = code / "sandbox" / "runner.py"
        extra = os.environ.get("GRADER_PROTECT", "")
        self.protect(
            *(Path(p) for p in extra.split(os.pathsep) if p),
            *(p for p in GRADESCOPE_FOLDERS if p.exists()),
        )

    def protect(self, *paths: Path) -> None:
        """Folders and files student code must neither read nor write (the course, the
        reports, the submissions). Only the confined fallback needs to be told: before
        the next job, they are closed to the workers' users and that is proved."""
        if not self.sandbox.confined:
            return
        with self._confine_lock:
            self._protected.update(Path(os.path.realpath(p)) for p in paths)

    def _confine(self) -> None:
        with self._confine_lock:
            protected = frozenset(self._protected)
            if self._confined_for == protected:
                return
            reachable = confine.reachable_paths()
            changed = confine.close_off(sorted(protected), reachable)
            first = self.workers[0]
            uid = first.user()
            closed = confine.samples(sorted(protected))
            closed += [str(w.box) for w in self.workers if w is not first]
            closed += [str(w._log_path) for w in self.workers]
            problems = confine.probe(
                uid, closed, [*(str(p) for p in reachable), str(self.shared), str(first.runner)]
            )
            if problems:
                raise SandboxUnavailable(confine.explain(problems))
            if changed:
                shown = ", ".join(str(p) for p in changed[:6]) + (
                    " ..." if len(changed) > 6 else ""
                )
                print(
                    safe_line(
                        f"grader: closed to student code (it runs as user {uid} and up, "
                        f"since the grader is root without bubblewrap): {shown}"
                    ),
                    file=sys.stderr,
                    flush=True,
                )
            self._confined_for = protected

    @contextlib.contextmanager
    def worker(self) -> Iterator[WorkerProcess]:
        if self.sandbox.confined:
            self._confine()  # before any student code runs, and again for new paths
        w = self._idle.get()
        try:
            if w.proc is None:
                w.start()
            yield w
        finally:
            self._idle.put(w)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
            w.release()
        if self._own_home:
            remove_tree(self.home)
