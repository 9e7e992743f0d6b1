"""The only grader code that runs inside the sandbox, beside the student's code.

It is a script (standard library, torch, safetensors; IPython for notebooks; and the
boundary's own package, ``protocol``, mounted beside it) and knows nothing about
expected answers: it receives job folders holding inputs, calls the student's entry
points on them, and writes back plain data (JSON and safetensors; the encoding is
``protocol.values``). Everything it writes is untrusted by the grader, which validates it.

Process tree inside one sandbox (one worker of the grader's pool):

    worker: imports torch once, then per job (one submission) supervises it from its
    |       schedule; never runs student code, never reads steps or inputs
      +- student process: reads job.json and the inputs, loads each file, runs its
      |  checks in order; after a timeout or crash the worker starts a fresh one at
      |  the next check
      +- clean child for saved artifacts (no student code in memory)

Job folder layout (in the worker's box): see ``protocol.layout``. The checks' working
folder (work/) has a folder of its own for a check that saves or reads files.

Inputs are read from the shared read-only folder named on the command line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import resource
import select
import signal
import sys
import time
import traceback
import types
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

if __package__:  # imported as grader.sandbox.inside.runner (the benchmarks)
    from grader.sandbox.protocol import layout, values
else:  # a script in the sandbox: protocol/ is beside this file's folder (bwrap.py, pool.py)
    _HOME = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, _HOME)
    from protocol import layout, values
    from protocol.mlp import MLP

    sys.path.remove(_HOME)  # imported once; student code sees the sys.path it always did
    # A student's torch.save(model) pickles the network under this script's name, which
    # the state_dict check's message shows ("it contains a __main__.MLP").
    MLP.__module__ = __name__


# --------------------------------------------------------------------------- errors
def describe_error(exc: BaseException, student_root: str) -> dict:
    """The exception's type, message and the frames in the student's own code."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename
        if student_root and name.startswith(student_root):
            shown = os.path.relpath(name, student_root)
        elif name.startswith("<cell "):
            shown = name.strip("<>")
        else:
            continue
        frames.append(
            {
                "file": shown,
                "line": frame.lineno,
                "function": frame.name,
                "code": (frame.line or "")[:300],
            }
        )
    if isinstance(exc, SyntaxError) and exc.filename:
        shown = exc.filename
        if student_root and shown.startswith(student_root):
            shown = os.path.relpath(shown, student_root)
        frames.append(
            {
                "file": shown.strip("<>"),
                "line": exc.lineno or 0,
                "function": "<module>",
                "code": (exc.text or "").rstrip()[:300],
            }
        )
    return {
        "type": type(exc).__name__,
        "message": values.safe_text(str, exc),
        "frames": frames[-12:],
    }


# --------------------------------------------------------------------------- output
def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + layout.TMP)
    tmp.write_text(json.dumps(data, allow_nan=True))
    os.replace(tmp, path)


def write_result(out: Path, stem: str, kept: dict, extra: dict | None = None) -> None:
    """Encode named values; tensors to ``stem.safetensors``, the rest to ``stem.json``
    (with ``extra``'s fields: the run-time record)."""
    from safetensors.torch import save_file

    encoded, tensors = values.encode_outputs(kept)
    if tensors:
        tmp = out / (layout.tensors_name(stem) + layout.TMP)
        save_file(tensors, str(tmp))
        os.replace(tmp, out / layout.tensors_name(stem))
    write_json_atomic(
        out / layout.json_name(stem), {"status": "ok", "values": encoded, **(extra or {})}
    )


# --------------------------------------------------------------------------- run-time record
class DispatchRecorder(TorchDispatchMode):
    """Records the names of the library operators (aten namespace) dispatched while it
    is active, whatever Python spelling reached them (torch.relu, F.relu, x.relu(),
    nn.ReLU, getattr with a built name, torch.ops.aten.relu). A dispatch mode sits below
    autograd, so it sees the operators that compute the value, not the Python calls.

    Used only for the calls the plan marks: every operator pays a Python call while it
    is active. It sees only this thread, and student code in this process could turn it
    off (docs/security.md says what that means)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name.startswith("aten::"):  # a bounded set: no other namespace can flood it
            self.seen.add("aten." + name[6:])
        return func(*args, **(kwargs or {}))

    def record(self) -> dict:
        return {values.DISPATCHED: values.dispatched_data(self.seen)}


RECORDED_STEPS = {"call", "method", "eval", "grad"}  # the steps that run student code


def redirect_output(path: Path, append: bool = False) -> None:
    """Send fd 1 and 2 (and Python's streams) to ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = io.TextIOWrapper(
        os.fdopen(1, "wb", buffering=0, closefd=False), write_through=True
    )
    sys.stderr = sys.stdout


def seed_everything(seed: int) -> None:
    random.seed(seed)
    # The CPU generator only: torch.manual_seed also queues a lazy seeding call (with a
    # formatted stack) for every accelerator backend, which costs more than most checks.
    torch.default_generator.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed % 2**32)
    except ImportError:
        pass


# --------------------------------------------------------------------------- notebooks
# A notebook runs the way ipykernel runs it (nbclient with a real kernel is the
# reference, and tests/test_notebook_agreement.py holds this code to it): one IPython
# shell, cells in order through run_cell (magics, shell escapes, display, top-level
# await inside a running event loop), as __main__, with no stdin.
NO_STDIN = "{} was called, but this frontend does not support input requests."
INSTALL = re.compile(
    r"\s*(?:sudo\s+)?(?:\S*python[\d.]*\s+-m\s+)?"
    r"(?:pip[\d.]*|conda|mamba|micromamba|uv\s+pip|apt-get|apt)\s+install\b"
)
PACKAGES = ("torch", "numpy", "matplotlib")


def offline_installs(shell) -> None:
    """Package installs (``!pip install``, ``%pip install``, conda, apt) are not run:
    grading is offline, with the packages already installed. The cell prints a line that
    says so and goes on. The reference kernel gets the same rule (the agreement tests)."""
    system, getoutput = shell.system, shell.getoutput

    def guarded_system(cmd: str):
        return skipped_install(cmd) if INSTALL.match(cmd) else system(cmd)

    def guarded_getoutput(cmd: str, *args, **kwargs):
        if INSTALL.match(cmd):
            skipped_install(cmd)
            from IPython.utils.text import SList

            return SList()
        return getoutput(cmd, *args, **kwargs)

    shell.system, shell.getoutput = guarded_system, guarded_getoutput
    for name in ("pip", "conda", "mamba", "micromamba"):
        original = shell.find_line_magic(name)

        def magic(line: str, _name: str = name, _original=original):
            if _original is None or INSTALL.match(f"{_name} {line}"):
                return skipped_install(f"{_name} {line}")
            return _original(line)

        shell.register_magic_function(magic, "line", name)


def skipped_install(cmd: str) -> None:
    from importlib import metadata

    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    print(
        f"[grader] not run: {cmd.strip()!r}. Grading is offline, with these packages "
        f"installed: {', '.join(found)}; any other package cannot be imported.",
        flush=True,
    )


def no_stdin(what: str):
    """input() or getpass() as a kernel without stdin has them (nbclient's way)."""

    def refuse(*args, **kwargs):
        from IPython.core.error import StdinNotImplementedError

        raise StdinNotImplementedError(NO_STDIN.format(what))

    return refuse


_shell_class = None


def kernel_shell():
    """IPython's shell with what ipykernel's adds that a notebook can notice:
    ``%matplotlib inline`` needs no GUI event loop."""
    global _shell_class
    if _shell_class is None:
        from IPython.core.interactiveshell import InteractiveShell

        class KernelShell(InteractiveShell):
            def enable_gui(self, gui=None) -> None:
                pass

        _shell_class = KernelShell
    return _shell_class


class NotebookRun:
    """Runs one notebook's code cells in a fresh namespace, as a kernel would; a cell
    that raises is recorded and the following cells still run.

    ``before_cell(number)`` is called as each cell starts (the supervisor learns which
    cell hung or ended the process); with ``show_tracebacks`` False, errors are only
    recorded, not printed (the agreement tests compare printed output with a kernel's,
    which sends tracebacks apart)."""

    def __init__(self, before_cell=None, show_tracebacks: bool = True) -> None:
        import builtins
        import getpass

        from traitlets.config import Config

        self.before_cell = before_cell
        # As ipykernel sets it: figures are shown inline (as text in the output log).
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        self.module = types.ModuleType("__main__")  # a kernel runs a notebook as __main__
        config = Config()
        config.HistoryManager.enabled = False
        config.InteractiveShell.colors = "NoColor"
        shell_class = kernel_shell()
        shell_class.clear_instance()  # one namespace per notebook, as one kernel each
        self.shell = shell = shell_class.instance(config=config, user_module=self.module)
        self.cell = 0
        # Tracebacks name the cell ("<cell 5>"), as ipykernel names its cells' code.
        shell.compile.get_code_name = lambda raw, code, number: f"<cell {self.cell}>"
        if not show_tracebacks:
            shell._showtraceback = lambda *args: None
        offline_installs(shell)
        builtins.input, getpass.getpass = (
            no_stdin("raw_input"),
            no_stdin("getpass"),
        )  # as nbclient runs kernels
        sys.argv = ["ipykernel_launcher.py", "-f", "kernel.json"]  # what a kernel has

    def run(self, cells: list[dict]) -> list[dict]:
        import asyncio

        errors: list[dict] = []
        asyncio.run(self._run_all(cells, errors))  # cells run inside a running loop, as in a kernel
        return errors

    async def _run_all(self, cells: list[dict], errors: list[dict]) -> None:
        for cell in cells:
            source = cell["source"]
            if not source.strip():
                continue  # nbclient does not send empty cells to the kernel
            self.cell = cell["number"]
            if self.before_cell is not None:
                self.before_cell(self.cell)
            error = await self._run_cell(source)
            if error is not None:
                info = describe_error(error, "")
                info["cell"] = self.cell
                errors.append(info)
            sys.stdout.flush()

    async def _run_cell(self, source: str) -> BaseException | None:
        """One cell, the way ipykernel's do_execute runs it."""
        shell = self.shell
        failed = None
        try:
            transformed = shell.transform_cell(source)
        except Exception:
            transformed, failed = source, sys.exc_info()
        if shell.should_run_async(
            source, transformed_cell=transformed, preprocessing_exc_tuple=failed
        ):
            result = None
            try:
                result = await shell.run_cell_async(
                    source,
                    store_history=True,
                    transformed_cell=transformed,
                    preprocessing_exc_tuple=failed,
                )
            finally:
                shell.events.trigger("post_execute")
                shell.events.trigger("post_run_cell", result)
        else:
            result = shell.run_cell(source, store_history=True)
        return result.error_before_exec or result.error_in_exec


# --------------------------------------------------------------------------- processes
def _how(status: int) -> tuple[str, int]:
    if os.WIFSIGNALED(status):
        return "signal", os.WTERMSIG(status)
    return "exited", os.WEXITSTATUS(status)


def wait_for(pid: int, deadline: float) -> tuple[str, int]:
    """Wait for child ``pid`` until ``deadline`` (monotonic clock); kill it then.
    Returns (how, code). A pidfd wakes us the moment the child ends."""
    try:
        fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return _how(status)
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(pid)
                os.waitpid(pid, 0)
                return "timeout", -1
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(left, 0.005))
    finally:
        if fd is not None:
            os.close(fd)


def _stopped_by(pid: int) -> int:
    """The signal that stopped child ``pid``, or 0 while it runs (it stays waitable)."""
    try:
        found = os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return 0
    return found.si_status if found is not None and found.si_code == os.CLD_STOPPED else 0


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def set_limit(which: int, value: int) -> None:
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))
    except (ValueError, OSError):
        pass


def warm_up() -> None:
    """Pay torch's first-use costs (the autograd engine; optimizers import torch._dynamo,
    about 1 s) once in the worker, rather than in every job that trains."""
    layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.zeros(1, 2)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()


def reset_state(seed: int) -> None:
    """The same starting point for every check, whatever earlier checks changed."""
    seed_everything(seed)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)


# --------------------------------------------------------------------------- worker
JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
JOB_TIMED_OUT = 3  # a job supervisor's exit code when the job's own time ran out
SUPERVISOR_GRACE = 5.0  # beyond a job's time, for its supervisor to write the last status


def _prctl(option: int, value: int) -> None:
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def make_undumpable() -> None:
    """Processes of a job cannot ptrace or read the memory of a non-dumpable process
    (without CAP_SYS_PTRACE, which the sandbox drops), so they cannot tamper with the
    worker that supervises their job."""
    _prctl(PR_SET_DUMPABLE, 0)


def _job_namespaces() -> types.ModuleType:
    """jobns.py, beside this script (loaded only in bubblewrap, where the worker uses it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "jobns", Path(__file__).resolve().with_name("jobns.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Worker:
    """A long-lived sandboxed process that has imported torch and serves jobs.

    It never runs student code and never reads a job's inputs or steps. For each job it
    forks a supervisor (``supervise_job``) that, in bubblewrap, first moves into
    namespaces of its own (jobns.py): the job's processes cannot see or signal the
    worker, share no IPC object, socket, keyring or scratch file with any other job,
    and all die with the job. So no job runs in a process that ran another job's code,
    nothing passes from one job to the next, and all jobs share torch's pages.

    In bubblewrap the worker is the sandbox's PID 1 (no bubblewrap init beside it holds
    its pipes) and non-dumpable before it serves any job; after each job it kills and
    reaps whatever is left.

    Protocol: one JSON line per job on stdin ({"job": NAME, "wall": SECONDS}), one JSON
    line per result on stdout; stdout carries nothing else.
    """

    def __init__(self, box: Path, shared: Path, isolated: bool) -> None:
        self.box = box
        self.shared = shared
        # bubblewrap runs the worker as its PID 1 (--as-pid-1): kill(-1) then reaches
        # every process of the sandbox and nothing outside it. Anything else would run
        # jobs without namespaces of their own: refuse to start (the grader says why).
        if isolated and os.getpid() != 1:
            raise SystemExit(
                f"the sandbox's worker is PID {os.getpid()}, not 1: is bubblewrap older "
                "than 0.4 (no --as-pid-1)?"
            )
        self.own_namespace = isolated
        self.jobns = None
        self.seccomp = None  # the fallback's jobs still get jobns's syscall filter

    def serve(self) -> None:
        if self.own_namespace:
            self.jobns = _job_namespaces()
            self.jobns.make_undumpable()
            self.jobns.hold_setfcap()
        else:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # bubblewrap does this with --die-with-parent
            make_undumpable()
            # No setuid program (su, sudo) gains anything for this process and its children.
            _prctl(PR_SET_NO_NEW_PRIVS, 1)
            with contextlib.suppress(Exception):
                self.seccomp = _job_namespaces()
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        warm_up()
        import gc

        gc.collect()
        gc.freeze()  # fewer copy-on-write faults in the children: forks share more pages
        self.clear_scratch()  # what starting up wrote there (caches); jobs have their own
        self.reply({"ready": True, "pid": os.getpid()})
        stdin = os.fdopen(0, "rb", buffering=0, closefd=False)
        while True:
            line = stdin.readline()
            if not line:
                return
            try:
                command = json.loads(line)
                name = str(command["job"])
                wall = float(command["wall"])
                if not JOB_NAME.fullmatch(name):
                    raise ValueError(f"bad job name {name!r}")
            except (ValueError, KeyError, TypeError) as exc:
                self.reply({"error": str(exc)})
                continue
            self.reply(self.run_job(name, wall))

    def run_job(self, name: str, wall: float) -> dict:
        started = time.monotonic()
        job_dir = self.box / name
        self.prepare(job_dir)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = supervise_job(job_dir, self.shared, started + wall, self.jobns, self.seccomp)
            except BaseException:  # a malformed job, or namespaces refused: say so in its log
                with contextlib.suppress(BaseException):
                    traceback.print_exc()
            finally:
                os._exit(code)
        how, code = wait_for(pid, started + wall + SUPERVISOR_GRACE)
        if how == "exited" and code == JOB_TIMED_OUT:
            how, code = "timeout", -1
        leftovers = self.sweep()
        return {
            "job": name,
            "how": how,
            "code": code,
            "leftovers": leftovers,
            "seconds": round(time.monotonic() - started, 4),
        }

    def prepare(self, job_dir: Path) -> None:
        """Import IPython into the worker (0.3 s, once) before the first job with a
        notebook, so every later notebook job's fork starts with it loaded. Reads only
        the schedule and file names, before any code of the job runs."""
        if "IPython.core.interactiveshell" in sys.modules:
            return
        try:
            files = json.loads((job_dir / layout.SCHEDULE).read_text())["files"]
            notebook = any(
                (job_dir / layout.SUBMISSION / layout.cells_name(f["module"])).is_file()
                for f in files
            )
        except (OSError, ValueError, KeyError, TypeError):
            return
        if notebook:
            import IPython.core.interactiveshell  # noqa: F401

    def sweep(self) -> int:
        """Kill and reap whatever the job left running; returns how many processes that was."""
        if not self.own_namespace:
            return 0  # fallback: each student session was killed; the grader sweeps the cgroup
        left = _living_processes()
        if left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)  # every process of the sandbox but this one
        for _ in range(500):  # as PID 1, the worker reaps every orphan itself
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    time.sleep(0.002)
            except ChildProcessError:
                break
        return len(left)

    def clear_scratch(self) -> None:
        """Empty the worker's own tmpfs folders (only in bubblewrap: in the fallback,
        /tmp is this machine's). Jobs never see them: each has its own."""
        if not self.own_namespace:
            return
        import shutil

        for folder in (Path("/tmp"), Path("/dev/shm")):
            try:
                entries = list(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()

    @staticmethod
    def reply(data: dict) -> None:
        os.write(1, (json.dumps(data) + "\n").encode())


def supervise_job(job_dir: Path, shared: Path, deadline: float, jobns, seccomp=None) -> int:
    """A job's supervisor, in a process forked from the worker for this job alone.

    It lets go of the worker's pipes and files first. In bubblewrap (``jobns`` given) it
    then makes the job's namespaces, gives up its capabilities, and starts the job's
    init; every student process it forks lands in the job's PID namespace. When the
    checks are done it kills the init (and so every process of the job) and reads the
    saved artifacts itself: no student code ever ran in this process. Returns its exit
    code: 0, or JOB_TIMED_OUT when the job's time ran out."""
    leave_worker(job_dir / layout.RUNNER_LOG)
    _close_inherited_files()
    inside = job_dir
    init = None
    if jobns is not None:
        jobns.enter_job_namespaces(str(job_dir))
        jobns.drop_privileges()
        jobns.restrict_syscalls()
        inside = Path(jobns.INSIDE_JOB)
        init = os.fork()  # the first child in the new PID namespace: its PID 1
        if init == 0:
            jobns.serve_as_init()
    elif seccomp is not None:  # the fallback: no namespaces, but the same syscall filter
        with contextlib.suppress(Exception):
            seccomp.restrict_syscalls()
    supervisor = Supervisor(inside, shared, deadline)
    finished = supervisor.run()
    if init is not None:
        _kill(init)  # the kernel kills every other process of the job's PID namespace
        os.waitpid(init, 0)  # returns once they are all gone
    if finished:
        supervisor.read_artifacts()
    return 0 if finished else JOB_TIMED_OUT


def _close_inherited_files() -> None:
    """Close every descriptor above stderr: a job must inherit nothing of the worker's."""
    try:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 256))
    for fd in fds:
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _living_processes(include_zombies: bool = False) -> list[int]:
    """Processes of this PID namespace other than init and the caller."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if include_zombies or state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


# --------------------------------------------------------------------------- one job
class Item:
    """One unit of a job: loading a file, or one check (a call) of it."""

    def __init__(self, kind: str, file: int, call: int | None, timeout: float) -> None:
        self.kind = kind
        self.file = file
        self.call = call
        self.timeout = timeout


class Supervisor:
    """Runs one job (one submission's files and checks) in the worker; never runs
    student code, and reads only the job's schedule (schedule.json: files, check ids,
    time limits), never its steps or inputs (job.json, read by the student process).

    The student's code runs in one child that loads each file and runs its checks in
    order, announcing each item on a pipe. The supervisor holds each item to its time
    limit; after a timeout or a crash it records what happened to that item and starts a
    fresh child at the next one, so one bad check costs only itself and a normal
    submission costs one fork.
    """

    GAP = 5.0  # seconds allowed between two items (writing one result, starting the next)
    STOP_POLL = 0.25  # seconds between looks at whether a quiet student process is stopped

    def __init__(self, job_dir: Path, shared: Path, deadline: float) -> None:
        self.job_dir = job_dir
        self.job = json.loads((job_dir / layout.SCHEDULE).read_text())
        self.shared = shared
        self.deadline = deadline
        self.submission = (job_dir / layout.SUBMISSION).resolve()
        self.out = job_dir / layout.OUT
        self.work = job_dir / layout.WORK
        self.out.mkdir(exist_ok=True)
        self.work.mkdir(exist_ok=True)
        self.files = self.job["files"]
        self.items: list[Item] = []
        for f, file_job in enumerate(self.files):
            self.items.append(Item("load", f, None, float(file_job["load_timeout"])))
            for c, call in enumerate(file_job["calls"]):
                self.items.append(Item("call", f, c, float(call["timeout"])))
        self.status: dict[str, dict] = {}
        # "load-<module>"/"call-<id>" -> [N, start, end]: bytes of output-N.log it printed
        self.spans: dict[str, list[int]] = {}
        self.cells: dict[int, int] = {}  # load item -> the notebook cell it last started

    def call_of(self, item: Item) -> dict:
        assert item.call is not None
        return self.files[item.file]["calls"][item.call]

    def run(self) -> bool:
        """Run every item; False when the job's own deadline passed first."""
        start = 0
        while start < len(self.items):
            if time.monotonic() >= self.deadline:
                self.write_status()
                return False
            start = self.run_from(start)
        self.write_status()
        return True

    def run_from(self, start: int) -> int:
        """Run items from ``start`` in a fresh child; returns where the next child starts."""
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(read_end)
                StudentProcess(self, start, write_end).run()
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        try:
            return self.watch(pid, read_end, start)
        finally:
            os.close(read_end)
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # whatever it started in its session

    def watch(self, pid: int, pipe: int, start: int) -> int:
        current: int | None = None  # the item in progress
        last = start - 1  # the last item that finished
        began = time.monotonic()
        first = self.items[start]
        # A child that resumes inside a file loads that file again first.
        deadline = began + (
            self.files[first.file]["load_timeout"] if first.kind == "call" else self.GAP
        )
        pending = b""
        output_start = (0, 0)  # (which output-N.log, offset) where the current item's output starts
        while True:
            left = min(deadline, self.deadline) - time.monotonic()
            if left <= 0:
                _kill(pid)
                os.waitpid(pid, 0)
                return self.after_exit("timeout", -1, start, current, last, began, output_start)
            if not select.select([pipe], [], [], min(left, self.STOP_POLL))[0]:
                stopped = _stopped_by(pid)
                if stopped:  # it stopped itself (SIGSTOP...): it would only wait out its time
                    _kill(pid)
                    os.waitpid(pid, 0)
                    return self.after_exit(
                        "stopped", stopped, start, current, last, began, output_start
                    )
                continue
            chunk = os.read(pipe, 4096)
            if not chunk:  # the child closed its end: it is exiting (or misbehaving)
                how, code = wait_for(pid, time.monotonic() + self.GAP)
                return self.after_exit(how, code, start, current, last, began, output_start)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                try:
                    kind, number, log, offset = line.split(b" ")
                    index, log_index, size = int(number), int(log), int(offset)
                except ValueError:
                    continue
                now = time.monotonic()
                if kind == b"S" and current is None and last < index < len(self.items):
                    current, began, output_start = index, now, (log_index, size)
                    deadline = now + self.items[index].timeout
                elif kind == b"C" and index == current:
                    self.cells[index] = log_index  # a notebook's cell starts: its number
                elif kind == b"D" and index == current:
                    if log_index == output_start[0]:
                        self.spans[self.output_key(self.items[index])] = [*output_start, size]
                    if self.items[index].kind == "call":
                        self.finished(self.items[index], "done", 0, now - began)
                    last, current = index, None
                    deadline = now + self.GAP

    def after_exit(
        self,
        how: str,
        code: int,
        start: int,
        current: int | None,
        last: int,
        began: float,
        output_start: tuple[int, int],
    ) -> int:
        if current is None:
            if how == "exited" and code == 0 and last == len(self.items) - 1:
                return len(self.items)
            if last + 1 >= len(self.items):
                return len(self.items)
            current = last + 1  # it died between items: blame the next, so we always move on
        item = self.items[current]
        try:
            size = (self.out / layout.output_log(output_start[0])).stat().st_size
        except OSError:
            size = output_start[1]
        self.spans[self.output_key(item)] = [*output_start, size]
        if item.kind == "load":
            module = self.files[item.file]["module"]
            record = (
                {"status": "timeout"}
                if how == "timeout"
                else {"status": "exited", "code": code if how == "exited" else -code}
            )
            if current in self.cells:
                record["cell"] = self.cells[current]
            self.save(layout.load_stem(module), record)
            # The file did not load: its checks cannot run. Go on with the next file.
            following = [
                i for i, it in enumerate(self.items) if i > current and it.file != item.file
            ]
            return following[0] if following else len(self.items)
        self.finished(item, how, code, time.monotonic() - began)
        self.write_status()
        return current + 1

    def output_key(self, item: Item) -> str:
        if item.kind == "load":
            return layout.load_stem(self.files[item.file]["module"])
        return layout.call_stem(self.call_of(item)["id"])

    def finished(self, item: Item, how: str, code: int, seconds: float) -> None:
        self.status[self.call_of(item)["id"]] = {
            "how": how,
            "code": code,
            "seconds": round(seconds, 4),
        }

    def write_status(self) -> None:
        self.save(layout.STATUS, {"calls": self.status, "output": self.spans})

    def save(self, stem: str, data: dict) -> None:
        """One record of the supervisor's, in out/. The student's code may have removed
        or replaced out/: then the grader finds no record and says so, and the job goes on."""
        with contextlib.suppress(OSError):
            self.out.mkdir(exist_ok=True)
            write_json_atomic(self.out / layout.json_name(stem), data)

    def read_artifacts(self) -> None:
        """Read the state_dicts the student saved. Called by the job's supervisor once
        every process of the job is dead, in a process that never ran student code:
        ``torch.load(weights_only=True)`` refuses anything but tensors."""
        wanted = [
            (call, artifact)
            for file_job in self.files
            for call in file_job["calls"]
            for artifact in call.get("artifacts", [])
        ]
        if not wanted:
            return
        used = resource.getrusage(resource.RUSAGE_SELF)
        set_limit(resource.RLIMIT_CPU, int(used.ru_utime + used.ru_stime) + 30 * len(wanted))
        for call, artifact in wanted:
            self.read_artifact(call, artifact)

    def read_artifact(self, call: dict, artifact: dict) -> None:
        stem = layout.artifact_stem(call["id"], artifact["name"])
        path = self.work / call["id"] / artifact["path"]
        if not path.is_file() or path.is_symlink():
            self.save(
                stem,
                {
                    "status": "error",
                    "error": {
                        "type": "FileNotFoundError",
                        "message": f"no file was written at {artifact['path']}",
                        "frames": [],
                    },
                },
            )
            return
        try:
            data = torch.load(str(path), weights_only=True, map_location="cpu")
            if not isinstance(data, dict):
                raise TypeError(f"the file holds a {type(data).__name__}, not a state_dict")
            state = {}
            for key, value in data.items():
                if not isinstance(key, str) or not isinstance(value, torch.Tensor):
                    raise TypeError("a state_dict maps parameter names to tensors")
                state[key] = value
            write_result(self.out, stem, {"state_dict": state})
        except Exception as exc:
            error = describe_error(exc, "")
            if "Weights only load failed" in error["message"]:
                # torch's message is long and about trusting files; say what it means here.
                found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", error["message"])
                what = f" (it contains a {found.group(1)})" if found else ""
                error["message"] = (
                    "it holds pickled Python objects, such as a whole model, "
                    f"not only tensors{what}"
                )
            self.save(stem, {"status": "error", "error": error})


def leave_worker(log: Path) -> None:
    """In a child of the worker: its own session, and no way back to the worker's
    protocol pipes (fd 0 and 1)."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    redirect_output(log, append=True)


class StudentProcess:
    """The one process of a job that runs student code: loads each file, then runs its
    checks, from item ``start`` on, announcing each item to the supervisor. It reads
    the job's steps and inputs itself: the worker never holds them."""

    def __init__(self, supervisor: Supervisor, start: int, pipe: int) -> None:
        self.sup = supervisor
        self.start = start
        self.pipe = pipe
        self.modules: dict[int, types.ModuleType | None] = {}
        self.current = start  # the item in progress
        self.ended = b""  # the last item's end, not sent yet

    LOG_ROTATE = 8 * 2**20  # a new output file after this much, so each check can print

    def open_log(self) -> None:
        """Send all output to output-N.log. Items share a file (one file per check costs
        more than most checks); a new file starts once one is large, so a check that
        floods its output never takes the room a later check needs (RLIMIT_FSIZE)."""
        self.log_index += 1
        path = self.sup.out / layout.output_log(self.log_index)
        redirect_output(path, append=True)
        if self.log is not None:
            os.close(self.log)
        self.log = os.open(path, os.O_RDONLY)  # our own handle: student code may move fd 1

    def announce(self, kind: bytes, index: int) -> None:
        """Tell the supervisor an item starts or ends, and where its output starts or
        ends in which output file. An end is sent with the next start (one wake-up of
        the supervisor per check instead of two)."""
        try:
            size = os.fstat(self.log).st_size
            if kind == b"D":
                self.ended = b"D %d %d %d\n" % (index, self.log_index, size)
                return
            if size > self.LOG_ROTATE:
                self.open_log()
                size = 0
            os.write(self.pipe, self.ended + b"S %d %d %d\n" % (index, self.log_index, size))
            self.ended = b""
        except OSError:
            pass

    def flush(self) -> None:
        if self.ended:
            with contextlib.suppress(OSError):
                os.write(self.pipe, self.ended)
            self.ended = b""

    def run(self) -> None:
        sup = self.sup
        self.log_index = self.start * 1000  # a fresh run (after a crash) writes new files
        self.log: int | None = None
        leave_worker(sup.out / layout.RUNNER_LOG)
        self.open_log()
        home = str(sup.work)
        os.environ.update(
            {
                "HOME": home,
                "TMPDIR": home,
                "IPYTHONDIR": f"{home}/.ipython",
                "TORCHINDUCTOR_CACHE_DIR": f"{home}/.torchinductor",
            }
        )
        self.job = json.loads((sup.job_dir / layout.JOB).read_text())
        self.inputs = self.load_inputs()
        items = sup.items[self.start :]
        memory = max((int(f.get("memory_mb", 0)) for f in sup.files), default=0)
        if memory:
            set_limit(resource.RLIMIT_AS, memory * 2**20)
        # CPU time is a backstop only: the supervisor holds each item to its wall time.
        set_limit(resource.RLIMIT_CPU, int(sum(it.timeout for it in items)) + 10)
        sys.path.insert(0, str(sup.submission))
        first = items[0]
        if first.kind == "call":
            module, _ = self.load(sup.files[first.file]["module"])
            self.modules[first.file] = module
        for index, item in enumerate(items, start=self.start):
            if item.kind == "call" and self.modules.get(item.file) is None:
                continue  # the file did not load; the grader reports that once
            self.current = index
            self.announce(b"S", index)
            if item.kind == "load":
                self.modules[item.file] = self.load_file(item)
            else:
                self.run_call(self.modules[item.file], self.call_of(item))
            self.announce(b"D", index)
        self.flush()
        os.close(self.pipe)

    def load_inputs(self) -> dict:
        name = self.job.get("inputs")
        if not name:
            return {}
        from safetensors.torch import load_file

        return load_file(str(self.sup.shared / Path(name).name))

    def call_of(self, item: Item) -> dict:
        """The check's full description (steps, inputs), from job.json."""
        assert item.call is not None
        return self.job["files"][item.file]["calls"][item.call]

    def load(self, name: str) -> tuple[types.ModuleType | None, dict]:
        reset_state(int(self.job.get("seed", 0)))
        sys.argv = [name]
        os.chdir(self.sup.work)
        cells = self.sup.submission / layout.cells_name(name)
        if cells.is_file():
            return self.load_notebook(name, json.loads(cells.read_text(encoding="utf-8")))
        import importlib

        try:
            sys.modules.pop(name, None)
            return importlib.import_module(name), {"status": "ok"}
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too
            return None, {"status": "error", "error": describe_error(exc, str(self.sup.submission))}

    def load_notebook(self, name: str, cells: list[dict]) -> tuple[types.ModuleType, dict]:
        run = NotebookRun(before_cell=self.announce_cell)
        errors = run.run(cells)
        sys.modules[name] = run.module
        record: dict = {"status": "ok", "notebook": True}
        if errors:
            record["cell_errors"] = errors
        return run.module, record

    def announce_cell(self, number: int) -> None:
        """Tell the supervisor which cell of the notebook being loaded starts, so a
        cell that hangs or ends the process can be named."""
        with contextlib.suppress(OSError):
            os.write(self.pipe, b"C %d %d 0\n" % (self.current, number))

    def load_file(self, item: Item) -> types.ModuleType | None:
        name = self.sup.files[item.file]["module"]
        module, record = self.load(name)
        write_json_atomic(self.sup.out / layout.json_name(layout.load_stem(name)), record)
        sys.stdout.flush()
        return module

    def run_call(self, module: types.ModuleType | None, call: dict) -> None:
        out = self.sup.out
        call_id = call["id"]
        workdir = self.sup.work
        if uses_files(call):  # a folder of its own, where the grader looks for saved files
            workdir = workdir / call_id
            workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)
        reset_state(int(call.get("seed", 0)))
        recorder = DispatchRecorder() if call.get("record") else None
        try:
            if module is None:
                raise RuntimeError("the module did not load")
            env = perform_steps(module, call, self.inputs, workdir, recorder)
            kept = {name: env[name] for name in call.get("keep", []) if name in env}
            write_result(
                out, layout.call_stem(call_id), kept, recorder.record() if recorder else None
            )
        except BaseException as exc:
            error = describe_error(exc, str(self.sup.submission))
            write_json_atomic(
                out / layout.json_name(layout.call_stem(call_id)),
                {"status": "error", "error": error, **(recorder.record() if recorder else {})},
            )
        sys.stdout.flush()


def uses_files(call: dict) -> bool:
    """Whether a probe saves or reads files by name (artifacts, or a path input)."""
    return bool(call.get("artifacts")) or '"path"' in json.dumps(call["steps"])


def perform_steps(
    module, call: dict, inputs: dict, workdir: Path, recorder: DispatchRecorder | None = None
) -> dict:
    """Run one probe's steps against a loaded student module; returns the bound values.
    With a ``recorder``, the steps that run student code run under it (their inputs are
    decoded before, so the record holds what the student's code dispatched)."""
    env: dict = {}
    for step in call["steps"]:
        kind = step["do"]
        args = [values.decode_input(a, env, inputs) for a in step.get("args", [])]
        kwargs = {k: values.decode_input(v, env, inputs) for k, v in step.get("kwargs", {}).items()}
        watch = recorder is not None and kind in RECORDED_STEPS
        with recorder if watch else contextlib.nullcontext():
            try:
                value = _perform_step(module, step, args, kwargs, env, inputs, workdir)
            except MissingEntryPoint:
                raise
            except Exception as exc:
                if not step.get("catch"):
                    raise
                # A row of a table: the check goes on, and judges this row as raised.
                value = values.Raised(type(exc).__name__, values.safe_text(str, exc))
        if "as" in step:
            env[step["as"]] = value
    return env


def _perform_step(
    module, step: dict, args: list, kwargs: dict, env: dict, inputs: dict, workdir: Path
):
    kind = step["do"]
    if kind == "bind":
        return values.decode_input(step["value"], env, inputs)
    if kind == "call":
        target = step["target"]
        if target in env:
            fn = env[target]
        elif target in module.__dict__:
            fn = module.__dict__[target]
        else:
            raise MissingEntryPoint(target)
        return fn(*args, **kwargs)
    if kind == "method":
        return getattr(env[step["target"]], step["method"])(*args, **kwargs)
    if kind == "eval":
        scope = dict(module.__dict__)
        scope.setdefault("torch", torch)
        return eval(compile(step["expr"], "<example>", "eval"), scope)
    if kind == "grad":
        result = env[step["of"]]
        if not isinstance(result, torch.Tensor) or not result.requires_grad:
            raise NotDifferentiable()
        (value,) = torch.autograd.grad(result.sum(), env[step["wrt"]], allow_unused=True)
        return value
    if kind == "save_state_dict":
        state = values.decode_input(step["value"], env, inputs)
        if isinstance(state, torch.nn.Module):
            state = state.state_dict()  # save weights only, never a pickled module
        torch.save(state, str(workdir / step["path"]))
        return None
    raise ValueError(f"unknown step {kind!r}")


class MissingEntryPoint(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"the file defines no '{name}'")


class NotDifferentiable(Exception):
    def __init__(self) -> None:
        super().__init__("the result is not connected to the input by autograd")


def main() -> None:
    """``runner.py serve BOX SHARED [--isolated]``: serve jobs from folders in BOX, with
    shared read-only inputs in SHARED."""
    args = sys.argv[1:]
    if len(args) < 3 or args[0] != "serve":
        sys.exit("usage: runner.py serve BOX SHARED [--isolated]")
    Worker(Path(args[1]), Path(args[2]), isolated="--isolated" in args[3:]).serve()


if __name__ == "__main__":
    main()
