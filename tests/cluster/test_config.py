"""What ``--cluster`` accepts, and the error for what it does not (fast: nothing starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cluster.config import ClusterSpec, parse
from grader.course.schema import ExerciseError
from grader.errors import GraderError


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("tcp://scheduler:8786", ClusterSpec(address="tcp://scheduler:8786")),
        ("tls://10.0.0.5:8786", ClusterSpec(address="tls://10.0.0.5:8786")),
        ("scheduler.example.edu:8786", ClusterSpec(address="tcp://scheduler.example.edu:8786")),
        ("local", ClusterSpec(local=3)),
        ("local:2", ClusterSpec(local=2)),
    ],
)
def test_addresses_and_local_clusters(value: str, spec: ClusterSpec) -> None:
    got = parse(value, default_workers=3)
    assert (got.address, got.local, got.jobqueue) == (spec.address, spec.local, spec.jobqueue)


@pytest.mark.parametrize("value", ["local:0", "scheduler", "http//x", "cluster.toml"])
def test_anything_else_is_a_clear_error(value: str) -> None:
    with pytest.raises(GraderError, match="--cluster"):
        parse(value)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return str(path)


def test_a_file_names_a_scheduler_a_local_cluster_or_a_jobqueue(tmp_path: Path) -> None:
    assert parse(write(tmp_path, "scheduler: 10.0.0.5:8786\n")).address == "tcp://10.0.0.5:8786"
    assert parse(write(tmp_path, "local: 4\n")).local == 4
    spec = parse(write(tmp_path, "jobqueue: pbs\njobs: 3\noptions: {cores: 4, memory: 8GB}\n"))
    assert (spec.jobqueue, spec.jobs, spec.options) == ("pbs", 3, {"cores": 4, "memory": "8GB"})
    assert spec.describe() == "dask-jobqueue's PBSCluster with 3 job(s)"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "jobqueue: slurmm\n",
            1,
            "key 'jobqueue': expected one of slurm, pbs, sge, lsf, htcondor, moab, oar",
        ),
        ("local: 2\nscheduler: tcp://x:1\n", 2, "key 'scheduler': give exactly one of"),
        ("jobs: 2\n", 1, "key 'scheduler': give exactly one of"),
        ("jobqueue: slurm\njobs: many\n", 2, "key 'jobs': expected a number, got 'many'"),
        ("jobqueue: slurm\nworkers: 3\n", 2, "key 'workers': unknown key"),
    ],
)
def test_a_bad_file_names_its_line_and_key(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ExerciseError) as caught:
        parse(path)
    assert caught.value.line == line and message in caught.value.message, caught.value
    assert caught.value.path == path


def test_a_missing_file_is_said(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="no such file"):
        parse(str(tmp_path / "nope.yaml"))
