"""Execute every notebook (outputs must not be committed)."""
import pytest

from validation.notebook_runner import execute_notebook, has_outputs, notebook_paths

NOTEBOOKS = notebook_paths()


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = execute_notebook(path, timeout=600)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path):
    assert not has_outputs(path), f"{path.name}: strip outputs before committing (scripts/strip_notebooks.py)"
