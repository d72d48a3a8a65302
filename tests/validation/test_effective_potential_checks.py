"""The effective-potential checks are registered and the cheap ones return the expected verdicts."""
import pytest

from validation.ledger import all_checks, run_check

MODULE = "validation.checks.effective_potential"
CLAIMS = {"SC.eq5", "SC.A1", "RND.eq19", "SC.fn3", "SC.B1.ex1", "SC.B1.ex2", "SC.B1.ex3",
          "SC.B1.counter"}


def _checks():
    return {c.name: c for c in all_checks() if c.module == MODULE}


def test_every_claim_of_the_theme_has_a_check():
    covered = set().union(*[c.claim_ids for c in _checks().values()])
    assert CLAIMS <= covered


@pytest.mark.parametrize("name, verdict", [
    ("zero_current_iff_v_is_potential_of_drift", "holds"),
    ("zero_curl_and_invertibility_are_enforced", "holds"),
    ("isotropic_nonconstant_noise_needs_d_constant_on_level_sets", "holds"),  # + stated-assumption finding
])
def test_cheap_checks_verdicts(name, verdict):
    res = run_check(_checks()[name])
    assert res.error is None, res.error
    assert res.verdict.verdict == verdict, res.verdict.detail


def test_fn3_counterexample_reports_path_dependence():
    v = run_check(_checks()["isotropic_nonconstant_noise_needs_d_constant_on_level_sets"]).verdict
    (finding,) = v.findings  # the footnote holds under SC.A1; its unstated p ≥ 2 condition is a finding
    assert finding.kind == "stated-assumption"
    ce = finding.evidence
    assert ce["curl_12(1,1)"] == pytest.approx(0.5)
    a, b = (ce[k] for k in ce if k.startswith("∫"))
    assert abs(a - b) == pytest.approx(0.25)
