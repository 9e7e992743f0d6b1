"""`grader similarity`: a class folder in, the similarity of every two students out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.course.model import Course
from grader.similarity import detect
from grader.similarity.report import Similarity
from grader.similarity.texts import class_code, course_texts
from grader.submissions.folders import student_folders

DEFAULT_TOP = 25  # pairs shown per exercise


def similarity(course: Course, submissions: Path, top: int = DEFAULT_TOP) -> Similarity:
    """Every exercise's pairs of students, most similar first (``top`` of them kept).
    Raises GraderError when ``submissions`` is no folder of student folders."""
    skipped: list[str] = []
    folders = student_folders(submissions, course, skipped)
    codes = class_code(folders, course, skipped)
    exercises = []
    for ex in course.exercises:
        # The course's text is fingerprinted only for an exercise someone handed in.
        excluded = detect.boilerplate(course_texts(ex)) if codes[ex.id] else np.array([])
        exercises.append((ex.title, detect.compare(ex.id, codes[ex.id], excluded, top, skipped)))
    return Similarity(
        course=course.title,
        submissions=str(submissions),
        students=len(folders),
        exercises=exercises,
        skipped=skipped,
        top=top,
    )
