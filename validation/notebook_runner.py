"""Execute the project's notebooks — used by the tests and by the report.

A notebook is a jupytext *percent-format* Python file, ``notebooks/NN_name.py``: cells start at
``# %%`` (code) or ``# %% [markdown]`` (Markdown, every line commented). That file is the source
a researcher opens (Jupyter with jupytext, VS Code, PyCharm or any editor), edits and diffs; no
``.ipynb`` is committed and nothing generates the sources. To execute one, it is read with
``jupytext.read`` into an ``nbformat`` notebook in memory and run by ``nbclient`` in its own folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

__all__ = ["NOTEBOOK_DIR", "NotebookCell", "NotebookCellError", "notebook_paths", "read_notebook",
           "percent_cells", "execute_notebook", "cell_errors"]

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")
_MAGIC = re.compile(r"^# (%{1,2}[A-Za-z_]|!)")


@dataclass(frozen=True)
class NotebookCell:
    """One cell of a percent-format notebook: its 0-based ``index`` (the position jupytext gives
    it), ``kind`` ("code" or "markdown"), ``line`` (1-based line of its ``# %%`` marker in the
    ``.py`` file) and ``source`` (Markdown uncommented, code as written)."""

    index: int
    kind: str
    line: int
    source: str


class NotebookCellError(RuntimeError):
    """A notebook cell raised while the notebook executed; the message starts with the notebook's
    path, the cell's index and the line of its ``# %%`` marker, then the error."""

    def __init__(self, path: Path, cell: int | None, line: int | None, detail: str):
        self.path, self.cell, self.line, self.detail = Path(path), cell, line, detail
        where = f"cell {cell}" if cell is not None else "a cell"
        if line is not None:
            where += f" (line {line})"
        super().__init__(f"{_display(self.path)}, {where}: {detail}")


def _display(path: Path) -> str:
    path = Path(path)
    try:
        return path.resolve().relative_to(NOTEBOOK_DIR.parent).as_posix()
    except ValueError:
        return str(path)


def notebook_paths() -> list[Path]:
    """The notebooks' percent-format sources, ``notebooks/NN_*.py``, in order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def read_notebook(path: Path):
    """The ``nbformat`` notebook of a percent-format source (no outputs), read by jupytext."""
    import jupytext

    path = Path(path)
    if path.suffix != ".py":
        raise ValueError(f"{path}: a notebook here is a percent-format .py file (notebooks/NN_name.py); "
                         f"convert an .ipynb with `jupytext --to py:percent {path.name}`")
    return jupytext.read(str(path), fmt="py:percent")


def percent_cells(path: Path) -> list[NotebookCell]:
    """The cells of a percent-format source with the line of each ``# %%`` marker, read without
    importing jupytext (a YAML header between ``# ---`` lines is skipped; text before the first
    marker, if any, is a code cell as jupytext reads it)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    start = 0
    if lines and lines[0].strip() == "# ---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "# ---":
                start = i + 1
                break
    chunks: list[tuple[str, int, list[str]]] = []
    kind, first, body = "code", start + 1, []
    for i in range(start, len(lines)):
        m = _MARKER.match(lines[i])
        if m:
            if chunks or any(s.strip() for s in body):
                chunks.append((kind, first, body))
            rest = m.group("rest")
            kind = "markdown" if re.search(r"\[(markdown|md)\]", rest) else "code"
            first, body = i + 1, []
        else:
            body.append(lines[i])
    if chunks or any(s.strip() for s in body):
        chunks.append((kind, first, body))
    cells = []
    for index, (kind, line, body) in enumerate(chunks):
        while body and not body[-1].strip():
            body = body[:-1]
        while body and not body[0].strip():
            body = body[1:]
            if index == 0 and not _MARKER.match(lines[line - 1]):
                line += 1  # no marker: the cell starts at its first line of text
        if kind == "markdown":
            body = [b[2:] if b.startswith("# ") else b[1:] if b.startswith("#") else b for b in body]
        else:  # jupytext comments out IPython magics (``# %matplotlib inline``) in a .py file
            body = [b[2:] if _MAGIC.match(b) else b for b in body]
        cells.append(NotebookCell(index, kind, line, "\n".join(body)))
    return cells


def cell_errors(nb, path: Path | None = None) -> list[str]:
    """One line per code cell of an executed notebook that holds an error output:
    ``"<notebook>, cell N (line L): EName: message"``."""
    lines = {c.index: c.line for c in percent_cells(path)} if path is not None else {}
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                where = f"cell {i}" + (f" (line {lines[i]})" if i in lines else "")
                name = _display(path) if path is not None else "notebook"
                out.append(f"{name}, {where}: {o.get('ename')}: {o.get('evalue')}")
    return out


def execute_notebook(path: Path, *, timeout: int = 600):
    """Execute a notebook source in its own folder; return the executed ``NotebookNode``.

    Raises :class:`NotebookCellError` naming the notebook, the failing cell and its line in the
    ``.py`` source (the ``nbclient`` error, with the traceback, is its cause).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = read_notebook(path)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        lines = {c.index: c.line for c in percent_cells(path)}
        failing = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                        and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        err = next((o for o in nb.cells[failing].outputs if o.get("output_type") == "error"), {}) \
            if failing is not None else {}
        detail = (f"{err.get('ename')}: {err.get('evalue')}" if err
                  else " ".join(str(exc).split())[:500])
        raise NotebookCellError(path, failing, lines.get(failing), detail) from exc
    return nb
