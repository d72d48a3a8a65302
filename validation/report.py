"""``make report``: write ``reports/latest/`` (Markdown + HTML) with the claims ledger, the
executed notebooks and every report section of ``validation/sections``.

A *section* is a module in ``validation/sections`` with ``TITLE`` (str), ``ORDER`` (int) and
``build(outdir: Path) -> str`` returning Markdown (figures saved under ``outdir/figures`` and
linked relatively). Sections are discovered automatically.
"""
from __future__ import annotations

import html
import importlib
import pkgutil
import platform
import subprocess
import time
from pathlib import Path

from . import ledger as L


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except Exception:
        return "unknown"


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def ledger_markdown(statuses) -> str:
    lines = ["## Claims ledger", ""]
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.verdict] = counts.get(s.verdict, 0) + 1
    lines.append("Verdict counts: " + ", ".join(f"**{k}** {counts[k]}" for k in L.VERDICTS if k in counts))
    lines.append("")
    section = None
    for s in statuses:
        if s.section != section:
            section = s.section
            lines += ["", f"### {section}", "", "| id | verdict | finding |", "|---|---|---|"]
        lines.append(f"| {s.id} | {s.verdict} | {_md_escape(s.detail)} |")
    notable = L.notable_results(statuses)
    if notable:
        lines += ["", "### Corrections, conditions, failures and findings", ""]
        for s, r in notable:
            v = r.verdict
            lines.append(f"- **{s.id}** ({v.verdict}, `{r.check.name}`): {_md_escape(v.detail)}")
            if v.printed:
                lines.append(f"  - printed: `{_md_escape(v.printed)}`")
            if v.corrected_form:
                lines.append(f"  - corrected: `{_md_escape(v.corrected_form)}`")
            if v.condition:
                lines.append(f"  - condition: {_md_escape(v.condition)}")
            if v.counterexample is not None:
                lines.append(f"  - counterexample: `{_md_escape(str(L._jsonable(v.counterexample)))}`")
            if v.paper_range:
                lines.append(f"  - paper's range: {_md_escape(L.paper_range_line(v.paper_range))}")
            for f in v.findings:
                lines.append(f"  - finding: {_md_escape(L.finding_line(f))}")
    return "\n".join(lines)


def _sections():
    from . import sections as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{pkg.__name__}.{info.name}"))
    return sorted(mods, key=lambda m: getattr(m, "ORDER", 100))


def _notebooks_markdown(outdir: Path, execute: bool) -> str:
    from .notebook_runner import execute_notebook, notebook_paths

    lines = ["## Notebooks", ""]
    nbdir = outdir / "notebooks"
    nbdir.mkdir(parents=True, exist_ok=True)
    for path in notebook_paths():
        if not execute:
            lines.append(f"- {path.name} (not executed: --no-notebooks)")
            continue
        t0 = time.perf_counter()
        try:
            nb = execute_notebook(path)
        except Exception as exc:  # report the failure, keep building the report
            lines.append(f"- **{path.name}: FAILED** — {type(exc).__name__}: {str(exc)[:300]}")
            continue
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        target = nbdir / (path.stem + ".html")
        target.write_text(body, encoding="utf-8")
        lines.append(f"- [{path.stem}](notebooks/{target.name}) — executed in "
                     f"{time.perf_counter() - t0:.1f} s")
    return "\n".join(lines)


def markdown_to_html(md: str, title: str) -> str:
    try:
        import mistune

        body = mistune.html(md) if hasattr(mistune, "html") else mistune.markdown(md)
    except Exception:
        body = "<pre>" + html.escape(md) + "</pre>"
    css = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 6px;"
           "vertical-align:top}img{max-width:100%}code{background:#f4f4f4}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{css}</style></head><body>{body}</body></html>")


def build_report(out="reports/latest", *, execute_notebooks: bool = True, force: bool = False) -> Path:
    """Build the report; returns the path of ``index.html``.

    ``out`` is checked before any work (:func:`validation._io.check_output_dir`): a symlink or a
    non-folder is refused, and an existing non-empty folder that is not an earlier report (it has
    no ``.sgdsm-report`` marker) is refused unless ``force=True`` — the report never writes over a
    user's folder by accident. The folder is marked as a report, and its files are replaced
    atomically."""
    from ._io import REPORT_MARKER, check_output_dir, write_text_atomic

    outdir = check_output_dir(out, force=force)
    (outdir / "figures").mkdir(parents=True, exist_ok=True)
    write_text_atomic(outdir / REPORT_MARKER, "A report folder written by `python -m validation report`; "
                                              "the next report replaces its files.\n")
    t0 = time.perf_counter()
    statuses = L.ledger(progress=True)
    parts = [
        "# SGD statistical mechanics — claims and validation report",
        "",
        f"Commit `{_git_commit()}` · Python {platform.python_version()} · "
        f"generated {time.strftime('%Y-%m-%d %H:%M:%S')} · host {platform.node() or 'unknown'}",
        "",
        ledger_markdown(statuses),
    ]
    for mod in _sections():
        parts += ["", f"## {mod.TITLE}", "", mod.build(outdir)]
    parts += ["", _notebooks_markdown(outdir, execute_notebooks)]
    parts += ["", f"_Report built in {time.perf_counter() - t0:.1f} s._", ""]
    md = "\n".join(parts)
    write_text_atomic(outdir / "report.md", md)
    write_text_atomic(outdir / "ledger.json", L.ledger_json(statuses))
    return write_text_atomic(outdir / "index.html", markdown_to_html(md, "SGD statmech report"))
