"""grader/sandbox/diagnosis.py: what bubblewrap says where it cannot run, in words, with
the fix. The messages are the ones bubblewrap and the job-namespace probe print."""

from __future__ import annotations

import pytest

from grader.sandbox.diagnosis import CAUSES, by_key, diagnose, explain

SEEN = [
    # GitHub's ubuntu-24.04 runners, Ubuntu 23.10+ (AppArmor)
    ("bwrap: setting up uid map: Permission denied", "apparmor_restrict_unprivileged_userns=0"),
    ("bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted", "apparmor_parser"),
    # Debian before 11, some hardened kernels
    (
        "bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
        "non-privileged user namespaces. On e.g. debian this can be enabled with "
        "'sysctl kernel.unprivileged_userns_clone=1'.",
        "unprivileged_userns_clone=1",
    ),
    ("bwrap: Creating new namespace failed: No space left on device", "max_user_namespaces"),
    # Docker's default seccomp profile and AppArmor policy
    ("bwrap: Creating new namespace failed: Operation not permitted", "seccomp=unconfined"),
    ("bwrap: Failed to make / slave: Permission denied", "seccomp=unconfined"),
    # WSL 1, kernels built without user namespaces: unshare(CLONE_NEWUSER) gives EINVAL
    ("bwrap: Creating new namespace failed: Invalid argument", "WSL 2"),
    # The job namespaces' probe (jobns.py)
    ("[Errno 1] unshare: Operation not permitted", "seccomp=unconfined"),
]


@pytest.mark.parametrize(("said", "fix"), SEEN)
def test_each_known_failure_has_its_cause_and_fix(said: str, fix: str) -> None:
    found = diagnose(said)
    assert found is not None, said
    assert fix in found.fix
    text = explain(said)
    assert text.startswith(said) and "cause: " in text and "fix: " in text


def test_an_unknown_message_is_left_as_it_is() -> None:
    assert diagnose("bwrap: something new") is None
    assert explain("bwrap: something new") == "bwrap: something new"


def test_every_cause_has_its_own_key() -> None:
    keys = [cause.key for cause in CAUSES]
    assert len(set(keys)) == len(keys)
    assert all(by_key(key).key == key for key in keys)


def test_the_apparmor_fix_prefers_the_profile_to_the_sysctl() -> None:
    """The profile lets bwrap alone create user namespaces; the sysctl, every program."""
    fix = by_key("apparmor").fix
    assert fix.index("apparmor_parser -r /etc/apparmor.d/bwrap") < fix.index("sysctl")
