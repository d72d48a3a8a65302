"""The notebooks are percent-format sources (``notebooks/NN_name.py``); every one executes."""

import pytest

from validation.notebook_runner import (NOTEBOOK_DIR, NotebookCellError, cell_errors, execute_notebook,
                                        notebook_paths, percent_cells, read_notebook)

NOTEBOOKS = notebook_paths()
ROOT = NOTEBOOK_DIR.parent


def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) >= 6, f"expected the six theme notebooks in {NOTEBOOK_DIR}, found {NOTEBOOKS}"


def test_no_generator_or_generated_notebook_is_left():
    """The .py sources are the notebooks: no script writes them, no stripped .ipynb copy is tracked."""
    scripts = sorted(p.name for p in (ROOT / "scripts").glob("*notebook*.py"))
    assert not scripts, f"notebook generator scripts remain: {scripts}; edit notebooks/*.py instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_a_percent_source(path):
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")  # plain Python: a researcher can run or import-check it
    nb = read_notebook(path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), (
        f"{path.name}: the first cell is the notebook's Markdown title")
    assert any(c.cell_type == "code" for c in nb.cells)
    # the marker scan used for line numbers (and by `python -m validation where`) agrees with jupytext
    cells = percent_cells(path)
    assert [(c.kind, c.source) for c in cells] == [(c.cell_type, c.source) for c in nb.cells]
    lines = source.splitlines()
    assert all(lines[c.line - 1].startswith("# %%") for c in cells)


def test_percent_cells_reads_markers_and_header(tmp_path):
    p = tmp_path / "01_x.py"
    p.write_text("# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n"
                 "#     name: python3\n# ---\n\nimport math\n\n"
                 "# %% [markdown]\n# # Title\n#\n# text SC.eq5\n\n# %%\nx = 1\n\n\n# %%\ny = 2\n",
                 encoding="utf-8")
    cells = percent_cells(p)
    assert [(c.index, c.kind, c.line) for c in cells] == [(0, "code", 9), (1, "markdown", 11), (2, "code", 16),
                                                          (3, "code", 20)]
    assert cells[1].source == "# Title\n\ntext SC.eq5"
    assert [(c.cell_type, c.source) for c in read_notebook(p).cells] == [(c.kind, c.source) for c in cells]


def test_read_notebook_refuses_an_ipynb(tmp_path):
    with pytest.raises(ValueError, match="percent-format"):
        read_notebook(tmp_path / "01_x.ipynb")


@pytest.mark.notebook
def test_a_failing_cell_is_named_with_its_line(tmp_path):
    p = tmp_path / "99_broken.py"
    p.write_text("# %% [markdown]\n# # Broken\n\n# %%\nx = 1\n\n# %%\nraise ValueError('boom here')\n",
                 encoding="utf-8")
    with pytest.raises(NotebookCellError) as ei:
        execute_notebook(p, timeout=120)
    assert (ei.value.cell, ei.value.line) == (2, 7)
    assert "99_broken.py, cell 2 (line 7): ValueError: boom here" in str(ei.value)


def run_notebook(path):
    """Execute one notebook; a failing cell fails the test with its file, cell and line."""
    try:
        nb = execute_notebook(path, timeout=600)
    except NotebookCellError as exc:
        pytest.fail(str(exc), pytrace=False)
    errors = cell_errors(nb, path)
    assert not errors, "\n".join(errors)


# the other half runs from tests/test_notebooks_second_half.py: pytest-xdist's --dist loadfile
# keeps a file on one worker, and all eight notebooks on one worker took ~250 s of a ~560 s suite
FIRST_HALF = NOTEBOOKS[0::2]


@pytest.mark.notebook
@pytest.mark.parametrize("path", FIRST_HALF, ids=[p.stem for p in FIRST_HALF])
def test_notebook_executes(path):
    run_notebook(path)
