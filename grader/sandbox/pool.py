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
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from grader.protocol.reading import read_runner_log
from grader.sandbox import bwrap, cgroups
from grader.sandbox.cleanup import empty_folder, remove_tree
from grader.sandbox.launch import Limits, Outcome, Sandbox, SandboxUnavailable, environment

RUNNER = Path(__file__).with_name("runner.py")
LOG_CAP = 64 * 1024  # bytes of a job's own log we keep
READY_SECONDS = 180.0  # a worker's start: importing torch on a busy machine
GRACE_SECONDS = 15.0  # beyond a job's own time limit, before the worker is presumed stuck


class WorkerProcess:
    """One sandboxed worker, seen from the grader."""

    def __init__(self, index: int, home: Path, shared: Path, sandbox: Sandbox, limits: Limits) -> None:
        self.index = index
        self.box = home / f"worker-{index}"
        self.shared = shared
        self.sandbox = sandbox
        self.limits = limits
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
        if self.sandbox.isolated:
            argv = [sys.executable, "-s", bwrap.INSIDE_RUNNER, "serve", bwrap.INSIDE_BOX,
                    bwrap.INSIDE_SHARED, "--isolated"]
            # The worker's own HOME is /tmp (emptied between jobs); each job gets its own.
            cmd = bwrap.command(self.box, self.shared, environment("/tmp"), argv)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        else:
            cmd = [sys.executable, "-s", str(RUNNER), "serve", str(self.box), str(self.shared)]
            env = environment(str(self.box))
        self.group = cgroups.create(self.limits.max_pids, self.limits.memory_mb * 2**20)
        with open(self._log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.box, env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, start_new_session=True,
                                         preexec_fn=_prepare_child(self.limits, self.group))
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
            raise SandboxUnavailable(f"a {self.sandbox.kind} worker did not start: {self.log_tail()}")
        self._empty_box()  # what starting up wrote there is not the first job's
        self.ready = True

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

    def run(self, name: str, wall: float) -> Outcome:
        """Run the job folder ``box/name``; when this returns, no process of the job is
        alive, so its outputs can be read without racing it."""
        self.wait_ready()
        assert self.proc is not None and self.proc.stdin is not None
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
        return Outcome(how=how, code=code, seconds=time.monotonic() - started,
                       log=read_runner_log(self.job_dir(name), LOG_CAP), leftovers=leftovers,
                       out_of_memory=oom)

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

    def _sweep(self) -> int:
        """The fallback has no PID namespace for the worker to clear: kill whatever else
        is in the worker's cgroup."""
        if self.sandbox.isolated or self.group is None or self.proc is None:
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
    if data.get("job") != name or how not in ("exited", "signal", "timeout") \
            or type(code) is not int or type(leftovers) is not int:
        return None
    return how, code, leftovers


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

    def __init__(self, size: int, sandbox: Sandbox, limits: Limits, home: Path | None = None) -> None:
        self.sandbox = sandbox
        self._own_home = home is None
        self.home = Path(tempfile.mkdtemp(prefix="grader-pool-", dir=_fast_folder())) if home is None else home
        self.shared = self.home / "shared"
        self.shared.mkdir(parents=True, exist_ok=True)
        self.workers = [WorkerProcess(i, self.home, self.shared, sandbox, limits) for i in range(max(1, size))]
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

    @contextlib.contextmanager
    def worker(self) -> Iterator[WorkerProcess]:
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
        if self._own_home:
            remove_tree(self.home)
