"""Shared by the ``make_notebook_NN.py`` scripts: build a notebook from (kind, source) cells and
write it without outputs."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def build_notebook(cells) -> nbformat.NotebookNode:
    """``cells``: sequence of ("md" | "code", source)."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    for i, cell in enumerate(nb.cells):  # deterministic ids: regenerating gives no spurious diff
        cell["id"] = f"cell-{i:03d}"
    return nb


def write_notebook(cells, out: Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build_notebook(cells), str(out))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def claims_cell(ids, *, module: str | None = None) -> tuple[str, str]:
    """The closing code cell: a Markdown table of the claims' verdicts (see
    ``validation.ledger.claims_markdown``)."""
    mod = f", module={module!r}" if module else ""
    return ("code", "from IPython.display import Markdown, display\n"
                    "from validation.ledger import claims_markdown\n"
                    f"display(Markdown(claims_markdown({list(ids)!r}{mod})))")
