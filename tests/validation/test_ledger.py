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


# ---------------------------------------------------------------------------- pinned verdicts
# Every check's verdict, and every claim's combined verdict, is pinned in expected_verdicts.json:
# flipping a check (a sign in an identity, a factor in a formula) changes a verdict and fails here,
# in a test named after the check (xdist spreads them). A deliberate change: regenerate the file with
# `python scripts/update_expected_verdicts.py` and commit it with the reason.
EXPECTED_FILE = Path(__file__).with_name("expected_verdicts.json")
EXPECTED = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))
UPDATE_HINT = ("if the change is intended, regenerate tests/validation/expected_verdicts.json with "
               "`python scripts/update_expected_verdicts.py` and commit it in a commit whose message gives "
               "the reason for the change")
CHECKS = {c.key: c for c in L.all_checks()}


@pytest.mark.parametrize("key", sorted(set(CHECKS) | set(EXPECTED["checks"])))
def test_check_verdict_is_pinned(key):
    assert key in CHECKS, f"{key} is pinned but no longer registered (renamed or removed?); {UPDATE_HINT}"
    assert key in EXPECTED["checks"], f"new check {key} has no pinned verdict; {UPDATE_HINT}"
    res = L.run_check(CHECKS[key])
    assert res.error is None, f"check {key} raised: {res.error}"
    assert res.verdict.verdict != "open", f"check {key} gave no verdict"
    assert res.verdict.verdict == EXPECTED["checks"][key], (
        f"verdict of {key} changed: pinned {EXPECTED['checks'][key]!r}, now {res.verdict.verdict!r} "
        f"({res.verdict.detail[:300]}); {UPDATE_HINT}")


def test_claim_verdicts_are_pinned_and_cover_every_id():
    """Each claim's pinned verdict is the combination of its checks' pinned verdicts (so with every
    check pinned, every claim is pinned), and every THEORY.md id is there; no check is run here."""
    assert list(EXPECTED["claims"]) == list(CLAIM_IDS), f"claims differ from the index; {UPDATE_HINT}"
    for cid in CLAIM_IDS:
        keys = [c.key for c in L.checks_for(cid)]
        combined = L.combine_verdicts(EXPECTED["checks"].get(k, "open") for k in keys)
        assert EXPECTED["claims"][cid] == combined, (
            f"{cid}: pinned claim verdict {EXPECTED['claims'][cid]!r} but its checks {keys} combine to "
            f"{combined!r}; {UPDATE_HINT}")
        if keys:
            assert combined != "open", f"{cid} has checks but no verdict"


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


def test_findings_and_paper_range_are_validated_and_rendered():
    with pytest.raises(L.LedgerError):
        L.Finding("typo", "x")
    with pytest.raises(L.LedgerError):
        L.Verdict.holds("x", findings=["not a Finding"])
    pr = L.PaperRange("T = η/S", None, 0.1 / 50, "TF §4.3")
    assert pr.contains(2e-3) and not pr.contains(2.5e-3)
    assert pr.split([1e-3, 2e-3, 3e-3]) == ([0, 1], [2])
    f = L.Finding("derivation-slip", "App. F eq. 62 has the wrong sign", printed="−2w", corrected="2w",
                  evidence={"beta": 1})
    v = L.Verdict.holds("eq. 24 as printed is exact", findings=[f], paper_range=pr.report([1e-3, 3e-3]))
    d = v.to_dict()
    assert d["findings"] == [{"kind": "derivation-slip", "summary": "App. F eq. 62 has the wrong sign",
                              "printed": "−2w", "corrected": "2w", "evidence": {"beta": 1}}]
    assert d["paper_range"]["n_inside"] == 1 and d["paper_range"]["n_beyond"] == 1
    chk = L.Check(("RND.eq24",), "demo", lambda: None, "tests")
    st = L.ClaimStatus("RND.eq24", "s", "holds", v.detail, (L.CheckResult(chk, v, 0.0),))
    out = L.format_table([st])
    assert "finding:        [derivation-slip] App. F eq. 62" in out
    assert "paper range:    paper: T = η/S ≤ 0.002 (TF §4.3)" in out
    assert "+1 finding: derivation-slip" in L.combine([L.CheckResult(chk, v, 0.0)])[1]
    from validation.report import ledger_html

    page = ledger_html([st])
    assert "derivation-slip" in page and "paper&#x27;s range" in page and "<details>" in page


def _demo_status(detail, verdict="holds", **kw):
    chk = L.Check(("SC.eq5",), "demo", lambda: None, "tests")
    v = L.Verdict(verdict, detail, **kw)
    return L.ClaimStatus("SC.eq5", "s", verdict, v.detail, (L.CheckResult(chk, v, 0.0),))


def test_one_ledger_renderer_for_text_markdown_and_html():
    st = _demo_status("v = 5*theta1**2 + theta1*(x_1 - y_2) is exact. A second sentence follows.",
                      "corrected", printed="a*b_c", corrected_form="a*b_c/2", counterexample={"x": 1})
    text = L.ledger_table([st], "text")
    md = L.ledger_table([st], "markdown")
    page = L.ledger_table([st], "html", details=lambda s: "<p>more</p>")
    for out in (text, md, page):
        assert "SC.eq5" in out and "corrected" in out
    # Markdown: the forms are code spans, so SymPy's * and _ are not emphasis
    assert "`a*b_c`" in md and "`a*b_c/2`" in md
    assert "<code>a*b_c</code>" in page and "<details><summary>" in page and "<p>more</p>" in page
    with pytest.raises(ValueError, match="fmt must be"):
        L.ledger_table([st], "latex")
    # the CLI table, the notebooks' table and the report's use it
    assert L.ledger_table([st], "text", width=110) in L.format_table([st], width=110)


def test_markdown_cells_escape_emphasis_outside_code_spans():
    assert L.markdown_inline("5*theta1**2 + x_1") == "5\\*theta1\\*\\*2 + x\\_1"
    assert L.markdown_inline("a `x|y*z` b|c") == "a `x\\|y*z` b\\|c"
    assert L.html_inline("a<b `5*x**2`") == "a&lt;b <code>5*x**2</code>"


def test_one_line_findings_are_never_cut_mid_word():
    long = " ".join(f"word{k}" for k in range(100)) + "."
    short = L.one_line(long, words=12)
    assert short.endswith(" …") and short.split()[:-1] == [f"word{k}" for k in range(12)]
    assert L.one_line("First part, see Fig. 4 and eq. 24. Second sentence.") == \
        "First part, see Fig. 4 and eq. 24."
    code = "a " * 5 + "`x y z w` tail"
    assert "`x y z w`" in L.one_line(code, words=6) or "`" not in L.one_line(code, words=6)
    wide = L.ledger_table([_demo_status("alpha " * 50)], "text", width=40)
    row = wide.splitlines()[2]
    assert row.endswith("…") and all(w in ("alpha", "alpha…") for w in row.split()[2:])


def test_readme_ledger_counts_match_the_pinned_verdicts():
    """The README's "Ledger now" line states the claim counts of expected_verdicts.json."""
    import re

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    m = re.search(r"Ledger now \((\d+) claims[^)]*\): ((?:[a-z-]+ \d+(?:, )?)+)", text)
    assert m, "README lost its 'Ledger now (N claims, …): holds …' line"
    stated = {k: int(v) for k, v in re.findall(r"([a-z-]+) (\d+)", m.group(2))}
    counts = {}
    for v in EXPECTED["claims"].values():
        counts[v] = counts.get(v, 0) + 1
    assert int(m.group(1)) == len(EXPECTED["claims"]) and stated == counts, (
        f"README states {stated}, the pinned verdicts give {counts}: update the README line")


# ---------------------------------------------------------------------------- parallel runs
def _assert_close(a, b, where, rel=1e-9):
    """Nested dicts/lists equal, floats to ``rel`` (booleans, ints, strings, None exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_close(a[k], b[k], f"{where}.{k}", rel)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close(x, y, f"{where}[{i}]", rel)
    elif isinstance(a, float) or isinstance(b, float):
        assert not isinstance(a, bool) and not isinstance(b, bool), where
        assert a == pytest.approx(b, rel=rel, abs=1e-300, nan_ok=True), where
    else:
        assert a == b, where


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_parallel_checks_match_the_serial_ones(method, monkeypatch):
    """``run_checks(jobs=2)`` (worker processes, one task per module) gives the verdicts a serial run
    gives, in the given order, and fills the in-process cache — with forked workers and with workers
    from a fork server (used when torch is loaded in the calling process)."""
    monkeypatch.setattr(L, "_start_method", lambda: method)
    chks = [c for c in L.all_checks() if c.module.rsplit(".", 1)[-1] in ("fokker_planck_solver", "overparametrized")]
    assert len({c.module for c in chks}) == 2
    saved = {c.key: L._RESULTS.pop(c.key) for c in chks if c.key in L._RESULTS}
    try:
        par = L.run_checks(chks, jobs=2)
        assert [r.check.key for r in par] == [c.key for c in chks]
        assert all(L._RESULTS[c.key] is r for c, r in zip(chks, par))
        for c, r in zip(chks, par):
            ser = L.run_check(c, use_cache=False)
            assert r.error is None and r.seconds > 0
            a, b = r.verdict.to_dict(), ser.verdict.to_dict()
            # worker and caller may run BLAS with different thread counts: metrics agree to
            # rounding, not bit for bit
            assert {k: v for k, v in a.items() if k != "metrics"} == {k: v for k, v in b.items() if k != "metrics"}, c.key
            _assert_close(a.get("metrics"), b.get("metrics"), c.key)
    finally:
        L._RESULTS.update(saved)


def test_check_groups_keep_a_module_together():
    groups = L.check_groups(L.all_checks())
    mods = [{c.module for c in g} for g in groups]
    assert all(len(m) == 1 for m in mods) and len(mods) == len({c.module for c in L.all_checks()})
    assert sum(len(g) for g in groups) == len(L.all_checks())


def test_a_verdict_survives_its_json_form():
    """A verdict that does not pickle comes back from a worker as ``to_dict()``; rebuilt, it prints the same."""
    f = L.Finding("beyond-paper-range", "falls beyond", evidence={"rho": 0.5})
    v = L.Verdict.corrected("off by 2", printed="a", corrected="2a", counterexample={"a": 1.0}, findings=[f],
                            paper_range=L.PaperRange("T", None, 0.1, "src").report([0.05, 0.2]), err=0.5)
    assert L._as_verdict(v.to_dict()).to_dict() == v.to_dict()


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_cli_jobs_must_be_a_positive_integer(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["claims", "SC.eq5", "--jobs", bad])
    assert exc.value.code == 2 and "--jobs" in capsys.readouterr().err


def test_a_checks_summary_is_its_one_line_finding_and_survives_json():
    st = _demo_status("a long detail. With more.", "measured", metrics={"ratio": 6.5},
                      summary="slopes 6.5× smaller than predicted")
    assert L.claim_finding(st) == "slopes 6.5× smaller than predicted"
    v = st.results[0].verdict
    assert v.to_dict()["summary"] == "slopes 6.5× smaller than predicted"
    assert L._as_verdict(v.to_dict()) == v
    assert L.Verdict.measured("d", metrics={"x": 1}, summary="s").summary == "s"
    assert L.Verdict.fails("d", counterexample={"x": 1}, summary="s").summary == "s"


# -- last in this file: every check has run in this worker, so the ledger below is all cache hits --
@pytest.mark.slow
def test_readme_findings_block_is_current():
    """README.md's generated findings block (scripts/update_readme.py) equals what the ledger says now."""
    from validation import report as R

    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    i, j = text.find(R.README_BEGIN), text.find(R.README_END)
    assert i >= 0 and j > i, "README lost its generated findings block markers"
    fresh = R.readme_block(L.ledger(jobs=1))
    assert text[i:j + len(R.README_END)] == fresh, (
        "README.md's findings block is stale (the ledger says something else now): run "
        "`python scripts/update_readme.py` and commit README.md")

