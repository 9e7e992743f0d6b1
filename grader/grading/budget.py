"""A time budget for code that runs in the grader's own threads (judges, custom judges
included): past its budget, an exception is raised in the thread running it, so a
judge that walks a huge syntax tree or loops cannot stall a class's run.

One watchdog thread serves every budget. While a budget is armed, the watchdog may
raise ``OverBudget`` in its thread through ``PyThreadState_SetAsyncExc``; arming and
disarming happen under the watchdog's lock, so once ``within`` is left the watchdog
can no longer fire for it, and a raise it made that was not delivered yet is cleared.
Code under budget costs a lock and a dict entry: nothing while it keeps to its time.

Python delivers the exception between bytecodes: a single long call into C code (one
regular expression, one huge ``ast.parse``) is interrupted only when it returns, so
judges cap the size of what they analyse as well.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
import time
from types import TracebackType


class OverBudget(BaseException):
    """Raised in a thread whose budget ran out. A BaseException, so that a judge's own
    ``except Exception`` cannot swallow it."""


class _Armed:
    __slots__ = ("deadline", "thread", "fired")

    def __init__(self, deadline: float, thread: int) -> None:
        self.deadline = deadline
        self.thread = thread
        self.fired = False


# The watchdog fires an entry at most once, and takes it out of _armed when it does,
# under _lock; so an entry still in _armed has not fired, and one that is gone either
# fired or was disarmed. _lock is a plain lock, entered with ``with`` only in the
# judging thread's exit path: its C-level __enter__ cannot be interrupted half-way.
_lock = threading.Lock()
_changed = threading.Condition(_lock)
_armed: dict[int, _Armed] = {}
_wakes_at = math.inf  # when the watchdog looks next
_watchdog: threading.Thread | None = None


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    """Make ``thread`` raise ``exc`` at its next bytecode; None clears a pending one."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(exc) if exc is not None else None
    )


def _watch() -> None:
    global _wakes_at
    with _changed:
        while True:
            now = time.monotonic()
            for key, entry in list(_armed.items()):
                if entry.deadline <= now:
                    del _armed[key]
                    entry.fired = True
                    _raise_in(entry.thread, OverBudget)
            _wakes_at = min((e.deadline for e in _armed.values()), default=math.inf)
            _changed.wait(None if _wakes_at == math.inf else _wakes_at - now)


def _forget_watchdog() -> None:
    # A forked child has no watchdog thread (only the forking thread survives a fork).
    global _watchdog, _wakes_at, _lock, _changed
    _watchdog, _wakes_at = None, math.inf
    _lock = threading.Lock()
    _changed = threading.Condition(_lock)
    _armed.clear()


os.register_at_fork(after_in_child=_forget_watchdog)


class within:  # noqa: N801  (used as a function: ``with within(10):``)
    """Run the body within ``seconds``, or raise ``OverBudget`` in it (and from here).

    A body that returned in time is never interrupted afterwards; one that ran out of
    time raises ``OverBudget`` from here even if it caught the exception itself (one
    that catches BaseException and goes on looping cannot be stopped: judges are the
    instructor's code, not the student's)."""

    __slots__ = ("seconds", "_entry")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> within:
        global _watchdog
        entry = self._entry = _Armed(time.monotonic() + self.seconds, threading.get_ident())
        with _changed:
            if _watchdog is None or not _watchdog.is_alive():
                _watchdog = threading.Thread(target=_watch, name="judge-watchdog", daemon=True)
                _watchdog.start()
            if entry.deadline < _wakes_at:
                _changed.notify()
            _armed[id(entry)] = entry  # last: nothing can fire before the lock is let go
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        entry = self._entry
        with _lock:
            _armed.pop(id(entry), None)
        if not entry.fired:
            return False
        _raise_in(entry.thread, None)  # fired, but not delivered yet: cleared
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            return False  # Ctrl-C stays Ctrl-C
        raise OverBudget(f"not done within {self.seconds:g} s") from exc
