"""Grading on a real Dask cluster: ``distributed.LocalCluster`` with 2 worker processes,
each grading with the real sandbox and pool.

- A run on the cluster gives the results of a local run, and a re-run sends only what
  changed.
- A worker killed mid-run (SIGKILL) costs nothing: its job runs again elsewhere, every
  student is saved exactly once, and the summary counts the job run again.
- A plain install needs no Dask: without ``--cluster`` nothing of it is imported, and
  with ``--cluster`` but no Dask the error says what to install.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_grader
from test_incremental import comparable, stored_rows

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "submissions"


def class_of(tmp_path: Path, copies: int) -> Path:
    """Ada (full marks) and Ben (typical mistakes), and renamed copies of both."""
    subs = tmp_path / "subs"
    for name in ("ada_correct", "ben_typical_mistakes"):
        shutil.copytree(EXAMPLES / name, subs / name)
        for i in range(copies):
            shutil.copytree(EXAMPLES / name, subs / f"{name.split('_')[0]}_copy{i}")
    return subs


# Appended to a correct tensor_ops.py: looks for the course's files (the hidden helpers,
# the exercise files) wherever a grader could have put them, and prints what it saw.
PROBE = """

import os as _os

_seen = []
for _top in ("/tmp", "/var/tmp", "/dev/shm", "/sandbox", "/root", "/home", "/work", "/check", "/opt"):
    for _dir, _dirs, _files in _os.walk(_top):
        if "training_loop.yaml" in _files or _os.path.basename(_dir) == "hidden":
            _seen.append(_dir)
print("course files seen:", _seen or "none")
"""  # noqa: E501 (the probe's code, kept as written)


def test_the_cluster_grades_as_a_local_run_does_and_a_rerun_sends_only_what_changed(tmp_path: Path):
    subs = class_of(tmp_path, copies=1)
    shutil.copytree(EXAMPLES / "ada_correct", subs / "eve_probe")
    with open(subs / "eve_probe" / "tensor_ops.py", "a", encoding="utf-8") as f:
        f.write(PROBE)
    local = run_grader("grade", str(subs), "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    first = run_grader("grade", str(subs), "--out", str(tmp_path / "dask"), "--cluster", "local:2")
    assert first.returncode == 0, first.stderr
    assert "grading on a local Dask cluster of 2 worker processes" in first.stderr
    assert "graded 5 submissions" in first.stderr and "no job needed a second run" in first.stderr
    assert comparable(tmp_path / "dask") == comparable(tmp_path / "local")
    assert len(stored_rows(tmp_path / "dask")) == 5 * 11
    # The course went to the Dask workers; their sandboxes saw none of it (bubblewrap's
    # promise: the fallback sandbox cannot keep files from student code).
    data = comparable(tmp_path / "dask")
    eve = next(s for s in data["students"] if s["id"] == "eve_probe")
    ops = next(e for e in eve["exercises"] if e["id"] == "tensor-ops")
    assert ops["score"] == ops["max_score"] and "course files seen:" in ops["output"], ops
    if data["sandbox"] == "bubblewrap":
        assert "course files seen: none" in ops["output"], ops["output"]

    target = subs / "ben_copy0" / "tensor_ops.py"
    target.write_text(target.read_text().replace("x.mean(dim=1)", "x.mean(dim=0)"))
    again = run_grader("grade", str(subs), "--out", str(tmp_path / "dask"), "--cluster", "local:2")
    assert again.returncode == 0, again.stderr
    assert "graded 1 submission" in again.stderr and "4 unchanged" in again.stderr, again.stderr
    fixed = next(s for s in comparable(tmp_path / "dask")["students"] if s["id"] == "ben_copy0")
    ops = next(e for e in fixed["exercises"] if e["id"] == "tensor-ops")
    assert ops["score"] == ops["max_score"]


def test_a_worker_killed_mid_run_loses_nothing_and_the_summary_counts_the_rerun(tmp_path: Path):
    subs = class_of(tmp_path, copies=3)  # 8 submissions
    folders, outcome, killed = grade_on_a_cluster_killing_a_worker(subs, tmp_path / "out")
    assert "error" not in outcome, outcome.get("error")
    done = outcome["done"]
    assert killed, "no worker was seen running a job"
    assert "job(s) run again after a Dask worker died" in done.summary, done.summary
    retried = int(done.summary.split(" job(s) run again")[0].rsplit("; ", 1)[-1])
    assert retried >= 1
    # Nothing lost, nothing doubled: every student once, each exercise once in the store.
    assert sorted(s.id for s in done.run.students) == sorted(f.name for f in folders)
    rows = stored_rows(tmp_path / "out")
    assert len(rows) == len(set((r[0], r[1]) for r in rows)) == 8 * 11
    # And the re-run jobs graded as the others did: every copy matches its original.
    data = comparable(tmp_path / "out")
    by_id = {s["id"]: {k: v for k, v in s.items() if k != "id"} for s in data["students"]}
    for i in range(3):
        assert by_id[f"ada_copy{i}"] == by_id["ada_correct"]
        assert by_id[f"ben_copy{i}"] == by_id["ben_typical_mistakes"]


def test_a_job_dask_gives_up_on_is_named_and_the_rest_is_saved(tmp_path: Path):
    """With Dask's allowed-failures at 0, the job whose worker is killed fails for good:
    the run stops with an error naming its student, every other result is saved, and
    the same command then grades just what is missing."""
    from grader.errors import GraderError

    subs = class_of(tmp_path, copies=2)  # 6 submissions
    folders, outcome, killed = grade_on_a_cluster_killing_a_worker(
        subs, tmp_path / "out", allowed_failures=0
    )
    assert killed
    error = outcome.get("error")
    assert isinstance(error, GraderError), outcome
    message = str(error)
    lost = [
        f.name
        for f in folders
        if f.name in message.split("dying): ", 1)[1].split(";")[0].split(", ")
    ]
    assert lost and message.startswith(f"the cluster could not grade {len(lost)} submission(s)"), (
        message
    )
    assert (
        f"{len(folders) - len(lost)} were graded and saved: run the same command again" in message
    )
    saved = {row[0] for row in stored_rows(tmp_path / "out")}
    assert saved == {f.name for f in folders} - set(lost)
    # The same command (here on this machine) grades only the students that are missing.
    again = run_grader("grade", str(subs), "--out", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr
    assert f"graded {len(lost)} submission" in again.stderr, again.stderr
    assert len(stored_rows(tmp_path / "out")) == len(folders) * 11


def test_a_job_the_grader_fails_on_costs_only_its_student_on_the_cluster_too(tmp_path: Path):
    """The last line on a Dask worker: a submission the grader itself fails on (here an
    instructor's judge that a submission breaks) is an internal error for that student,
    not final, with its traceback in grader.log; the run goes on and exits 0."""
    from test_robustness import ECHO, make_course, student

    from grader.grading.incidents import INTERNAL_ERROR

    course = make_course(tmp_path)
    subs = tmp_path / "subs"
    student(subs, "ada")
    student(subs, "breaker", echo__py=ECHO + "# half\n")
    out = tmp_path / "out"
    proc = run_grader(
        "grade", str(subs), "--out", str(out), "--course", str(course), "--cluster", "local:1"
    )
    assert proc.returncode == 0, proc.stderr
    students = {s["id"]: s for s in comparable(out)["students"]}
    assert students["ada"]["score"] == students["ada"]["max_score"] == 24
    for ex in students["breaker"]["exercises"]:
        assert ex["status"] == "error" and ex["message"] == INTERNAL_ERROR and not ex["final"]
    log = (out / "grader.log").read_text()
    assert "internal error while grading 'breaker' on the cluster" in log and "TypeError" in log
    assert [
        line for line in proc.stderr.splitlines() if "internal error" in line and "breaker" in line
    ]
    again = run_grader(
        "grade", str(subs), "--out", str(out), "--course", str(course), "--cluster", "local:1"
    )
    assert (
        again.returncode == 0
        and "1 submission could not be graded" in again.stderr
        and "1 unchanged" in again.stderr
    ), again.stderr


def grade_on_a_cluster_killing_a_worker(
    subs: Path, out: Path, allowed_failures: int | None = None
) -> tuple[list[Path], dict[str, Any], bool]:
    """``grade_course`` on a LocalCluster of 2 worker processes, one of them SIGKILLed as
    soon as it runs a job: (the student folders, {"done": Outcome} or {"error": exception},
    whether a worker was killed). ``allowed_failures`` sets Dask's for the run."""
    import dask
    from distributed import Client, LocalCluster

    from grader.course.loading import load_course
    from grader.grading.class_run import grade_course
    from grader.sandbox.choice import choose
    from grader.submissions.folders import student_folders

    course = load_course(ROOT, resolve_helpers=False)
    folders = student_folders(subs, course)
    outcome: dict[str, Any] = {}
    config = (
        {}
        if allowed_failures is None
        else {"distributed.scheduler.allowed-failures": allowed_failures}
    )
    with (
        dask.config.set(config),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):

        def run() -> None:
            try:
                outcome["done"] = grade_course(
                    course, folders, out, choose(), cluster=client, stream=io.StringIO()
                )
            except BaseException as exc:  # reported by the caller
                outcome["error"] = exc

        grading = threading.Thread(target=run)
        grading.start()
        killed = kill_a_busy_worker(client, deadline=time.monotonic() + 300)
        grading.join(timeout=900)
    assert not grading.is_alive()
    return folders, outcome, killed


def kill_a_busy_worker(client: Any, deadline: float) -> bool:
    """SIGKILL a worker process while it runs a grading job (its nanny starts a new one)."""
    while time.monotonic() < deadline:
        busy = [
            address
            for address, keys in client.processing().items()
            if any(str(k).startswith("grade-") for k in keys)
        ]
        if busy:
            pids = client.run(os.getpid, workers=[busy[0]])
            os.kill(pids[busy[0]], signal.SIGKILL)
            return True
        time.sleep(0.05)
    return False


NO_DASK = "import sys; sys.modules['distributed'] = sys.modules['dask'] = None; "


def test_a_plain_install_needs_no_dask(tmp_path: Path):
    subs = class_of(tmp_path, copies=0)
    # Without --cluster, grading imports nothing of Dask, and works where Dask is absent.
    code = (
        NO_DASK + "from grader.cli import main; code = main(sys.argv[1:]); "
        "assert not any(m.startswith(('distributed', 'dask')) "
        "for m in sys.modules if sys.modules[m]); "
        "sys.exit(code)"
    )
    plain = subprocess.run(
        [sys.executable, "-c", code, "grade", str(subs), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert plain.returncode == 0, plain.stderr
    # With --cluster and no Dask: one line that says what to install, exit 2.
    asked = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_DASK + "from grader.cli import run; run()",
            "grade",
            str(subs),
            "--out",
            str(tmp_path / "out2"),
            "--cluster",
            "local:2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert asked.returncode == 2
    assert asked.stderr.strip() == (
        "grader: --cluster needs Dask's distributed package: pip install 'torch-grader[cluster]'"
    )
    # The package itself does not depend on Dask: only its optional extra does.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any("dask" in d or "distributed" in d for d in project["dependencies"])
    assert any(d.startswith("distributed") for d in project["optional-dependencies"]["cluster"])


FAKE_SBATCH = """#!/bin/sh
# A stand-in for SLURM's sbatch on this one machine: run the job script at once, in
# its own session, and answer as sbatch does. (dask-jobqueue deletes the script as soon
# as sbatch returns, so it is copied first.)
script=$(mktemp "$JOBS/job-XXXXXX")
cp "$1" "$script"
setsid sh -c 'echo $$ > "$0.pid"; exec bash "$0"' "$script" > "$script.log" 2>&1 < /dev/null &
while [ ! -s "$script.pid" ]; do sleep 0.05; done
echo "Submitted batch job $(cat "$script.pid")"
"""
FAKE_SCANCEL = """#!/bin/sh
kill -TERM -- "-$1" 2>/dev/null; exit 0
"""


def test_the_example_slurm_configuration_grades_through_dask_jobqueue(tmp_path: Path):
    """examples/cluster/slurm.yaml, as the README shows it, with only what this machine
    must change (its python, and 1 job of 2 workers): dask-jobqueue writes the batch
    script, a stand-in sbatch runs it here, its workers connect back and grade."""
    import yaml

    config = yaml.safe_load((ROOT / "examples" / "cluster" / "slurm.yaml").read_text())
    assert (
        config["jobqueue"] == "slurm"
        and config["options"]["processes"] == config["options"]["cores"]
    )
    config["jobs"] = 1
    config["options"].update(
        python=sys.executable, cores=2, processes=2, memory="8GB", local_directory=str(tmp_path)
    )
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(config))
    bin_dir, jobs = tmp_path / "bin", tmp_path / "jobs"
    bin_dir.mkdir()
    jobs.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("scancel", FAKE_SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    subs = class_of(tmp_path, copies=0)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "JOBS": str(jobs)}
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "grade",
                str(subs),
                "--out",
                str(tmp_path / "out"),
                "--cluster",
                str(path),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        ended = jobs_ended(jobs, within=90)  # the run's end scancels its jobs
    assert ended, "the batch job's workers outlived the run"
    logs = "\n".join(p.read_text() for p in jobs.glob("*.log"))
    assert proc.returncode == 0, proc.stderr + logs
    assert "grading on dask-jobqueue's SLURMCluster with 1 job(s)" in proc.stderr
    assert "graded 2 submissions" in proc.stderr
    [script] = [p for p in jobs.iterdir() if p.suffix == ""]
    text = script.read_text()
    assert "#SBATCH -p normal" in text and "#SBATCH -A cs101" in text
    assert "--nthreads 1" in text and "--nworkers 2" in text and sys.executable in text
    data = comparable(tmp_path / "out")
    ada = next(s for s in data["students"] if s["id"] == "ada_correct")
    assert ada["score"] == ada["max_score"]


def jobs_ended(jobs: Path, within: float) -> bool:
    """Whether every stand-in batch job's processes are gone within ``within`` seconds;
    any still there then are killed, so that no test leaves workers behind."""
    groups = [int(p.read_text()) for p in jobs.glob("*.pid")]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [g for g in groups if _group_alive(g)]
        if not alive:
            return True
        time.sleep(0.2)
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
