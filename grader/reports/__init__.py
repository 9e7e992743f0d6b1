"""Report writers. Every report is a pure function of a ``GradingRun``.

May import: ``grader.results``, ``grader.terminal`` and jinja2; nothing of the course,
the grading or the sandbox.
"""

from __future__ import annotations

from pathlib import Path

from grader.reports.atomic import write_bytes_atomic, write_text_atomic
from grader.reports.csv_report import write_csv
from grader.reports.html_report import report_filename, report_filenames, write_html
from grader.reports.json_report import write_json
from grader.results import GradingRun

__all__ = [
    "report_filename",
    "report_filenames",
    "write_bytes_atomic",
    "write_reports",
    "write_text_atomic",
]


def write_reports(run: GradingRun, out_dir: Path, pages: set[str] | None = None) -> list[Path]:
    """Write results.json, grades.csv, the HTML pages of the students in ``pages`` (all
    when None) and index.html directly into ``out_dir`` (created if needed); return the
    paths written."""
    out_dir = Path(out_dir)
    # Validate ids before touching the disk: duplicates would overwrite each other.
    report_filenames(s.id for s in run.students)
    return [write_json(run, out_dir), write_csv(run, out_dir), *write_html(run, out_dir, pages)]
