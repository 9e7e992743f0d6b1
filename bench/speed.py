"""Benchmark: how fast `grader grade` is on a class of N generated submissions.

Generates N realistic submissions of the full course (bench/make_submissions.py),
then runs the real CLI in subprocesses and prints one table: full grades with
--jobs 1 and --jobs 2, the floor (bench/floor.py: the students' own work in one warm
process), a cold single submission, re-runs against the incremental store, and peak
memory. Memory is sampled from /proc over the whole process tree as the sum of RSS and
the sum of PSS (PSS counts pages shared by forked workers once in total; the memory
target is judged on it), every 20 ms, in a separate --jobs 2 run: sampling costs CPU
the grader would use, so the timed rows are measured without it. Full grades run
once; the short rows (import torch, cold single, re-runs) are best of --repeat. Linux
only.

    python bench/speed.py                 # N = 200, best of 3 for the short rows
    python bench/speed.py --quick         # N = 6, one repeat (CI)
    python bench/speed.py --out DIR       # keep the submissions and reports in DIR
    python bench/speed.py --dry           # generate, print the commands, run nothing
    python bench/speed.py --cluster local:2   # local --jobs 2 against a Dask LocalCluster

Exit status 0 when every run completed, whatever PASS/MISS says (it is a
measurement); 1 when a grader run or the floor failed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import generate  # noqa: E402

CORES = 2  # the floor is divided by this many cores: the machine the targets are set for
RATIO_TARGET = 1.5
COLD_SLACK = 1.5  # s over import torch + the student's floor
RERUN_TARGET = 2.0  # s, nothing changed
CHANGED_SLACK = 2.0  # s over a cold single submission
MEMORY_TARGET_MIB = 1.5e9 / 2**20  # 1.5 GB, judged on the PSS sum
GRADER_OK = (0,)  # `grader grade`: 0 graded (whatever the scores), 2 could not run; 1 = a crash


# --------------------------------------------------------------------------- /proc
def _read(path: str, size: int = 4096) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (one pass over /proc/*/stat, ~1 ms)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            data = _read(f"/proc/{name}/stat", 1024)
            ppid = int(data[data.rindex(b")") + 2 :].split(None, 2)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def _field_kib(path: str, prefix: bytes) -> int:
    try:
        for line in _read(path, 65536).splitlines():
            if line.startswith(prefix):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_kib(pid: int) -> int:
    return _field_kib(f"/proc/{pid}/status", b"VmRSS:")


def pss_kib(pid: int) -> int:
    """Proportional set size: a page shared by k processes counts 1/k in each. Costs the
    kernel a page-table walk: ~4 ms for a process with torch loaded."""
    return _field_kib(f"/proc/{pid}/smaps_rollup", b"Pss:")


# --------------------------------------------------------------------------- runs
@dataclass
class Run:
    cmd: list[str]
    seconds: float
    code: int
    peak_rss_kib: int
    peak_pss_kib: int
    log: Path
    sampler_cpu: float = 0.0  # CPU seconds the memory sampler itself used
    pss_samples: int = 0
    samples: int = 0

    @property
    def ok(self) -> bool:
        return self.code in GRADER_OK

    def fail(self, why: str) -> None:
        """Mark a run that exited 0 but did not do its job."""
        self.code = -1
        with open(self.log, "a") as f:
            f.write(f"speed.py: {why}\n")

    def failure(self) -> str:
        tail = (
            self.log.read_text(errors="replace").strip().splitlines()[-5:]
            if self.log.exists()
            else []
        )
        return f"FAILED (exit {self.code}): {shlex.join(self.cmd)}\n" + "".join(
            f"    {line}\n" for line in tail
        )


SAMPLE_SECONDS = 0.02
LIGHT_PSS_SHARE = 0.03  # light mode: PSS reads use at most 3% of one core


def measure(
    cmd: list[str], log: Path, timeout: float, full_pss: bool = False, sample: bool = True
) -> Run:
    """Run ``cmd`` from the course folder; wall time and (with ``sample``) peak memory.

    Sampling costs CPU that the grader, on two cores, would otherwise use: walking the
    process tree every 20 ms takes a few ms, and the PSS-sum ~4 ms per torch process. So
    timed rows do not sample at all; the memory row is a separate run that reads RSS and
    PSS every 20 ms (``full_pss``)."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
        peak_rss = peak_pss = samples = pss_samples = 0
        sampler_cpu = pss_cpu = 0.0
        done = threading.Event()

        def sampler() -> None:
            nonlocal peak_rss, peak_pss, samples, pss_samples, sampler_cpu, pss_cpu
            cpu0, wall0 = time.thread_time(), time.monotonic()
            while not done.is_set():
                pids = descendants(proc.pid)
                peak_rss = max(peak_rss, sum(rss_kib(p) for p in pids))
                samples += 1
                if full_pss or pss_cpu <= LIGHT_PSS_SHARE * (time.monotonic() - wall0):
                    before = time.thread_time()
                    peak_pss = max(peak_pss, sum(pss_kib(p) for p in pids))
                    pss_cpu += time.thread_time() - before
                    pss_samples += 1
                done.wait(SAMPLE_SECONDS)
            sampler_cpu = time.thread_time() - cpu0

        started = time.monotonic()
        thread = threading.Thread(target=sampler, daemon=True)
        if sample:
            thread.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own child's session only
            code = proc.wait()
            err.write(f"\nspeed.py: killed after {timeout:.0f} s\n".encode())
        except BaseException:  # Ctrl-C: the child runs in its own session, so stop it too
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            done.set()
            raise
        elapsed = time.monotonic() - started
        done.set()
        if sample:
            thread.join()
    return Run(cmd, elapsed, code, peak_rss, peak_pss, log, sampler_cpu, pss_samples, samples)


def grade_cmd(subs: Path, out: Path, jobs: int | None = None, force: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out)]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    if force:
        cmd.append("--force")
    return cmd


def grade_options() -> set[str]:
    """Which of --jobs and --force this grader's `grade` command accepts."""
    text = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    return {opt for opt in ("--jobs", "--force") if opt in text}


def sandbox_line() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "grader", "doctor"], cwd=ROOT, capture_output=True, text=True
    )
    lines = result.stdout.strip().splitlines()
    return lines[0] if lines else f"grader doctor exited {result.returncode}"


def machine_line(sandbox: str) -> str:
    """What every figure of a benchmark depends on: cores, torch, Python, the sandbox."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    return (
        f"machine: {len(os.sched_getaffinity(0))} cores, torch {torch_version}, "
        f"Python {platform.python_version()}, {sandbox}"
    )


# --------------------------------------------------------------------------- table
@dataclass
class Row:
    name: str
    measured: str
    target: str = "-"
    verdict: str = "-"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, measured: str, target: str = "-", ok: bool | None = None) -> None:
        verdict = "-" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append(Row(name, measured, target, verdict))

    def na(self, name: str, why: str) -> None:
        self.rows.append(Row(name, f"n/a: {why}", "-", "n/a"))

    def failed(self, name: str, run: Run) -> None:
        self.rows.append(Row(name, f"{run.seconds:.1f} s, exit {run.code}", "-", "FAIL"))
        self.failures.append(run.failure())

    def render(self) -> str:
        header = Row("measurement", "measured", "target", "result")
        rows = [header, *self.rows]
        widths = [max(len(getattr(r, a)) for r in rows) for a in ("name", "measured", "target")]
        lines = []
        for i, r in enumerate(rows):
            lines.append(
                f"{r.name:<{widths[0]}}  {r.measured:<{widths[1]}}  "
                f"{r.target:<{widths[2]}}  {r.verdict}".rstrip()
            )
            if i == 0:
                lines.append("-" * len(lines[0]))
        return "\n".join(lines)


def mib(kib: int) -> float:
    return kib / 1024


def full_grade_text(run: Run, n: int) -> str:
    return f"{run.seconds:.1f} s  {n / run.seconds:.2f} subs/s  {run.seconds / n:.3f} s/sub"


# --------------------------------------------------------------------------- main
def run_floor(subs: Path, work: Path, timeout: float) -> tuple[Run, dict | None]:
    out = work / "floor.json"
    run = measure(
        [sys.executable, str(ROOT / "bench" / "floor.py"), str(subs), "--json", str(out)],
        work / "floor.log",
        timeout,
    )
    if run.code != 0 or not out.exists():
        return run, None
    return run, json.loads(out.read_text())


def benchmark(
    subs: Path, work: Path, kinds: dict[str, str], repeat: int, timeout: float, dry: bool
) -> Report:
    report = Report()
    n = len(kinds)
    options = grade_options() if not dry else {"--jobs", "--force"}
    parallel, incremental = "--jobs" in options, "--force" in options
    correct = [s for s, k in kinds.items() if k == "correct"]
    cold_student = correct[0] if correct else next(iter(kinds))
    edited = correct[-1] if correct else next(iter(kinds))
    out1, out2 = work / "out-jobs1", work / "out-jobs2"
    full1 = grade_cmd(subs, out1, 1 if parallel else None, incremental)
    full2 = grade_cmd(subs, out2, 2, incremental)
    full2m = grade_cmd(subs, work / "out-jobs2-memory", 2, incremental)
    if dry:
        print("would run (from the course folder):")
        for cmd in (
            [sys.executable, "-c", "import torch"],
            grade_cmd(subs / cold_student, work / "out-cold-N"),
            full1,
            full2,
            grade_cmd(subs, out2, 2),
            full2m,
            [sys.executable, str(ROOT / "bench" / "floor.py"), str(subs)],
        ):
            print("  " + shlex.join(cmd))
        return report
    if not parallel:
        report.notes.append(
            "`grader grade` has no --jobs yet: the --jobs 1 row ran the serial "
            "grader; the --jobs 2 rows are n/a"
        )
    if not incremental:
        report.notes.append(
            "`grader grade` has no --force yet (no incremental store): the re-run rows are n/a"
        )

    def timed(label: str, cmd: list[str], full_pss: bool = False) -> Run:
        print(f"  {label} ...", file=sys.stderr, flush=True)
        run = measure(cmd, work / f"{label}.log", timeout, full_pss, sample=full_pss)
        if run.ok and "grade" in cmd:
            out = Path(cmd[cmd.index("--out") + 1])
            if not (out / "results.json").is_file():
                run.fail(f"exit 0 but no {out / 'results.json'}")
        return run

    # Cold single submission against `import torch`.
    imports = [
        timed(f"import-torch-{i}", [sys.executable, "-c", "import torch"]) for i in range(repeat)
    ]
    import_torch = min(r.seconds for r in imports)
    colds = [
        timed(f"cold-{i}", grade_cmd(subs / cold_student, work / f"out-cold-{i}"))
        for i in range(repeat)
    ]
    cold_bad = next((r for r in colds if not r.ok), None)

    # Full grades, then re-runs on the --jobs 2 store.
    run1 = timed("jobs1", full1)
    run2 = timed("jobs2", full2) if parallel else None
    unchanged: list[Run] = []
    changed: list[Run] = []
    if run2 is not None and run2.ok and incremental:
        unchanged = [timed(f"rerun-unchanged-{i}", grade_cmd(subs, out2, 2)) for i in range(repeat)]
        target_file = subs / edited / "training_loop.py"
        for i in range(repeat):
            with open(target_file, "a", encoding="utf-8") as f:
                f.write(f"# edited for the re-run benchmark ({i})\n")
            changed.append(timed(f"rerun-changed-{i}", grade_cmd(subs, out2, 2)))

    # Memory: a separate --jobs 2 full grade, PSS sampled every 20 ms (slows what it measures).
    memory = timed("jobs2-memory", full2m, full_pss=True) if parallel else None
    floor_run, floor = run_floor(subs, work, timeout)

    # ---- rows
    label1 = "grade --jobs 1, full" if parallel else "grade (serial, no --jobs), full"
    if run1.ok:
        report.add(label1, full_grade_text(run1, n))
    else:
        report.failed(label1, run1)
    if run2 is None:
        report.na("grade --jobs 2, full", "no --jobs option")
    elif run2.ok:
        report.add("grade --jobs 2, full", full_grade_text(run2, n))
    else:
        report.failed("grade --jobs 2, full", run2)

    floor_total = floor_one = None
    if floor is None:
        report.failed("floor (one warm process)", floor_run)
    else:
        floor_total = float(floor["total"])
        per = floor["students"]
        floor_one = float(per.get(cold_student, 0.0))
        slow = [s for s, k in kinds.items() if k == "timeout"]
        rest = sum(t for s, t in per.items() if s not in slow)
        by_kind = {
            k: [per[s] for s, kk in kinds.items() if kk == k and s in per]
            for k in ("correct", "wrong", "timeout")
        }
        means = ", ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in by_kind.items() if v)
        report.add("floor (one warm process)", f"{floor_total:.1f} s  {floor_total / n:.3f} s/sub")
        report.notes.append(
            f"floor per submission, mean: {means} s; without the {len(slow)} "
            f"timeout student(s) the floor is {rest:.1f} s"
        )
        if run2 is not None and run2.ok:
            ratio = run2.seconds / (floor_total / CORES)
            report.add(
                f"grader(--jobs 2) / (floor / {CORES} cores)",
                f"{ratio:.2f}",
                f"<= {RATIO_TARGET}",
                ratio <= RATIO_TARGET,
            )
        else:
            report.na(f"grader(--jobs 2) / (floor / {CORES} cores)", "no --jobs 2 run")

    best_cold = min(r.seconds for r in colds)
    if cold_bad is not None:
        report.failed(f"cold single submission ({cold_student})", cold_bad)
    elif floor_one is not None:
        target = import_torch + floor_one + COLD_SLACK
        report.add(
            f"cold single submission ({cold_student})",
            f"{best_cold:.2f} s (best of {repeat})",
            f"<= {target:.2f} s (import torch {import_torch:.2f} + floor {floor_one:.2f} "
            f"+ {COLD_SLACK})",
            best_cold <= target,
        )
    else:
        report.add(
            f"cold single submission ({cold_student})",
            f"{best_cold:.2f} s (best of {repeat})",
            f"import torch {import_torch:.2f} s; no floor",
        )

    if not unchanged:
        why = "no incremental store (--force)" if not incremental else "no --jobs 2 run"
        report.na("re-run, nothing changed", why)
        report.na("re-run, one submission changed", why)
    else:
        changed_target = best_cold + CHANGED_SLACK
        for label, runs, meets, text in (
            (
                "re-run, nothing changed",
                unchanged,
                lambda t: t < RERUN_TARGET,
                f"< {RERUN_TARGET:.1f} s",
            ),
            (
                f"re-run, one submission changed ({edited})",
                changed,
                lambda t: t <= changed_target,
                f"<= {changed_target:.2f} s (cold single + {CHANGED_SLACK})",
            ),
        ):
            bad = next((r for r in runs if not r.ok), None)
            if bad is not None:
                report.failed(label, bad)
                continue
            best = min(r.seconds for r in runs)
            report.add(label, f"{best:.2f} s (best of {len(runs)})", text, meets(best))

    label = "peak memory, --jobs 2 (PSS-sum)"
    if memory is None:
        report.na(label, "no --jobs option")
    elif not memory.ok:
        report.failed(label, memory)
    else:
        pss = mib(memory.peak_pss_kib)
        report.add(
            label,
            f"{pss:.0f} MiB  (RSS-sum {mib(memory.peak_rss_kib):.0f} MiB)",
            f"< {MEMORY_TARGET_MIB:.0f} MiB (1.5 GB, PSS-sum)",
            pss < MEMORY_TARGET_MIB,
        )
        report.notes.append(
            "memory: a separate --jobs 2 full grade with PSS read every 20 ms "
            f"({memory.pss_samples} samples; it took {memory.seconds:.1f} s, "
            f"the sampler used {memory.sampler_cpu:.1f} s CPU). "
            "The timed rows are measured without any sampling"
        )
    return report


def cluster_benchmark(subs: Path, work: Path, cluster: str, n: int, timeout: float) -> Report:
    """The same class graded locally (--jobs W) and on a Dask cluster (--cluster), W being
    the cluster's worker count for local:W (else CORES): throughput of both, and the
    overhead per job the cluster adds beyond its fixed start-up cost."""
    report = Report()
    workers = int(cluster.split(":", 1)[1]) if cluster.startswith("local:") else CORES
    one = sorted(p.name for p in subs.iterdir())[0]

    def timed(label: str, cmd: list[str]) -> Run:
        print(f"  {label} ...", file=sys.stderr, flush=True)
        return measure(cmd, work / f"{label}.log", timeout, sample=False)

    def on_cluster(cmd: list[str]) -> list[str]:
        return [*cmd, "--cluster", cluster]

    runs = {
        "local-single": timed(
            "local-single", grade_cmd(subs / one, work / "out-local-single", workers, True)
        ),
        "cluster-single": timed(
            "cluster-single",
            on_cluster(grade_cmd(subs / one, work / "out-cluster-single", None, True)),
        ),
        "local-full": timed("local-full", grade_cmd(subs, work / "out-local", workers, True)),
        "cluster-full": timed(
            "cluster-full", on_cluster(grade_cmd(subs, work / "out-cluster", None, True))
        ),
    }
    for name, run in runs.items():
        if not run.ok:
            report.failed(name, run)
    if report.failures:
        return report
    local, dask = runs["local-full"].seconds, runs["cluster-full"].seconds
    report.add(
        f"grade --jobs {workers}, full (this machine)", full_grade_text(runs["local-full"], n)
    )
    report.add(
        f"grade --cluster {cluster}, full",
        full_grade_text(runs["cluster-full"], n),
        f"throughput {n / dask:.2f} vs {n / local:.2f} submissions/s",
    )
    report.add(
        "one submission, cold: local / cluster",
        f"{runs['local-single'].seconds:.2f} s / {runs['cluster-single'].seconds:.2f} s",
        "the cluster's fixed cost: start-up, course shipped, workers' torch and reference",
    )
    marginal = (
        (dask - runs["cluster-single"].seconds) - (local - runs["local-single"].seconds)
    ) / max(n - 1, 1)
    report.add(
        "overhead per job on the cluster",
        f"{1000 * marginal:.0f} ms",
        "(cluster full - cluster single) - (local full - local single), per further job",
    )
    report.notes.append(
        f"the cluster: {cluster}; both full runs grade the same {n} submissions with "
        f"{workers} sandbox worker(s) in all, --force"
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="number of submissions (default 200)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="best of this many runs for the short rows (default 3)",
    )
    parser.add_argument("--quick", action="store_true", help="CI: N = 6 and one repeat")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="keep the submissions and reports in this (new or empty) folder",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated submissions")
    parser.add_argument(
        "--timeout", type=float, default=7200, help="seconds per run before it is killed"
    )
    parser.add_argument("--dry", action="store_true", help="generate and print the commands only")
    parser.add_argument(
        "--cluster",
        default=None,
        metavar="CLUSTER",
        help="instead: the class graded locally and with `grade --cluster CLUSTER` "
        "(e.g. local:2), throughput and overhead per job",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat = 6, 1
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty")
    with tempfile.TemporaryDirectory(prefix="grader-speed-") as tmp:
        work = (args.out or Path(tmp)).resolve()
        subs = work / "submissions"
        runs = work / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        kinds = generate(subs, args.n, args.seed)
        counts = Counter(kinds.values())
        print(
            f"torch-grader speed: N = {args.n} submissions of the full course "
            f"({counts['correct']} correct, {counts['wrong']} wrong, {counts['timeout']} timeout; "
            f"seed {args.seed}), repeat {args.repeat}"
        )
        print(machine_line(sandbox_line() if not args.dry else "sandbox: ?"), flush=True)
        if args.cluster and not args.dry:
            report = cluster_benchmark(subs, runs, args.cluster, args.n, args.timeout)
        else:
            report = benchmark(subs, runs, kinds, args.repeat, args.timeout, args.dry)
        if args.dry:
            return 0
        print()
        print(report.render())
        for note in report.notes:
            print(f"note: {note}")
        for failure in report.failures:
            print(failure, end="")
        if args.out is not None:
            print(f"kept: {subs} and the runs' reports and logs in {runs}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
