"""Issue 14: attacks a red team found that the sandbox did not stop, one test per class.

Each test grades, with the real CLI and one bubblewrap worker (``--jobs 1``), the
attacker(s) and then honest classmates (copies of solutions/, every exercise) on the same
worker, and says everything that leaked or broke: the run must end (exit 0, reports
written), every honest classmate keeps full marks, the attacker earns nothing, and where
it matters nothing outside the job changed and no process of the attack survives.

Grading order: the grader starts three submissions at once (the reference solution's run
among them) and each later one as another finishes; the one worker takes them first
come, first served. Only the first ones race, so two filler students go first, and then
the attackers and their classmates run in the order of their names.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import issue14_attackers as attack
import pytest
from conftest import ROOT
from issue14 import (
    Findings,
    Run,
    exercise_files,
    forged_commands,
    fresh_mark,
    grade,
    honest_files,
    require_bubblewrap,
    snapshot,
    stub_files,
    write_class,
)

from grader.sandbox.choice import environment

HONEST = ["zh1_honest", "zh2_honest"]
FILLERS = ["a0_filler1", "a0_filler2"]  # first: they take the places that race for the worker


@pytest.fixture(autouse=True)
def _bubblewrap() -> None:
    require_bubblewrap()


def _class(
    attackers: dict[str | bytes, dict[str, str | bytes]],
    honest: list[str] = HONEST,
    fillers: bool = True,
) -> dict[str | bytes, dict[str, str | bytes]]:
    students: dict[str | bytes, dict[str, str | bytes]] = {}
    if fillers:
        students.update({name: {"tensor_ops.py": attack.WRONG} for name in FILLERS})
    students.update(attackers)
    for name in honest:
        students[name] = honest_files()
    return students


def _standard(
    found: Findings, run: Run, attackers: dict[str, str], honest: list[str] = HONEST
) -> None:
    """The run ended well, the honest classmates kept full marks, each attacker
    (student -> what it tried) earned nothing, and nothing of it still runs."""
    if found.run_completed(run):
        found.full_marks(run, honest)
        for student, what in attackers.items():
            found.earns_nothing(run, student, what)
    found.no_survivors(run)


# ------------------------------------------------------------------ 1. forged worker replies
@pytest.mark.slow
def test_forged_worker_replies_cost_no_classmate_anything(tmp_path: Path):
    """The attacker writes "job-N exited 0" lines for its own and the next 49 jobs into
    /proc/*/fd/1: one of them is the worker's reply pipe to the grader."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    write_class(subs, _class({"a_forger": {"tensor_ops.py": attack.forge_replies(mark)}}))
    before = snapshot(subs)
    run = grade(subs, tmp_path / "out", mark)
    _standard(found, run, {"a_forger": "forged worker replies"})
    found.unchanged(before, snapshot(subs), "the submissions folder")

    # Nothing wrong was cached: without the attacker and without --force, the honest
    # classmates' results (reused or graded again) are full marks.
    subprocess.run(["rm", "-rf", str(subs / "a_forger")], check=True)
    again = grade(subs, tmp_path / "out", mark)
    if found.run_completed(again, "the re-run without the attacker"):
        found.full_marks(again, HONEST, "after a re-run without the attacker: ")
    found.assert_none(f"forged worker replies (the attacker said: {run.said('a_forger')})")


# ------------------------------------------------------------------ 2. taking over PID 1
@pytest.mark.slow
def test_taking_over_pid1_and_a_daemon_tamper_with_no_later_job(tmp_path: Path):
    """The attacker ptrace-attaches the sandbox's PID 1 and writes code into it through
    /proc/1/mem that keeps starting a watcher, beside a double-forked setsid daemon: the
    watcher replaces honest classmates' files with failing code and hands their solutions
    to an accomplice whose own files are the stubs."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    students = _class({"a_takeover": {"tensor_ops.py": attack.take_over_pid1(mark)}})
    students["zz_accomplice"] = stub_files(f"accomplice {mark}")
    write_class(subs, students)
    before = snapshot(subs)
    run = grade(subs, tmp_path / "out", mark)
    _standard(found, run, {"a_takeover": "taking over PID 1"})
    found.earns_nothing(run, "zz_accomplice", "the accomplice of a daemon that copies solutions")
    found.unchanged(before, snapshot(subs), "the submissions folder")
    found.assert_none(f"taking over PID 1 (the attacker said: {run.said('a_takeover')})")


# ------------------------------------------------------------------ 3. FIFOs
@pytest.mark.slow
def test_fifos_in_the_job_folder_do_not_block_the_run(tmp_path: Path):
    """runner.log, out/status.json and an earlier check's result become FIFOs (nobody
    ever writes them); in another job, out/ itself becomes a FIFO."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    write_class(
        subs,
        _class(
            {
                "a_fifo_files": {"tensor_ops.py": attack.fifo_files(mark)},
                "a_fifo_out": {"tensor_ops.py": attack.fifo_out(mark)},
            }
        ),
    )
    run = grade(subs, tmp_path / "out", mark)
    limit = 240.0  # a normal run of this class takes well under a minute
    found.check(
        run.seconds < limit,
        f"the run took {run.seconds:.0f} s (limit {limit:.0f} s; killed at 600 s)",
    )
    _standard(
        found,
        run,
        {
            "a_fifo_files": "FIFOs for runner.log, status.json and results",
            "a_fifo_out": "out/ as a FIFO",
        },
    )
    found.assert_none(
        f"FIFOs (the attackers said: {run.said('a_fifo_files')} / {run.said('a_fifo_out')})"
    )


# ------------------------------------------------------------------ 4. crashes
NOT_UTF8 = b"stud\xff\xfe"


@pytest.mark.slow
def test_hostile_outputs_and_names_do_not_crash_the_run(tmp_path: Path):
    """Results of 200,000 nested '[', a module whose parameter shape holds "x", a notebook
    of 200,000 nested '[', a folder name that is not UTF-8, and safetensors files of
    200,000 zero-size tensors."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    attackers: dict[str | bytes, dict[str, str | bytes]] = {
        "c1_deep_json": {"tensor_ops.py": attack.deep_json(mark)},
        "c2_module_x": {"regression_model.py": attack.module_x(mark)},
        "c3_deep_notebook": {"tensor_ops.ipynb": attack.DEEP_NOTEBOOK},
        "c4_zero_tensors": {"tensor_ops.py": attack.zero_size_tensors(mark)},
        NOT_UTF8: {"tensor_ops.py": attack.WRONG},
    }
    write_class(subs, _class(attackers))
    run = grade(subs, tmp_path / "out", mark)
    found.check(run.seconds < 240, f"the run took {run.seconds:.0f} s")
    _standard(
        found,
        run,
        {
            "c1_deep_json": "results of 200,000 nested [",
            "c2_module_x": "a module parameter shape holding 'x'",
            "c3_deep_notebook": "a notebook of 200,000 nested [",
            "c4_zero_tensors": "200,000 zero-size tensors",
        },
    )
    if run.data is not None:
        # Graded under some readable id, or left out: either way it earns nothing.
        odd = [s["id"] for s in run.data["students"] if s["id"].startswith("stud")]
        found.check(len(odd) <= 1, f"the folder {NOT_UTF8!r} is in the results twice: {odd}")
        for student in odd:
            found.earns_nothing(run, student, "a folder name that is not UTF-8")
    found.assert_none("hostile outputs and names")


# ------------------------------------------------------------------ 5. state between jobs
@pytest.mark.slow
def test_no_state_passes_from_one_job_to_the_next(tmp_path: Path):
    """Attacker A leaves a value in SysV shared memory, a SysV message queue, POSIX
    shared memory, the session and user keyrings and an abstract socket held by a
    lingering process; attacker B, next on the same worker, answers right only if it
    finds any of them."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    write_class(
        subs,
        _class(
            {
                "s1_leaver": {"tensor_ops.py": attack.state_leaver(mark)},
                "s2_finder": {"tensor_ops.py": attack.state_finder(mark)},
            }
        ),
    )
    try:
        run = grade(subs, tmp_path / "out", mark)
    finally:
        left_here = _remove_marked_keys(mark)
    _standard(
        found, run, {"s1_leaver": "leaving state", "s2_finder": "finding an earlier job's state"}
    )
    found.check(
        "found from an earlier job: nothing" in run.said("s2_finder"),
        f"the next job found state of the earlier one: {run.said('s2_finder')}",
    )
    found.check(
        not left_here,
        f"keys of the attacker reached this machine's keyrings (removed now): {left_here}",
    )
    found.assert_none(f"state between jobs (the leaver said: {run.said('s1_leaver')})")


def _keyctl(*args: object) -> int:
    numbers = {"x86_64": 250, "aarch64": 219}
    if platform.machine() not in numbers:
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(numbers[platform.machine()], *args))


def _remove_marked_keys(mark: str) -> list[str]:
    """Keys the attacker added that this process can see; invalidated here."""
    found = []
    for ring, number in (("session", -3), ("user", -4)):
        desc = f"{mark}-{ring}".encode()
        serial = _keyctl(10, ctypes.c_long(number), b"user", desc, 0)  # KEYCTL_SEARCH
        if serial > 0:
            found.append(f"{ring} keyring: {desc.decode()}")
            _keyctl(21, ctypes.c_long(serial))  # KEYCTL_INVALIDATE
    return found


# ------------------------------------------------------------------ 6. symlinks to others' outputs
@pytest.mark.slow
def test_links_to_a_classmates_outputs_earn_nothing(tmp_path: Path):
    """Each attacker is followed by an honest classmate. It learns its box's path on
    this machine from /proc/self/mountinfo and makes, in its own job: out/ a link to the
    next job's live out/ (the path made inside the sandbox too, so that its own job ends
    normally); out/call-*.json links to the next job's results, kept in place by a child
    for seconds; out/ a link to the honest classmate's submission folder. Its files are
    '# nothing here'. The grader reads the attacker's results while the next job runs
    (about a second here): to read its later exercises when the next job has written
    theirs, the attacker's activations.py ends in a never-run assignment to a few hundred
    names, which the grader's code reading takes a while over (quadratic before issue
    14). The right delay depends on the machine, so three out/ links try three."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    attackers = {  # student -> (its first file, names in its activations.py)
        "l1a_out_link": (attack.steal_next_out(mark), 150),
        "l1b_out_link": (attack.steal_next_out(mark), 250),
        "l1c_out_link": (attack.steal_next_out(mark), 350),
        "l2_call_links": (attack.steal_next_calls(mark), 500),
        "l3_subs_link": (attack.link_out_to(mark, str(subs / "l3z_honest")), 0),
    }
    students = _class({}, honest=[])
    for name, (code, names) in attackers.items():
        files = {file: attack.NOTHING for file in exercise_files()}
        files[exercise_files()[0]] = code
        files["activations.py"] = attack.NOTHING + (attack.never_run_names(names) if names else "")
        students[name] = files
        students[name.split("_")[0] + "z_honest"] = honest_files()
    write_class(subs, students)
    honest = [n for n in students if isinstance(n, str) and n.endswith("z_honest")]
    before = snapshot(subs)
    run = grade(subs, tmp_path / "out", mark)
    _standard(found, run, {name: "links to another job's outputs" for name in attackers}, honest)
    found.unchanged(before, snapshot(subs), "the submissions folder")
    found.assert_none(f"links to a classmate's outputs (l2 said: {run.said('l2_call_links')})")


# ------------------------------------------------------------------ 7. run-ending files
def test_deep_folders_and_renamed_job_folders_do_not_end_the_run(tmp_path: Path):
    """A chain of 3,000 folders in the job's work/ and in /tmp; code that renames its own
    job folder; code that renames out/."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    write_class(
        subs,
        _class(
            {
                "r1_deep_work": {"tensor_ops.py": attack.deep_folders(mark, "work")},
                "r2_deep_tmp": {"tensor_ops.py": attack.deep_folders(mark, "/tmp")},
                "r3_rename_job": {"tensor_ops.py": attack.rename_job(mark)},
                "r4_rename_out": {"tensor_ops.py": attack.rename_out(mark)},
            }
        ),
    )
    run = grade(subs, tmp_path / "out", mark)
    _standard(
        found,
        run,
        {
            "r1_deep_work": "3,000 folders in work/",
            "r2_deep_tmp": "3,000 folders in /tmp",
            "r3_rename_job": "renaming its job folder",
            "r4_rename_out": "renaming out/",
        },
    )
    found.assert_none("run-ending files")


# ------------------------------------------------------------------ 8. slow code reading
@pytest.mark.slow
def test_a_file_with_20000_names_is_judged_in_reasonable_time(tmp_path: Path):
    """A 150 KB activations.py ending in a never-run ``if False: a0, ..., a19999 = 0``:
    the judges that read code (forbidden calls) must not take ages over it."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    code = attack.many_names_activations()
    assert len(code) > 140_000
    write_class(subs, _class({"n_many_names": {"activations.py": code}}))
    run = grade(subs, tmp_path / "out", mark, timeout=300)
    found.check(run.seconds < 120, f"the run took {run.seconds:.0f} s (limit 120 s)")
    _standard(found, run, {"n_many_names": "20,000 names"})
    found.assert_none("a file with 20,000 names")


# ------------------------------------------------------------------ 9. SIGSTOP
@pytest.mark.slow
def test_sigstop_costs_only_the_check_that_sent_it(tmp_path: Path):
    """column_mean sends SIGSTOP to its parent, to every process (-1) and to its own
    group (0). The check fails as stopped or timed out, and the file costs at most its
    check's time limit and a few seconds: the run's wall time with the attacker, against
    the same class without it."""
    from grader.course.loading import load_course

    limit = next(ex.limits.time for ex in load_course(ROOT).exercises if ex.id == "tensor-ops")
    mark, found = fresh_mark(), Findings()
    alone, subs = tmp_path / "alone", tmp_path / "subs"
    write_class(alone, _class({}))
    write_class(subs, _class({"p_sigstop": {"tensor_ops.py": attack.sigstop(mark)}}))
    base = grade(alone, tmp_path / "alone-out", mark)
    run = grade(subs, tmp_path / "out", mark)
    found.run_completed(base, "the run without the attacker")
    _standard(found, run, {"p_sigstop": "SIGSTOP"})
    cost = run.seconds - base.seconds
    found.check(
        cost < limit + 15,
        f"the attacker cost {cost:.0f} s of wall time ({run.seconds:.0f} s against "
        f"{base.seconds:.0f} s without it); its check's limit is {limit:g} s",
    )
    student = run.student("p_sigstop")
    if student is not None:
        ex = next(e for e in student["exercises"] if e["id"] == "tensor-ops")
        stopped = [c for c in ex["checks"] if c["entry"] == "column_mean"][0]
        found.check(
            stopped["status"] in ("timeout", "error")
            and re.search(r"stop|time|within|signal", stopped["message"], re.I) is not None,
            f"the stopped check says {stopped['status']}: {stopped['message']!r}",
        )
    found.assert_none(f"SIGSTOP (the attacker said: {run.said('p_sigstop')})")


# ------------------------------------------------------------------ 10. workflow commands
WORKFLOW_NAME = "m_x\n::set-output name=result::PWNED\n::error::folder"


@pytest.mark.slow
def test_a_folder_name_cannot_forge_workflow_commands(tmp_path: Path):
    """A student folder whose name holds newlines and workflow commands. Graded with
    GITHUB_ACTIONS=true beside honest classmates; alone with --gradescope (and
    GITHUB_ACTIONS=true); and with its classmates and --gradescope, which the grader
    refuses (one submission only) in a message that names the students. No line of the
    grader's stdout or stderr is a workflow command it did not write."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    write_class(subs, _class({WORKFLOW_NAME: {"tensor_ops.py": attack.WRONG}}, fillers=False))
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "github-output.txt"),
        "GITHUB_WORKSPACE": str(tmp_path),
    }
    plain = {key: None for key in github}
    runs = {  # label -> (submissions, extra arguments, environment)
        "class on GitHub": (subs, [], github),
        "alone, --gradescope on GitHub": (
            subs / WORKFLOW_NAME,
            ["--gradescope", str(tmp_path / "gs1.json")],
            github,
        ),
        "class, --gradescope": (subs, ["--gradescope", str(tmp_path / "gs2.json")], plain),
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {
            label: pool.submit(grade, folder, tmp_path / f"out-{i}", mark, *args, env=env)
            for i, (label, (folder, args, env)) in enumerate(runs.items())
        }
        done = {label: future.result() for label, future in futures.items()}
    for label, run in done.items():
        for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            forged = forged_commands(text)
            found.check(
                not forged, f"{label}, {stream}: workflow commands outside a fence: {forged[:5]}"
            )
    run = done["class on GitHub"]
    if found.run_completed(run, "the class run on GitHub"):
        found.full_marks(run, HONEST)
        found.earns_nothing(run, _student_like(run, "m_x"), "a folder named with workflow commands")
    run = done["alone, --gradescope on GitHub"]
    if found.run_completed(run, "the --gradescope run"):
        found.earns_nothing(run, _student_like(run, "m_x"), "a folder named with workflow commands")
        found.check((tmp_path / "gs1.json").is_file(), "--gradescope wrote no results file")
    found.check(
        done["class, --gradescope"].returncode is not None,
        "the refused --gradescope run did not end",
    )
    found.assert_none("workflow commands in a folder name")


def _student_like(run: Run, prefix: str) -> str:
    """The id the grader gave a student whose folder name starts with ``prefix``."""
    ids = [
        s["id"] for s in (run.data or {"students": []})["students"] if s["id"].startswith(prefix)
    ]
    return ids[0] if len(ids) == 1 else f"<one student named {prefix}...: {ids}>"


# ------------------------------------------------------------------ 11. what a job can see
def test_a_job_sees_no_host_environment_and_no_other_job(tmp_path: Path):
    """Two spies on the same worker read every /proc/*/environ they can and their
    /proc/self/mountinfo: no variable of the grader's environment or this machine's PATH
    or HOME, and no other job's folder."""
    mark, found = fresh_mark(), Findings()
    subs = tmp_path / "subs"
    write_class(
        subs,
        _class(
            {
                "j1_spy": {"tensor_ops.py": attack.spy(mark)},
                "j2_spy": {"tensor_ops.py": attack.spy(mark)},
            }
        ),
    )
    run = grade(subs, tmp_path / "out", mark)
    _standard(found, run, {"j1_spy": "spy", "j2_spy": "spy"})
    seen = {name: _spied(run, name, mark) for name in ("j1_spy", "j2_spy")}
    allowed = {**environment("/x"), "PWD": ""}  # bubblewrap sets PWD to its --chdir
    host = {
        key: os.environ[key]
        for key in ("PATH", "HOME", "PWD")
        if os.environ.get(key) and os.environ[key] != allowed.get(key)
    }
    for name, spied in seen.items():
        if not found.check(spied is not None, f"{name} did not report what it saw"):
            continue
        for pid, variables in spied["environ"].items():
            pairs = [v.split("=", 1) for v in variables if "=" in v]
            foreign = sorted({k for k, _ in pairs if k not in allowed})
            leaked = sorted({k for k, v in pairs if (k in host and v == host[k]) or str(ROOT) in v})
            found.check(
                not foreign and not leaked,
                f"{name} read /proc/{pid}/environ: variables "
                f"{foreign} that the sandbox does not set, and this machine's {leaked}",
            )
        # Its own folder is mounted at its job path: the host name of that one is its own.
        own = _own_host_folders(spied)
        others = set().union(
            *(_own_host_folders(s) for other, s in seen.items() if other != name and s)
        )
        jobs = set(re.findall(r"job-[0-9a-f]+", spied["mountinfo"])) - own
        found.check(
            not jobs and not (others & jobs),
            f"{name} ({spied['job']}) sees other jobs' folders in /proc/self/mountinfo: {jobs}",
        )
    found.assert_none("what a job can see")


def _own_host_folders(spied: dict) -> set[str]:
    """The host name of the folder mounted at the spy's own job path."""
    return {
        m.group(1)
        for m in re.finditer(r"/(job-[0-9a-f]+) (\S+) ", spied["mountinfo"])
        if m.group(2).rsplit("/", 1)[-1] == spied["job"]
    }


def _spied(run: Run, student: str, mark: str) -> dict | None:
    s = run.student(student)
    for ex in s["exercises"] if s else []:
        for c in ex["checks"]:
            at = c.get("output", "").find("SPY" + mark)
            if at >= 0:
                line = c["output"][at + 3 + len(mark) :].splitlines()[0]
                try:
                    return json.loads(line)
                except ValueError:
                    return None
    return None
