"""Strip outputs and execution counts from notebooks/*.ipynb (keep git free of outputs)."""
from pathlib import Path

import nbformat

for path in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb")):
    nb = nbformat.read(str(path), as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    nbformat.write(nb, str(path))
    print("stripped", path.name)
