"""Why bubblewrap cannot run here, in words, with the fix: what `grader doctor` and every
run print when the availability probe (bwrap.py) fails.

Each known failure is one ``Cause``: a pattern of what bubblewrap (or the job
namespaces' probe, jobns.py) printed, what it means and how to fix it. The patterns are
the messages seen where grading usually runs: Ubuntu 23.10+ and GitHub's ubuntu-24.04
runners (AppArmor restricts unprivileged user namespaces), Docker's default seccomp
profile and AppArmor policy, kernels that disable user namespaces, and limits set to 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    pattern: re.Pattern[str]
    cause: str
    fix: str


CAUSES = (
    Cause(re.compile(r"setting up uid map: Permission denied|loopback: Failed RTM_NEWADDR"
                     r"|write to uid_map: Operation not permitted", re.I),
          "AppArmor forbids unprivileged user namespaces here (Ubuntu 23.10 and later, GitHub's "
          "ubuntu-24.04 runners: kernel.apparmor_restrict_unprivileged_userns=1)",
          "on a throwaway machine (CI): sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0; "
          "elsewhere, load an AppArmor profile that gives /usr/bin/bwrap 'userns' "
          "(profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }) with sudo apparmor_parser -r"),
    Cause(re.compile(r"No permissions to creat\w* new namespace|unprivileged_userns_clone", re.I),
          "this kernel does not allow unprivileged user namespaces (kernel.unprivileged_userns_clone=0)",
          "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
    Cause(re.compile(r"Creating new namespace failed: No space left on device|max_user_namespaces", re.I),
          "the user namespace limit is 0 (user.max_user_namespaces)",
          "sudo sysctl -w user.max_user_namespaces=15000"),
    Cause(re.compile(r"Creating new namespace failed: Operation not permitted|unshare.*Operation not permitted"
                     r"|Failed to make / slave|mount.*Operation not permitted|Permission denied.*mount", re.I),
          "namespaces or mounts are blocked, most likely by a container's policy (Docker's default seccomp "
          "profile blocks unshare and mount; its AppArmor profile blocks mount)",
          "run the container with --security-opt seccomp=unconfined --security-opt apparmor=unconfined "
          "(or a seccomp profile that allows unshare, clone with namespace flags and mount); where that "
          "is not possible, the fallback runs student code as an unprivileged user"),
    Cause(re.compile(r"execvp .*: No such file or directory", re.I),
          "the Python that runs the grader is not visible inside the sandbox",
          "install the grader in a Python environment outside /proc, /sys and /dev; report it as a bug "
          "with the output of grader doctor"),
)


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
