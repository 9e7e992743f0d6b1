"""grader/sandbox/platforms.py and `grader doctor`: where the grader runs, the kernel facts
that decide the sandbox, and what to do there when bubblewrap is not in force.

This machine is read for real; GitHub's runners, Gradescope, Docker, Kubernetes, Podman
and WSL are made-up folders laid out as their /etc and /proc are, handed to the
detection through its ``root`` argument."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from grader.sandbox import platforms
from grader.sandbox.diagnosis import by_key

UBUNTU_2404 = 'PRETTY_NAME="Ubuntu 24.04.2 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
NO_ENV: dict[str, str] = {}


def fake_root(
    tmp_path: Path,
    *,
    os_release: str = DEBIAN_12,
    kernel: str = "6.8.0-1021-azure",
    sysctls: dict[str, str] | None = None,
    uid: int = 1001,
    seccomp: int = 0,
    cgroup: str = "0::/\n",
    files: tuple[str, ...] = ("usr/bin/bwrap",),
) -> Path:
    """A folder laid out as a machine's /: /etc/os-release, /proc/sys, /proc/self/status,
    /proc/1/cgroup, and ``files`` (empty files or, ending in /, folders)."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(os_release)
    for name, value in {"kernel.osrelease": kernel, **(sysctls or {})}.items():
        path = root / "proc" / "sys" / name.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{value}\n")
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "status").write_text(
        f"Name:\tpython3\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{uid}\t{uid}\t{uid}\t{uid}\n"
        f"NoNewPrivs:\t0\nSeccomp:\t{seccomp}\nSeccomp_filters:\t{int(seccomp == 2)}\n"
    )
    (root / "proc" / "1").mkdir(parents=True)
    (root / "proc" / "1" / "cgroup").write_text(cgroup)
    for name in files:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    return root


# ------------------------------------------------------------------ this machine, for real
def test_this_machine_is_read_as_it_is() -> None:
    facts = platforms.detect(env=NO_ENV)
    assert facts.root is (os.geteuid() == 0)
    assert facts.kernel == platform.release()
    assert facts.bwrap is os.path.exists("/usr/bin/bwrap")
    for name in platforms.SYSCTLS:
        path = Path("/proc/sys", name.replace(".", "/"))
        assert facts.sysctls[name] == (path.read_text().strip() if path.exists() else None)
    status = Path("/proc/self/status").read_text()
    assert facts.seccomp == re.search(r"^Seccomp:\s*(\d)", status, flags=re.M).group(1)
    in_container = any(os.path.exists(p) for p in ("/.dockerenv", "/run/.containerenv"))
    assert (facts.container is not None) >= in_container
    assert facts.platform in {"gradescope", "container", "wsl", "linux"}
    assert (facts.platform == "container") is (
        facts.container is not None and not platforms.is_gradescope()
    )
    assert platforms.detect(env={"GITHUB_ACTIONS": "true"}).platform == "github-actions"


def test_every_fact_is_one_key_value_line() -> None:
    lines = platforms.detect().lines()
    keys = [line.split(": ", 1)[0] for line in lines]
    assert keys == [
        "platform",
        "os",
        "kernel",
        "container",
        *platforms.SYSCTLS,
        "root",
        "seccomp",
        "/usr/bin/bwrap",
    ]
    assert all(re.fullmatch(r"[\w./-]+: \S.*", line) for line in lines)


# ------------------------------------------------------------------ made-up machines
def test_github_ubuntu_2404_runner(tmp_path: Path) -> None:
    root = fake_root(
        tmp_path,
        os_release=UBUNTU_2404,
        sysctls={
            "kernel.apparmor_restrict_unprivileged_userns": "1",
            "kernel.unprivileged_userns_clone": "1",
            "user.max_user_namespaces": "63457",
        },
    )
    facts = platforms.detect(root, env={"GITHUB_ACTIONS": "true", "RUNNER_OS": "Linux"})
    assert (facts.platform, facts.os, facts.container, facts.wsl) == (
        "github-actions",
        "Ubuntu 24.04.2 LTS",
        None,
        None,
    )
    assert facts.describe() == "github-actions (Ubuntu 24.04.2 LTS)"
    assert facts.sysctls == {
        "kernel.unprivileged_userns_clone": "1",
        "user.max_user_namespaces": "63457",
        "kernel.apparmor_restrict_unprivileged_userns": "1",
    }
    assert (facts.root, facts.seccomp, facts.bwrap) == (False, "0", True)
    assert "kernel.apparmor_restrict_unprivileged_userns: 1" in facts.lines()
    for said in (
        "bubblewrap cannot create namespaces here (bwrap: setting up uid map: Permission denied)",
        "bwrap: something never seen",
    ):  # the message, or the facts
        cause, fix = platforms.advice(facts, said)
        assert cause == by_key("apparmor").cause
        assert "grader ci init" in fix and "AppArmor profile" in fix


def test_github_actions_wins_over_a_container_job(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files=(".dockerenv",), seccomp=2)
    facts = platforms.detect(root, env={"GITHUB_ACTIONS": "true"})
    assert (facts.platform, facts.container) == ("github-actions", "docker")
    assert "no `container:`" in platforms.advice(facts, "bwrap: x")[1]
    assert platforms.detect(root, env={"GITHUB_ACTIONS": "false"}).platform == "container"


@pytest.mark.parametrize("marker", ["autograder/run_autograder", "autograder/source/"])
def test_gradescope(tmp_path: Path, marker: str) -> None:
    root = fake_root(
        tmp_path,
        os_release=UBUNTU_2404,
        uid=0,
        seccomp=2,
        files=(".dockerenv", marker, "usr/bin/bwrap"),
    )
    facts = platforms.detect(root, env=NO_ENV)
    assert (facts.platform, facts.container, facts.root, facts.seccomp) == (
        "gradescope",
        "docker",
        True,
        "2",
    )
    assert "seccomp: 2 (filtered)" in facts.lines() and "root: yes" in facts.lines()
    cause, fix = platforms.advice(
        facts, "bwrap: Creating new namespace failed: Operation not permitted"
    )
    assert cause == by_key("container_policy").cause and "docs/gradescope.md" in fix


def test_an_autograder_folder_alone_is_not_gradescope(tmp_path: Path) -> None:
    root = fake_root(tmp_path, files=("autograder/notes.txt",))
    assert platforms.detect(root, env=NO_ENV).platform == "linux"


@pytest.mark.parametrize(
    ("files", "cgroup", "engine"),
    [
        ((".dockerenv",), "0::/\n", "docker"),
        (("run/.containerenv",), "0::/\n", "podman"),
        ((), "12:pids:/docker/3f1c0d\n11:memory:/docker/3f1c0d\n", "docker"),
        ((), "0::/system.slice/containerd.service\n", "containerd"),
        ((), "12:pids:/kubepods/burstable/pod1b2/docker-3f1c.scope\n", "kubernetes"),
    ],
    ids=["dockerenv", "podman", "cgroup v1 docker", "containerd", "kubepods"],
)
def test_containers(tmp_path: Path, files: tuple[str, ...], cgroup: str, engine: str) -> None:
    root = fake_root(tmp_path, uid=0, seccomp=2, cgroup=cgroup, files=files)
    facts = platforms.detect(root, env=NO_ENV)
    assert (facts.platform, facts.container) == ("container", engine)
    assert facts.describe() == f"container ({engine})"
    # A message no pattern knows: the filtered seccomp of a container points to its policy.
    cause, fix = platforms.advice(facts, "bwrap: something never seen")
    assert cause == by_key("container_policy").cause and "seccomp=unconfined" in fix


@pytest.mark.parametrize(
    ("kernel", "version"), [("5.15.153.1-microsoft-standard-WSL2", 2), ("4.4.0-19041-Microsoft", 1)]
)
def test_wsl(tmp_path: Path, kernel: str, version: int) -> None:
    facts = platforms.detect(fake_root(tmp_path, os_release=UBUNTU_2404, kernel=kernel), env=NO_ENV)
    assert (facts.platform, facts.wsl, facts.container) == ("wsl", version, None)
    assert facts.describe() == f"wsl (WSL {version})"
    cause, fix = platforms.advice(facts, "bwrap: Creating new namespace failed: Invalid argument")
    assert cause == by_key("no_user_namespaces").cause and "WSL 2" in fix


@pytest.mark.parametrize(
    ("sysctls", "key"),
    [
        ({"kernel.unprivileged_userns_clone": "0"}, "userns_clone"),
        ({"user.max_user_namespaces": "0"}, "max_user_namespaces"),
        ({"kernel.apparmor_restrict_unprivileged_userns": "1"}, "apparmor"),
    ],
)
def test_plain_linux_kernel_settings_point_to_their_cause(
    tmp_path: Path, sysctls: dict[str, str], key: str
) -> None:
    facts = platforms.detect(fake_root(tmp_path, sysctls=sysctls), env=NO_ENV)
    assert (facts.platform, facts.describe()) == ("linux", "linux (Debian GNU/Linux 12 (bookworm))")
    cause, fix = platforms.advice(facts, "bwrap: something never seen")
    assert (cause, fix) == (by_key(key).cause, by_key(key).fix)


def test_missing_bubblewrap(tmp_path: Path) -> None:
    why = "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt-get install bubblewrap"
    facts = platforms.detect(fake_root(tmp_path, files=()), env=NO_ENV)
    assert "/usr/bin/bwrap: missing" in facts.lines()
    assert platforms.advice(facts, why) == ("bubblewrap is not installed", platforms.INSTALL)


def test_nothing_readable_is_said_as_unknown(tmp_path: Path) -> None:
    facts = platforms.detect(tmp_path, env=NO_ENV)
    assert (facts.platform, facts.os, facts.root, facts.seccomp, facts.bwrap) == (
        "linux",
        None,
        None,
        None,
        False,
    )
    assert set(facts.sysctls.values()) == {None}
    assert facts.lines()[:3] == ["platform: linux", "os: unknown", "kernel: unknown"]
    assert "kernel.apparmor_restrict_unprivileged_userns: not applicable" in facts.lines()
    assert platforms.advice(facts, "bwrap: new")[0] is None


# ------------------------------------------------------------------ `grader doctor`, a real process
def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "doctor", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_prints_the_platform_the_facts_then_the_sandbox() -> None:
    proc = doctor(env={"GITHUB_ACTIONS": "", "GRADER_SANDBOX": ""})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    facts = platforms.detect(env=NO_ENV)
    assert lines[: len(facts.lines())] == facts.lines()
    keys = [line.split(": ", 1)[0] for line in lines if not line.startswith("  ")]
    assert keys[len(facts.lines()) :] == ["sandbox", "process and memory caps", "python"]
    assert any(line.startswith("sandbox: bubblewrap (") for line in lines)  # it works here

    as_json = json.loads(doctor("--json", env={"GITHUB_ACTIONS": ""}).stdout)
    assert as_json["platform"] == facts.as_dict()
    assert as_json["sandbox"]["kind"] == "bubblewrap" and as_json["sandbox"]["isolated"] is True


def test_doctor_names_github_actions() -> None:
    proc = doctor(env={"GITHUB_ACTIONS": "true"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("platform: github-actions")


def test_doctor_stops_when_bubblewrap_is_asked_for_and_cannot_run(tmp_path: Path) -> None:
    """What the workflow's `grader doctor --sandbox bubblewrap` does on a runner without
    it: exit 1, with the cause and the fix for this platform."""
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = doctor("--sandbox", "bubblewrap", env={"PATH": str(empty), "GITHUB_ACTIONS": ""})
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert any(
        line.startswith("sandbox: unavailable: the bubblewrap sandbox was asked for")
        for line in lines
    )
    assert "cause: bubblewrap is not installed" in lines
    assert any(line.startswith("fix: ") for line in lines)
    on_github = doctor(
        "--sandbox", "bubblewrap", "--json", env={"PATH": str(empty), "GITHUB_ACTIONS": "true"}
    )
    assert on_github.returncode == 1
    report = json.loads(on_github.stdout)
    assert report["sandbox"]["kind"] == "unavailable" and "grader ci init" in report["fix"]


def test_doctor_without_bubblewrap_says_why_and_what_to_do() -> None:
    proc = doctor("--sandbox", "subprocess")
    lines = proc.stdout.splitlines()
    # As root the fallback is confined: doctor says whether its users can run this Python
    # (not under /root, say), and a refusal is an exit of 1, as grading would refuse.
    refused = any(line.strip().startswith("refused: the grader runs as root") for line in lines)
    confined = any("student code runs as users of its own" in line for line in lines)
    assert (refused or confined) if os.geteuid() == 0 else not (refused or confined), lines
    assert proc.returncode == (1 if refused else 0), proc.stderr
    assert "cause: the plain subprocess was asked for" in lines
    assert any(line.startswith("fix: leave out --sandbox subprocess") for line in lines)
