"""Whether two report folders of the same class say the same thing, byte for byte, once
what varies from run to run is masked: the seconds each check took (results.json) and
the timings a notebook prints itself (`%time`). For refactors that must not change
behaviour:

    python -m grader grade examples/submissions --out /tmp/before   # on the old commit
    python -m grader grade examples/submissions --out /tmp/after    # on the new one
    python scripts/compare_reports.py /tmp/before /tmp/after

Prints one line per file (same / differs) and exits 1 if any differs. grades.sqlite
holds times of its own and is left out; everything in it is in results.json.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

VARYING = [
    (re.compile(rb'"seconds": [0-9.e+-]+'), b'"seconds": 0'),
    # Up to the end of the line: a newline, JSON's escaped one, or the HTML tag after it.
    (re.compile(rb"CPU times: .*?(?=\\n|\n|<)"), b"CPU times: ..."),
    (re.compile(rb"Wall time: .*?(?=\\n|\n|<)"), b"Wall time: ..."),
]
SKIPPED = {"grades.sqlite"}


def masked(path: Path) -> bytes:
    data = path.read_bytes()
    for pattern, replacement in VARYING:
        data = pattern.sub(replacement, data)
    return data


def main(before: Path, after: Path) -> int:
    names = sorted({p.name for p in before.iterdir()} | {p.name for p in after.iterdir()} - SKIPPED)
    differs = 0
    for name in names:
        if name in SKIPPED:
            continue
        a, b = before / name, after / name
        if not (a.is_file() and b.is_file()):
            print(f"{name}: only in {'the first' if a.is_file() else 'the second'} folder")
            differs += 1
            continue
        same = masked(a) == masked(b)
        differs += not same
        print(
            f"{name}: {'same' if same else 'DIFFERS'} "
            f"(sha256 {hashlib.sha256(masked(b)).hexdigest()[:16]})"
        )
    print(f"{len(names) - differs} of {len(names)} files the same")
    return 1 if differs else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
