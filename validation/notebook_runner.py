"""Execute the project's notebooks (nbclient) — used by the tests and by the report."""
from __future__ import annotations

from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, *, timeout: int = 600):
    """Execute a notebook in its own folder; return the executed ``NotebookNode``.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def has_outputs(path: Path) -> bool:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")
