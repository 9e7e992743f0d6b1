"""Deleting what a sandbox wrote: without recursion, without following links, with a
bounded number of open fds whatever the depth, and never raising for what is inside.

Student code may leave a chain of thousands of nested folders (``shutil.rmtree``
recurses and raises RecursionError, which ``ignore_errors`` does not cover), links to
anywhere (which must be removed, never followed), or folders it made unreadable. So
each folder is opened relative to its parent's fd with ``O_NOFOLLOW``, and a folder
found inside is flattened: its entries are renamed up into the top folder and the
emptied folder removed, so the work is a loop over one folder, never a descent.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
TAKEN = (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR)  # rename's "name in use"


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything in it; a link or a file is just unlinked. The
    folders above ``path`` are the grader's own (they may be followed)."""
    _clear(path, keep=False)


def empty_folder(path: Path) -> None:
    """Delete everything in the folder ``path`` and keep the folder."""
    _clear(path, keep=True)


def _clear(path: Path, keep: bool) -> None:
    try:
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        try:
            top = _open_dir(path.name, parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and not keep:  # a link or a file
                with contextlib.suppress(OSError):
                    os.unlink(path.name, dir_fd=parent)
            return
        try:
            _empty(top)
        finally:
            os.close(top)
        if not keep:
            with contextlib.suppress(OSError):
                os.rmdir(path.name, dir_fd=parent)
    finally:
        os.close(parent)


def _open_dir(name: str, parent: int) -> int:
    """A folder's fd, relative to its parent's, never through a link; a folder made
    unreadable (mode 000) is given back to its owner first."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        _grant(name, parent)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    with contextlib.suppress(OSError):
        mode = os.fstat(fd).st_mode
        if mode & 0o700 != 0o700:  # unlinking and renaming inside need write and search
            os.fchmod(fd, mode | 0o700)
    return fd


def _grant(name: str, parent: int) -> None:
    """Give the folder ``name`` read, write and search to its owner, through an
    O_PATH fd (it opens a folder without reading it, and never a link)."""
    handle = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        os.chmod(f"/proc/self/fd/{handle}", 0o700)  # the folder itself: the fd is no link
    finally:
        os.close(handle)


def _names(folder: int) -> Iterator[str]:
    """The names in a folder, read as the folder changes (one more fd while it runs)."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                yield entry.name
    except OSError:
        return


def _empty(top: int) -> None:
    """Empty the folder ``top``: files and links unlinked, folders flattened into it;
    passes over it until it is empty or a pass changes nothing."""
    fresh = (f".rm-{os.getpid()}-{n}" for n in itertools.count())
    while True:
        changed = False
        for name in _names(top):
            try:
                os.unlink(name, dir_fd=top)
                changed = True
            except IsADirectoryError:
                changed |= _flatten(top, name, fresh)
            except OSError:
                pass
        if not changed:
            return


def _flatten(top: int, name: str, fresh: Iterator[str]) -> bool:
    """Move what the folder ``name`` holds up into ``top``, then remove it."""
    try:
        folder = _open_dir(name, top)
    except OSError:
        return False
    moved = False
    try:
        for entry in _names(folder):
            granted = False
            for new in fresh:
                try:
                    os.rename(entry, new, src_dir_fd=folder, dst_dir_fd=top)
                    moved = True
                    break
                except PermissionError:
                    if granted:
                        break
                    granted = True  # a folder moved elsewhere needs write permission on itself
                    with contextlib.suppress(OSError):
                        _grant(entry, folder)
                except OSError as exc:
                    if exc.errno not in TAKEN:
                        break
    finally:
        os.close(folder)
    try:
        os.rmdir(name, dir_fd=top)
        return True
    except OSError:
        return moved
