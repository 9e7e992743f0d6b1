"""grader/sandbox/protocol/reading.py: reading a finished job folder as hostile bytes. Links at
any component, FIFOs, sockets, folders, oversize, truncated, deeply nested or malformed
files each give an explained ``Unreadable`` (or "missing"), promptly, and never an
exception; every guard has a test here that fails without it."""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save

from grader.sandbox.protocol import layout, reading
from grader.sandbox.protocol.reading import JobFolder, Unreadable, Values, read_runner_log
from grader.sandbox.protocol.values import TensorValue, encode_outputs

CALL = "call-c0"


def write_result(out: Path, stem: str, kept: dict[str, Any]) -> None:
    """As the runner writes a check's values."""
    specs, tensors = encode_outputs(kept)
    if tensors:
        (out / layout.tensors_name(stem)).write_bytes(save(tensors))
    (out / layout.json_name(stem)).write_text(json.dumps({"status": "ok", "values": specs}))


def make_job(
    root: Path, name: str = "job-1", value: float = 1.0, printed: str = "hello world"
) -> Path:
    folder = root / name
    out = folder / layout.OUT
    out.mkdir(parents=True)
    write_result(out, CALL, {"result": torch.full((3,), value)})
    (out / "status.json").write_text(
        json.dumps(
            {
                "calls": {"c0": {"how": "done", "code": 0, "seconds": 0.1}},
                "output": {CALL: [1, 0, len(printed.encode())]},
            }
        )
    )
    (out / layout.output_log(1)).write_text(printed)
    (folder / layout.RUNNER_LOG).write_text(f"log of {name}")
    return folder


def prompt(fn: Callable[[], Any], fifo: Path | None = None, seconds: float = 10.0) -> Any:
    """``fn()``, which must return within ``seconds``: a reader that blocks on a FIFO
    fails the test instead of hanging it (the FIFO is then opened for writing, which
    frees the blocked reader)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: B036 - reported below
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"the reader blocked for {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def unreadable(got: Any, *words: str) -> str:
    assert isinstance(got, Unreadable), got
    for word in words:
        assert word in got.reason, got.reason
    assert got.message.startswith("the sandbox's output was unreadable: ")
    return got.reason


# ------------------------------------------------------------------ an honest job
def test_an_honest_job_reads_back(tmp_path: Path) -> None:
    with JobFolder(make_job(tmp_path)) as job:
        got = job.values(CALL)
        assert isinstance(got, Values) and got.record["status"] == "ok"
        result = got.values["result"]
        assert isinstance(result, TensorValue) and torch.equal(result.data, torch.ones(3))
        assert job.output(CALL, 100) == "hello world"
        assert job.output(CALL, 5) == "hello\n[output truncated after 5 characters]"
        assert job.call_status("c0")["how"] == "done"
        assert job.values("call-absent") is None and job.call_status("absent") == {}
    assert read_runner_log(tmp_path / "job-1", 4) == "log "


def test_a_missing_job_folder_is_unreadable(tmp_path: Path) -> None:
    with JobFolder(tmp_path / "nothing") as job:
        unreadable(job.values(CALL), "the job folder is missing")
        assert job.output(CALL, 10) == "" and job.call_status("c0") == {}


@pytest.mark.slow
def test_a_job_that_deletes_its_own_folder_costs_only_itself(tmp_path: Path) -> None:
    """Through the real CLI and sandbox: the run goes on, the classmate after it on the
    same worker is graded as usual, and the report says what happened."""
    from conftest import ROOT, exercise, results, run_grader, write_student

    solution = (ROOT / "solutions" / "tensor_ops.py").read_text()
    deletes = "import os, shutil\nshutil.rmtree(os.path.dirname(os.environ['HOME']))\n"
    write_student(tmp_path / "subs", "a_deleter", {"tensor_ops.py": deletes + solution})
    write_student(tmp_path / "subs", "b_honest", {"tensor_ops.py": solution})
    proc = run_grader(
        "grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--jobs", "1"
    )
    assert proc.returncode == 0, proc.stderr
    data = results(tmp_path / "out")
    deleted = exercise(data, "a_deleter", "tensor-ops")
    # Its folder is a mount point in its own namespace: its contents go, the folder stays,
    # and the student's process, whose files vanished under it, ends while loading.
    assert deleted["score"] == 0, deleted
    assert (
        "the job folder is missing" in deleted["message"]
        or "ended the process while loading" in deleted["message"]
    ), deleted["message"]
    honest = exercise(data, "b_honest", "tensor-ops")
    assert honest["score"] == honest["max_score"]


# ------------------------------------------------------------------ links
FILES = [
    f"{layout.OUT}/{CALL}.json",
    f"{layout.OUT}/{CALL}.safetensors",
    f"{layout.OUT}/status.json",
    f"{layout.OUT}/{layout.output_log(1)}",
]


@pytest.mark.parametrize("rel", ["", layout.OUT, *FILES])
def test_a_link_at_any_component_is_refused(tmp_path: Path, rel: str) -> None:
    """The job folder, its out/ or any file in it replaced by a link to a classmate's
    live job folder: the classmate's results are never read as the attacker's."""
    classmate = make_job(tmp_path, "job-2", value=7.0, printed="classmate's output")
    attacker = make_job(tmp_path, "job-1", value=0.0, printed="mine")
    target = attacker / rel if rel else attacker
    if target.is_dir():
        os.rename(target, tmp_path / "gone")
    else:
        target.unlink()
    target.symlink_to(os.path.relpath(classmate / rel if rel else classmate, target.parent))
    with JobFolder(attacker) as job:
        got, printed, status = job.values(CALL), job.output(CALL, 100), job.call_status("c0")
    if rel.endswith("status.json"):
        assert (printed, status) == ("", {})  # no status: no output shown, no status known
    elif rel.endswith(".log"):
        assert printed == ""
    else:
        unreadable(got, "symbolic link")
        assert printed in ("", "mine")
    assert not (
        isinstance(got, Values) and torch.equal(got.values["result"].data, torch.full((3,), 7.0))
    )
    assert "classmate" not in printed


def test_a_linked_runner_log_is_not_read(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("solution")
    (job / layout.RUNNER_LOG).unlink()
    (job / layout.RUNNER_LOG).symlink_to(secret)
    assert read_runner_log(job, 100) == ""


# ------------------------------------------------------------------ not regular files
@pytest.mark.parametrize("rel", FILES)
def test_a_fifo_returns_at_once(tmp_path: Path, rel: str) -> None:
    job = make_job(tmp_path)
    (job / rel).unlink()
    os.mkfifo(job / rel)
    with JobFolder(job) as folder:
        got = prompt(
            lambda: (folder.values(CALL), folder.output(CALL, 100), folder.call_status("c0")),
            fifo=job / rel,
        )
        reason = prompt(lambda: folder.read(rel, 100), fifo=job / rel)
    unreadable(reason, "not a regular file")
    if rel.endswith((".json", ".safetensors")) and "status" not in rel:
        unreadable(got[0], "not a regular file")


def test_a_fifo_runner_log_returns_at_once(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    (job / layout.RUNNER_LOG).unlink()
    os.mkfifo(job / layout.RUNNER_LOG)
    assert prompt(lambda: read_runner_log(job, 100), fifo=job / layout.RUNNER_LOG) == ""


def test_a_socket_or_a_folder_is_not_a_file(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    (job / FILES[0]).unlink()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(job / FILES[0]))
    try:
        with JobFolder(job) as folder:
            unreadable(folder.values(CALL), "not a regular file")
    finally:
        server.close()
    (job / FILES[0]).unlink()
    (job / FILES[0]).mkdir()
    with JobFolder(job) as folder:
        unreadable(folder.values(CALL), "not a regular file")


def test_a_device_is_not_a_file(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    (job / FILES[0]).unlink()
    try:
        os.mknod(job / FILES[0], 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: endless
    except PermissionError:
        pytest.skip("making a device needs CAP_MKNOD")
    with JobFolder(job) as folder:
        unreadable(prompt(lambda: folder.values(CALL)), "not a regular file")


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_out_as_something_else_is_not_a_folder(tmp_path: Path, kind: str) -> None:
    job = make_job(tmp_path)
    os.rename(job / layout.OUT, tmp_path / "gone")
    if kind == "fifo":
        os.mkfifo(job / layout.OUT)
    else:
        (job / layout.OUT).write_text("{}")
    with JobFolder(job) as folder:
        unreadable(
            prompt(lambda: folder.values(CALL), fifo=job / layout.OUT), "out is not a folder"
        )


# ------------------------------------------------------------------ sizes
def test_an_oversize_file_is_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    """Sparse files one byte over each cap: refused from their size, so reading them
    costs no memory (a bounded read alone would still read the cap)."""
    job = make_job(tmp_path)
    os.truncate(job / FILES[0], reading.MAX_JSON_BYTES + 1)
    tracemalloc.start()
    try:
        with JobFolder(job) as folder:
            unreadable(folder.values(CALL), "larger than")
        os.truncate(job / FILES[0], 0)
        write_result(job / layout.OUT, CALL, {"result": torch.ones(1)})
        os.truncate(job / FILES[1], reading.MAX_TENSOR_FILE_BYTES + 1)
        with JobFolder(job) as folder:
            unreadable(folder.values(CALL), "larger than")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_a_read_is_bounded_whatever_the_size_said() -> None:
    """/dev/zero never ends: the read stops one byte past the cap."""
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        assert prompt(lambda: len(reading.read_bounded(fd, 1000))) == 1001
    finally:
        os.close(fd)


def test_a_log_is_read_up_to_its_cap(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    (job / layout.RUNNER_LOG).write_bytes(b"x" * 100_000)
    assert read_runner_log(job, 64) == "x" * 64


# ------------------------------------------------------------------ JSON
@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[" * 200_000, "nested too deeply"),  # the parser's own recursion
        (b'{"a":' + b"[" * 500 + b"]" * 500 + b"}", "nested more than"),  # within it: the depth cap
        (b'{"status": "ok", "values": {"r": {"t": "int", "v": 1', "not valid JSON"),  # truncated
        (b"\xff\xfe{}", "not valid JSON"),
        (b"1" * 5000, "not valid JSON"),  # an int too long to parse
        (b"[1]", "does not hold an object"),
    ],
)
def test_malformed_json(tmp_path: Path, raw: bytes, words: str) -> None:
    job = make_job(tmp_path)
    (job / FILES[0]).write_bytes(raw)
    with JobFolder(job) as folder:
        unreadable(folder.values(CALL), words)
        unreadable(folder.record(CALL), words)


def test_depth_is_measured_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert reading.too_deep({"a": deep}, 80)
    assert not reading.too_deep({"a": [[{}]]}, 4)


def test_decoding_problems_are_unreadable_too(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    (job / FILES[1]).unlink()  # the tensor its JSON names is gone
    with JobFolder(job) as folder:
        unreadable(folder.values(CALL), "missing from the results file")
    (job / FILES[0]).write_text(
        json.dumps({"status": "ok", "values": {"r": {"t": "size", "v": ["x"]}}})
    )
    with JobFolder(job) as folder:
        unreadable(folder.values(CALL), "malformed size")


# ------------------------------------------------------------------ safetensors
def safetensors_file(header: Any, data: bytes = b"", size: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if size is None else size) + text + data


F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\x01\x00", "truncated"),
        (safetensors_file({"a": F32}, b"\0" * 8, size=2**40), "length is out of bounds"),
        (safetensors_file({"a": F32}, b"\0" * 8, size=10**6), "length is out of bounds"),
        (safetensors_file([1, 2]), "does not hold an object"),
        (struct.pack("<Q", 3) + b"{{{", "not valid JSON"),
        (safetensors_file({"__metadata__": {"k": 1}}), "malformed metadata"),
        (safetensors_file({"a": {**F32, "dtype": "F4"}}, b"\0" * 8), "no known dtype"),
        (safetensors_file({"a": {**F32, "dtype": "F8_E8M0"}}, b"\0" * 8), "no known dtype"),
        (safetensors_file({"a": "F32"}, b"\0" * 8), "no known dtype"),
        (safetensors_file({"a": {**F32, "shape": [2, "x"]}}, b"\0" * 8), "malformed shape"),
        (safetensors_file({"a": {**F32, "shape": [-2]}}, b"\0" * 8), "malformed shape"),
        (safetensors_file({"a": {**F32, "shape": [1] * 65}}, b"\0" * 8), "malformed shape"),
        (
            safetensors_file({"a": {**F32, "shape": [0, 2**63]}, "b": F32}, b"\0" * 8),
            "does not match",
        ),
        (safetensors_file({"a": {**F32, "data_offsets": [0, 16]}}, b"\0" * 8), "out of bounds"),
        (safetensors_file({"a": {**F32, "data_offsets": [8, 0]}}, b"\0" * 8), "out of bounds"),
        (safetensors_file({"a": {**F32, "data_offsets": [0, 4]}}, b"\0" * 8), "does not match"),
        (safetensors_file({"a": {**F32, "data_offsets": [0]}}, b"\0" * 8), "out of bounds"),
        (
            safetensors_file({"a": F32, "b": F32}, b"\0" * 8),
            "not a valid safetensors file",
        ),  # overlap
        (
            safetensors_file(
                {"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"
            ),
            "bools other than 0 and 1",
        ),
    ],
)
def test_bad_safetensors_headers(tmp_path: Path, raw: bytes, words: str) -> None:
    job = make_job(tmp_path)
    (job / FILES[1]).write_bytes(raw)
    with JobFolder(job) as folder:
        unreadable(prompt(lambda: folder.values(CALL)), words)


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (reading.MAX_TENSORS + 1, f"more than {reading.MAX_TENSORS} tensors"),
        (60_000, f"more than {reading.MAX_TENSORS} tensors"),  # a header just under its cap
        (200_000, "length is out of bounds"),  # its header alone is over the cap
    ],
)
def test_a_huge_tensor_count_is_refused_from_the_header(
    tmp_path: Path, count: int, words: str
) -> None:
    """200,000 zero-size tensors cost safetensors 290 MB: refused before it sees them."""
    job = make_job(tmp_path)
    entry = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    (job / FILES[1]).write_bytes(safetensors_file({f"{i}": entry for i in range(count)}))
    with JobFolder(job) as folder:
        unreadable(folder.values(CALL), words)


class PanicException(BaseException):
    """What pyo3 raises when Rust code panics: a BaseException, so ``except Exception``
    lets it through."""


def test_a_safetensors_panic_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """safetensors 0.8 returns errors for every header that passes our checks, so the
    library's loader is made to panic here, as older versions did."""
    import safetensors.torch

    def panics(data: bytes) -> dict:
        raise PanicException("called `Option::unwrap()` on a `None` value")

    job = make_job(tmp_path)
    monkeypatch.setattr(safetensors.torch, "load", panics)
    with JobFolder(job) as folder:
        unreadable(folder.values(CALL), "PanicException")

    def interrupted(data: bytes) -> dict:
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "load", interrupted)
    with JobFolder(job) as folder, pytest.raises(KeyboardInterrupt):
        folder.values(CALL)


# ------------------------------------------------------------------ any damage
@st.composite
def damage(draw: st.DrawFn) -> tuple[str, str, int, bytes]:
    rel = draw(st.sampled_from(FILES))
    how = draw(st.sampled_from(["truncate", "overwrite", "insert"]))
    return rel, how, draw(st.integers(0, 400)), draw(st.binary(min_size=1, max_size=16))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(damage(), min_size=1, max_size=3))
def test_damaged_outputs_give_only_typed_outcomes(
    tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[str, str, int, bytes]]
) -> None:
    job = make_job(tmp_path_factory.mktemp("damaged"))
    for rel, how, at, data in changes:
        raw = (job / rel).read_bytes()
        at = min(at, len(raw))
        raw = (
            raw[:at]
            if how == "truncate"
            else raw[:at] + data + raw[at + (len(data) if how == "overwrite" else 0) :]
        )
        (job / rel).write_bytes(raw)
    with JobFolder(job) as folder:
        got = folder.values(CALL)
        assert got is None or isinstance(got, (Values, Unreadable))
        assert isinstance(folder.output(CALL, 100), str)
        assert isinstance(folder.call_status("c0"), dict)
        assert isinstance(folder.record("status"), (dict, Unreadable, type(None)))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    status=st.recursive(
        st.none() | st.integers(-2, 2**70) | st.text(max_size=4),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(["calls", "output", "c0", CALL]), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_any_status_record_gives_text_and_a_status(
    tmp_path_factory: pytest.TempPathFactory, status: Any
) -> None:
    job = make_job(tmp_path_factory.mktemp("status"))
    (job / FILES[2]).write_text(json.dumps({"calls": {"c0": status}, "output": {CALL: status}}))
    with JobFolder(job) as folder:
        assert isinstance(folder.output(CALL, 100), str)
        assert isinstance(folder.call_status("c0"), dict)


# ------------------------------------------------------------------ the grader's messages
@pytest.fixture(scope="module")
def planned() -> tuple[Any, list]:
    """The course's first exercise, an honest submission of it, its planned checks."""
    from conftest import ROOT

    from grader.course.loading import load_course
    from grader.grading.plan import build_plan
    from grader.submissions.folders import collect

    course = load_course(ROOT)
    ex = course.exercises[0]
    submission = collect(ROOT / "examples" / "submissions" / "ada_correct", course)
    return submission.files[ex.id], build_plan(course, 0).checks[ex.id]


def judged(job: Path, planned: tuple[Any, list]) -> Any:
    """The exercise judged from ``job`` as its finished job folder."""
    from grader.grading.grader import Execution, ExerciseGrader
    from grader.sandbox.choice import JobEnd

    sub, checks = planned
    execution = Execution(JobFolder(job), JobEnd("exited", 0, 0.1, ""))
    try:
        return ExerciseGrader(checks, sub, execution, lambda pc: None).grade()
    finally:
        execution.folder.close()


def classmates_job(root: Path, planned: tuple[Any, list]) -> Path:
    """A finished job whose every check says "ok" with a value."""
    sub, checks = planned
    job = root / "classmate"
    out = job / layout.OUT
    out.mkdir(parents=True)
    (out / layout.json_name(layout.load_stem(sub.exercise.file))).write_text('{"status": "ok"}')
    for pc in checks:
        if pc.probe is not None:
            write_result(out, layout.call_stem(pc.probe.call_id), {"result": torch.ones(3)})
    return job


def test_a_linked_out_folder_is_the_checks_message_not_a_classmates_results(
    tmp_path: Path, planned: tuple[Any, list]
) -> None:
    classmate = classmates_job(tmp_path, planned)
    attacker = tmp_path / "attacker"
    attacker.mkdir()
    (attacker / layout.OUT).symlink_to("../classmate/out")
    result = judged(attacker, planned)
    assert result.score == 0 and result.status == "error"
    assert result.message == "the sandbox's output was unreadable: out is a symbolic link"
    assert all(
        c.message.startswith("not run: the sandbox's output was unreadable") for c in result.checks
    )
    assert classmate.exists()


def test_a_fifo_result_is_that_checks_message(tmp_path: Path, planned: tuple[Any, list]) -> None:
    job = classmates_job(tmp_path, planned)
    probe = next(pc for pc in planned[1] if pc.probe is not None)
    result_file = job / layout.OUT / layout.json_name(layout.call_stem(probe.probe.call_id))
    result_file.unlink()
    os.mkfifo(result_file)
    result = prompt(lambda: judged(job, planned), fifo=result_file)
    check = next(c for c in result.checks if c.name == probe.spec.name)
    assert check.status == "error" and check.score == 0
    assert check.message == (
        f"{probe.spec.entry}: the sandbox's output was unreadable: "
        f"out/{result_file.name} is not a regular file"
    )


# ------------------------------------------------------------------ found by mutation testing
def test_a_file_of_exactly_its_cap_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / layout.OUT).mkdir(parents=True)
    (job / "a").write_bytes(b"x" * 100)
    (job / "b").write_bytes(b"y" * 101)
    with JobFolder(job) as folder:
        assert folder.read("a", 100) == b"x" * 100
        refused = folder.read("b", 100)
        assert isinstance(refused, Unreadable) and refused.reason == "b is larger than 100 bytes"
        assert folder.read("b", 100, head=True) == b"y" * 100
        assert folder.read_text("b", 100) == "y" * 100


def test_a_read_returns_cap_plus_one_bytes_across_many_chunks(tmp_path: Path) -> None:
    """One more byte than allowed says "too large"; reads of 64 KiB at a time, joined."""
    data = bytes(range(256)) * 1200  # 307,200 bytes: five reads
    path = tmp_path / "big"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert reading.read_bounded(fd, 100_000) == data[:100_001]
        os.lseek(fd, 0, os.SEEK_SET)
        assert reading.read_bounded(fd, 10**6, size=len(data)) == data
        os.lseek(fd, 0, os.SEEK_SET)
        assert reading.read_bounded(fd, 10**6, size=10) == data  # the size hint is a hint
    finally:
        os.close(fd)


def test_text_that_is_not_utf8_is_read_with_replacement_characters(tmp_path: Path) -> None:
    job = make_job(tmp_path, printed="x")
    (job / layout.OUT / layout.output_log(1)).write_bytes(b"caf\xe9 \xff!")
    (job / layout.RUNNER_LOG).write_bytes(b"log \xff")
    status = json.loads((job / layout.OUT / "status.json").read_text())
    status["output"][CALL] = [1, 0, 7]
    (job / layout.OUT / "status.json").write_text(json.dumps(status))
    with JobFolder(job) as folder:
        assert folder.output(CALL, 100) == "caf\ufffd \ufffd!"
        assert folder.read_text(layout.RUNNER_LOG, 100) == "log \ufffd"


@pytest.mark.parametrize(
    ("span", "cap", "expected"),
    [
        ([1, 3, 3], 100, ""),  # nothing printed
        ([1, 5, 3], 100, ""),  # an end before the start
        ([1, 0, 5], 5, "01234"),  # exactly the cap: whole, no note
        ([1, 2, 8], 6, "234567"),  # from the middle
        ([1, 0, 6], 5, "01234\n[output truncated after 5 characters]"),
        ([1, 4, 10], 5, "45678\n[output truncated after 5 characters]"),
    ],
)
def test_an_output_span_is_cut_at_its_cap(
    tmp_path: Path, span: list[int], cap: int, expected: str
) -> None:
    job = make_job(tmp_path, printed="0123456789")
    status = json.loads((job / layout.OUT / "status.json").read_text())
    status["output"][CALL] = span
    (job / layout.OUT / "status.json").write_text(json.dumps(status))
    with JobFolder(job) as folder:
        assert folder.output(CALL, cap) == expected


LONG_KEY = "k" * 50


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\0" * 7, "t.st is truncated"),
        (b"\0" * 8, "t.st is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            safetensors_file({LONG_KEY: {**F32, "dtype": "F4"}}, b"\0" * 8),
            f"t.st: tensor {'k' * 40!r} has no known dtype",
        ),
        (
            safetensors_file({LONG_KEY: {**F32, "shape": [-1]}}, b"\0" * 8),
            f"t.st: tensor {'k' * 40!r} has a malformed shape",
        ),
        (
            safetensors_file({LONG_KEY: {**F32, "data_offsets": [0, 9]}}, b"\0" * 8),
            f"t.st: tensor {'k' * 40!r} has data offsets out of bounds",
        ),
        (
            safetensors_file({LONG_KEY: {**F32, "shape": [3]}}, b"\0" * 8),
            f"t.st: tensor {'k' * 40!r} does not match its dtype and shape",
        ),
        (
            safetensors_file({"__metadata__": {"a": "b"}, "x": {"y": [[1]]}}),
            "t.st: the header is nested too deeply",
        ),
    ],
)
def test_a_malformed_safetensors_header_says_what_is_wrong(raw: bytes, message: str) -> None:
    found = reading.check_safetensors(raw, "t.st")
    assert isinstance(found, Unreadable) and found.reason == message


def test_headers_at_their_limits_are_accepted() -> None:
    """The edges the checks allow: a second tensor at a later offset, an empty tensor
    (equal offsets), metadata, MAX_DIMS dimensions, MAX_TENSORS tensors."""
    two = {
        "__metadata__": {"format": "pt"},
        "a": F32,
        "b": {"dtype": "F32", "shape": [3], "data_offsets": [8, 20]},
        "empty": {"dtype": "F32", "shape": [0], "data_offsets": [20, 20]},
        "deep": {"dtype": "U8", "shape": [1] * reading.MAX_DIMS, "data_offsets": [20, 21]},
    }
    raw = safetensors_file(two, b"\0" * 21)
    assert reading.check_safetensors(raw, "t.st") is None
    loaded = reading.load_safetensors(raw, "t.st")
    assert isinstance(loaded, dict) and loaded["b"].shape == (3,) and loaded["empty"].numel() == 0
    many = {
        f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]}
        for i in range(reading.MAX_TENSORS)
    }
    assert (
        reading.check_safetensors(safetensors_file(many, b"\0" * reading.MAX_TENSORS), "t") is None
    )
    more = {**many, "__metadata__": {"k": "v"}}
    assert (
        reading.check_safetensors(safetensors_file(more, b"\0" * reading.MAX_TENSORS), "t") is None
    )
    too_many = {**many, "extra": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}
    refused = reading.check_safetensors(
        safetensors_file(too_many, b"\0" * reading.MAX_TENSORS), "t"
    )
    assert isinstance(refused, Unreadable)
    assert refused.reason == f"t holds more than {reading.MAX_TENSORS} tensors"


def test_true_bools_load_and_other_bytes_do_not() -> None:
    header = {"a": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}}
    loaded = reading.load_safetensors(safetensors_file(header, b"\x01\x00\x01"), "t")
    assert isinstance(loaded, dict) and loaded["a"].tolist() == [True, False, True]
    refused = reading.load_safetensors(safetensors_file(header, b"\x01\x02\x00"), "t")
    assert isinstance(refused, Unreadable)
    assert refused.reason == "t: tensor 'a' holds bools other than 0 and 1"
