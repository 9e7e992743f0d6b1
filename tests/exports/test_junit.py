"""JUnit XML (grader/exports/junit.py): byte-for-byte for a small run, read back by
junitparser (a dev dependency; the parser EnricoMi/publish-unit-test-result-action
uses), and held to the structure Jenkins' junit-10.xsd declares."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from grader.exports.junit import render_junit
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult, exercise_status

# ------------------------------------------------------------------ the schema's rules
# What Jenkins' junit-10.xsd (jenkinsci/xunit-plugin) allows, element by element:
# attributes (required ones first) and children. Text is allowed where children are None.
ELEMENTS: dict[str, tuple[set[str], set[str], set[str] | None]] = {
    "testsuites": (set(), {"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": (
        {"name", "tests", "failures", "errors"},
        {
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
        },
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, set(), set()),
    "testcase": (
        {"name"},
        {"time", "classname", "group"},
        {
            "skipped",
            "error",
            "failure",
            "rerunFailure",
            "rerunError",
            "flakyFailure",
            "flakyError",
            "system-out",
            "system-err",
        },
    ),
    "failure": (set(), {"type", "message"}, None),
    "error": (set(), {"type", "message"}, None),
    "skipped": (set(), {"type", "message"}, None),
    "system-out": (set(), set(), None),
    "system-err": (set(), set(), None),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")  # testsuite(s)/@time


def _schema_rules(element: ET.Element) -> None:
    required, optional, children = ELEMENTS[element.tag]
    assert required <= set(element.attrib) <= required | optional, (element.tag, element.attrib)
    if element.tag in ("testsuites", "testsuite") and "time" in element.attrib:
        assert SUREFIRE_TIME.fullmatch(element.attrib["time"]), element.attrib["time"]
    for child in element:
        assert children is not None and child.tag in children, (element.tag, child.tag)
        _schema_rules(child)


def check_junit(xml: str) -> ET.Element:
    """Well-formed XML that follows the schema's rules, with counts that add up, read
    the same by junitparser (a dev dependency)."""
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    _schema_rules(root)
    totals = [0, 0, 0]
    for suite in root:
        cases = suite.findall("testcase")
        counts = [
            len(cases),
            sum(c.find("failure") is not None for c in cases),
            sum(c.find("error") is not None for c in cases),
        ]
        assert [int(suite.get(k)) for k in ("tests", "failures", "errors")] == counts
        assert all(len(c.findall("failure")) + len(c.findall("error")) <= 1 for c in cases)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    assert [int(root.get(k)) for k in ("tests", "failures", "errors")] == totals
    from junitparser import Error, Failure, JUnitXml

    parsed = JUnitXml.fromstring(xml.encode("utf-8"))
    assert (parsed.tests, parsed.failures, parsed.errors) == tuple(totals)
    for suite, element in zip(parsed, root, strict=True):
        stated = (suite.tests, suite.failures, suite.errors, suite.skipped)
        suite.update_statistics()  # junitparser counts the cases itself
        assert (suite.tests, suite.failures, suite.errors, suite.skipped) == stated
        for case, case_element in zip(suite, element.findall("testcase"), strict=True):
            assert case.name == case_element.get("name") and case.classname == suite.name
            kinds = {type(r) for r in case.result}
            assert case.is_passed == (not kinds)
            assert kinds <= {Failure, Error}
    return root


# ------------------------------------------------------------------ runs, built directly
def _exercise(ex_id: str, checks: list[CheckResult], **extra) -> ExerciseResult:
    status = extra.pop("status", None) or exercise_status(checks)
    return ExerciseResult(
        id=ex_id,
        title=ex_id.title(),
        score=sum(c.score for c in checks),
        max_score=sum(c.max_score for c in checks),
        status=status,
        checks=checks,
        **extra,
    )


def small_run() -> GradingRun:
    ops = _exercise(
        "tensor-ops",
        [
            CheckResult(
                "linear_forward on a batch",
                2.0,
                2.0,
                "passed",
                "as expected",
                output="shape (6, 3)\n",
                seconds=0.0042,
            ),
            CheckResult(
                "row_sum of a wide matrix",
                0.0,
                2.0,
                "error",
                'row_sum raised IndexError at line 7 of tensor_ops.py: "x" < 9 & more',
                hint="Reduce over dim=1.",
                seconds=0.001,
                traceback=[
                    {"file": "tensor_ops.py", "line": 7, "function": "row_sum", "code": "x[9]"}
                ],
            ),
            CheckResult(
                "column_mean of a tall matrix",
                0.5,
                2.0,
                "failed",
                "column_mean: shape is [9]; expected [4]",
            ),
            CheckResult(
                "row_sum keeps time",
                0.0,
                1.0,
                "timeout",
                "row_sum did not finish within 5 s",
                seconds=5.0,
            ),
        ],
        status="failed",
        file="tensor_ops.py",
        output="loading\n",
    )
    gone = "not submitted: no save_load.py or save_load.ipynb was found"
    save = _exercise(
        "save-load",
        [CheckResult("round trip", 0.0, 3.0, "missing", gone)],
        status="missing",
        message=gone,
    )
    return GradingRun(
        "A <course> & more", "0.1.0", "bubblewrap", 0, [StudentResult.of("ada", [ops, save])]
    )


SMALL = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="A &lt;course&gt; &amp; more" tests="5" failures="2" errors="2" time="5.005">
  <testsuite name="ada/tensor-ops" tests="4" failures="1" errors="2" skipped="0" time="5.005">
    <properties>
      <property name="student" value="ada"/>
      <property name="exercise" value="tensor-ops"/>
      <property name="title" value="Tensor-Ops"/>
      <property name="file" value="tensor_ops.py"/>
      <property name="status" value="failed"/>
      <property name="score" value="2.5"/>
      <property name="max_score" value="7"/>
    </properties>
    <testcase name="linear_forward on a batch" classname="ada/tensor-ops" time="0.004">
      <system-out>shape (6, 3)
</system-out>
    </testcase>
    <testcase name="row_sum of a wide matrix" classname="ada/tensor-ops" time="0.001">
      <error message="row_sum raised IndexError at line 7 of tensor_ops.py: &quot;x&quot; &lt; 9 \
&amp; more" type="error">row_sum raised IndexError at line 7 of tensor_ops.py: "x" &lt; 9 &amp; more
Points: 0 / 2
Hint: Reduce over dim=1.
Traceback (the student's own lines):
  File "tensor_ops.py", line 7, in row_sum
    x[9]</error>
    </testcase>
    <testcase name="column_mean of a tall matrix" classname="ada/tensor-ops" time="0.000">
      <failure message="column_mean: shape is [9]; expected [4]" type="failed">column_mean: shape \
is [9]; expected [4]
Points: 0.5 / 2</failure>
    </testcase>
    <testcase name="row_sum keeps time" classname="ada/tensor-ops" time="5.000">
      <error message="row_sum did not finish within 5 s" type="timeout">row_sum did not finish \
within 5 s
Points: 0 / 1</error>
    </testcase>
    <system-out>loading
</system-out>
  </testsuite>
  <testsuite name="ada/save-load" tests="1" failures="1" errors="0" skipped="0" time="0.000">
    <properties>
      <property name="student" value="ada"/>
      <property name="exercise" value="save-load"/>
      <property name="title" value="Save-Load"/>
      <property name="file" value=""/>
      <property name="status" value="missing"/>
      <property name="score" value="0"/>
      <property name="max_score" value="3"/>
      <property name="message" value="not submitted: no save_load.py or save_load.ipynb was found"/>
    </properties>
    <testcase name="round trip" classname="ada/save-load" time="0.000">
      <failure message="not submitted: no save_load.py or save_load.ipynb was found" \
type="missing">not submitted: no save_load.py or save_load.ipynb was found
Points: 0 / 3</failure>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_small_run_byte_for_byte():
    xml = render_junit(small_run())
    assert xml == SMALL
    check_junit(xml)


def test_junitparser_reads_it():
    junitparser = pytest.importorskip("junitparser")
    parsed = junitparser.JUnitXml.fromstring(render_junit(small_run()).encode("utf-8"))
    assert parsed.name == "A <course> & more"
    suites = list(parsed)
    assert [(s.name, s.tests, s.failures, s.errors, s.skipped) for s in suites] == [
        ("ada/tensor-ops", 4, 1, 2, 0),
        ("ada/save-load", 1, 1, 0, 0),
    ]
    assert {p.name: p.value for p in suites[0].properties()}["score"] == "2.5"
    cases = list(suites[0])
    assert [c.is_passed for c in cases] == [True, False, False, False]
    assert cases[0].system_out == "shape (6, 3)\n" and cases[0].time == 0.004
    [error] = cases[1].result
    assert isinstance(error, junitparser.Error) and error.type == "error"
    assert error.message == 'row_sum raised IndexError at line 7 of tensor_ops.py: "x" < 9 & more'
    assert error.text.splitlines()[-1] == "    x[9]"
    [missing] = list(suites[1])[0].result
    assert isinstance(missing, junitparser.Failure) and missing.type == "missing"


ODD = (
    "nul\x00 bell\x07 esc\x1b[31mred\x1b[0m surrogate\udcff ]]> <!-- \"quote' \ufffe "
    "tab\t cr\r lf\n emoji \U0001f600"
)


def test_odd_characters_stay_well_formed_and_readable():
    checks = [
        CheckResult(
            ODD,
            0.0,
            1.0,
            "error",
            ODD,
            hint=ODD,
            output=ODD,
            traceback=[{"file": ODD, "line": 1, "function": ODD, "code": ODD}],
        )
    ]
    run = GradingRun(
        ODD,
        "0.1.0",
        "bubblewrap",
        0,
        [StudentResult.of(ODD, [_exercise(ODD, checks, status="error", file=ODD, output=ODD)])],
    )
    xml = render_junit(run)
    xml.encode("utf-8")  # no lone surrogate left
    root = check_junit(xml)
    shown = (
        "nul\u2400 bell\u2407 escred surrogate\ufffd ]]> <!-- \"quote' \ufffd "
        "tab\t cr\r lf\n emoji \U0001f600"
    )
    case = root.find("testsuite/testcase")
    assert case.get("name") == shown  # newline, tab and CR survive in attributes
    assert case.find("error").get("message") == shown.splitlines()[0]
    assert case.find("system-out").text == shown  # and CR in text
    assert root.get("name") == shown


def test_huge_output_is_cut():
    checks = [CheckResult("loud", 1.0, 1.0, "passed", "", output="y" * 1_000_000)]
    xml = render_junit(
        GradingRun("c", "0.1.0", "bubblewrap", 0, [StudentResult.of("s", [_exercise("e", checks)])])
    )
    out = check_junit(xml).find("testsuite/testcase/system-out").text
    assert out == "y" * 65536 + "\n[... 934464 more characters]"


def test_many_students_and_failures_add_up():
    students = []
    for n in range(30):
        checks = [
            CheckResult(
                f"c{i}",
                0.0,
                1.0,
                ["passed", "failed", "error", "timeout", "missing"][(n + i) % 5],
                "m",
            )
            for i in range(20)
        ]
        students.append(
            StudentResult.of(f"s{n}", [_exercise("e1", checks), _exercise("e2", checks[:7])])
        )
    root = check_junit(render_junit(GradingRun("c", "0.1.0", "bubblewrap", 0, students)))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("810", "324", "324")
    assert len(root) == 60


def test_the_schema_rules_catch_what_reporters_reject():
    # The checks above can fail: a misplaced element, an undeclared attribute, wrong counts.
    for bad in (
        '<testsuites skipped="0"/>',
        '<testsuites><testcase name="x"/></testsuites>',
        '<testsuites><testsuite name="s" tests="1" failures="0" errors="0"/></testsuites>',
        '<testsuites><testsuite name="s" tests="0" failures="0" errors="0" time="1s"/>'
        "</testsuites>",
        '<testsuites><testsuite name="s" tests="1" failures="0" errors="0">'
        '<testcase name="c"><failure><b/></failure></testcase></testsuite></testsuites>',
    ):
        with pytest.raises(AssertionError):
            check_junit(bad)
