"""grader/sandbox/confine.py: the confined fallback's users, permissions, probe and sweep.

The permission logic runs anywhere; what needs root (other users' ids, setuid, killing
their processes) runs as root only, with real processes of a real other user."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.sandbox import confine

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: other users' ids and setuid")
SYSTEM_PYTHON = next(
    (p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), None
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def course():
    """A course folder everyone can read (pytest's own tmp folders are root's alone), with
    a venv inside it (the worker needs that)."""
    base = Path(tempfile.mkdtemp(prefix="grader-confine-", dir="/var/tmp"))
    yield _make_course(base)
    shutil.rmtree(base, ignore_errors=True)


def _make_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for name in ("exercises/hidden", "solutions", ".venv/lib/site", "reports"):
        (root / name).mkdir(parents=True)
    (root / "solutions" / "a.py").write_text("secret")
    (root / "exercises" / "a.yaml").write_text("id: a")
    (root / ".venv" / "lib" / "site" / "torch.py").write_text("")
    (root / "course.yaml").write_text("title: t")
    (root / "link").symlink_to("/etc")
    for top, _dirs, files in os.walk(tmp_path):
        os.chmod(top, 0o755)
        for name in files:
            os.chmod(os.path.join(top, name), 0o644)
    return root


def test_close_off_closes_everything_but_the_way_to_what_is_needed(course: Path):
    venv = course / ".venv"
    changed = confine.close_off([course], [venv / "lib" / "site"])
    assert mode(course) == 0o751  # passable, not listable
    assert mode(course / "solutions") == 0o750
    assert mode(course / "exercises") == 0o750
    assert mode(course / "course.yaml") == 0o640
    assert mode(venv) == 0o751 and mode(venv / "lib") == 0o751
    assert mode(venv / "lib" / "site") == 0o755  # needed as a whole: untouched
    assert mode(course / "solutions" / "a.py") == 0o644  # behind a closed folder: left alone
    assert (
        os.path.islink(course / "link") and mode(Path("/etc")) & 0o005
    )  # links are never followed
    assert set(changed) == {
        course,
        course / "solutions",
        course / "exercises",
        course / "course.yaml",
        course / "reports",
        venv,
        venv / "lib",
    }
    assert confine.close_off([course], [venv / "lib" / "site"]) == []  # nothing more to do


def test_close_off_closes_a_folder_with_nothing_needed_inside_as_a_whole(course: Path):
    assert confine.close_off([course / "solutions", course / "course.yaml"], []) == [
        course / "solutions",
        course / "course.yaml",
    ]
    assert mode(course / "solutions") == 0o750 and mode(course / "exercises") == 0o755


def test_close_off_never_touches_the_machine_s_folders(tmp_path: Path):
    sticky = tmp_path / "shared"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    before = {p: mode(Path(p)) for p in ("/", "/tmp", "/usr")}
    assert (
        confine.close_off([Path("/"), Path("/tmp"), Path("/usr"), sticky, tmp_path / "missing"], [])
        == []
    )
    assert {p: mode(Path(p)) for p in before} == before
    assert mode(sticky) == 0o1777


def test_samples_go_shallow_first_and_stop(course: Path):
    found = confine.samples([course], per_path=3)
    assert found[0] == str(course) and len(found) == 4
    assert all(Path(p).parent == course for p in found[1:])


def test_reachable_paths_hold_this_python_and_torch():
    paths = confine.reachable_paths()
    assert Path(os.path.realpath(sys.prefix)) in paths
    import torch

    assert any(Path(torch.__file__).resolve().is_relative_to(p) for p in paths)


def test_the_refusal_says_what_to_do():
    text = confine.explain([f"user 5 can read /c/{i}" for i in range(8)])
    assert "root without bubblewrap" in text and "/c/0" in text and "and 3 more" in text
    assert "bubblewrap" in text and "/root" in text


# --------------------------------------------------------------------------- as root
@as_root
def test_each_slot_is_a_user_of_its_own_held_by_a_lock():
    first, second = confine.UserSlot.acquire(), confine.UserSlot.acquire()
    try:
        assert first.uid != second.uid and min(first.uid, second.uid) >= confine.uid_base()
        assert not confine._has_account(first.uid)
        lock = confine._lock_dir() / f"torch-grader-uid-{first.uid}.lock"
        # Another process (another grading run) cannot take a held slot.
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import fcntl, sys; f = open(sys.argv[1], 'a'); "
                "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)",
                str(lock),
            ],
            capture_output=True,
            text=True,
        )
        assert other.returncode != 0 and "BlockingIOError" in other.stderr
    finally:
        first.release()
        second.release()
    with open(lock, "a") as f:  # released: free again
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


@as_root
@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no system Python every user can run")
def test_the_probe_sees_what_the_user_can_read_and_write(course: Path):
    slot = confine.UserSlot.acquire()
    try:
        targets = [str(course / "solutions" / "a.py"), str(course / "solutions"), str(course)]
        os.chmod(course / "solutions", 0o777)
        problems = confine.probe(slot.uid, targets, [str(course / ".venv")], python=SYSTEM_PYTHON)
        assert f"user {slot.uid} can read {course / 'solutions' / 'a.py'}" in problems
        assert f"user {slot.uid} can write {course / 'solutions'}" in problems
        confine.close_off([course], [course / ".venv"])
        assert confine.probe(slot.uid, targets, [str(course / ".venv")], python=SYSTEM_PYTHON) == []
        assert confine.probe(slot.uid, [], [str(course / "solutions")], python=SYSTEM_PYTHON) == [
            f"user {slot.uid} cannot reach {course / 'solutions'}, which the sandbox needs"
        ]
        assert not list((course / "solutions").glob(".torch-grader-probe-*"))  # it cleans up
    finally:
        slot.release()


@as_root
def test_a_python_the_user_cannot_run_is_a_refusal(tmp_path: Path):
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    fake = hidden / "python"
    fake.symlink_to(SYSTEM_PYTHON or sys.executable)
    slot = confine.UserSlot.acquire()
    try:
        problems = confine.probe(slot.uid, [], [], python=str(fake))
        assert len(problems) == 1 and "cannot" in problems[0] and str(fake) in problems[0], problems
    finally:
        slot.release()


@as_root
def test_the_sweep_kills_every_process_of_the_user_and_clears_its_scratch():
    slot = confine.UserSlot.acquire()
    try:
        spared = subprocess.Popen(["sleep", "60"], user=slot.uid, group=slot.uid, extra_groups=[])
        # A process that forks a grandchild in a session of its own, and leaves files behind.
        subprocess.run(
            [
                "sh",
                "-c",
                "setsid sleep 60 & touch /tmp/left-$$ /dev/shm/left-$$; "
                "mkdir -p /tmp/deep-$$/a/b; sleep 60 & exit 0",
            ],
            user=slot.uid,
            group=slot.uid,
            extra_groups=[],
            check=True,
        )
        deadline = time.monotonic() + 5
        while len(confine._processes_of(slot.uid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(confine._processes_of(slot.uid)) == 3
        killed = confine.sweep_user(slot.uid, spare={spared.pid})
        assert killed == 2
        assert confine._processes_of(slot.uid) == [spared.pid]
        for folder in ("/tmp", "/dev/shm"):
            assert not [
                e for e in os.scandir(folder) if e.stat(follow_symlinks=False).st_uid == slot.uid
            ]
        spared.kill()
        spared.wait()
    finally:
        slot.release()
    assert confine._processes_of(slot.uid) == []
