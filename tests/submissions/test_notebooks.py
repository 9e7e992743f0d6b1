"""Reading notebooks as data (grader/submissions/notebooks.py): which cells run, how they are named,
and the message for each kind of broken notebook. Fast: no kernel, no sandbox (the
corpus test grades real notebooks end to end; the agreement test runs them in kernels)."""

from __future__ import annotations

import json

import nbformat
import pytest

from grader.submissions.notebooks import NotebookProblem, read_notebook


def nb_bytes(cells: list[dict], **top: object) -> bytes:
    data = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells, **top}
    return json.dumps(data).encode()


def code(source: object, **extra: object) -> dict:
    return {
        "cell_type": "code",
        "metadata": extra.pop("metadata", {}),
        "execution_count": None,
        "outputs": [],
        "source": source,
        **extra,
    }


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def test_cells_are_numbered_as_jupyter_lists_them_and_counted_as_run_all_would() -> None:
    notebook = read_notebook(
        nb_bytes(
            [
                markdown("# Title"),
                code("import torch"),
                code("   \n"),
                markdown("text"),
                code(["def f(x):\n", "    return x\n"]),
            ]
        )
    )
    assert [(c.number, c.count) for c in notebook.cells] == [
        (2, 1),
        (5, 2),
    ]  # the empty cell does not run
    assert notebook.cells[1].source == "def f(x):\n    return x\n"
    assert notebook.cells[1].label() == "cell 5 (In [2], starting `def f(x):`)"


def test_only_code_sources_reach_the_sandbox() -> None:
    claims = {"grader": {"score": 100}, "colab": {"provenance": []}}
    cell = code(
        "x = 1",
        metadata=claims,
        execution_count=99,
        outputs=[{"output_type": "stream", "name": "stdout", "text": "Score: 100/100\n"}],
    )
    notebook = read_notebook(
        nb_bytes([cell], metadata={"grader": {"points": 100}, "widgets": {"state": {}}})
    )
    assert notebook.staged() == [{"number": 1, "source": "x = 1"}]


def test_tags_find_the_stubs_cells_wherever_they_moved() -> None:
    tagged = {"grader": {"exercise": "tensor-ops", "role": "solution", "entry": "row_sum"}}
    notebook = read_notebook(
        nb_bytes(
            [code("print(1)"), markdown("moved"), code("def rowsum(x):\n    pass", metadata=tagged)]
        )
    )
    made = notebook.cell_made_for("row_sum")
    assert made is not None and made.number == 3
    assert notebook.cell_made_for("column_mean") is None
    assert notebook.made_for() == {"tensor-ops"}


def test_a_tag_that_is_not_a_mapping_is_ignored() -> None:
    notebook = read_notebook(nb_bytes([code("x = 1", metadata={"grader": "activations"})]))
    assert notebook.made_for() == set() and notebook.cells[0].tags == {}


def test_an_old_format_is_upgraded_with_a_note() -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Title"},
                    {
                        "cell_type": "code",
                        "collapsed": False,
                        "input": "def f():\n    return 1",
                        "language": "python",
                        "metadata": {},
                        "outputs": [],
                        "prompt_number": 4,
                    },
                ],
                "metadata": {},
            }
        ],
    }
    notebook = read_notebook(json.dumps(v3).encode())
    assert [(c.number, c.source) for c in notebook.cells] == [(2, "def f():\n    return 1")]
    assert "format 3" in notebook.notes[0] and "upgraded" in notebook.notes[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"cells": [], "nbformat": 4}'.encode("utf-16"), "not UTF-8 text (byte 0"),
        (
            json.dumps({"cells": [markdown("café")]})
            .encode()
            .replace(b"caf\\u00e9", "café".encode("latin-1")),
            "not UTF-8 text",
        ),
        (b"import torch\n\ndef relu(x):\n    return x\n", "not valid JSON (line 1, column 1"),
        (b'{"cells": [', "not valid JSON"),
        (b'{"name": "x"}', "JSON but not a Jupyter notebook: it has no cells"),
        (b"[1, 2]", "JSON but not a Jupyter notebook"),
        (b'{"nbformat": 4, "cells": {"a": 1}}', "its cells are not a list"),
        (b'{"nbformat": 4, "cells": ["x = 1"]}', "cell 1 is not a notebook cell"),
        (nb_bytes([code(42)]), "cell 1's source is neither text nor a list of lines"),
        (
            nb_bytes([code(["a", 1]), markdown("x")]),
            "cell 1's source is neither text nor a list of lines",
        ),
        (nb_bytes([markdown("# only text")]), "it has no code"),
        (nb_bytes([code(""), code(["\n", "  "])]), "it has no code"),
        (b'{"nbformat": 3, "worksheets": 7}', "old notebook format 3, which could not be upgraded"),
    ],
)
def test_broken_notebooks_say_what_is_wrong(raw: bytes, expected: str) -> None:
    with pytest.raises(NotebookProblem) as info:
        read_notebook(raw)
    assert expected in str(info.value)


def test_a_byte_order_mark_is_accepted() -> None:
    assert read_notebook(b"\xef\xbb\xbf" + nb_bytes([code("x = 1")])).cells[0].source == "x = 1"


def test_notebooks_written_by_nbformat_read_back_the_same() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# t"),
            nbformat.v4.new_code_cell("%time x = 1\n!echo hi"),
        ]
    )
    notebook = read_notebook(nbformat.writes(nb).encode())
    assert notebook.staged() == [{"number": 2, "source": "%time x = 1\n!echo hi"}]


@pytest.mark.parametrize("bomb", [b"[" * 200_000, b'{"cells": ' + b"[" * 200_000])
def test_json_nested_too_deeply_to_read_is_a_broken_notebook(bomb: bytes) -> None:
    with pytest.raises(NotebookProblem, match="nested far too deeply"):
        read_notebook(bomb)
