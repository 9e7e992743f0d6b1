"""Finding student folders and naming students (grader/submissions/folders.py): a link is not
a student's folder and is said so; a folder name that is not UTF-8 still names one
student, stably and readably."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT

from grader.course.loading import load_course
from grader.errors import GraderError
from grader.submissions.folders import collect, student_folders, student_id, student_ids

COURSE = load_course(ROOT, resolve_helpers=False)


def folder(root: Path, name: str | bytes) -> Path:
    path = os.path.join(os.fsencode(root), os.fsencode(name))
    os.makedirs(path)
    return Path(os.fsdecode(path))


def test_a_linked_folder_is_skipped_with_a_line_that_says_why(tmp_path: Path):
    ada = folder(tmp_path, "ada")
    (tmp_path / "bea").symlink_to(ada)
    (tmp_path / "notes.txt").write_text("not a student")
    skipped: list[str] = []
    assert student_folders(tmp_path, COURSE, skipped) == [ada]
    assert skipped == [
        "skipped bea: it is a link to a folder, not a student's folder (links are not "
        "followed); copy the folder itself to grade it"
    ]


def test_a_name_that_is_not_utf8_becomes_a_readable_escaped_id(tmp_path: Path):
    odd = folder(tmp_path, b"caf\xe9")
    assert student_id(odd.name) == "caf\\xe9"
    assert student_id(odd.name).encode("utf-8")  # the store, JSON and terminals take it
    assert student_id("café") == "café" and student_id("ada") == "ada"
    assert collect(odd, COURSE).student == "caf\\xe9"


def test_ids_stay_unique_when_an_escaped_name_is_another_folders_name(tmp_path: Path):
    odd = folder(tmp_path, b"caf\xe9")
    literal = folder(tmp_path, "caf\\xe9")  # a real folder named with a backslash
    ids = student_ids([literal, odd])
    assert ids[0] == "caf\\xe9" and ids[1].startswith("caf\\xe9~") and len(set(ids)) == 2
    assert student_ids([literal, odd]) == ids  # stable from run to run


def test_when_only_links_were_found_the_error_says_so(tmp_path: Path):
    ada = folder(tmp_path / "elsewhere", "ada")
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ada").symlink_to(ada)
    with pytest.raises(GraderError) as raised:
        student_folders(tmp_path / "class", COURSE)
    assert str(raised.value) == (
        f"{tmp_path / 'class'} holds no student folders; skipped ada: it is a link to a folder, "
        "not a student's folder (links are not followed); copy the folder itself to grade it"
    )
