"""Fresh namespaces for every job, made inside the worker's sandbox (sandbox side).

Runs inside bubblewrap, beside student code; standard library only, so the grader's
availability probe can run it without importing torch.

A worker is long-lived (it imports torch once), so whatever a job could leave in the
worker's namespaces would be seen by the next job: a daemon, a SysV shared-memory
segment or message queue, a key in a keyring, an abstract socket, a file in /tmp. So
each job's supervisor, forked from the worker, first moves into namespaces of its own:

- a user namespace (mapping only its own uid and gid), which lets it make the others
  without any privilege outside the sandbox;
- PID: the job's processes cannot see or signal the worker, which holds the grader's
  pipes, and all of them die with the job's init;
- IPC, network (no interfaces but a loopback that is down; abstract sockets are per
  network namespace) and UTS;
- mount: its own empty /tmp and /dev/shm, its job folder at /sandbox/job, and the
  worker's box hidden under an empty read-only folder;
- a new session keyring (user keyrings are per user namespace already).

Where the grader runs as root, the worker's uid is the machine's root, and the kernel
lets a user namespace map root only when its creator holds CAP_SETFCAP. bubblewrap then
gives the worker that one capability (bwrap.py); the worker keeps it out of its
effective set (``hold_setfcap``) and raises it only in a job's supervisor, for the
moment of ``unshare``. Nothing else in the sandbox has any capability.

The supervisor then drops every capability the new user namespace gave it, locks
root's special treatment off (an exec cannot win capabilities back), sets no_new_privs
and installs a seccomp filter that every process of the job inherits: no keyring calls
(a key's description shows in /proc/keys to any process of the same uid, in any job),
no ptrace and no reading or writing another process's memory. See docs/security.md.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
JOB_NAMESPACES = (
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWPID
)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
# noroot, no_setuid_fixup, keep_caps and no_cap_ambient_raise, each set and locked.
LOCKED_SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
CAPABILITY_VERSION_3 = 0x20080522

KEYCTL_JOIN_SESSION_KEYRING = 1
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 311, "s390x": 280}

INSIDE_JOB = "/sandbox/job"  # where a job's own folder is, in its mount namespace
INSIDE_BOX = "/sandbox/box"  # the worker's box (bwrap.INSIDE_BOX), hidden from jobs

_libc = ctypes.CDLL(None, use_errno=True)


class JobNamespaceError(OSError):
    """A namespace, mount or privilege step failed: the job must not run."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise JobNamespaceError(err, f"{what}: {os.strerror(err)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(
            source and source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {target}",
    )


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def make_undumpable() -> None:
    """Nothing without CAP_SYS_PTRACE in this process's own user namespace may ptrace
    it or open its /proc files (memory, fds, environment): student code, which runs in
    a nested user namespace or with no capabilities at all, never has that."""
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


CAP_SETFCAP = 31


def _capset(effective: int, permitted: int) -> None:
    header = _CapHeader(CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)(_CapData(effective, permitted, 0), _CapData(0, 0, 0))
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _has_setfcap() -> bool:
    return bool(capabilities().get("CapPrm", 0) & (1 << CAP_SETFCAP))


def hold_setfcap() -> None:
    """In the worker: keep CAP_SETFCAP (when bubblewrap gave it) permitted but not
    effective, so nothing the worker does by accident can use it."""
    if _has_setfcap():
        _capset(0, 1 << CAP_SETFCAP)


def enter_job_namespaces(job_dir: str) -> None:
    """Move the calling process (a job's supervisor, forked from the worker) into new
    namespaces and lay out the job's file system. Its next child is the job's init."""
    uid, gid = os.getuid(), os.getgid()
    if _has_setfcap():  # root's uid may be mapped only with it in force (see above)
        _capset(1 << CAP_SETFCAP, 1 << CAP_SETFCAP)
    _check(_libc.unshare(JOB_NAMESPACES), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(job_dir, INSIDE_JOB, None, MS_BIND | MS_REC)
    scratch = MS_NOSUID | MS_NODEV
    for folder in SCRATCH:
        # What bubblewrap bound inside (a Python environment made under /tmp) stays.
        kept = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in mounts_under(folder)}
        _mount("tmpfs", folder, "tmpfs", scratch, "mode=1777")
        for path, fd in sorted(kept.items()):
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
    # The box may only ever hold this job's folder; hide it anyway, so no path there
    # leads anywhere.
    _mount("tmpfs", INSIDE_BOX, "tmpfs", MS_RDONLY | scratch | MS_NOEXEC, "size=4k,mode=0555")
    _new_session_keyring()


SCRATCH = ("/tmp", "/dev/shm")


def mounts_under(folder: str) -> list[str]:
    """Mount points strictly below ``folder``, outermost first, from mountinfo."""
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = _unescape(line.split()[4].decode("utf-8", "surrogateescape"))
            if point.startswith(folder + "/"):
                found.append(point)
    # Only the outermost: a recursive bind brings what is mounted below it.
    return [p for p in sorted(found) if not any(p.startswith(q + "/") for q in found)]


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in octal (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _new_session_keyring() -> None:
    number = SYS_KEYCTL.get(platform.machine())
    if number is None:
        return
    # A failure means keyctl is blocked here (a seccomp filter): then for student code too.
    _libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_privileges() -> None:
    """Give up every capability for good: lock uid 0's special treatment off (an exec
    cannot regain capabilities), empty the bounding and ambient sets, then the process's
    own sets, and set no_new_privs (no setuid or file-capability gains)."""
    if _libc.prctl(PR_SET_SECUREBITS, LOCKED_SECUREBITS, 0, 0, 0) != 0:
        # Already locked by a parent of ours, or not allowed: fine only if they hold.
        if ctypes.get_errno() != 1:  # EPERM
            _check(-1, "prctl(PR_SET_SECUREBITS)")
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 or ctypes.get_errno() == 1:
        cap += 1  # EINVAL past the kernel's last capability ends the loop
        if cap > 63:
            break
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _capset(0, 0)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


# seccomp: what the job may not call, per architecture (numbers from the kernel's tables).
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
DENIED_SYSCALLS = {  # add_key, request_key, keyctl, ptrace, process_vm_readv, process_vm_writev
    "x86_64": (248, 249, 250, 101, 310, 311),
    "aarch64": (217, 218, 219, 117, 270, 271),
}
X32_BIT = 0x40000000  # x86_64's x32 calls: denied as a whole
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM = 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions: calls of another architecture, and
    the denied ones, fail with EPERM; everything else is allowed."""
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JGE|K, RET|K
    denied = DENIED_SYSCALLS[machine]
    checks = [(jge, X32_BIT)] if machine == "x86_64" else []
    checks += [(jeq, nr) for nr in denied]
    # After the checks: ALLOW at index n, DENY at n + 1; jumps count from the next one.
    prog = [(load, 0, 0, 4)]  # seccomp_data.arch
    body = [(load, 0, 0, 0)] + [(op, 0, 0, k) for op, k in checks]  # seccomp_data.nr, then checks
    allow_at = 2 + len(body)
    prog.append((jeq, 0, allow_at + 1 - 2, AUDIT_ARCH[machine]))  # another arch: to DENY
    for i, (op, _, _, k) in enumerate(body):
        at = 2 + i
        prog.append((op, allow_at + 1 - (at + 1), 0, k) if i else (op, 0, 0, k))
    prog += [(ret, 0, 0, SECCOMP_RET_ALLOW), (ret, 0, 0, SECCOMP_RET_ERRNO | EPERM)]
    return prog


def restrict_syscalls() -> bool:
    """Install the filter on this process and all it will start (needs no_new_privs);
    False on an architecture it has no table for."""
    machine = platform.machine()
    if machine not in AUDIT_ARCH:
        return False
    prog = seccomp_program(machine)
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )
    return True


def capabilities() -> dict[str, int]:
    """The calling process's capability sets, from /proc (tests and the probe)."""
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")):
                key, value = line.split(":")
                found[key] = int(value.strip(), 16)
    return found


def serve_as_init() -> None:
    """The job's init (PID 1 of its PID namespace): reap orphans until killed. It holds
    no file descriptor and has no signal handler, so nothing in the job can signal it;
    when the supervisor kills it, the kernel kills every process of the job."""
    try:
        os.closerange(0, _highest_fd() + 1)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        while True:
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
            signal.sigtimedwait([signal.SIGCHLD], 5.0)
    finally:
        os._exit(0)


def _highest_fd() -> int:
    try:
        return max(int(fd) for fd in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        return 1023


def probe() -> str:
    """What ``bwrap.availability`` runs inside a sandbox: make a job's namespaces in a
    child, start its init and a process that drops its privileges; '' when all of that
    works, else what failed."""
    os.makedirs("/tmp/probe-job", exist_ok=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        message = b"ok"
        try:
            os.close(read_end)
            make_undumpable()
            hold_setfcap()
            enter_job_namespaces("/tmp/probe-job")
            init = os.fork()
            if init == 0:
                serve_as_init()
            drop_privileges()
            restrict_syscalls()
            child = os.fork()
            if child == 0:
                left = capabilities()
                blocked = _libc.syscall(SYS_KEYCTL.get(platform.machine(), -1), 0, -3, 0) != 0
                os._exit(0 if not any(left.values()) and blocked else 3)
            _, status = os.waitpid(child, 0)
            if status != 0:
                message = b"a job process kept capabilities, or could still call keyctl"
            os.kill(init, signal.SIGKILL)
            os.waitpid(init, 0)
        except BaseException as exc:  # noqa: BLE001 - everything is a "no" for the probe
            message = str(exc).encode()[:500] or type(exc).__name__.encode()
        finally:
            os.write(write_end, message)
            os._exit(0)
    os.close(write_end)
    answer = b""
    while chunk := os.read(read_end, 4096):
        answer += chunk
    os.waitpid(pid, 0)
    text = answer.decode("utf-8", "replace")
    return "" if text == "ok" else text or "the probe's process died"


if __name__ == "__main__":
    if sys.argv[1:] == ["probe"]:
        problem = probe()
        print(problem or "ok")
        sys.exit(1 if problem else 0)
    sys.exit("usage: jobns.py probe")
