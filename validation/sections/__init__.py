"""Report sections: each module has TITLE, ORDER and build(outdir) -> Markdown."""
from __future__ import annotations

from pathlib import Path


def figures_dir(outdir) -> Path:
    """``<outdir>/figures`` (created); report Markdown links figures as ``figures/<name>``."""
    figdir = Path(outdir) / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    return figdir
