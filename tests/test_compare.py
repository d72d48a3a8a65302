"""The tolerance-aware record comparison used by the re-derivation tests."""
import pytest

from tests._compare import assert_tree_close


def test_last_digit_differences_pass_and_real_differences_fail():
    a = {"b_log_lr": -0.0006615863047122205, "n": 3, "ok": True, "v": "holds", "xs": [1.0, None]}
    b = {"b_log_lr": -0.0006615863047122356, "n": 3.0, "ok": True, "v": "holds", "xs": [1.0, None]}
    assert_tree_close(a, b)
    with pytest.raises(AssertionError, match=r"\$\.b_log_lr"):
        assert_tree_close({**a, "b_log_lr": -0.00066159}, b)
    with pytest.raises(AssertionError, match="keys differ"):
        assert_tree_close({"x": 1.0}, {"y": 1.0})
    with pytest.raises(AssertionError, match=r"\$\.v"):
        assert_tree_close({**a, "v": "fails"}, b)
    with pytest.raises(AssertionError, match="length"):
        assert_tree_close([1.0], [1.0, 2.0])
    assert_tree_close(float("nan"), float("nan"))
