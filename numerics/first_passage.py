"""Mean first-passage times on a 2-D grid (finite volumes), for the cases the exact 1-D double
quadrature of :func:`theory.escape.mean_first_passage_time_1d` cannot reach.

The diffusion is DT's ``dθ = −∇L dt + sqrt(2D) dW`` with constant isotropic D (SC's convention
``sqrt(T·D_sc)`` maps to D = T·D_sc/2, :func:`theory.escape.dt_diffusion_from_sc`). The mean
first-passage time τ solves the backward equation ``D Δτ − ∇L·∇τ = −1`` with τ = 0 on the absorbing
set and reflection on the box edges. It is discretised in the symmetric (detailed-balance) form with
weights ``w = e^{−L/D}``: the face rate between neighbours a, b is ``D e^{−(L_b − L_a)/(2D)}/h²``,
so the discrete generator is reversible, and exponents are differenced (no underflow at small D).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

__all__ = ["mean_first_passage_time_grid_2d"]


def mean_first_passage_time_grid_2d(loss, D: float, *, xlim, ylim, nx: int, ny: int, absorb_x: float):
    """MFPT field τ(x, y) to the half-plane ``x ≥ absorb_x`` for ``dθ = −∇L dt + sqrt(2D) dW``.

    Parameters
    ----------
    loss : callable ``L(X, Y)`` on NumPy arrays (compile a SymPy loss with
        :func:`numerics.compile.compile_expr`).
    D : constant diffusion coefficient (DT's convention), > 0.
    xlim, ylim : the reflecting box; nx, ny : grid points per axis (≥ 3).
    absorb_x : nodes with x ≥ absorb_x are absorbing (τ = 0).

    Returns ``(xs, ys, tau)`` with ``tau[i, j]`` the MFPT from ``(xs[i], ys[j])``.
    """
    if not D > 0:
        raise ValueError(f"D must be > 0; got {D}")
    if nx < 3 or ny < 3:
        raise ValueError(f"nx and ny must be ≥ 3; got {nx}, {ny}")
    if not xlim[0] < absorb_x:
        raise ValueError(f"absorb_x = {absorb_x} leaves no free node in xlim = {xlim}")
    xs = np.linspace(*xlim, nx)
    ys = np.linspace(*ylim, ny)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    L = np.asarray(loss(X, Y), dtype=float)
    if not np.all(np.isfinite(L)):
        raise ValueError("loss is not finite on the grid")
    free = X < absorb_x
    idx = -np.ones(X.shape, dtype=int)
    idx[free] = np.arange(free.sum())
    rows, cols, vals = [], [], []
    diag = np.zeros(free.sum())
    for (di, dj, h) in ((1, 0, hx), (-1, 0, hx), (0, 1, hy), (0, -1, hy)):
        has_nb = np.zeros(X.shape, bool)
        has_nb[max(0, -di):nx - max(0, di), max(0, -dj):ny - max(0, dj)] = True
        Ia, Ja = np.nonzero(has_nb & free)
        Ib, Jb = Ia + di, Ja + dj
        rate = D * np.exp(-(L[Ib, Jb] - L[Ia, Ja]) / (2 * D)) / h**2
        ia = idx[Ia, Ja]
        np.add.at(diag, ia, -rate)
        nb_free = free[Ib, Jb]  # an absorbing neighbour has τ = 0: only the diagonal term
        rows.extend(ia[nb_free].tolist())
        cols.extend(idx[Ib, Jb][nb_free].tolist())
        vals.extend(rate[nb_free].tolist())
    A = sps.csr_matrix((vals, (rows, cols)), shape=(free.sum(),) * 2) + sps.diags(diag)
    tau = spla.spsolve(A.tocsc(), -np.ones(free.sum()))
    out = np.zeros(X.shape)
    out[free] = tau
    return xs, ys, out
