"""Where is a claim handled? ``python -m validation where SC.eq5``.

Lists every place that cites a claim id of ``shared/THEORY.md``: the theory functions that derive
it, the numerics functions that compute it, the checks that judge it, the experiments that measure
it, the report sections that render it, the notebook cells that show it, the committed records that
hold its measurements and the tests that pin it.

There is no hand-written list. One index is built from the sources themselves:

* the Python packages ``theory``, ``numerics``, ``validation`` and the ``tests`` are parsed with
  :mod:`ast` (nothing is imported): every docstring and every string constant of a function, class
  or module is searched for claim ids, and a hit is attributed to the innermost function or class
  around it (a module-level assignment such as a table of panels to its name). A function decorated
  with ``@check("ID")`` is the ledger check that *judges* the claim;
* the notebooks' percent-format sources, ``notebooks/NN_name.py``, cell by cell;
* the records ``validation/data/**/*.json`` whose ``claims`` field names the id.

An id is found where it stands as a word: ``SC.eq5`` in "SC.eq5," or in the panel key
``RND.H4.left`` (a panel of ``RND.H4``), never inside ``SC.eq50``.
"""
from __future__ import annotations

import argparse
import ast
import functools
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from .claims_index import CLAIM_IDS, SECTION_OF

__all__ = ["KINDS", "Citation", "cited_ids", "build_index", "where", "format_citations", "add_parser",
           "main"]

ROOT = Path(__file__).resolve().parent.parent

Kind = Literal["theory function", "numerics function", "check", "experiment", "evidence",
               "report section", "notebook cell", "record", "test", "validation function"]

#: The kinds in the order they are printed (the derivation first, the tests last).
KINDS: tuple[str, ...] = ("theory function", "numerics function", "check", "experiment", "evidence",
                          "report section", "notebook cell", "record", "validation function", "test")

#: Source folders/files -> kind; the first prefix that matches a repo-relative path wins.
_KIND_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("theory/", "theory function"),
    ("numerics/", "numerics function"),
    ("validation/checks/", "check"),
    ("validation/experiments/", "experiment"),
    ("validation/reproductions.py", "experiment"),
    ("validation/synthetic_cli.py", "experiment"),
    ("validation/evidence", "evidence"),
    ("validation/sections/", "report section"),
    ("validation/report.py", "report section"),
    ("validation/", "validation function"),
    ("tests/", "test"),
)
_PACKAGES = ("theory", "numerics", "validation", "tests")
#: Files that list every id by construction (they would cite everything).
_SKIP = ("validation/claims_index.py", "validation/where.py")

#: How a place cites the id, strongest first: a registered ledger check, its docstring, a string
#: in its code (an id passed to a function, a table key), a notebook cell, a record's claims field.
_VIA_ORDER = {"@check": 0, "docstring": 1, "string": 2, "cell": 3, "claims": 4}


@dataclass(frozen=True, order=True)
class Citation:
    """One place that cites a claim id.

    ``kind``: one of :data:`KINDS`; ``name``: the qualified name (``theory.laplace.gaussian_mixture``,
    ``validation.checks.laplace.Foo.bar``), a notebook cell (``02_effective_potential_and_curl
    cell 5``) or a record's experiment; ``path``: the file, relative to the repository root;
    ``line``: 1-based line of the ``def``/``class``, the cell marker or the ``claims`` field;
    ``via``: how it cites (``@check`` — the ledger check judging it —, ``docstring``, ``string``,
    ``cell``, ``claims``); ``summary``: the first docstring line, the cell's heading, or the record's
    claims.
    """

    kind: str
    name: str
    path: str
    line: int
    via: str
    summary: str = ""

    def location(self) -> str:
        return f"{self.path}:{self.line}"


# --------------------------------------------------------------------------------------------------
# finding ids in text
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _id_pattern() -> re.Pattern:
    alternatives = "|".join(re.escape(i) for i in sorted(CLAIM_IDS, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_.])(?:{alternatives})(?![A-Za-z0-9_])")


def cited_ids(text: str) -> list[str]:
    """The claim ids cited in ``text``, each once, in order of first appearance.

    >>> cited_ids("SC.eq5 (see also RND.H4.left, not SC.eq50)")
    ['SC.eq5', 'RND.H4']
    """
    if not isinstance(text, str):
        raise TypeError(f"cited_ids takes the text to search as a str; got {type(text).__name__}")
    return list(dict.fromkeys(m.group(0) for m in _id_pattern().finditer(text)))


# --------------------------------------------------------------------------------------------------
# the index
# --------------------------------------------------------------------------------------------------
def _kind_of(rel: str) -> str | None:
    return next((kind for prefix, kind in _KIND_BY_PREFIX if rel.startswith(prefix)), None)


def _first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _is_check_decorator(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "check") or (isinstance(f, ast.Attribute) and f.attr == "check")


def _strings(node: ast.AST, *, skip_defs: bool = True):
    """The string constants under ``node`` (not descending into nested functions/classes)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            yield n.value
            continue
        for child in ast.iter_child_nodes(n):
            if skip_defs and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            stack.append(child)


def _module_name(rel: str) -> str:
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _python_citations(path: Path, rel: str, kind: str):
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    except (SyntaxError, UnicodeDecodeError, OSError):
        return  # a file being edited elsewhere: skipped, the rest of the index stands
    module = _module_name(rel)

    def emit(name, line, via, summary, texts):
        for text in texts:
            for cid in cited_ids(text):
                yield cid, Citation(kind, name, rel, line, via, summary)

    mod_doc = ast.get_docstring(tree, clean=False)
    yield from emit(module, 1, "docstring", _first_line(mod_doc), [mod_doc or ""])

    def visit(body, prefix: str):
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = f"{prefix}.{stmt.name}"
                doc = ast.get_docstring(stmt, clean=False)
                summary = _first_line(doc)
                checks = [d for d in stmt.decorator_list if _is_check_decorator(d)]
                for d in checks:  # the claims this function is registered to judge
                    yield from emit(qual, stmt.lineno, "@check", summary,
                                    [a.value for a in d.args if isinstance(a, ast.Constant)
                                     and isinstance(a.value, str)])
                yield from emit(qual, stmt.lineno, "docstring", summary, [doc or ""])
                # every other string of the def, its decorators and (for a class) its fields
                others = [s for s in _strings(stmt) if s is not doc]
                yield from emit(qual, stmt.lineno, "string", summary, others)
                yield from visit(stmt.body, qual)
            elif prefix == module:  # module level: an assignment is named after its target
                strings = [s for s in _strings(stmt) if s is not mod_doc]
                if not strings:
                    continue
                targets = (stmt.targets if isinstance(stmt, ast.Assign)
                           else [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                name = f"{module}.{names[0]}" if names else module
                yield from emit(name, stmt.lineno if names else 1, "string", "", strings)

    yield from visit(tree.body, module)


def _notebook_citations(root: Path):
    from .notebook_runner import percent_cells

    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.py")):
        rel = path.relative_to(root).as_posix()
        heading = ""
        for cell in percent_cells(path):
            if cell.kind == "markdown":
                titles = [ln.lstrip("#").strip() for ln in cell.source.splitlines() if ln.startswith("#")]
                heading = titles[0] if titles else heading
                summary = f"Markdown: {heading or _first_line(cell.source)}"
            else:
                summary = f"code under “{heading}”" if heading else "code"
            for cid in cited_ids(cell.source):
                yield cid, Citation("notebook cell", f"{path.stem} cell {cell.index}", rel, cell.line, "cell",
                                    summary)


def _record_citations(root: Path):
    data = root / "validation" / "data"
    for path in sorted(data.rglob("*.json")) if data.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
            record = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        claims = record.get("claims") if isinstance(record, dict) else None
        if not isinstance(claims, list):
            continue
        m = re.search(r'"claims"\s*:', text)
        line = text.count("\n", 0, m.start()) + 1 if m else 1
        prov = record.get("provenance") if isinstance(record.get("provenance"), dict) else {}
        device = prov.get("device") or prov.get("device_name") or ""
        name = str(record.get("experiment") or path.stem)
        summary = f"measured record of {name}" + (f" on {device}" if device else "") + \
            f"; claims {', '.join(map(str, claims))}"
        for cid in dict.fromkeys(c for c in claims if c in SECTION_OF):
            yield cid, Citation("record", name, path.relative_to(root).as_posix(), line, "claims", summary)


def _sort_key(c: Citation):
    return (KINDS.index(c.kind) if c.kind in KINDS else len(KINDS), _VIA_ORDER.get(c.via, 9), c.path, c.line,
            c.name)


@functools.lru_cache(maxsize=4)
def _index(root: str) -> dict[str, tuple[Citation, ...]]:
    base = Path(root)
    found: dict[str, dict[tuple[str, str], Citation]] = {cid: {} for cid in CLAIM_IDS}

    def add(cid, cit):
        key = (cit.path, cit.name)
        old = found[cid].get(key)
        if old is None or _VIA_ORDER[cit.via] < _VIA_ORDER[old.via]:
            found[cid][key] = cit

    for pkg in _PACKAGES:
        for path in sorted((base / pkg).rglob("*.py")) if (base / pkg).is_dir() else []:
            rel = path.relative_to(base).as_posix()
            kind = _kind_of(rel)
            if kind is None or rel in _SKIP or "__pycache__" in rel:
                continue
            for cid, cit in _python_citations(path, rel, kind):
                add(cid, cit)
    for cid, cit in _notebook_citations(base):
        add(cid, cit)
    for cid, cit in _record_citations(base):
        add(cid, cit)
    return {cid: tuple(sorted(cits.values(), key=_sort_key)) for cid, cits in found.items()}


def build_index(root: Path | str | None = None) -> dict[str, tuple[Citation, ...]]:
    """Claim id -> its citations (every id of ``claims_index``, possibly with none), built from the
    sources under ``root`` (default: this repository). Cached per root; the sources are read, never
    imported."""
    root = ROOT if root is None else Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"build_index: {root} is not a folder; give the repository root")
    return _index(str(root.resolve()))


def where(claim_id: str, *, root: Path | str | None = None) -> list[Citation]:
    """Every place that cites ``claim_id``, grouped by kind in the order of :data:`KINDS`.

    An id that is not in the ledger raises :class:`validation.ledger.UnknownClaimError` with the
    closest valid ids.
    """
    from .ledger import check_claim_ids

    if not isinstance(claim_id, str):
        raise TypeError(f"where() takes one claim id as a str, e.g. 'SC.eq5'; got {type(claim_id).__name__}")
    check_claim_ids([claim_id])
    return list(build_index(root)[claim_id])


# --------------------------------------------------------------------------------------------------
# printing and the command line
# --------------------------------------------------------------------------------------------------
def _short(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    cut = text[: max(width - 1, 1)].rsplit(" ", 1)[0]
    return cut + "…"


def format_citations(claim_id: str, citations, *, width: int = 110) -> str:
    """A readable list: the id and its section, then one block per kind, one line per place
    (``path:line  name  [via]``) with its summary indented below."""
    citations = list(citations)
    head = f"{claim_id} — {SECTION_OF.get(claim_id, '?')}: cited in {len(citations)} place" \
           f"{'' if len(citations) == 1 else 's'}"
    lines = [head]
    if not citations:
        lines.append("  (no docstring, notebook cell, record or test cites it yet)")
    by_kind: dict[str, list[Citation]] = {}
    for c in citations:
        by_kind.setdefault(c.kind, []).append(c)
    for kind in sorted(by_kind, key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS)):
        group = by_kind[kind]
        lines += ["", f"{kind} ({len(group)})"]
        for c in group:
            module = _module_name(c.path) if c.path.endswith(".py") else ""
            name = c.name[len(module) + 1:] if module and c.name.startswith(module + ".") else c.name
            tag = {"@check": "  [judges it: @check]", "string": "  [names it]"}.get(c.via, "")
            lines.append(f"  {c.location()}  {name}{tag}")
            if c.summary:
                lines.append(f"      {_short(c.summary, width - 6)}")
    return "\n".join(lines)


def _run(args) -> int:
    kinds = set(args.kind or ())
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"--kind {', '.join(sorted(unknown))} is not a kind; use one of: {', '.join(KINDS)}")
    out = []
    for cid in args.ids:
        cits = [c for c in where(cid) if not kinds or c.kind in kinds]
        out.append((cid, cits))
    if args.json:
        print(json.dumps({cid: [asdict(c) for c in cits] for cid, cits in out}, indent=1, ensure_ascii=False))
    else:
        print("\n\n".join(format_citations(cid, cits) for cid, cits in out))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``where`` command to an ``argparse`` sub-parser set (``python -m validation where``)."""
    w = subparsers.add_parser(
        "where", help="list the functions, checks, notebook cells, records and tests that cite a claim id",
        description="List every place that cites the claim ids: theory and numerics functions, the ledger "
                    "checks that judge them, experiments, report sections, notebook cells, committed "
                    "records and tests. Built from docstrings, string constants, notebook sources and "
                    "records; nothing is imported or run, so it answers in about a second.")
    w.add_argument("ids", nargs="+", metavar="ID", help="claim ids of shared/THEORY.md, e.g. SC.eq5")
    w.add_argument("--kind", action="append", metavar="KIND",
                   help=f"Only places of this kind (repeatable): {', '.join(KINDS)}.")
    w.add_argument("--json", action="store_true", help="Print the citations as JSON instead of a list.")
    w.set_defaults(func=_run)
    return w


def main(argv=None) -> int:
    """``python -m validation.where ID [ID ...]`` (the same as ``python -m validation where``)."""
    p = argparse.ArgumentParser(prog="python -m validation", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    args = p.parse_args(["where", *(sys.argv[1:] if argv is None else list(argv))])
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:  # an unknown id or kind: one line, exit 2
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
