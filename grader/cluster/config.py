"""What ``--cluster`` names, and the Dask client for it.

- a scheduler's address: ``tcp://scheduler:8786`` (also ``tls://``, or ``host:port``);
- ``local`` or ``local:N``: a ``distributed.LocalCluster`` of N worker processes on this
  machine (one thread each), for trying things out and for benchmarks;
- a YAML file, for a cluster that runs somewhere else or that Dask starts for the run:

      scheduler: tcp://10.0.0.5:8786      # connect to a running scheduler, or
      local: 4                           # a LocalCluster of 4 worker processes, or
      jobqueue: slurm                    # dask-jobqueue: start workers as batch jobs
      jobs: 10                           #   this many jobs (cluster.scale(jobs=...))
      options: {cores: 8, processes: 8, memory: 32GB, walltime: "02:00:00"}

  ``options`` go to dask-jobqueue's cluster class as they are (its documentation lists
  them); ``jobqueue`` is one of its kinds: slurm, pbs, sge, lsf, htcondor, moab, oar.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError

EXTRA = "pip install 'torch-grader[cluster]'"
JOBQUEUE = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
    "moab": "MoabCluster",
    "oar": "OARCluster",
}
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss|inproc)://\S+|[\w.-]+:\d+)$")
_LOCAL = re.compile(r"^local(?::(\d+))?$")


@dataclass
class ClusterSpec:
    """One way to reach a cluster: an address, a local cluster's size, or a jobqueue."""

    address: str | None = None
    local: int | None = None
    jobqueue: str | None = None
    jobs: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # what the user wrote, for messages

    def describe(self) -> str:
        if self.address:
            return f"the Dask scheduler at {self.address}"
        if self.local:
            return (
                f"a local Dask cluster of {self.local} worker "
                f"process{'es' if self.local > 1 else ''}"
            )
        return f"dask-jobqueue's {JOBQUEUE[self.jobqueue or 'slurm']} with {self.jobs} job(s)"


def parse(value: str, default_workers: int = 2) -> ClusterSpec:
    """``--cluster``'s value as a ClusterSpec, or a GraderError that says what is wrong."""
    text = value.strip()
    local = _LOCAL.match(text)
    if local:
        workers = int(local.group(1)) if local.group(1) else default_workers
        if workers < 1:
            raise GraderError("--cluster local:N needs at least one worker")
        return ClusterSpec(local=workers, source=value)
    if _ADDRESS.match(text):
        return ClusterSpec(address=text if "://" in text else f"tcp://{text}", source=value)
    path = Path(text)
    if path.suffix in (".yaml", ".yml"):
        return _from_file(path)
    raise GraderError(
        f"--cluster {value!r}: expected a scheduler address (tcp://host:8786), local or "
        "local:N, or a YAML file describing the cluster (see docs/cluster.md)"
    )


def _from_file(path: Path) -> ClusterSpec:
    from grader.course.schema import Mapping, load_yaml

    if not path.is_file():
        raise GraderError(f"--cluster {path}: no such file")
    shown = str(path)
    m = Mapping(load_yaml(path, shown), shown, "the cluster configuration")
    m.only({"scheduler", "local", "jobqueue", "jobs", "options"})
    given = sorted((key for key in ("scheduler", "local", "jobqueue") if m.has(key)), key=m.line_of)
    if len(given) != 1:
        raise m.error(
            given[1] if len(given) > 1 else "scheduler",
            "give exactly one of scheduler (an address), local (a number of workers) or jobqueue",
        )
    if m.has("scheduler"):
        address = m.text("scheduler")
        return ClusterSpec(
            address=address if "://" in address else f"tcp://{address}", source=shown
        )
    if m.has("local"):
        return ClusterSpec(local=int(m.number("local", minimum=1)), source=shown)
    kind = m.text("jobqueue")
    if kind not in JOBQUEUE:
        raise m.error("jobqueue", f"expected one of {', '.join(JOBQUEUE)}, got {kind!r}")
    options = m.child("options", None)
    return ClusterSpec(
        jobqueue=kind,
        jobs=int(m.number("jobs", 1, minimum=1)),
        options=dict(options.data) if options else {},
        source=shown,
    )


def jobqueue_cluster(spec: ClusterSpec) -> Any:
    """dask-jobqueue's cluster object for ``spec`` (it starts a scheduler here; no job is
    submitted until it is scaled)."""
    try:
        import dask_jobqueue
    except ImportError:
        raise GraderError(
            f"--cluster {spec.source}: jobqueue needs dask-jobqueue ({EXTRA} dask-jobqueue)"
        ) from None
    cls = getattr(dask_jobqueue, JOBQUEUE[spec.jobqueue or "slurm"])
    try:
        return cls(**spec.options)
    except (TypeError, ValueError) as exc:
        raise GraderError(f"--cluster {spec.source}: options: {exc}") from None


@contextlib.contextmanager
def connect(spec: ClusterSpec) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``; a cluster started for the run is closed
    after it."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise GraderError(f"--cluster needs Dask's distributed package: {EXTRA}") from None
    with contextlib.ExitStack() as stack:
        if spec.address:
            try:
                client = stack.enter_context(Client(spec.address, timeout="30s"))
            except OSError as exc:
                raise GraderError(f"--cluster: cannot reach {spec.describe()} ({exc})") from None
        elif spec.local:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=spec.local,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            cluster = stack.enter_context(jobqueue_cluster(spec))
            cluster.scale(jobs=spec.jobs)
            client = stack.enter_context(Client(cluster))
        yield client
