"""The speed benchmark's parts: generated submissions, the floor, memory sampling.

bench/speed.py itself is not run end to end here (CI runs `python bench/speed.py --quick`).
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def _bench_module(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # speed.py imports make_submissions as a sibling
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make = _bench_module("make_submissions")
floor = _bench_module("floor")
speed = _bench_module("speed")

COURSE_FILES = make.course_files()


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _without_header(text: str) -> str:
    first, rest = text.split("\n", 1)
    assert first.startswith("# submitted by s")
    return rest


def _looping_functions(source: str) -> list[str]:
    """Top-level functions holding a `while True:` whose body is only `pass`."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.While)
                    and isinstance(inner.test, ast.Constant)
                    and inner.test.value is True
                    and not inner.orelse
                    and all(isinstance(s, ast.Pass) for s in inner.body)
                ):
                    found.append(node.name)
    return found


@pytest.fixture(scope="module")
def class_of_40(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("gen") / "subs"
    return out, make.generate(out, 40, seed=0)


def test_course_has_eleven_files() -> None:
    assert len(COURSE_FILES) == 11
    assert "tensor_ops" in COURSE_FILES


def test_generation_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = make.generate(tmp_path / "a", 15, seed=7)
    b = make.generate(tmp_path / "b", 15, seed=7)
    c = make.generate(tmp_path / "c", 15, seed=8)
    assert a == b
    tree_a, tree_b, tree_c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert tree_a == tree_b
    assert (a, tree_a) != (c, tree_c)


def test_kinds_are_in_the_specified_proportions(class_of_40: tuple[Path, dict[str, str]]) -> None:
    out, kinds = class_of_40
    counts = Counter(kinds.values())
    assert set(counts) == {"correct", "wrong", "timeout"}
    assert sum(counts.values()) == 40
    assert 20 <= counts["correct"] <= 28
    assert 10 <= counts["wrong"] <= 18
    assert 1 <= counts["timeout"] <= 3
    assert list(kinds) == [f"s{i:04d}" for i in range(1, 41)]


def test_folder_holds_only_student_folders_of_allowed_files(
    class_of_40: tuple[Path, dict[str, str]],
) -> None:
    out, kinds = class_of_40
    assert sorted(p.name for p in out.iterdir()) == sorted(kinds)
    allowed = {f"{name}.py" for name in COURSE_FILES}
    for student, kind in kinds.items():
        folder = out / student
        assert folder.is_dir()
        names = {p.name for p in folder.iterdir()}
        assert names <= allowed, names - allowed
        assert all((folder / n).is_file() for n in names)
        if kind != "wrong":
            assert names == allowed


def test_files_differ_between_students(class_of_40: tuple[Path, dict[str, str]]) -> None:
    out, kinds = class_of_40
    correct = [s for s, k in kinds.items() if k == "correct"][:2]
    first, second = ((out / s / "tensor_ops.py").read_text() for s in correct)
    assert first != second
    assert _without_header(first) == _without_header(second)


def test_correct_students_hold_the_solutions(class_of_40: tuple[Path, dict[str, str]]) -> None:
    out, kinds = class_of_40
    for student in (s for s, k in kinds.items() if k == "correct"):
        for name in COURSE_FILES:
            text = (out / student / f"{name}.py").read_text()
            assert text.startswith(f"# submitted by {student}\n")
            assert _without_header(text) == (ROOT / "solutions" / f"{name}.py").read_text()


def test_wrong_students_have_real_mistakes(class_of_40: tuple[Path, dict[str, str]]) -> None:
    out, kinds = class_of_40
    seen = Counter()
    for student in (s for s, k in kinds.items() if k == "wrong"):
        changed = 0
        for name in COURSE_FILES:
            path = out / student / f"{name}.py"
            if not path.exists():
                seen["missing"] += 1
                changed += 1
                continue
            body = _without_header(path.read_text())
            if body == (ROOT / "solutions" / f"{name}.py").read_text():
                continue
            changed += 1
            try:
                compile(body, str(path), "exec")
            except SyntaxError:
                seen["syntax"] += 1
                continue
            seen["stub" if "raise NotImplementedError" in body else "ben"] += 1
            assert not _looping_functions(body)
        assert 1 <= changed <= 4, student
    assert seen["ben"] and seen["missing"] and seen["syntax"] and seen["stub"], seen


def test_timeout_students_loop_forever_in_one_entry_point(
    class_of_40: tuple[Path, dict[str, str]],
) -> None:
    out, kinds = class_of_40
    for student in (s for s, k in kinds.items() if k == "timeout"):
        text = (out / student / f"{make.TIMEOUT_FILE}.py").read_text()
        compile(text, "tensor_ops.py", "exec")
        assert _looping_functions(text) == [make.TIMEOUT_ENTRY]
        for name in COURSE_FILES:
            if name != make.TIMEOUT_FILE:
                body = _without_header((out / student / f"{name}.py").read_text())
                assert body == (ROOT / "solutions" / f"{name}.py").read_text()


def test_small_classes_have_no_timeouts_and_ten_have_one(tmp_path: Path) -> None:
    assert "timeout" not in make.generate(tmp_path / "six", 6).values()
    assert Counter(make.generate(tmp_path / "ten", 10).values())["timeout"] == 1


def test_generate_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    with pytest.raises(FileExistsError):
        make.generate(tmp_path, 3)


# --------------------------------------------------------------------------- floor
def test_the_alarm_stops_an_endless_loop_that_catches_exception() -> None:
    import signal

    def stubborn() -> None:
        while True:
            try:
                while True:
                    pass
            except Exception:  # must not swallow the alarm
                pass

    old = signal.signal(signal.SIGALRM, floor._alarm)
    try:
        with pytest.raises(floor.Overtime):
            floor.limited(stubborn, 0.2)
        assert floor.limited(lambda: 42, 1.0) == 42
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def floor_run(tmp_path_factory: pytest.TempPathFactory, class_of_40: tuple[Path, dict[str, str]]):
    """The floor of one correct, one wrong, one timing-out and one exiting student."""
    out, kinds = class_of_40
    picked = {
        kind: next(s for s, k in kinds.items() if k == kind)
        for kind in ("correct", "wrong", "timeout")
    }
    subs = tmp_path_factory.mktemp("floor") / "subs"
    for student in picked.values():
        shutil.copytree(out / student, subs / student)
    exiting = subs / "zz_exits"
    exiting.mkdir()
    (exiting / "tensor_ops.py").write_text("import sys\nsys.exit(3)\n")
    (exiting / "activations.py").write_text(
        "import os\n\ndef relu(x):\n    raise SystemExit(1)\n\ndef sigmoid(x):\n    os.chdir('/')\n"
        "    return x\n"
    )
    outcomes: dict[str, Counter] = {}
    total, per_student = floor.floor_seconds(ROOT, subs, seed=0, outcomes=outcomes)
    return picked, subs, total, per_student, outcomes


def test_floor_of_a_correct_student_is_small_and_runs_every_check(floor_run) -> None:
    picked, _, total, per_student, outcomes = floor_run
    student = picked["correct"]
    assert 0 < per_student[student] < 5
    counts = outcomes[student]
    assert counts["ok"] > 50
    assert counts["error"] == counts["timeout"] == counts["load-failed"] == 0
    assert total >= sum(per_student.values()) - 0.01


def test_floor_of_a_timing_out_student_costs_its_check_limits(floor_run) -> None:
    from grader.course.loading import load_course
    from grader.grading.plan import build_plan

    picked, subs, _, per_student, outcomes = floor_run
    student = picked["timeout"]
    looping = _looping_functions((subs / student / "tensor_ops.py").read_text())[0]
    course = load_course(ROOT)
    ex = next(e for e in course.exercises if e.file == "tensor_ops")
    calls = build_plan(course, 0).job_for([ex], 0)["files"][0]["calls"]
    hit = [c for c in calls if any(s.get("target") == looping for s in c["steps"])]
    assert hit
    limit = sum(float(c["timeout"]) for c in hit)
    assert outcomes[student]["timeout"] == len(hit)
    assert limit <= per_student[student] < limit + 5


def test_floor_survives_sys_exit_and_wrong_work(floor_run) -> None:
    picked, _, _, per_student, outcomes = floor_run
    assert per_student[picked["wrong"]] < 5
    exits = outcomes["zz_exits"]
    assert exits["load-failed"] == 1  # tensor_ops exits while importing
    assert exits["error"] >= 4  # relu's checks raise SystemExit
    assert exits["ok"] >= 1


# --------------------------------------------------------------------------- speed.py parts
def test_memory_sampling_sees_a_child_process(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        "'import time; x = bytearray(60_000_000); time.sleep(0.5)'])"
    )
    run = speed.measure([sys.executable, "-c", code], tmp_path / "log", timeout=60)
    assert run.ok
    assert run.peak_rss_kib > 60_000_000 / 1024
    assert run.peak_pss_kib > 50_000_000 / 1024
    assert 0.5 <= run.seconds < 30


def test_report_rows_are_aligned() -> None:
    report = speed.Report()
    report.add("a", "1.0 s", "< 2 s", True)
    report.add("a longer name", "3.0 s", "< 2 s", False)
    report.na("c", "why")
    lines = report.render().splitlines()
    assert lines[2].endswith("PASS") and lines[3].endswith("MISS") and lines[4].endswith("n/a")
    assert lines[2].index("1.0 s") == lines[3].index("3.0 s") == lines[4].index("n/a: why")
    assert lines[2].index("< 2 s") == lines[3].index("< 2 s")
