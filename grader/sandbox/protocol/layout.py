"""The job folder's names, and the typed job and schedule the grader writes into it.

A job folder (one submission's run, in a worker's box)::

    job.json        what the student process runs: each check's steps and inputs
    schedule.json   what the worker supervises: files, check ids, time limits, artifacts
    submission/     the student's files (a notebook as <module>.cells.json)
    work/           the checks' working folder
    runner.log      the worker's own log for this job
    out/            results, written by sandbox processes:
        load-<module>.json                how loading a file went
        call-<id>.json, .safetensors      one check's values
        artifact-<id>-<name>.json, ...    a file a check saved, read back
        status.json                       how each check ended, where its output is
        output-N.log                      what the student's code printed
        runner.log, artifacts.log         the sandbox processes' own logs

Both sides take every name from here, so a name changes in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JOB = "job.json"
SCHEDULE = "schedule.json"
SUBMISSION = "submission"
OUT = "out"
WORK = "work"
RUNNER_LOG = "runner.log"
ARTIFACTS_LOG = "artifacts.log"
STATUS = "status"  # a stem: status.json
CELLS_SUFFIX = ".cells.json"  # a notebook, as the grader extracted its code cells
JSON = ".json"
TENSORS = ".safetensors"
TMP = ".tmp"  # a file being written, renamed into place when complete


def load_stem(module: str) -> str:
    """The stem of a file's load record, and the key of its output span."""
    return f"load-{module}"


def call_stem(call_id: str) -> str:
    """The stem of a check's result files, and the key of its output span."""
    return f"call-{call_id}"


def artifact_stem(call_id: str, name: str) -> str:
    return f"artifact-{call_id}-{name}"


def output_log(number: int) -> str:
    return f"output-{number}.log"


def json_name(stem: str) -> str:
    return stem + JSON


def tensors_name(stem: str) -> str:
    return stem + TENSORS


def cells_name(module: str) -> str:
    return module + CELLS_SUFFIX


def inputs_name(token: str) -> str:
    """The run's input tensors, in the shared read-only folder (named in job.json)."""
    return tensors_name(f"inputs-{token}")


# ------------------------------------------------------------------ the schedule
def _field(data: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    """``data[key]`` if ``data`` is an object holding a ``kind`` there; ValueError if not."""
    if not isinstance(data, dict) or key not in data:
        raise ValueError(f"schedule: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"schedule: {key!r} has the wrong type")
    return value


@dataclass(frozen=True)
class Artifact:
    """A file a check saves (``path``, in its working folder), read back as ``name``."""

    name: str
    path: str

    def to_data(self) -> dict:
        return {"name": self.name, "path": self.path}

    @classmethod
    def from_data(cls, data: Any) -> Artifact:
        return cls(_field(data, "name", str), _field(data, "path", str))


@dataclass(frozen=True)
class ScheduledCall:
    """One check as the worker supervises it: no steps, no inputs."""

    id: str
    timeout: float
    artifacts: tuple[Artifact, ...] = ()

    def to_data(self) -> dict:
        return {
            "id": self.id,
            "timeout": self.timeout,
            "artifacts": [a.to_data() for a in self.artifacts],
        }

    @classmethod
    def from_data(cls, data: Any) -> ScheduledCall:
        return cls(
            _field(data, "id", str),
            float(_field(data, "timeout", (int, float))),
            tuple(Artifact.from_data(a) for a in _field(data, "artifacts", list)),
        )


@dataclass(frozen=True)
class ScheduledFile:
    """One student file: its time to load, its memory, its checks in order."""

    module: str
    load_timeout: float
    memory_mb: int
    calls: tuple[ScheduledCall, ...] = ()

    def to_data(self) -> dict:
        return {
            "module": self.module,
            "load_timeout": self.load_timeout,
            "memory_mb": self.memory_mb,
            "calls": [c.to_data() for c in self.calls],
        }

    @classmethod
    def from_data(cls, data: Any) -> ScheduledFile:
        return cls(
            _field(data, "module", str),
            float(_field(data, "load_timeout", (int, float))),
            _field(data, "memory_mb", int),
            tuple(ScheduledCall.from_data(c) for c in _field(data, "calls", list)),
        )


@dataclass(frozen=True)
class Schedule:
    """schedule.json: all the worker reads of a job."""

    files: tuple[ScheduledFile, ...]

    def to_json(self) -> str:
        return json.dumps({"files": [f.to_data() for f in self.files]})

    @classmethod
    def from_json(cls, text: str | bytes) -> Schedule:
        """Raises ValueError for anything that is not a schedule."""
        data = json.loads(text)
        return cls(tuple(ScheduledFile.from_data(f) for f in _field(data, "files", list)))


# ------------------------------------------------------------------ the job
@dataclass(frozen=True)
class Job:
    """job.json: what the student process runs. ``files`` are the plan's encoded
    files (module, load_timeout, memory_mb, calls with their steps and inputs);
    ``inputs`` names the input tensors' file in the shared read-only folder."""

    seed: int
    files: tuple[dict, ...]
    inputs: str = ""
    threads: int = 1

    def to_json(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "threads": self.threads,
                "files": list(self.files),
                "inputs": self.inputs,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        data = json.loads(text)
        return cls(
            _field(data, "seed", int),
            tuple(_field(data, "files", list)),
            _field(data, "inputs", str),
            _field(data, "threads", int),
        )

    def schedule(self) -> Schedule:
        """What the worker may know of this job: no step, no input."""
        return Schedule(tuple(_scheduled_file(f) for f in self.files))


def _scheduled_file(f: dict) -> ScheduledFile:
    calls = tuple(
        ScheduledCall(c["id"], c["timeout"], tuple(map(Artifact.from_data, c["artifacts"])))
        for c in f["calls"]
    )
    return ScheduledFile(f["module"], f["load_timeout"], f["memory_mb"], calls)
