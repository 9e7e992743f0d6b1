"""Why bubblewrap cannot run here, in words, with the fix: what `grader doctor` and every
run print when the availability probe (bwrap.py) fails.

Each known failure is one ``Cause``: a pattern of what bubblewrap (or the job
namespaces' probe, jobns.py) printed, what it means and how to fix it. The patterns are
the messages seen where grading usually runs: Ubuntu 23.10+ and GitHub's ubuntu-24.04
runners (AppArmor restricts unprivileged user namespaces), Docker's default seccomp
profile and AppArmor policy, kernels that disable user namespaces (or have none: WSL 1), and
limits set to 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    key: str  # a short name, for platform.py's advice from kernel facts
    pattern: re.Pattern[str]
    cause: str
    fix: str


# AppArmor 4's profile that lets bubblewrap, and no other program, create user namespaces:
# the shape of the profiles Ubuntu 24.04 ships for other programs that need them.
BWRAP_PROFILE = """\
abi <abi/4.0>,
include <tunables/global>

profile bwrap /usr/bin/bwrap flags=(unconfined) {
  userns,
  include if exists <local/bwrap>
}
"""

CAUSES = (
    Cause(
        "apparmor",
        re.compile(
            r"setting up uid map: Permission denied|loopback: Failed RTM_NEWADDR"
            r"|write to uid_map: Operation not permitted",
            re.I,
        ),
        "AppArmor forbids unprivileged user namespaces here (Ubuntu 23.10 and later, GitHub's "
        "ubuntu-24.04 runners: kernel.apparmor_restrict_unprivileged_userns=1)",
        "let /usr/bin/bwrap alone create user namespaces: write an AppArmor profile for it "
        "(profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }; docs/ci.md has it "
        "whole) to /etc/apparmor.d/bwrap and load it with sudo apparmor_parser -r "
        "/etc/apparmor.d/bwrap; only where that cannot be done, on a throwaway machine: "
        "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (for every program)",
    ),
    Cause(
        "userns_clone",
        re.compile(r"No permissions to creat\w* new namespace|unprivileged_userns_clone", re.I),
        "this kernel does not allow unprivileged user namespaces "
        "(kernel.unprivileged_userns_clone=0)",
        "sudo sysctl -w kernel.unprivileged_userns_clone=1",
    ),
    Cause(
        "max_user_namespaces",
        re.compile(
            r"Creating new namespace failed: No space left on device|max_user_namespaces", re.I
        ),
        "the user namespace limit is 0 (user.max_user_namespaces)",
        "sudo sysctl -w user.max_user_namespaces=15000",
    ),
    Cause(
        "container_policy",
        re.compile(
            r"Creating new namespace failed: Operation not permitted"
            r"|unshare.*Operation not permitted|Failed to make / slave"
            r"|mount.*Operation not permitted|Permission denied.*mount",
            re.I,
        ),
        "namespaces or mounts are blocked, most likely by a container's policy (Docker's default "
        "seccomp profile blocks unshare and mount; its AppArmor profile blocks mount)",
        "run the container with --security-opt seccomp=unconfined --security-opt "
        "apparmor=unconfined (or a seccomp profile that allows unshare, clone with namespace "
        "flags and mount); where that is not possible, the fallback runs student code as an "
        "unprivileged user",
    ),
    # unshare(CLONE_NEWUSER) fails with EINVAL where the kernel has no user namespaces.
    Cause(
        "no_user_namespaces",
        re.compile(r"Creating new namespace failed: Invalid argument", re.I),
        "this kernel has no user namespaces (WSL 1 has none; some kernels are built without "
        "CONFIG_USER_NS)",
        "on Windows, move the distribution to WSL 2 (wsl --set-version DISTRO 2); elsewhere, use "
        "a kernel built with user namespaces",
    ),
    Cause(
        "python_hidden",
        re.compile(r"execvp .*: No such file or directory", re.I),
        "the Python that runs the grader is not visible inside the sandbox",
        "install the grader in a Python environment outside /proc, /sys and /dev; report it as a "
        "bug with the output of grader doctor",
    ),
)


def by_key(key: str) -> Cause:
    """The cause named ``key`` (one of CAUSES)."""
    return next(cause for cause in CAUSES if cause.key == key)


def diagnose(message: str) -> Cause | None:
    """The known cause of a failed probe, or None."""
    for cause in CAUSES:
        if cause.pattern.search(message):
            return cause
    return None


def explain(message: str) -> str:
    """The probe's message with its cause and fix, when the cause is known."""
    found = diagnose(message)
    if found is None:
        return message
    return f"{message}; cause: {found.cause}; fix: {found.fix}"
