"""The ledger: every THEORY.md id present, verdicts produced by checks, never by hand."""
import ast
import json
from pathlib import Path

import pytest

from validation import ledger as L
from validation.__main__ import main as cli_main
from validation.claims_index import CLAIM_IDS, theory_md_ids

ROOT = Path(__file__).resolve().parents[2]


def test_every_theory_md_id_is_in_the_ledger(theory_md_text):
    ids = theory_md_ids(theory_md_text)
    assert len(ids) >= 50
    missing = [i for i in ids if i not in CLAIM_IDS]
    extra = [i for i in CLAIM_IDS if i not in ids]
    assert not missing, f"ids of THEORY.md missing from the ledger: {missing}"
    assert not extra, f"ledger ids not in THEORY.md: {extra}"


def test_claim_ids_unique():
    assert len(set(CLAIM_IDS)) == len(CLAIM_IDS)


def test_verdict_rules_are_enforced():
    with pytest.raises(L.LedgerError):
        L.Verdict("proven", "x")
    with pytest.raises(L.LedgerError):
        L.Verdict.holds_if("x", condition="", counterexample={"a": 1})
    with pytest.raises(L.LedgerError):
        L.Verdict("corrected", "x", printed="a")
    with pytest.raises(L.LedgerError):
        L.Verdict.measured("x", metrics={})
    assert L.Verdict.measured("x", metrics={"err": 2.0}, agrees=False).verdict == "fails"


def test_unknown_claim_id_rejected():
    with pytest.raises(L.LedgerError):
        L.check("NOT.an.id")


def test_combine_precedence():
    chk = L.Check(("SC.eq5",), "dummy", lambda: None, "m")
    r = lambda v: L.CheckResult(chk, v, 0.0)  # noqa: E731
    held = L.Verdict.holds("a")
    cor = L.Verdict.corrected("b", printed="p", corrected="c", counterexample={"x": 1})
    assert L.combine([r(held), r(cor)])[0] == "corrected"
    assert L.combine([])[0] == "open"


def test_a_raising_check_is_reported_not_hidden():
    def boom():
        raise ZeroDivisionError("nope")

    chk = L.Check(("SC.eq5",), "boom", boom, "tests")
    res = L.run_check(chk, use_cache=False)
    assert res.verdict.verdict == "open" and "ZeroDivisionError" in res.error


def test_ledger_covers_all_ids_and_every_check_runs_clean():
    statuses = L.ledger()
    assert [s.id for s in statuses] == list(CLAIM_IDS)
    errors = {r.check.key: r.error for s in statuses for r in s.results if r.error}
    assert not errors, f"checks raised: {errors}"
    for s in statuses:
        assert s.verdict in L.VERDICTS
        if s.results:
            assert s.verdict != "open", f"{s.id} has checks but no verdict"


def _check_modules():
    return sorted((ROOT / "validation" / "checks").glob("*.py"))


def test_no_verdict_is_hard_coded_in_the_ledger_machinery():
    """The ledger machinery holds no table from claim id to verdict: verdict strings appear only
    in the Verdict class, and claim ids only in the index and in @check registrations."""
    src = (ROOT / "validation" / "ledger.py").read_text()
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert not any(k in CLAIM_IDS for k in keys), "ledger.py maps claim ids to something"


def test_checks_return_verdicts_that_depend_on_computation():
    """Every check function body must call something (theory/numerics) before building a
    Verdict: a check that only returns ``Verdict.holds(...)`` is a hand-written status."""
    offenders = []
    for path in _check_modules():
        tree = ast.parse(path.read_text())
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
            is_check = any(
                isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "check"
                for d in fn.decorator_list
            )
            if not is_check:
                continue
            stmts = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if len(stmts) == 1 and isinstance(stmts[0], ast.Return):
                offenders.append(f"{path.name}:{fn.name}")
    assert not offenders, f"checks that compute nothing: {offenders}"


def test_cli_claims_json(capsys):
    rc = cli_main(["claims", "--json"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert rc == 0
    assert {d["id"] for d in data} == set(CLAIM_IDS)
    for d in data:
        assert {"id", "verdict", "detail"} <= set(d)
        assert d["verdict"] in L.VERDICTS


def test_cli_claims_table(capsys):
    rc = cli_main(["claims", "SC.eq5", "SC.fig4"])
    out = capsys.readouterr().out
    assert rc == 0 and "SC.eq5" in out and "SC.fig4" in out


def test_table_lists_printed_corrected_and_counterexample():
    chk = L.Check(("TF.eq4",), "demo", lambda: None, "tests")
    v = L.Verdict.corrected("threshold off by 4", printed="n > a/(2b)", corrected="n > 2a/b",
                            counterexample={"n": 1.0})
    st = L.ClaimStatus("TF.eq4", "s", "corrected", v.detail, (L.CheckResult(chk, v, 0.0),))
    out = L.format_table([st])
    assert "printed:        n > a/(2b)" in out and "corrected:      n > 2a/b" in out
    assert '"n": 1.0' in out
