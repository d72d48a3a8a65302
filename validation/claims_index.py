"""Every claim id of ``shared/THEORY.md`` with its section, in the order of that file.

This list is the ledger's key set. ``tests/validation/test_ledger.py`` compares it with
``THEORY.md`` when that file is present (``../shared/THEORY.md``), so an id cannot go missing.
"""
from __future__ import annotations

SECTIONS = {
    "km": "Kramers–Moyal and Fokker–Planck",
    "ep": "Effective potential and the zero-curl condition",
    "laplace": "Laplace (Gaussian-mixture) approximation",
    "testloss": "Test loss, shift-curvature, reparametrization",
    "temperature": "Temperature dependence and free energy",
    "escape": "Escape and minima selection",
    "experiments": "Experimental claims to re-measure (not copy)",
}

_BY_SECTION = {
    "km": ["SC.eq15", "SC.eq16", "SC.eq23", "SC.eq9", "SC.eq10", "SC.eq11"],
    "ep": ["SC.eq5", "SC.A1", "RND.eq19", "SC.fn3", "SC.B1.ex1", "SC.B1.ex2", "SC.B1.ex3",
           "SC.B1.counter"],
    "laplace": ["SC.eq6", "RND.eq20", "SC.B2.bias", "SC.B2.cov", "SC.E", "TF.thm1", "TF.thm2",
                "TF.eq4"],
    "testloss": ["SC.eq3", "SC.eq4", "SC.eq7", "SC.eq8", "SC.C", "SC.eq12", "SC.eq13",
                 "RND.eq8", "RND.eq12", "RND.eq13", "RND.D.loc"],
    "temperature": ["RND.eq24", "RND.eq25", "RND.eq26", "RND.eq27", "RND.2basin", "RND.eq28"],
    "escape": ["DT.eq7", "DT.thm3.1", "DT.thm3.2", "DT.rule1", "DT.prop1", "DT.sec4", "DT.fig1"],
    "experiments": ["SC.fig4", "SC.fig6", "RND.fig3", "RND.H2", "RND.H3", "RND.H4", "SC.fig1-3",
                    "SC.fig5", "RND.fig1", "TF.4.1", "TF.4.3"],
}

CLAIM_IDS: tuple[str, ...] = tuple(i for ids in _BY_SECTION.values() for i in ids)
SECTION_OF: dict[str, str] = {i: SECTIONS[k] for k, ids in _BY_SECTION.items() for i in ids}


def theory_md_ids(text: str) -> list[str]:
    """Parse claim ids out of THEORY.md's tables (first column; comma-separated ids allowed)."""
    import re

    ids: list[str] = []
    in_claims = False
    for line in text.splitlines():
        if line.startswith("## "):
            in_claims = not line.startswith("## Notation")
            continue
        m = re.match(r"^\| ([A-Za-z0-9.,\- ]+?) \| .* \|\s*$", line)
        if in_claims and m and m.group(1) not in ("id", "key"):
            ids.extend(i.strip() for i in m.group(1).split(","))
    return [i for i in ids if "." in i]
