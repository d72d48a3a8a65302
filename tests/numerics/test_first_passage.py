import math

import pytest
import sympy as sp

from numerics.first_passage import mean_first_passage_time_grid_2d
from theory.escape import mean_first_passage_time_1d


def test_separable_case_matches_exact_1d_mfpt():
    """L = (x²−1)²/4 + y²/2: the exit through x = 0.5 does not depend on y, so the 2-D MFPT from
    (−1, 0) equals the 1-D one with the same D (DT: sqrt(2D) ⇔ SC: T·D_sc = 2D)."""
    D = 0.1
    xs, ys, tau = mean_first_passage_time_grid_2d(
        lambda X, Y: (X**2 - 1) ** 2 / 4 + Y**2 / 2, D, xlim=(-2.2, 0.5), ylim=(-1.5, 1.5),
        nx=541, ny=31, absorb_x=0.5 - 1e-9)
    i = min(range(len(xs)), key=lambda k: abs(xs[k] + 1))
    j = min(range(len(ys)), key=lambda k: abs(ys[k]))
    th = sp.Symbol("theta")
    exact = mean_first_passage_time_1d((th**2 - 1) ** 2 / 4, 1, th, float(xs[i]), 0.5, 2 * D,
                                       reflect_at=-2.2)
    assert tau[i, j] == pytest.approx(exact, rel=5e-3)
    assert math.isfinite(tau.max()) and tau.min() >= 0


@pytest.mark.parametrize("kwargs", [dict(D=0.0), dict(nx=2), dict(absorb_x=-5.0)])
def test_bad_input(kwargs):
    args = dict(D=0.1, xlim=(-1, 1), ylim=(-1, 1), nx=11, ny=11, absorb_x=0.5) | kwargs
    with pytest.raises(ValueError):
        mean_first_passage_time_grid_2d(lambda X, Y: X**2 + Y**2, args.pop("D"), **args)
