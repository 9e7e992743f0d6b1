"""Reading a student's notebook as data: its code cells, in order.

Runs in the grader and only parses JSON: no notebook code runs here. Saved outputs,
execution counts, widget state and the metadata of Colab, VS Code or JupyterLab are
never read. The one piece of metadata used is the grader's own cell tags
(``metadata.grader``, written into the stubs): only to *name* cells in messages ("the
cell made for row_sum"), never to decide what runs or what scores.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

from grader.results import frame_cell


class NotebookProblem(Exception):
    """Why a notebook cannot be graded, in words for the student."""


@dataclass
class Cell:
    number: int  # position among all cells, markdown included (1-based), as Jupyter lists them
    count: int  # its execution count after Restart & Run All ("In [count]")
    source: str
    tags: dict = field(default_factory=dict)  # metadata.grader, when it is a dict (untrusted)

    @property
    def first_line(self) -> str:
        line = next((text.strip() for text in self.source.splitlines() if text.strip()), "")
        return line if len(line) <= 60 else line[:57] + "..."

    def label(self) -> str:
        return f"cell {self.number} (In [{self.count}], starting `{self.first_line}`)"


@dataclass
class Notebook:
    cells: list[Cell]  # the code cells that run: empty ones are skipped, as nbclient does
    notes: list[str] = field(default_factory=list)

    def cell(self, number: object) -> Cell | None:
        """The code cell numbered ``number``: a value from the sandbox, so anything but
        an int finds nothing."""
        if type(number) is not int:
            return None
        return next((c for c in self.cells if c.number == number), None)

    def cell_in_frame(self, file: str) -> Cell | None:
        """The cell a traceback frame names, if it names one."""
        return self.cell(frame_cell(file))

    def staged(self) -> list[dict]:
        """What the sandbox receives: each code cell's number and source, nothing else."""
        return [{"number": c.number, "source": c.source} for c in self.cells]

    def made_for(self) -> set[str]:
        """The exercises the grader's cell tags name (a stub of another exercise?)."""
        return {
            str(c.tags["exercise"]) for c in self.cells if isinstance(c.tags.get("exercise"), str)
        }

    def cell_made_for(self, entry: str) -> Cell | None:
        """The cell the stub made for ``entry``, found by its tag wherever it moved."""
        return next((c for c in self.cells if c.tags.get("entry") == entry), None)


def read_notebook(raw: bytes) -> Notebook:
    """The notebook's code cells, or NotebookProblem saying why it cannot be graded."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookProblem(
            f"it is not UTF-8 text (byte {exc.start} is {raw[exc.start : exc.start + 1]!r}); "
            "Jupyter saves notebooks as UTF-8: open it in Jupyter and save it again"
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:  # thousands of nested [ or {: no notebook looks like that
        raise NotebookProblem(
            "it is not a notebook: its JSON is nested far too deeply to read. Was another "
            "kind of file renamed to .ipynb? Use File > Download as .ipynb in Jupyter or "
            "Colab"
        ) from None
    except ValueError as exc:
        where = (
            f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise NotebookProblem(
            f"it is not a notebook: it is not valid JSON{where}. Was another kind of file "
            "renamed to .ipynb? Use File > Download as .ipynb in Jupyter or Colab"
        ) from None
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):
        raise NotebookProblem("it is JSON but not a Jupyter notebook: it has no cells")
    notes = []
    version = data.get("nbformat")
    if "worksheets" in data or (isinstance(version, int) and version < 4):
        data = _upgraded(text, version)
        notes.append(
            f"the notebook was saved in the old notebook format {version}; the grader upgraded it "
            "to format 4 to run it"
        )
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise NotebookProblem("it is JSON but not a Jupyter notebook: its cells are not a list")
    found: list[Cell] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise NotebookProblem(f"cell {number} is not a notebook cell")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)  # nbformat allows a list of lines or one string
        if not isinstance(source, str):
            raise NotebookProblem(f"cell {number}'s source is neither text nor a list of lines")
        if not source.strip():
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("grader") if isinstance(metadata, dict) else None
        found.append(Cell(number, len(found) + 1, source, tags if isinstance(tags, dict) else {}))
    if not found:
        raise NotebookProblem(
            "it has no code: every code cell is empty (or there are only text cells)"
        )
    return Notebook(found, notes)


def _upgraded(text: str, version: object) -> dict:
    import nbformat

    try:
        with warnings.catch_warnings():  # e.g. missing cell ids: not the terminal's business
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many kinds for malformed notebooks
        raise NotebookProblem(
            f"it is in the old notebook format {version}, which could not be upgraded "
            f"({type(exc).__name__}: {exc}); open it in Jupyter and save it again"
        ) from None


def cells_to_source(cells: list[Cell]) -> str:
    """The notebook's code as one Python text (magics turned into calls), for judges
    that read code."""
    return "\n".join(transformed_cells(cells))


def transformed_cells(cells: list[Cell]) -> list[str]:
    """Each cell's code as Python (magics turned into calls), in order."""
    from IPython.core.inputtransformer2 import TransformerManager

    transformer = TransformerManager()
    parts = []
    for cell in cells:
        try:
            parts.append(transformer.transform_cell(cell.source))
        except Exception:
            parts.append(cell.source)
    return parts
