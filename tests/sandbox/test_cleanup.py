"""grader/sandbox/cleanup.py: deleting what a sandbox wrote. A 5,000-level chain of
folders goes without recursion and with a handful of fds, links are removed and never
followed, folders made unreadable are removed too, and nothing inside makes it raise."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from grader.sandbox.cleanup import empty_folder, remove_tree


@pytest.fixture(autouse=True)
def leave_no_chain(tmp_path: Path):
    """Should a test fail and leave a deep chain, remove it with GNU rm (iterative):
    pytest's own cleanup of old temporary folders uses shutil.rmtree."""
    yield
    subprocess.run(["rm", "-rf", "--", str(tmp_path)], check=False, timeout=120)


def chain(top: Path, depth: int) -> Path:
    """``depth`` nested folders under ``top`` (made relative to each, so the path's
    length is no limit), with a file at the bottom."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("bottom", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)
    return top


def outside(tmp_path: Path) -> Path:
    """A classmate's folder that links point to: it must survive every removal."""
    folder = tmp_path / "classmate"
    (folder / "sub").mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    (folder / "sub" / "deep.txt").write_text("x")
    return folder


def intact(folder: Path) -> bool:
    return (folder / "result.json").is_file() and (folder / "sub" / "deep.txt").is_file()


def test_a_5000_level_chain_is_removed(tmp_path: Path) -> None:
    top = chain(tmp_path / "job", 5000)
    with pytest.raises(RecursionError):  # what the grader used before
        shutil.rmtree(top, ignore_errors=True)
    remove_tree(top)
    assert not top.exists() and list(tmp_path.iterdir()) == []


def test_a_deep_chain_needs_only_a_few_fds(tmp_path: Path) -> None:
    """In a process allowed 16 open fds: descending with an fd per level would run out
    after a dozen levels."""
    top = chain(tmp_path / "job", 3000)
    code = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
        from grader.sandbox.cleanup import remove_tree
        remove_tree(Path({str(top)!r}))
        print("gone" if not Path({str(top)!r}).exists() else "left")
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout.strip() == "gone", proc.stderr


def test_links_are_removed_never_followed(tmp_path: Path) -> None:
    classmate = outside(tmp_path)
    job = tmp_path / "job"
    (job / "out" / "a").mkdir(parents=True)
    (job / "out" / "to_dir").symlink_to(classmate)
    (job / "out" / "a" / "to_file").symlink_to(classmate / "result.json")
    (job / "out" / "a" / "relative").symlink_to("../../../classmate")
    (job / "work").symlink_to(classmate / "sub")
    (job / "dangling").symlink_to(tmp_path / "nowhere")
    remove_tree(job)
    assert not job.exists() and intact(classmate)


def test_a_job_folder_that_is_a_link_is_unlinked(tmp_path: Path) -> None:
    classmate = outside(tmp_path)
    job = tmp_path / "job"
    job.symlink_to(classmate)
    remove_tree(job)
    assert not os.path.lexists(job) and intact(classmate)
    job.symlink_to(classmate)
    empty_folder(job)  # a box that is a link: nothing is emptied through it
    assert intact(classmate)


def test_fifos_sockets_and_odd_names_are_removed(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / "out").mkdir(parents=True)
    os.mkfifo(job / "out" / "call-1.json")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(job / "out" / "sock"))
    server.close()
    for name in ("-rf", ".rm-1-0", "\n", "x" * 255):
        (job / name).write_text("x")
    (job / f".rm-{os.getpid()}-0").mkdir()  # where the cleanup may move things: taken already
    (job / f".rm-{os.getpid()}-0" / "f").write_text("x")
    remove_tree(job)
    assert not job.exists()


def test_empty_folder_keeps_the_folder(tmp_path: Path) -> None:
    box = tmp_path / "worker-0"
    chain(box, 50)
    (box / "job-1").mkdir()
    (box / "link").symlink_to(outside(tmp_path))
    empty_folder(box)
    assert box.is_dir() and list(box.iterdir()) == [] and intact(tmp_path / "classmate")


def test_nothing_there_is_not_an_error(tmp_path: Path) -> None:
    remove_tree(tmp_path / "absent")
    empty_folder(tmp_path / "absent")
    (tmp_path / "file").write_text("x")
    empty_folder(tmp_path / "file")
    assert (tmp_path / "file").exists()
    remove_tree(tmp_path / "file")
    assert not (tmp_path / "file").exists()


UNREADABLE = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from grader.sandbox.cleanup import remove_tree
    top = Path(sys.argv[1]) / "job"
    (top / "a" / "b" / "c").mkdir(parents=True)
    (top / "a" / "b" / "c" / "f").write_text("x")
    (top / "a" / "g").write_text("x")
    modes = {top / "a" / "b" / "c": 0, top / "a" / "b": 0o100, top / "a": 0o500, top: 0}
    for folder, mode in modes.items():
        os.chmod(folder, mode)
    try:
        os.listdir(top)
        print("readable")  # the test would prove nothing
    except PermissionError:
        remove_tree(top)
        print("gone" if not os.path.lexists(top) else "left")
""")


def without_dac_override() -> None:
    """In the child, before exec: root loses its power to read and search any folder
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so folder modes apply as to their owner."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def test_folders_made_unreadable_are_removed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", UNREADABLE, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=without_dac_override if os.geteuid() == 0 else None,
    )
    assert proc.stdout.strip() == "gone", proc.stderr
