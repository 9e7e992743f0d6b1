"""The Canvas gradebook export: its shape, the roster matching, and bad rosters.

Runs built by hand and rosters written to tmp; one test runs the real CLI, and one reads
the output the way Canvas's importer does, with Ruby's CSV (skipped without Ruby)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_grader

from grader.errors import GraderError
from grader.exports.canvas import BOM, export_canvas, read_roster
from grader.reports.json_report import render_json
from grader.results import ExerciseResult, GradingRun, StudentResult

HEADER = "Student,ID,SIS User ID,SIS Login ID,Section"
# As Canvas exports a gradebook: sortable names (with commas), an assignment column with
# its id, the read-only totals, and the test student at the end.
ROSTER = (
    f"{HEADER},Lab 1 (555),Current Score,Unposted Current Score,Final Score\n"
    "    Points Possible,,,,,10.00,(read only),(read only),(read only)\n"
    '"Lovelace, Ada",101,S101,ada@uni.edu,Section A,7.00,70.00,70.00,70.00\n'
    '"Hopper, Grace",102,S102,GHopper@Uni.edu,Section B,,,,\n'
    '"Turing, Alan",103,S103,turing@uni.edu,Section A,,,,\n'
    '"Student, Test",999,,abc123def,,,,,\n'
)


def _exercise(exercise_id: str, title: str, score: float, max_score: float) -> ExerciseResult:
    return ExerciseResult(
        id=exercise_id,
        title=title,
        score=score,
        max_score=max_score,
        status="passed" if score == max_score else "failed",
        checks=[],
    )


def _student(
    student_id: str,
    scores: tuple[float, float] = (2.0, 1.5),
    titles: tuple[str, str] = ("Tensors", "MLP & friends"),
) -> StudentResult:
    return StudentResult.of(
        student_id,
        [_exercise("ex1", titles[0], scores[0], 2.0), _exercise("ex2", titles[1], scores[1], 3.0)],
    )


def _run(*students: StudentResult) -> GradingRun:
    return GradingRun(
        course="DL 101", grader_version="0.1.0", sandbox="none", seed=0, students=list(students)
    )


def _roster(tmp_path: Path, text: str = ROSTER, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :], newline="")))


def test_header_and_points_possible_row_byte_for_byte(tmp_path: Path) -> None:
    run = _run(_student("ada"), _student("ghopper", (0.0, 3.0)))
    export = export_canvas(run, _roster(tmp_path))
    assert export.text.encode("utf-8") == (
        b"\xef\xbb\xbfStudent,ID,SIS User ID,SIS Login ID,Section,Tensors,MLP & friends\r\n"
        b"    Points Possible,,,,,2,3\r\n"
        b'"Lovelace, Ada",101,S101,ada@uni.edu,Section A,2,1.5\r\n'
        b'"Hopper, Grace",102,S102,GHopper@Uni.edu,Section B,0,3\r\n'
    )
    assert export.unmatched == []


def test_one_column_for_the_course_total(tmp_path: Path) -> None:
    run = _run(_student("ada"), _student("ghopper", (0.0, 3.0)))
    rows = _rows(export_canvas(run, _roster(tmp_path), "Week 3 autograder").text)
    assert rows == [
        [*HEADER.split(","), "Week 3 autograder"],
        ["    Points Possible", "", "", "", "", "5"],
        ["Lovelace, Ada", "101", "S101", "ada@uni.edu", "Section A", "3.5"],
        ["Hopper, Grace", "102", "S102", "GHopper@Uni.edu", "Section B", "3"],
    ]


def test_assignment_name_takes_the_roster_column_with_its_id(tmp_path: Path) -> None:
    # "Lab 1" is in the roster as "Lab 1 (555)": the grades go to that very assignment.
    run = _run(_student("ada", (2.0, 3.0)), _student("ghopper", (2.0, 3.0)))
    roster = ROSTER.replace("10.00", "5.00")
    assert (
        _rows(export_canvas(run, _roster(tmp_path, roster), "Lab 1").text)[0][-1] == "Lab 1 (555)"
    )
    # Given with an id, the name is used as it is.
    assert (
        _rows(export_canvas(run, _roster(tmp_path, roster), "Quiz (777)").text)[0][-1]
        == "Quiz (777)"
    )
    # A roster column of the exercise's title is used the same way.
    run = _run(_student("ada", titles=("Lab 1", "Other")))
    rows = _rows(export_canvas(run, _roster(tmp_path, ROSTER.replace("10.00", "2"))).text)
    assert rows[0][5:] == ["Lab 1 (555)", "Other"]


def test_points_possible_differing_from_canvas_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        GraderError, match=r"Lab 1 \(555\): Canvas has it out of 10 points.*out of 5"
    ):
        export_canvas(_run(_student("ada")), _roster(tmp_path), "Lab 1")


def test_two_roster_assignments_of_that_name_is_an_error(tmp_path: Path) -> None:
    roster = ROSTER.replace("Lab 1 (555),Current Score", "Lab 1 (555),Lab 1 (556)")
    with pytest.raises(
        GraderError, match=r"2 assignments named 'Lab 1': Lab 1 \(555\), Lab 1 \(556\)"
    ):
        export_canvas(_run(_student("ada")), _roster(tmp_path, roster), "Lab 1")


@pytest.mark.parametrize("folder", ["ada@uni.edu", "ADA", " ada ", "S101", "s101", "101"])
def test_a_folder_matches_by_login_its_local_part_sis_id_or_canvas_id(
    tmp_path: Path, folder: str
) -> None:
    export = export_canvas(_run(_student(folder)), _roster(tmp_path))
    assert [r[1] for r in _rows(export.text)[2:]] == ["101"]
    assert export.unmatched == []


@pytest.mark.parametrize("folder", ["ghopper", "GHOPPER@UNI.EDU", "gHopper@uni.edu "])
def test_login_matches_ignoring_case(tmp_path: Path, folder: str) -> None:
    export = export_canvas(
        _run(_student(folder)), _roster(tmp_path)
    )  # the roster has GHopper@Uni.edu
    assert [r[1] for r in _rows(export.text)[2:]] == ["102"]


def test_unmatched_submissions_are_listed_and_unsubmitted_students_left_out(tmp_path: Path) -> None:
    run = _run(_student("zoe"), _student("turing"), _student("nobody@else.edu"))
    export = export_canvas(run, _roster(tmp_path))
    assert export.unmatched == ["zoe", "nobody@else.edu"]
    # Only Turing: Ada and Grace did not submit, so Canvas keeps whatever they have.
    assert [r[0] for r in _rows(export.text)[2:]] == ["Turing, Alan"]


def test_rows_keep_the_roster_order_and_section(tmp_path: Path) -> None:
    run = _run(_student("turing"), _student("ada"))
    rows = _rows(export_canvas(run, _roster(tmp_path)).text)[2:]
    assert [(r[0], r[4]) for r in rows] == [
        ("Lovelace, Ada", "Section A"),
        ("Turing, Alan", "Section A"),
    ]


def test_a_folder_matching_two_roster_rows_is_an_error_naming_both(tmp_path: Path) -> None:
    # "alan" is one student's login and another's SIS User ID.
    roster = ROSTER + '"Kay, Alan",104,alan,akay@uni.edu,Section C,,,,\n'
    roster = roster.replace("turing@uni.edu", "alan@uni.edu")
    with pytest.raises(GraderError) as err:
        export_canvas(_run(_student("alan")), _roster(tmp_path, roster))
    message = str(err.value)
    assert "roster.csv" in message and "'alan' matches" in message
    assert "line 5 (Turing, Alan, ID 103" in message and "line 7 (Kay, Alan, ID 104" in message


def test_two_folders_matching_one_row_is_an_error_naming_both(tmp_path: Path) -> None:
    with pytest.raises(
        GraderError, match=r"submissions 'ada' and 'S101' both match line 3 \(Lovelace, Ada"
    ):
        export_canvas(_run(_student("ada"), _student("S101")), _roster(tmp_path))


def test_roster_as_canvas_may_write_it(tmp_path: Path) -> None:
    # A byte order mark, ";" separators and decimal commas, the "Manual Posting" row,
    # no SIS User ID column, and names split in two.
    roster = (
        "\ufeffLastName;FirstName;ID;SIS Login ID;Section;Lab 1 (555);Final Score\r\n"
        ";;;;;Manual Posting;\r\n"
        "    Points Possible;;;;;5,00;(read only)\r\n"
        "Lovelace;Ada;101;ada@uni.edu;Section A;;\r\n"
    )
    path = _roster(tmp_path, roster)
    assert [(r.line, r.name) for r in read_roster(path).rows] == [(4, "Lovelace, Ada")]
    rows = _rows(export_canvas(_run(_student("ada")), path, "Lab 1").text)
    assert rows[0][-1] == "Lab 1 (555)"
    assert rows[2] == ["Lovelace, Ada", "101", "", "ada@uni.edu", "Section A", "3.5"]


def test_roster_with_semicolons_and_quoted_names(tmp_path: Path) -> None:
    roster = ROSTER.replace(",", ";").replace('"Lovelace; Ada"', '"Lovelace, Ada"')
    assert '"Lovelace, Ada";101;S101' in roster
    rows = _rows(export_canvas(_run(_student("ada")), _roster(tmp_path, roster)).text)
    assert rows[2] == ["Lovelace, Ada", "101", "S101", "ada@uni.edu", "Section A", "2", "1.5"]


def test_read_roster_assignments_and_points(tmp_path: Path) -> None:
    roster = read_roster(_roster(tmp_path))
    assert roster.assignments == {"Lab 1 (555)": 10.0}  # the totals are not assignments
    assert [(r.line, r.canvas_id, r.login) for r in roster.rows] == [
        (3, "101", "ada@uni.edu"),
        (4, "102", "GHopper@Uni.edu"),
        (5, "103", "turing@uni.edu"),
        (6, "999", "abc123def"),
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"\xef\xbb\xbf \r\n", "is empty"),
        (
            "Student,ID,SIS Login ID,Section\nM\xfcller,1,m,A\n".encode("latin-1"),
            "is not UTF-8 (byte 33)",
        ),
        (
            b"student,ex1,total\nalice,1,1\n",
            "is not a Canvas gradebook export: "
            "it has no Student or ID or SIS Login ID or Section column",
        ),
        (b"Student,ID,Section\nA,1,S\n", "it has no SIS Login ID column"),
        (
            b"Student,ID,SIS Login ID,Section\nAda,s1234,ada,A\n",
            "line 2: ID 's1234' is not a Canvas user id",
        ),
        (b'Student,ID,SIS Login ID,Section\n"Ada,1,ada,A\n', "line 2: not readable as CSV"),
    ],
)
def test_bad_rosters_say_which_file_and_what_is_wrong(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "my roster.csv"
    path.write_bytes(content)
    with pytest.raises(GraderError) as err:
        export_canvas(_run(_student("ada")), path)
    assert f"roster {path}" in str(err.value)
    assert problem in str(err.value)
    assert "\n" not in str(err.value)  # the CLI prints it as one line


def test_a_missing_roster_is_named(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="roster .*nope.csv does not exist"):
        export_canvas(_run(_student("ada")), tmp_path / "nope.csv")


def test_odd_names_are_quoted_and_formulas_neutralised(tmp_path: Path) -> None:
    roster = (
        f"{HEADER}\n"
        '"=HYPERLINK(""http://x"")",101,S101,ada@uni.edu,"Sec, ""A""\nline 2"\n'
        '"O\'Brien, ""Bob""",102,+S102,bob@uni.edu,@sec\n'
    )
    run = _run(_student("ada", titles=('Shapes, "[C, H, W]"', "=1+1")), _student("bob"))
    text = export_canvas(run, _roster(tmp_path, roster)).text
    assert '"Shapes, ""[C, H, W]"""' in text  # quoted, inner quotes doubled
    rows = _rows(text)
    assert rows[0][5:] == ['Shapes, "[C, H, W]"', "'=1+1"]
    assert rows[2][:5] == [
        '\'=HYPERLINK("http://x")',
        "101",
        "S101",
        "ada@uni.edu",
        'Sec, "A"\nline 2',
    ]
    assert rows[3][:5] == ['O\'Brien, "Bob"', "102", "'+S102", "bob@uni.edu", "'@sec"]
    assert all(len(r) == 7 for r in rows)


def test_titles_on_several_lines_become_one(tmp_path: Path) -> None:
    run = _run(_student("ada", titles=("Tensors\nand more", "  MLP\t ops ")))
    assert _rows(export_canvas(run, _roster(tmp_path)).text)[0][5:] == [
        "Tensors and more",
        "MLP ops",
    ]


@pytest.mark.parametrize(
    ("titles", "problem"),
    [
        (("Tensors", "Tensors"), "two columns named 'Tensors'"),
        (("Section", "MLP"), "two columns named 'Section'"),
        (("=x", "'=x"), 'two columns named "\'=x"'),  # the same once neutralised
        (("Final Score predictor", "MLP"), "contains 'Final Score'"),
        (("Part (2)", "MLP"), "ends in a number in brackets"),
    ],
)
def test_titles_canvas_would_misread_are_errors(
    tmp_path: Path, titles: tuple[str, str], problem: str
) -> None:
    with pytest.raises(GraderError, match=problem):
        export_canvas(_run(_student("ada", titles=titles)), _roster(tmp_path))


def test_assignment_named_as_a_canvas_total_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="contains 'Current Score'"):
        export_canvas(_run(_student("ada")), _roster(tmp_path), "Current Score")
    with pytest.raises(GraderError, match="needs a name"):
        export_canvas(_run(_student("ada")), _roster(tmp_path), "  ")


def test_no_students_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="no students"):
        export_canvas(_run(), _roster(tmp_path))


# -- the real CLI ----------------------------------------------------------------------


def test_cli_export_canvas_end_to_end(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    run = _run(_student("ada"), _student("zoe"), _student("turing", (1.0, 0.0)))
    (reports / "results.json").write_text(render_json(run), encoding="utf-8")
    _roster(tmp_path)
    result = run_grader(
        "export",
        "canvas",
        "--roster",
        "roster.csv",
        "--out",
        "out/canvas.csv",
        "--reports",
        "reports",
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "wrote out/canvas.csv (2 students)",
        "not in the roster, so not in canvas.csv: zoe",
    ]
    assert (tmp_path / "out" / "canvas.csv").read_bytes() == (
        b"\xef\xbb\xbfStudent,ID,SIS User ID,SIS Login ID,Section,Tensors,MLP & friends\r\n"
        b"    Points Possible,,,,,2,3\r\n"
        b'"Lovelace, Ada",101,S101,ada@uni.edu,Section A,2,1.5\r\n'
        b'"Turing, Alan",103,S103,turing@uni.edu,Section A,1,0\r\n'
    )

    (tmp_path / "bad.csv").write_text("student,total\nada,3\n", encoding="utf-8")
    result = run_grader("export", "canvas", "--roster", "bad.csv", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "grader: roster bad.csv is not a Canvas gradebook export: it has no Student or ID or "
        "SIS Login ID or Section column (its header starts: 'student,total')"
    ]
    assert not (tmp_path / "canvas.csv").exists()


# -- read as Canvas reads it -----------------------------------------------------------

# Canvas's gradebook importer (canvas-lms app/models/gradebook_importer.rb) parses the
# upload with Ruby's CSV, in a Rails process whose default encoding is UTF-8 (-E UTF-8).
# This is its reading re-stated, not its code: the separator guessed from the first three
# lines, its CSV options and decimal-comma converter, the header test, where the student
# columns end, which columns are assignments ("Title (id)" or a new title; its totals
# dropped), the Points Possible row, and each student's cells.
CANVAS_READER = r"""
require "csv"
require "json"
path = ARGV[0]
first = File.foreach(path).first(3)
fields = {}
[";", ","].each do |sep|
  fields[sep] = 0
  begin
    sizes = first.map { |line| CSV.parse_line(line, col_sep: sep)&.size || 0 }
    fields[sep] = sizes.first if sizes.uniq.size == 1
  rescue CSV::MalformedCSVError
  end
end
comma_decimal = lambda do |cell|
  next cell unless cell.is_a?(String) && cell.match?(/^-?[0-9.,]+%?$/)
  parts = cell.split(/[,.]/)
  last = parts.pop
  parts.empty? ? last : [parts.join, last].join(".")
end
sep = fields[";"] > fields[","] ? ";" : ","
rows = CSV.read(path, col_sep: sep, skip_lines: /^[;, ]+$/, converters: [comma_decimal])
header = rows.shift
abort "header" unless header.length > 3 && header[0].include?("Student") && header[1].include?("ID")
student_columns = 3
if header[2] =~ /SIS\s+Login\s+ID/
  login = 2
  student_columns += 1
elsif header[2] =~ /SIS\s+User\s+ID/ && header[3] =~ /SIS\s+Login\s+ID/
  sis, login = 2, 3
  student_columns += 2
end
abort "section" unless header[student_columns - 1].include?("Section")
totals = /Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|Override Score|Override Grade|Override Status/
assignments = header.drop(student_columns).grep_v(totals).map do |name|
  title, id = (m = /\A(.*)\s\((\d+)\)\z/.match(name)) ? [m[1], m[2]] : [name, nil]
  { "title" => title, "id" => id, "column" => header.index(name) }
end
points = nil
students = []
rows.each do |row|
  if row[0]&.include?("Points Possible")
    points = assignments.map { |a| row[a["column"]] }
    next
  end
  next if row.compact.all? { |cell| cell =~ /^\s*(Muted|Manual Posting.*)?\s*$/i }
  students << { "name" => row[0], "id" => row[1], "sis_user_id" => sis && row[sis],
                "login" => row[login], "grades" => assignments.map { |a| row[a["column"]]&.strip } }
end
puts JSON.generate({ "separator" => sep, "assignments" => assignments, "points" => points, "students" => students })
"""  # noqa: E501 (Ruby code, kept as written)


# CI installs Ruby (scripts/dev-setup, run by .ci/run), so there the test never skips.
@pytest.mark.skipif(
    shutil.which("ruby") is None and not os.environ.get("CI"),
    reason="needs Ruby, whose CSV library Canvas reads with",
)
def test_canvas_importer_reads_it(tmp_path: Path) -> None:
    roster = ROSTER.replace("Hopper, Grace", 'Hopper, ""Amazing"" Grace; Navy').replace(
        "Turing, Alan", "Gödel, Kurt"
    )
    run = _run(
        _student("ada", titles=('Shapes: [C, H, W], "NCHW"', "MLP; friends")),
        _student("ghopper", (0.0, 2.25)),
        _student("S103", (1.0, 0.0)),
    )
    out = tmp_path / "canvas.csv"
    out.write_text(export_canvas(run, _roster(tmp_path, roster)).text, encoding="utf-8", newline="")
    script = tmp_path / "read.rb"
    script.write_text(CANVAS_READER, encoding="utf-8")
    done = subprocess.run(
        ["ruby", "-E", "UTF-8", str(script), str(out)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["separator"] == ","
    assert seen["assignments"] == [
        {"title": 'Shapes: [C, H, W], "NCHW"', "id": None, "column": 5},  # new: no id
        {"title": "MLP; friends", "id": None, "column": 6},
    ]
    assert seen["points"] == ["2", "3"]
    assert [(s["id"], s["sis_user_id"], s["login"], s["grades"]) for s in seen["students"]] == [
        ("101", "S101", "ada@uni.edu", ["2", "1.5"]),
        ("102", "S102", "GHopper@Uni.edu", ["0", "2.25"]),
        ("103", "S103", "turing@uni.edu", ["1", "0"]),
    ]
    assert [s["name"] for s in seen["students"]] == [
        "Lovelace, Ada",
        'Hopper, "Amazing" Grace; Navy',
        "Gödel, Kurt",
    ]

    # The total, to an existing assignment: Canvas sees its id.
    out.write_text(
        export_canvas(run, _roster(tmp_path, roster.replace("10.00", "5.00")), "Lab 1").text,
        encoding="utf-8",
        newline="",
    )
    seen = json.loads(
        subprocess.run(
            ["ruby", "-E", "UTF-8", str(script), str(out)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    assert seen["assignments"] == [{"title": "Lab 1", "id": "555", "column": 5}]
    assert seen["points"] == ["5"]
    assert [s["grades"] for s in seen["students"]] == [["3.5"], ["2.25"], ["1"]]
