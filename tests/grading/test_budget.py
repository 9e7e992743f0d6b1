"""The judges' time budget (grader/grading/budget.py): a judge that never returns is stopped
within its budget, one that returns in time is never interrupted afterwards, and
budgets cost nothing that a thousand quick judges would notice. Real threads, the real
watchdog; nothing faked."""

from __future__ import annotations

import threading
import time

import pytest

from grader.grading.budget import OverBudget, within


def spin(seconds: float = float("inf")) -> int:
    """Python work (bytecodes, so the interruption can land), for ``seconds``."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
    return n


def test_a_judge_that_loops_forever_is_stopped_within_its_budget():
    started = time.monotonic()
    with pytest.raises(OverBudget, match="not done within 0.3 s"):
        with within(0.3):
            spin()
    assert 0.3 <= time.monotonic() - started < 1.3


def test_catching_exception_does_not_keep_a_judge_running():
    def stubborn() -> None:
        while True:
            try:
                spin()
            except Exception:  # a judge's own error handling: not for the budget
                pass

    with pytest.raises(OverBudget):
        with within(0.2):
            stubborn()


def test_a_judge_that_turns_the_interruption_into_another_error_is_still_over_budget():
    def converts() -> None:
        try:
            spin()
        except BaseException:
            raise ValueError("the judge's own error") from None

    with pytest.raises(OverBudget) as info:
        with within(0.2):
            converts()
    assert isinstance(info.value.__cause__, ValueError)


def test_a_judge_that_returns_in_time_is_never_interrupted_later():
    with within(0.2):
        value = spin(0.05)
    assert value > 0
    spin(0.6)  # well past the budget, in the same thread: nothing is raised here


def test_returning_right_at_the_deadline_never_leaks_an_interruption():
    """Bodies that end about when their budget does: each either raises from ``within``
    or not at all, never later (the watchdog's raise is cleared when it lost the race)."""
    outcomes = []
    for _ in range(100):
        try:
            with within(0.004):
                spin(0.004)
            outcomes.append("in time")
        except OverBudget:
            outcomes.append("over")
        spin(0.002)  # an interruption that leaked would land here, outside the handler
    assert len(outcomes) == 100


def test_a_thousand_quick_judges_are_not_slowed():
    started = time.perf_counter()
    for _ in range(1000):
        with within(15):
            pass
    assert time.perf_counter() - started < 0.25  # about 10 µs each here


def test_budgets_in_several_threads_stop_only_their_own_judge():
    results: dict[str, str] = {}

    def judge(name: str, seconds: float, budget: float) -> None:
        try:
            with within(budget):
                spin(seconds)
            results[name] = "returned"
        except OverBudget:
            results[name] = "over"

    threads = [
        threading.Thread(target=judge, args=(f"loops{i}", float("inf"), 0.3)) for i in range(3)
    ]
    threads += [threading.Thread(target=judge, args=(f"quick{i}", 0.1, 5.0)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == {
        **{f"loops{i}": "over" for i in range(3)},
        **{f"quick{i}": "returned" for i in range(3)},
    }


def test_ctrl_c_stays_ctrl_c():
    def interrupted() -> None:
        try:
            spin()
        except OverBudget:
            raise KeyboardInterrupt from None

    with pytest.raises(KeyboardInterrupt):
        with within(0.1):
            interrupted()
