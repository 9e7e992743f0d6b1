"""The attack suite: hostile submissions graded by the real grader, in one run.

Every attacker (see hostile.py) is a student folder whose functions are wrong and whose
cheat tries to make them pass, escape, leak or disrupt. One run grades them all beside an
honest student (a copy of the reference solutions) and an accomplice (wrong code that
other attackers try to make pass). Around that run the fixture records what changed on
this machine, which processes survived and what reached a socket; then it cleans up
whatever an attacker left, found by the run's marker alone.

For each attack: (1) it earns nothing; (2) the honest student's results equal those of a
run where it is graded alone; (3) no file outside the run's scratch space and reports
changed; (4) no process of the attack survives; (5) the report says what happened in
words a student understands. Outputs are hostile too: reports escape everything, and
the grader's terminal output carries no control characters or workflow commands.

About (3): this machine is shared (other people edit this checkout and use /tmp while the
suite runs), so in the repository, /tmp, the home folder and / a change counts when it
holds the run's marker, which everything an attacker writes does. The submissions folder
is the test's own and must not change at all; with $CI set, neither may the checkout.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, exercise, results, run_grader, write_student
from hostile import (
    CONTROL,
    SAVE_LOAD_SOLUTION,
    SECRET_TEXT,
    SKIP_DIRS,
    SOLUTION,
    WRONG,
    Attacker,
    Listener,
    assert_explained,
    attackers,
    diff,
    grader_killer,
    kill_processes,
    mentions,
    new_marker,
    remove_forged,
    settle_processes,
    start_fallback_runs,
    strip_seconds,
    top_level,
    tree,
    write_folder,
)

from grader.reports import report_filenames

pytestmark = pytest.mark.slow

HONEST = {"tensor_ops.py": SOLUTION, "save_load.py": SAVE_LOAD_SOLUTION}
ACCOMPLICE = "zz_accomplice"  # graded last: the target of tampering and sabotage
SLUGS = [a.slug for a in attackers("X", 0, 0)]
ZONES = {  # zone -> (path, strict): strict zones are ours alone, so any change counts
    "repo": (ROOT, False),
    "tmp": (Path("/tmp"), False),
    "home": (Path.home(), False),
    "root": (Path("/"), False),
}


@dataclass
class Evidence:
    data: dict
    out: Path
    stdout: str
    stderr: str
    returncode: int
    mark: str
    attackers: dict[str, Attacker]
    changes: list[tuple[str, str, str, list[str]]]  # (zone, kind, path, attackers' slugs)
    subs_changes: list[tuple[str, str]]  # any change in the submissions folder
    repo_changes: list[tuple[str, str]]  # any change in the repository (outside .git and caches)
    processes: dict[int, str]  # marked processes alive after the run
    received: list[tuple[str, bytes]]  # what reached the test's sockets
    pwned: list[str]  # marker files of the malicious pickle found on disk
    alone: dict  # the honest student graded alone
    killer: tuple[int, str, dict | None]  # the grader-killer run: returncode, stderr, results

    def tag(self, slug: str) -> str:
        return f"{self.mark}-{slug}"

    def student(self, name: str) -> dict:
        return next(s for s in self.data["students"] if s["id"] == name)


def _snapshot(subs: Path) -> dict:
    snap = {
        zone: (tree(path) if zone == "repo" else top_level(path))
        for zone, (path, _) in ZONES.items()
    }
    snap["subs"] = tree(subs)
    return snap


@pytest.fixture(scope="module")
def ev(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    if any(item.path.name == "test_fallback.py" for item in request.session.items):
        start_fallback_runs(tmp_path_factory)  # beside this run, on the other core
    mark = new_marker()
    listener = Listener()
    try:
        team = attackers(mark, listener.tcp_port, listener.udp_port)
        subs = tmp_path_factory.mktemp("attack-subs")
        for attacker in team:
            write_folder(subs, attacker)
        write_student(subs, "honest", HONEST)
        write_student(subs, ACCOMPLICE, {"tensor_ops.py": WRONG})
        out = tmp_path_factory.mktemp("attack-reports")

        # Two small runs beside the big one (2 cores): the honest student alone, and the
        # attacker that kills the grader, which must not take the big run down with it.
        alone_subs, alone_out = (
            tmp_path_factory.mktemp("alone-subs"),
            tmp_path_factory.mktemp("alone-out"),
        )
        write_student(alone_subs, "honest", HONEST)
        killer_subs, killer_out = (
            tmp_path_factory.mktemp("killer-subs"),
            tmp_path_factory.mktemp("killer-out"),
        )
        write_folder(killer_subs, grader_killer(mark))
        write_student(killer_subs, "honest", HONEST)

        before = _snapshot(subs)
        with ThreadPoolExecutor(2) as pool:
            alone = pool.submit(run_grader, "grade", str(alone_subs), "--out", str(alone_out))
            killer = pool.submit(run_grader, "grade", str(killer_subs), "--out", str(killer_out))
            proc = run_grader("grade", str(subs), "--out", str(out))
            alone_proc, killer_proc = alone.result(), killer.result()
        processes = settle_processes(mark)
        after = _snapshot(subs)
    finally:
        listener.close()

    # What changed, attributed by the marker every attacker writes.
    changes, forged = [], []
    for zone in [*ZONES, "subs"]:
        for kind, path in diff(before[zone], after[zone]):
            if (kind == "removed" and mark in path) or (kind != "removed" and mentions(path, mark)):
                slugs = [a.slug for a in team if mentions(path, f"{mark}-{a.slug}")]
                changes.append((zone, kind, path, slugs))
                if zone != "subs":
                    forged.append(path)
    pwned = [str(Path(d, f"PWNED-{mark}")) for d in ("/tmp", str(Path.home()), "/root", str(ROOT))]
    pwned = [p for p in pwned if os.path.exists(p)]

    # Clean up after the attackers before any test can fail: their processes, by id, and
    # the files they created, by the marker in their content.
    kill_processes(processes, mark)
    remove_forged(forged + pwned, mark)

    assert alone_proc.returncode == 0, alone_proc.stderr
    killer_data = results(killer_out) if (killer_out / "results.json").exists() else None
    return Evidence(
        data=results(out) if (out / "results.json").exists() else {"students": []},
        out=out,
        stdout=proc.stdout,
        stderr=proc.stderr,
        returncode=proc.returncode,
        mark=mark,
        attackers={a.slug: a for a in team},
        changes=changes,
        subs_changes=diff(before["subs"], after["subs"]),
        processes=processes,
        repo_changes=[
            (kind, path)
            for kind, path in diff(before["repo"], after["repo"])
            if not SKIP_DIRS & set(Path(path).relative_to(ROOT).parts)
        ],
        received=list(listener.received),
        pwned=pwned,
        alone=results(alone_out),
        killer=(killer_proc.returncode, killer_proc.stderr, killer_data),
    )


def test_the_run_completes(ev: Evidence):
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert {s["id"] for s in ev.data["students"]} >= {
        "honest",
        ACCOMPLICE,
        *(a.student for a in ev.attackers.values()),
    }


# ------------------------------------------------------------------ (1) nothing earned
@pytest.mark.parametrize("slug", SLUGS)
def test_attack_earns_nothing(ev: Evidence, slug: str):
    attacker = ev.attackers[slug]
    student = ev.student(attacker.student)
    passed = [
        (e["id"], c["name"], c["message"])
        for e in student["exercises"]
        for c in e["checks"]
        if c["status"] == "passed"
    ]
    assert student["score"] == 0 and not passed, (
        f"{attacker.what}: earned {student['score']}: {passed}"
    )
    ex = exercise(ev.data, attacker.student, attacker.exercise)
    for part, allowed in attacker.statuses.items():
        for c in ex["checks"]:
            if part in c["name"]:
                assert c["status"] in allowed, f"{c['name']}: {c['status']}: {c['message']}"


def test_accomplice_gains_nothing_from_tampering(ev: Evidence):
    """Attackers graded earlier rewrite its file, copy the reference outputs into its job
    folder from a daemon, or both: it still scores what its wrong code earns."""
    student = ev.student(ACCOMPLICE)
    assert student["score"] == 0, [
        (c["name"], c["status"]) for e in student["exercises"] for c in e["checks"]
    ]


# ------------------------------------------------------------------ (2) honest unaffected
def test_honest_student_gets_the_same_results_as_alone(ev: Evidence):
    honest = ev.student("honest")
    alone = next(s for s in ev.alone["students"] if s["id"] == "honest")
    for ex_id in ("tensor-ops", "save-load"):
        ex = exercise(ev.data, "honest", ex_id)
        assert ex["score"] == ex["max_score"] > 0, ex
    assert strip_seconds(honest["exercises"]) == strip_seconds(alone["exercises"])
    assert honest["score"] == alone["score"]


# ------------------------------------------------------------------ (3) no files changed
@pytest.mark.parametrize("slug", SLUGS)
def test_attack_changes_no_file_outside_its_scratch_space(ev: Evidence, slug: str):
    mine = [(zone, kind, path) for zone, kind, path, slugs in ev.changes if slug in slugs]
    assert not mine, f"{ev.attackers[slug].what}: {mine[:10]}"


def _student_text(ev: Evidence, slug: str) -> str:
    student = next((s for s in ev.data["students"] if s["id"] == ev.attackers[slug].student), {})
    return json.dumps(student)


def test_no_file_changed_by_any_attacker(ev: Evidence):
    """Everything an attacker writes holds the run's marker: nothing with it appeared in the
    repository, /tmp, the home folder or /."""
    assert not ev.changes, ev.changes[:20]


@pytest.mark.skipif(
    not os.environ.get("CI"), reason="others may be editing this checkout; strict in CI"
)
def test_repository_is_unchanged(ev: Evidence):
    """On a CI machine nothing else edits the checkout: no file in it may change at all."""
    assert not ev.repo_changes, ev.repo_changes[:20]


def test_submissions_folder_is_untouched(ev: Evidence):
    assert not ev.subs_changes, ev.subs_changes[:20]


def test_reports_folder_holds_only_the_reports(ev: Evidence):
    names = report_filenames(s["id"] for s in ev.data["students"])
    expected = {"results.json", "grades.csv", "index.html", "grades.sqlite", *names.values()}
    found = {p.name for p in ev.out.iterdir()}
    assert found == expected, (found - expected, expected - found)
    for path in ev.out.iterdir():
        assert path.is_file() and not path.is_symlink(), path
        assert re.fullmatch(r"[A-Za-z0-9._-]+", path.name), path.name
    assert "honest" in {s["id"] for s in results(ev.out)["students"]}  # the grader's, not a forgery
    # Odd student ids never put a report beside the reports folder.
    assert not [p for p in ev.out.parent.iterdir() if p.suffix == ".html"]


# ------------------------------------------------------------------ (4) no process survives
@pytest.mark.parametrize("slug", SLUGS)
def test_attack_leaves_no_process(ev: Evidence, slug: str):
    tag = ev.tag(slug)
    alive = {pid: cmd[:200] for pid, cmd in ev.processes.items() if tag in cmd}
    assert not alive, f"{ev.attackers[slug].what}: still running after the run: {alive}"


def test_no_marked_process_survives_the_run(ev: Evidence):
    assert not ev.processes, {pid: cmd[:200] for pid, cmd in list(ev.processes.items())[:10]}


# ------------------------------------------------------------------ (5) explained in words
@pytest.mark.parametrize("slug", SLUGS)
def test_report_explains_what_happened(ev: Evidence, slug: str):
    attacker = ev.attackers[slug]
    assert_explained(exercise(ev.data, attacker.student, attacker.exercise), attacker)


def test_huge_output_is_truncated(ev: Evidence):
    ex = exercise(ev.data, ev.attackers["a23_huge_output"].student, "tensor-ops")
    for name in ("column_mean of a tall", "row_sum"):
        c = next(c for c in ex["checks"] if name in c["name"])
        assert len(c["output"]) < 20_000
        assert "truncated" in c["output"], c["output"][-300:]
    assert (ev.out / "results.json").stat().st_size < 10 * 2**20
    assert max(p.stat().st_size for p in ev.out.glob("*.html")) < 2 * 2**20


# ------------------------------------------------------------------ isolation, specifically
def test_nothing_reaches_a_socket_on_this_machine(ev: Evidence):
    assert not ev.received, ev.received[:5]


def test_malicious_pickle_never_runs(ev: Evidence):
    assert not ev.pwned, ev.pwned
    ex = exercise(ev.data, ev.attackers["a29_malicious_pickle"].student, "save-load")
    assert "PWNED" not in json.dumps(ex)


def test_no_solution_or_hidden_file_is_visible(ev: Evidence):
    """The snooping attackers print and return whatever they find: no solution text and no
    path into the course's exercises/, solutions/ or hidden/ folders."""
    for slug in ("a14_snoop", "a15_steal_reference_outputs", "a16_memory_hunt"):
        text = _student_text(ev, slug)
        leaked = [s for s in SECRET_TEXT if s in text]
        assert not leaked, f"{slug} saw {leaked}: " + _excerpt(text, leaked[0])


def test_no_report_carries_solution_text(ev: Evidence):
    blob = (ev.out / "results.json").read_text() + "".join(
        p.read_text() for p in ev.out.glob("*.html")
    )
    assert "def linear_forward(x: torch.Tensor" not in blob
    assert "Reference solution" not in blob


def _excerpt(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 200) : at + 200]


# ------------------------------------------------------------------ hostile outputs
def test_html_reports_escape_everything(ev: Evidence):
    own_script = (ROOT / "grader" / "templates" / "sort_table.js").read_text()
    for page in ev.out.glob("*.html"):
        text = page.read_text()
        # The overview's sorting script is the only one, byte for byte our own file.
        text = text.replace(
            f"<script>{own_script}</script>", "", 1 if page.name == "index.html" else 0
        )
        assert "<script" not in text.lower(), page.name
        assert "<img" not in text.lower(), page.name
    own = report_filenames(s["id"] for s in ev.data["students"])
    page = (ev.out / own["<script>"]).read_text()
    assert (
        html.escape("<script>alert('xss')</script>", quote=False) in page
        or "&lt;script&gt;" in page
    )
    assert "&lt;script&gt;" in (ev.out / "index.html").read_text()


def test_grader_terminal_output_has_no_controls_or_workflow_commands(ev: Evidence):
    for stream in (ev.stderr, ev.stdout):
        assert not CONTROL.search(stream.replace("\t", " ")), repr(CONTROL.search(stream))
        for line in stream.splitlines():
            assert not line.lstrip().startswith("::"), line
            assert "##vso[" not in line, line
    for name in ("::notice::pwned", "esc\x1b[31m\rX\x07\n::error::forged"):
        assert name not in ev.stderr


def test_csv_cells_do_not_start_formulas(ev: Evidence):
    import csv

    rows = list(csv.reader((ev.out / "grades.csv").read_text().splitlines()))
    for row in rows[1:]:
        assert not row[0].startswith(("=", "+", "-", "@")), row[0]


def test_grader_survives_an_attacker_that_kills_it(ev: Evidence):
    code, stderr, data = ev.killer
    assert code == 0 and data is not None, f"the grader died (exit {code}): {stderr[-500:]}"
    killer = next(s for s in data["students"] if s["id"] == "k01_kill_grader")
    assert killer["score"] == 0
    honest = next(s for s in data["students"] if s["id"] == "honest")
    alone = next(s for s in ev.alone["students"] if s["id"] == "honest")
    assert strip_seconds(honest["exercises"]) == strip_seconds(alone["exercises"])


def test_sandbox_in_force(ev: Evidence):
    """The suite is meant for the real sandbox: say so when it ran without it."""
    assert shutil.which("bwrap"), "bubblewrap is not installed here"
    assert ev.data.get("sandbox") == "bubblewrap" and not ev.data.get("warnings"), (
        ev.data.get("sandbox"),
        ev.data.get("warnings"),
    )
