"""numerics._split_lu: the two-half Schur-complement solve of grid-stencil systems."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sps
import scipy.sparse.linalg as spla

import numerics._split_lu as slu
from numerics._split_lu import nested_dissection_order, split_solve
from numerics.fokker_planck import FokkerPlanckError, FokkerPlanckSolver, Grid


def _stencil(shape, *, diagonal_couplings=False, seed=0, periodic=None, weak_axis=None):
    """A random column-diagonally-dominant matrix with couplings to the nearest cells along each
    axis (and the diagonal neighbours in 2-D with ``diagonal_couplings``), nonsymmetric values."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    N = int(np.prod(shape))
    idx = np.arange(N).reshape(shape)
    periodic = periodic or (False,) * len(shape)
    offsets = [tuple(int(j == i) for j in range(len(shape))) for i in range(len(shape))]
    if diagonal_couplings:
        offsets += [(1, 1), (1, -1)]
    rows, cols = [], []
    for off in offsets:
        src = idx
        dst = idx
        for ax, o in enumerate(off):
            if o == 0:
                continue
            if periodic[ax]:
                dst = np.roll(dst, -o, axis=ax)
            else:
                sl_src = [slice(None)] * len(shape)
                sl_dst = [slice(None)] * len(shape)
                sl_src[ax] = slice(0, shape[ax] - o) if o > 0 else slice(-o, None)
                sl_dst[ax] = slice(o, None) if o > 0 else slice(0, shape[ax] + o)
                src, dst = src[tuple(sl_src)], dst[tuple(sl_dst)]
        rows += [src.ravel(), dst.ravel()]
        cols += [dst.ravel(), src.ravel()]
    r, c = np.concatenate(rows), np.concatenate(cols)
    vals = rng.uniform(0.2, 1.0, r.size)
    A = sps.csr_matrix((vals, (r, c)), shape=(N, N))
    A.sum_duplicates()
    colsum = np.asarray(A.sum(axis=0)).ravel()
    return (A - sps.diags(colsum * rng.uniform(1.0, 1.5, N))).tocsr()


@pytest.mark.parametrize("shape", [(1,), (7,), (5, 4), (9, 16), (4, 5, 6), (2, 2, 2)])
def test_nested_dissection_order_is_a_permutation(shape):
    o = nested_dissection_order(shape)
    assert sorted(o.tolist()) == list(range(int(np.prod(shape))))
    assert nested_dissection_order(shape) is o           # cached
    with pytest.raises(ValueError):
        o[0] = 1                                          # read-only: the cache cannot be corrupted


def test_nested_dissection_puts_the_middle_plane_last():
    o = nested_dissection_order((9, 4), leaf=2)
    # the last 4 cells are the middle row (index 4) of the 9 × 4 box
    assert sorted(o[-4:].tolist()) == [16, 17, 18, 19]


@pytest.mark.parametrize("shape, diag", [((20, 17), False), ((17, 20), True), ((12, 9), False),
                                          ((6, 7, 8), False), ((40, 3), False)])
def test_split_solve_matches_a_direct_solve(shape, diag):
    A = _stencil(shape, diagonal_couplings=diag, seed=len(shape) + shape[0])
    b = np.random.default_rng(3).normal(size=A.shape[0])
    ref = spla.spsolve(A.tocsc(), b)
    x = split_solve(A, b, shape, (False,) * len(shape))
    assert x is not None
    np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    x1 = split_solve(A, b, shape, (False,) * len(shape), threads=1)
    np.testing.assert_allclose(x1, x, rtol=1e-15, atol=0)   # the same operations in either schedule


def test_split_solve_uses_a_reflecting_axis_when_another_is_periodic():
    shape = (16, 24)
    A = _stencil(shape, periodic=(False, True), seed=5)   # the longer axis wraps around: cut the other
    b = np.random.default_rng(4).normal(size=A.shape[0])
    x = split_solve(A, b, shape, (False, True))
    assert x is not None
    np.testing.assert_allclose(A @ x, b, atol=1e-11 * np.abs(b).max())


def test_split_solve_declines_what_it_cannot_do(monkeypatch):
    shape = (12, 10)
    A = _stencil(shape, periodic=(True, True), seed=1)
    b = np.ones(A.shape[0])
    assert split_solve(A, b, shape, (True, True)) is None              # no reflecting axis
    A = _stencil(shape, seed=2).tolil()
    A[0, A.shape[0] - 1] = 0.1                                          # a coupling across the cut
    assert split_solve(A.tocsr(), b, shape, (False, False)) is None
    monkeypatch.setattr(slu, "MAX_SEPARATOR", 5)                        # separator of 10 cells
    assert split_solve(_stencil(shape, seed=2), b, shape, (False, False)) is None
    monkeypatch.undo()
    # a separator cell with no diagonal entry
    B = _stencil(shape, seed=2).tolil()
    B[6 * 10 + 3, 6 * 10 + 3] = 0.0
    assert split_solve(B.tocsr(), b, shape, (False, False)) is None


def test_split_solve_declines_when_a_pivot_leaves_the_separator_block():
    """Weak diagonals beside the cut: partial pivoting takes a separator row as the pivot of an
    interior column, so the trailing block of the half's factors is no Schur complement."""
    shape = (9, 6)
    A = _stencil(shape, seed=7).tolil()
    mid = 4
    for j in range(6):
        c = (mid - 1) * 6 + j                                           # interior cell beside the cut
        A[c, c] = -1e-3
    A = A.tocsr()
    b = np.ones(A.shape[0])
    assert split_solve(A, b, shape, (False, False)) is None
    np.testing.assert_allclose(A @ spla.spsolve(A.tocsc(), b), b, atol=1e-9)   # the whole still solves


def test_split_solve_declines_a_singular_half():
    shape = (10, 8)
    A = _stencil(shape, seed=3).tolil()
    A[9, :] = 0.0                                                        # an interior cell cut off
    A[:, 9] = 0.0
    assert split_solve(A.tocsr(), np.ones(80), shape, (False, False)) is None


# -- through FokkerPlanckSolver ---------------------------------------------------------------
def _ou(cells, *, periodic=False, D=((1.0, 0.0), (0.0, 0.4))):
    g = Grid.box([(-3, 3), (-3, 3)], cells=cells, periodic=periodic)
    return FokkerPlanckSolver(g, T=0.6, grad_U=lambda x, y: np.stack([x + 0.5 * y, 0.5 * x + 2 * y]), D=D)


@pytest.mark.parametrize("D", [((1.0, 0.0), (0.0, 0.4)), ((1.0, 0.3), (0.3, 0.8))])
def test_steady_state_split_agrees_with_splu(D):
    s = _ou((40, 33), D=D)
    a = s.steady_state(method="split")
    assert s.last_method == "split"
    b = s.steady_state(method="splu")
    assert s.last_method == "splu"
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * b.max())
    assert s.generator_residual(a) < 1e-13


def test_steady_state_auto_picks_split_on_large_grids(monkeypatch):
    import numerics.fokker_planck as fpm

    s = _ou((24, 20))
    s.steady_state()
    assert s.last_method == "splu"                                       # below SPLIT_MIN_CELLS
    monkeypatch.setattr(fpm, "SPLIT_MIN_CELLS", 100)
    rho = s.steady_state()
    assert s.last_method == "split"
    np.testing.assert_allclose(rho, s.steady_state(method="splu"), rtol=1e-9, atol=1e-12 * rho.max())


def test_steady_state_split_falls_back_to_splu_where_it_does_not_apply(monkeypatch):
    s = _ou((16, 14), periodic=True)
    rho = s.steady_state(method="split")
    assert s.last_method == "splu"                                       # every axis periodic
    assert s.mass(rho) == pytest.approx(1.0, rel=1e-12)
    # a split result that misses the residual test is not returned: splu is
    s = _ou((20, 18))
    monkeypatch.setattr(FokkerPlanckSolver, "_solve_pinned_split", lambda self, k: np.ones(self.grid.size))
    rho = s.steady_state(method="split")
    assert s.last_method == "splu"
    assert s.generator_residual(rho) < 1e-13


def test_steady_state_split_needs_two_axes():
    g = Grid.box([(-2, 2)], cells=50)
    s = FokkerPlanckSolver(g, T=1.0, grad_U=lambda x: x[None], D=[[1.0]])
    with pytest.raises(FokkerPlanckError, match="two or more axes"):
        s.steady_state(method="split")
