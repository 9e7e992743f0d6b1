"""Comparing every two students' code for one exercise, with copydetect.

copydetect tokenizes each text (Pygments' Python lexer), replaces every name by ``V``,
every function name by ``F``, every string by ``S``, drops comments and white space,
and fingerprints what is left by hashing each run of ``NOISE`` characters. Two texts
share a region where they share fingerprints: renaming a variable or moving a function
changes nothing of that. Fingerprints found anywhere in the course's own text (the stub,
its docstrings and examples) are removed from every student's before comparing, so an
untouched stub has nothing left to be similar with.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from copydetect.detector import CodeFingerprint, compare_files

from grader.similarity.texts import StudentCode

NOISE = 25  # the shortest shared run that counts, in characters of the reduced code
WINDOW = 1  # winnowing window: 1 keeps every fingerprint (short texts: it costs nothing)


@dataclass
class Pair:
    a: StudentCode
    b: StudentCode
    similarity: float  # the share of both texts' own code that the two have in common
    share_a: float  # the share of a's own code found in b
    share_b: float
    spans_a: list[tuple[int, int]]  # shared regions: character ranges of a.text
    spans_b: list[tuple[int, int]]


@dataclass
class ExerciseSimilarity:
    exercise: str
    files: int  # students' files compared
    own: int  # of those, files with code of their own (beyond the course's text)
    compared: int  # pairs compared
    median: float  # the similarity of the median pair: what is usual for this exercise
    pairs: list[Pair]  # the most similar pairs, most similar first


def boilerplate(course_texts: list[str]) -> np.ndarray:
    """Every fingerprint of the course's own text."""
    hashes: set[int] = set()
    for text in course_texts:
        hashes |= _fingerprint(text, np.array([]), window=1).hashes
    return np.unique(np.array(sorted(hashes), dtype=np.int64))


def _fingerprint(text: str, excluded: np.ndarray, window: int = WINDOW) -> CodeFingerprint:
    return CodeFingerprint(
        "code.py", NOISE, window, excluded, language="python", fp=io.StringIO(text)
    )


def compare(
    exercise: str, codes: list[StudentCode], excluded: np.ndarray, top: int, skipped: list[str]
) -> ExerciseSimilarity:
    """Every pair of ``codes`` (the files of ``exercise``) compared; the ``top`` most similar kept,
    with their shared regions."""
    prints: list[tuple[StudentCode, CodeFingerprint]] = []
    done: dict[str, CodeFingerprint] = {}  # the same text once: untouched stubs, shared files
    for code in codes:
        try:
            if code.text not in done:
                done[code.text] = _fingerprint(code.text, excluded)
            prints.append((code, done[code.text]))
        except Exception as exc:  # a third-party tokenizer on hostile text: say it, go on
            skipped.append(
                f"{code.student}, {code.exercise}: not compared: {code.name} could not be "
                f"tokenized ({type(exc).__name__})"
            )
    n = len(prints)
    overlap = overlaps([fp for _, fp in prints])
    coverage = np.array([fp.token_coverage for _, fp in prints], dtype=np.float64)
    both = overlap + overlap.T
    sizes = coverage[:, None] + coverage[None, :]
    similarity = np.divide(both, sizes, out=np.zeros_like(both), where=sizes > 0)
    rows, cols = np.triu_indices(n, k=1)
    scores = similarity[rows, cols]
    # Most similar first; ties in the folders' order, the same every run.
    order = np.lexsort((cols, rows, -scores))
    ranked = [_pair(*prints[rows[i]], *prints[cols[i]]) for i in order[:top] if scores[i] > 0]
    return ExerciseSimilarity(
        exercise=exercise,
        files=n,
        own=sum(1 for _, fp in prints if fp.hashes),
        compared=len(scores),
        median=float(np.median(scores)) if len(scores) else 0.0,
        pairs=ranked,
    )


def overlaps(prints: list[CodeFingerprint]) -> np.ndarray:
    """``[a, b]``: how much of a's code b shares, as copydetect's ``compare_files``
    counts it (the characters of a's reduced code inside a fingerprint that b also
    has), for every two texts at once. ``compare_files`` costs about a millisecond a
    pair, and a class of 200 has 20,000 pairs per exercise."""
    n = len(prints)
    result = np.zeros((n, n), dtype=np.float64)
    if n < 2:
        return result
    k = prints[0].k
    ids = {h: i for i, h in enumerate(set().union(*(fp.hashes for fp in prints)))}
    has = np.zeros((n, len(ids)), dtype=bool)  # has[b, h]: b has fingerprint h
    for b, fp in enumerate(prints):
        has[b, [ids[h] for h in fp.hashes]] = True
    for a, fp in enumerate(prints):
        if not fp.hashes:
            continue
        where = [(i, ids[h]) for h, places in fp.hash_idx.items() for i in places]
        where.sort()
        positions = np.array([i for i, _ in where], dtype=np.int64)
        hashes = np.array([h for _, h in where], dtype=np.int64)
        others = np.flatnonzero(has[:, hashes].any(axis=1))
        others = others[others != a]
        for chunk in np.array_split(others, max(1, len(others) * len(positions) // 2**20 + 1)):
            result[a, chunk] = _covered(has[np.ix_(chunk, hashes)], positions, k)
    return result


def _covered(shared: np.ndarray, positions: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``shared`` (which of the sorted ``positions`` have a shared
    fingerprint): the length of the union of ``[p, p + k)`` over its shared p."""
    far = np.iinfo(np.int64).max // 2
    marked = np.where(shared, positions[None, :], far)
    # The next shared position after each one: the running minimum from the right.
    following = np.minimum.accumulate(marked[:, ::-1], axis=1)[:, ::-1]
    following = np.concatenate([following[:, 1:], np.full((len(shared), 1), far)], axis=1)
    reach = np.minimum(following - positions[None, :], k)
    return np.where(shared, reach, 0).sum(axis=1).astype(np.float64)


def _pair(
    code_a: StudentCode, fp_a: CodeFingerprint, code_b: StudentCode, fp_b: CodeFingerprint
) -> Pair:
    # compare_files' shares are each side's overlap over its own code ("coverage"); the
    # pair's similarity weighs both by size, so a near-empty file sharing its one line
    # with another does not read as a copy of it.
    _, (share_a, share_b), (slices_a, slices_b) = compare_files(fp_a, fp_b)
    covered = fp_a.token_coverage + fp_b.token_coverage
    similarity = (share_a * fp_a.token_coverage + share_b * fp_b.token_coverage) / covered
    return Pair(
        code_a,
        code_b,
        min(float(similarity), 1.0),
        min(float(share_a), 1.0),
        min(float(share_b), 1.0),
        _spans(slices_a, code_a.text),
        _spans(slices_b, code_b.text),
    )


def _spans(slices: np.ndarray, text: str) -> list[tuple[int, int]]:
    """copydetect's slices (a row of starts, a row of ends) as sorted, merged ranges of
    ``text``, widened to whole words: its mapping back from the reduced code can land a
    character inside a name or keyword."""
    if len(slices) == 0 or slices.shape[-1] == 0:
        return []
    merged: list[tuple[int, int]] = []
    for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist(), strict=True)):
        start, end = max(0, int(start)), min(len(text), int(end))
        if end <= start:
            continue
        while start > 0 and _word(text[start - 1]) and _word(text[start]):
            start -= 1
        while end < len(text) and _word(text[end - 1]) and _word(text[end]):
            end += 1
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"
