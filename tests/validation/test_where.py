"""``python -m validation where ID``: the index of the places that cite a claim id."""
import argparse
import doctest
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from validation import where as W
from validation.claims_index import CLAIM_IDS
from validation.ledger import UnknownClaimError


def _names(cits, kind, via=None):
    return {c.name for c in cits if c.kind == kind and (via is None or c.via == via)}


def test_sc_eq5_leads_to_its_derivation_its_check_and_a_notebook_cell():
    cits = W.where("SC.eq5")
    assert "theory.effective_potential.effective_potential" in _names(cits, "theory function")
    judges = _names(cits, "check", via="@check")
    assert "validation.checks.effective_potential.zero_current_iff_v_is_potential_of_drift" in judges
    cells = [c for c in cits if c.kind == "notebook cell"]
    assert any(c.path == "notebooks/02_effective_potential_and_curl.py" for c in cells)
    # each place points at its line: the def of the function, the `# %%` marker of the cell
    src = (ROOT / "theory/effective_potential.py").read_text(encoding="utf-8").splitlines()
    fn = next(c for c in cits if c.name == "theory.effective_potential.effective_potential")
    assert src[fn.line - 1].lstrip().startswith("def effective_potential(")
    for c in cells:
        assert (ROOT / c.path).read_text(encoding="utf-8").splitlines()[c.line - 1].startswith("# %%")


def test_the_listing_is_grouped_by_kind_in_order():
    cits = W.where("SC.eq5")
    order = [W.KINDS.index(c.kind) for c in cits]
    assert order == sorted(order)
    first_check = next(c for c in cits if c.kind == "check")
    assert first_check.via == "@check", "the checks judging the claim come first in their group"


def test_every_registered_check_is_found_from_the_source():
    """The @check decorators found by parsing are exactly the claims each check function judges."""
    pairs = {(cid, c.name) for cid, cits in W.build_index().items() for c in cits if c.via == "@check"}
    decorated = {}
    import ast
    for path in sorted((ROOT / "validation" / "checks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        mod = "validation.checks." + path.stem
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for d in node.decorator_list:
                    if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "check":
                        for a in d.args:
                            decorated.setdefault(a.value, set()).add(f"{mod}.{node.name}")
    assert decorated, "no @check found under validation/checks"
    want = {(cid, name) for cid, names in decorated.items() for name in names}
    assert pairs >= want, f"missing: {sorted(want - pairs)[:5]}"


def test_records_are_cited_by_their_claims_field():
    rec = [c for c in W.where("DT.sec4") if c.kind == "record"]
    assert rec, "the committed escape-rates record claims DT.sec4"
    for c in rec:
        data = json.loads((ROOT / c.path).read_text(encoding="utf-8"))
        assert "DT.sec4" in data["claims"]
        assert '"claims"' in (ROOT / c.path).read_text(encoding="utf-8").splitlines()[c.line - 1]


def test_every_claim_id_has_an_entry():
    index = W.build_index()
    assert set(index) == set(CLAIM_IDS)
    assert sum(1 for cits in index.values() if cits) >= len(CLAIM_IDS) * 0.9


@pytest.mark.parametrize("text, ids", [
    ("SC.eq5", ["SC.eq5"]),
    ("SC.eq50 and xSC.eq5 and SC.eq5_x", []),
    ("see SC.eq10, then SC.eq5.", ["SC.eq10", "SC.eq5"]),
    ("panel RND.H4.left of RND.H4", ["RND.H4"]),
    ("SC.B1.ex1–ex3, DT.thm3.1, TF.4.1 (not TF.4.13), SC.fig1-3", ["SC.B1.ex1", "DT.thm3.1", "TF.4.1",
                                                                 "SC.fig1-3"]),
])
def test_cited_ids_finds_whole_ids(text, ids):
    assert W.cited_ids(text) == ids


def test_cited_ids_doctest():
    assert doctest.testmod(W).failed == 0


def test_index_attribution_on_a_small_tree(tmp_path):
    (tmp_path / "theory").mkdir()
    (tmp_path / "theory" / "demo.py").write_text(
        '"""Module on SC.eq6."""\n\n'
        'TABLE = {"RND.H2.left": 1}\n\n\n'
        'class Box:\n    """Holds SC.eq3."""\n\n    def inner(self):\n        """Inner: SC.eq4."""\n\n\n'
        'def derive():\n    """Derive SC.eq5 exactly."""\n    return "SC.eq7"\n', encoding="utf-8")
    (tmp_path / "validation" / "checks").mkdir(parents=True)
    (tmp_path / "validation" / "checks" / "demo.py").write_text(
        "from validation.ledger import check\n\n\n@check(\"SC.eq5\", name=\"x\")\ndef judge():\n"
        "    \"\"\"Compare with SC.eq6.\"\"\"\n", encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_demo.py").write_text(
        "# %% [markdown]\n# # Title\n\n# %%\nshow('SC.eq5')\n", encoding="utf-8")
    (tmp_path / "validation" / "data").mkdir()
    (tmp_path / "validation" / "data" / "r.json").write_text(
        json.dumps({"experiment": "demo", "claims": ["SC.eq5", "nonsense"]}, indent=1), encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_demo.py").write_text("def test_it():\n    assert 'SC.eq5'\n", encoding="utf-8")
    (tmp_path / "numerics").mkdir()
    (tmp_path / "numerics" / "broken.py").write_text("def f(:\n  'SC.eq5'\n", encoding="utf-8")  # skipped

    index = W.build_index(tmp_path)
    got = {(c.kind, c.name, c.path, c.line, c.via) for c in index["SC.eq5"]}
    assert got == {
        ("theory function", "theory.demo.derive", "theory/demo.py", 13, "docstring"),
        ("check", "validation.checks.demo.judge", "validation/checks/demo.py", 5, "@check"),
        ("notebook cell", "01_demo cell 1", "notebooks/01_demo.py", 4, "cell"),
        ("record", "demo", "validation/data/r.json", 3, "claims"),
        ("test", "tests.test_demo.test_it", "tests/test_demo.py", 1, "string"),
    }
    assert [(c.name, c.line, c.via) for c in index["SC.eq6"]] == [
        ("theory.demo", 1, "docstring"), ("validation.checks.demo.judge", 5, "docstring")]
    assert [(c.name, c.line) for c in index["SC.eq3"]] == [("theory.demo.Box", 6)]
    assert [(c.name, c.line) for c in index["SC.eq4"]] == [("theory.demo.Box.inner", 9)]
    assert [(c.name, c.line, c.via) for c in index["SC.eq7"]] == [("theory.demo.derive", 13, "string")]
    assert [(c.name, c.line) for c in index["RND.H2"]] == [("theory.demo.TABLE", 3)]
    assert index["SC.eq3"][0].summary == "Holds SC.eq3."


def test_unknown_id_suggests_close_ones():
    with pytest.raises(UnknownClaimError) as ei:
        W.where("SC.eq55")
    assert "SC.eq5" in ei.value.suggestions["SC.eq55"]
    assert "did you mean" in str(ei.value)


@pytest.mark.parametrize("bad", [5, None, ["SC.eq5"]])
def test_where_takes_one_id_as_a_string(bad):
    with pytest.raises(TypeError, match="claim id as a str"):
        W.where(bad)


def test_build_index_refuses_a_missing_root(tmp_path):
    with pytest.raises(NotADirectoryError, match="repository root"):
        W.build_index(tmp_path / "nope")


def test_an_id_that_looks_like_code_is_only_looked_up(tmp_path):
    payload = f"__import__('pathlib').Path(r'{tmp_path / 'pwned'}').touch()"
    with pytest.raises(UnknownClaimError):
        W.where(payload)
    assert not (tmp_path / "pwned").exists()


def test_format_groups_by_kind_and_marks_the_judging_check():
    text = W.format_citations("SC.eq5", W.where("SC.eq5"))
    assert text.splitlines()[0].startswith("SC.eq5 — Effective potential")
    for heading in ("theory function (", "check (", "notebook cell ("):
        assert any(line.startswith(heading) for line in text.splitlines()), heading
    assert "[judges it: @check]" in text
    assert "theory/effective_potential.py:" in text
    assert "(no docstring" in W.format_citations("SC.eq5", [])


def test_main_prints_and_refuses(capsys):
    assert W.main(["SC.eq5", "--kind", "check"]) == 0
    out = capsys.readouterr().out
    assert "check (" in out and "theory function (" not in out
    assert W.main(["SC.eq55"]) == 2
    assert "did you mean SC.eq5" in capsys.readouterr().err
    assert W.main(["SC.eq5", "--kind", "nonsense"]) == 2
    assert W.main(["DT.sec4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"kind", "name", "path", "line", "via", "summary"} <= set(data["DT.sec4"][0])


def test_add_parser_wires_the_subcommand(capsys):
    p = argparse.ArgumentParser()
    W.add_parser(p.add_subparsers(dest="cmd", required=True))
    args = p.parse_args(["where", "SC.eq6"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.startswith("SC.eq6 — ")


def test_module_command_reads_sources_without_importing_them():
    code = ("import sys; from validation.where import build_index; build_index(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('theory', 'numerics', 'sympy', 'torch')"
            " or m.startswith('validation.checks')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    run = subprocess.run([sys.executable, "-m", "validation.where", "SC.eq5"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0 and "effective_potential" in run.stdout
