"""Where the grader runs, and the kernel facts that decide whether bubblewrap can run
there: what `grader doctor` prints before the sandbox in force, and what it advises when
bubblewrap is not in force.

Everything is read from files under ``root`` (``/`` on a real machine: /etc/os-release,
/proc/sys, /proc/self/status, /proc/1/cgroup, /autograder) and from the environment
(GitHub Actions sets GITHUB_ACTIONS=true), so tests can hand it a made-up folder.
Nothing here runs a program; a file that cannot be read is a fact that does not apply.

Not named platform.py: runner.py runs as a script from this folder, and where the folder
is first on sys.path (Python 3.10 ignores PYTHONSAFEPATH), `import platform` in torch or
in student code would find this module instead of the standard library's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.sandbox.diagnosis import Cause, by_key, diagnose

# The sysctls behind "bubblewrap cannot create namespaces": absent where they do not apply
# (unprivileged_userns_clone is Debian's and Ubuntu's; the AppArmor one is Ubuntu's).
SYSCTLS = (
    "kernel.unprivileged_userns_clone",
    "user.max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns",
)
SECCOMP_MODES = {"0": "disabled", "1": "strict", "2": "filtered"}
# /proc/1/cgroup names the container engine (cgroup v1, or v2 outside a cgroup namespace).
# Kubernetes first: its paths also name the runtime under it.
CGROUP_ENGINES = (
    ("kubepods", "kubernetes"),
    ("docker", "docker"),
    ("containerd", "containerd"),
    ("libpod", "podman"),
)
BWRAP = "usr/bin/bwrap"
INSTALL = "install it: apt-get install bubblewrap (Debian, Ubuntu), dnf install bubblewrap (Fedora)"


@dataclass(frozen=True)
class Facts:
    platform: str  # github-actions, gradescope, container, wsl or linux
    os: str | None  # PRETTY_NAME of /etc/os-release
    kernel: str | None
    container: str | None  # docker, podman, kubernetes, containerd; None outside one
    wsl: int | None  # 1 or 2 under WSL
    sysctls: dict[str, str | None]  # None: not applicable here
    root: bool | None  # the effective uid is 0
    seccomp: str | None  # Seccomp: of /proc/self/status (2: filtered, as Docker's default)
    bwrap: bool  # /usr/bin/bwrap exists

    def describe(self) -> str:
        """The platform, with what tells it apart: "github-actions (Ubuntu 24.04.2 LTS)"."""
        detail = {"container": self.container, "wsl": f"WSL {self.wsl}"}.get(self.platform, self.os)
        return f"{self.platform} ({detail})" if detail else self.platform

    def lines(self) -> list[str]:
        """One ``key: value`` line per fact."""
        seccomp = (
            f"{self.seccomp} ({SECCOMP_MODES.get(self.seccomp, 'unknown')})"
            if self.seccomp is not None
            else "unknown"
        )
        return [
            f"platform: {self.describe()}",
            f"os: {self.os or 'unknown'}",
            f"kernel: {self.kernel or 'unknown'}",
            f"container: {self.container or 'none'}",
            *(f"{name}: {_shown(value)}" for name, value in self.sysctls.items()),
            f"root: {'unknown' if self.root is None else 'yes' if self.root else 'no'}",
            f"seccomp: {seccomp}",
            f"/usr/bin/bwrap: {'present' if self.bwrap else 'missing'}",
        ]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _shown(value: str | None) -> str:
    return "not applicable" if value is None else value


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def os_name(root: Path = Path("/")) -> str | None:
    text = _read(root / "etc" / "os-release") or _read(root / "usr" / "lib" / "os-release") or ""
    found = re.search(r'^PRETTY_NAME=(["\']?)(.*)\1\s*$', text, flags=re.M)
    return found.group(2) if found else None


def sysctl(name: str, root: Path = Path("/")) -> str | None:
    """A sysctl's value from /proc/sys, or None where this kernel has no such setting."""
    text = _read(root / "proc" / "sys" / name.replace(".", "/"))
    return None if text is None else text.strip()


def status_field(name: str, root: Path = Path("/")) -> str | None:
    """A field of this process's /proc/self/status."""
    status = _read(root / "proc" / "self" / "status") or ""
    found = re.search(rf"^{name}:\s*(.*)$", status, flags=re.M)
    return found.group(1).strip() if found else None


def is_root(root: Path = Path("/")) -> bool | None:
    uids = (status_field("Uid", root) or "").split()  # real, effective, saved, file system
    return uids[1] == "0" if len(uids) > 1 else None


def container(root: Path = Path("/")) -> str | None:
    """The container engine this runs in, or None."""
    if (root / ".dockerenv").exists():
        return "docker"
    if (root / "run" / ".containerenv").exists():
        return "podman"
    cgroup = _read(root / "proc" / "1" / "cgroup") or ""
    return next((engine for word, engine in CGROUP_ENGINES if word in cgroup), None)


def wsl(root: Path = Path("/")) -> int | None:
    """1 or 2 under Windows' WSL (its kernel names Microsoft), else None."""
    release = sysctl("kernel.osrelease", root) or ""
    if "microsoft" not in release.lower():
        return None
    return 2 if "wsl2" in release.lower() else 1


def is_gradescope(root: Path = Path("/")) -> bool:
    home = root / "autograder"
    return home.is_dir() and ((home / "run_autograder").exists() or (home / "source").is_dir())


def detect(root: Path = Path("/"), env: Mapping[str, str] | None = None) -> Facts:
    """The facts of the machine under ``root`` (``env``: the environment, by default this
    process's)."""
    env = os.environ if env is None else env
    engine, windows = container(root), wsl(root)
    if env.get("GITHUB_ACTIONS") == "true":
        where = "github-actions"
    elif is_gradescope(root):
        where = "gradescope"
    elif engine:
        where = "container"
    elif windows:
        where = "wsl"
    else:
        where = "linux"
    return Facts(
        platform=where,
        os=os_name(root),
        kernel=sysctl("kernel.osrelease", root),
        container=engine,
        wsl=windows,
        sysctls={name: sysctl(name, root) for name in SYSCTLS},
        root=is_root(root),
        seccomp=status_field("Seccomp", root),
        bwrap=(root / BWRAP).exists(),
    )


def cause_from_facts(facts: Facts) -> Cause | None:
    """The known cause the kernel facts point to, for a message no pattern matched."""
    if facts.wsl == 1:
        return by_key("no_user_namespaces")
    if facts.sysctls.get("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return by_key("apparmor")
    if facts.sysctls.get("kernel.unprivileged_userns_clone") == "0":
        return by_key("userns_clone")
    if facts.sysctls.get("user.max_user_namespaces") == "0":
        return by_key("max_user_namespaces")
    if facts.container and facts.seccomp == "2":
        return by_key("container_policy")
    return None


def advice(facts: Facts, reason: str) -> tuple[str | None, str]:
    """(cause, what to do on this platform) when bubblewrap is not in force; ``reason``
    is why not (the availability probe's message). The cause is None when unknown."""
    missing = "not installed" in reason
    found = None if missing else diagnose(reason) or cause_from_facts(facts)
    cause = "bubblewrap is not installed" if missing else found.cause if found else None
    if facts.platform == "github-actions":
        fix = (
            "run the workflow that `grader ci init` writes, or copy its first step: it installs "
            "bubblewrap and loads an AppArmor profile that lets /usr/bin/bwrap alone create "
            "user namespaces (docs/ci.md)"
        )
        if facts.container:
            fix += "; and do not run the job in a container (no `container:` in the job)"
    elif facts.platform == "gradescope":
        fix = (
            "Gradescope runs the autograder in its own Docker container, whose policy an "
            "autograder cannot change; docs/gradescope.md says what runs student code there"
        )
    elif missing and facts.bwrap:
        fix = "/usr/bin/bwrap is there but not on PATH: put /usr/bin on PATH"
    elif missing:
        fix = INSTALL
    elif found is not None:
        fix = found.fix
    elif facts.container:
        fix = by_key("container_policy").fix
    else:
        fix = "no known cause: report it with the output of grader doctor"
    return cause, fix
