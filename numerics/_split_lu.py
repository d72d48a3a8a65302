"""Sparse direct solve of a grid-stencil system split into two halves (Schur complement).

A system ``M x = b`` whose unknowns are the cells of a tensor grid and whose couplings reach one
cell along each axis (a five-point or nine-point stencil, e.g. a Fokker–Planck generator) is split
by the plane of cells ``S`` in the middle of its longest non-periodic axis: no coupling crosses
``S``, so with the halves ``1`` and ``2``::

        ⎡ A₁₁   ·   A₁S ⎤
    M = ⎢  ·   A₂₂  A₂S ⎥ ,    Σ = A_SS − A_S1 A₁₁⁻¹ A₁S − A_S2 A₂₂⁻¹ A₂S   (dense, |S| × |S|).
        ⎣ A_S1 A_S2 A_SS⎦

Each half is factorised with its separator appended last, ``Pᵢ = [[Aᵢᵢ, AᵢS], [A_Si, Cᵢ]]``
(``C₁ = A_SS``, ``C₂ = s·diag(sign A_SS)`` with ``s`` at least every separator column's absolute
sum, so both keep M's column diagonal dominance), by SuperLU with a geometric nested-dissection order; the
trailing block of its factors is ``Σᵢ = Cᵢ − A_Si Aᵢᵢ⁻¹ AᵢS``. Then::

    Σ = A_SS + Σ₁ − C₁ + Σ₂ − C₂,           gᵢ = A_Si Aᵢᵢ⁻¹ bᵢ = −Σᵢ vᵢ,  (uᵢ, vᵢ) = Pᵢ⁻¹ (bᵢ, 0)
    x_S = Σ⁻¹ (b_S − g₁ − g₂),              (xᵢ, x_S) = Pᵢ⁻¹ (bᵢ, gᵢ + Σᵢ x_S).

The two factorisations are independent and run in two threads (SuperLU releases the GIL): on two
cores a 256² Fokker–Planck generator is solved 1.35–1.5× faster than by one SuperLU factorisation
of the whole matrix with its minimum-degree order, not 2×: two SuperLUs at once slow each other
(``benchmarks/bench_fokker_planck.py``). The result does
not depend on the number of threads. :func:`split_solve` returns ``None`` where the split does not
apply (no non-periodic axis, couplings that cross the separator, a separator too large for a dense
Schur complement, a pivot that left the separator's block): the caller then solves the whole.
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla

#: largest separator for which the dense Schur complement is formed (its LU costs ~ (2/3)|S|³)
MAX_SEPARATOR = 2048
#: a leaf box of nested dissection has at most this many cells along its longest axis
ND_LEAF = 4


@functools.lru_cache(maxsize=32)
def nested_dissection_order(shape: tuple[int, ...], leaf: int = ND_LEAF) -> np.ndarray:
    """Geometric nested-dissection order of the cells of a box (flat C-order indices).

    Recursively: bisect the longest axis by one plane of cells, order the first part, then the
    second, then the plane; in a box at most ``leaf`` cells long in every axis the cells whose
    index sum is even come first, then the others (C order within each). A pure function of
    ``shape`` (cached, read-only result).

    >>> nested_dissection_order((3, 1), leaf=1).tolist()
    [0, 2, 1]
    >>> nested_dissection_order((2, 2)).tolist()
    [0, 3, 1, 2]
    """
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    out: list[np.ndarray] = []

    def rec(box):
        sub = idx[box]
        if sub.size == 0:
            return
        if max(sub.shape) <= leaf:
            # a leaf box: every other cell first (no two of them coupled by a five-point stencil,
            # so eliminating them fills nothing among themselves), then the rest
            red = np.indices(sub.shape).sum(axis=0) % 2 == 0
            out.append(np.concatenate([sub[red], sub[~red]]))
            return
        ax = int(np.argmax(sub.shape))
        start, stop = box[ax].start, box[ax].stop
        mid = start + sub.shape[ax] // 2
        for part in (slice(start, mid), slice(mid + 1, stop)):
            rec(box[:ax] + (part,) + box[ax + 1:])
        out.append(idx[box[:ax] + (slice(mid, mid + 1),) + box[ax + 1:]].ravel())

    rec(tuple(slice(0, n) for n in shape))
    order = np.concatenate(out) if out else np.zeros(0, dtype=np.intp)
    order.setflags(write=False)
    return order


def _split_axis(shape, periodic) -> int | None:
    """The longest non-periodic axis with at least 3 cells (first of equals), or None."""
    cand = [(n, -i) for i, (n, p) in enumerate(zip(shape, periodic)) if not p and n >= 3]
    return -max(cand)[1] if cand else None


def _crosses(M: sps.csr_matrix, coord: np.ndarray, mid: int) -> bool:
    """Whether any nonzero of M couples a cell before the plane ``mid`` to one after it."""
    rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
    a, b = coord[rows], coord[M.indices]
    nz = M.data != 0
    return bool(np.any(nz & (((a < mid) & (b > mid)) | ((a > mid) & (b < mid)))))


def _factor_half(M: sps.csr_matrix, order: np.ndarray, ni: int, C_diag, rhs, options: dict):
    """SuperLU of ``Pᵢ = M[order][:, order]`` (separator last) with its trailing block replaced by
    ``diag(C_diag)`` (``C_diag`` None: kept, ``Cᵢ = A_SS``); returns ``(lu, Σᵢ, vᵢ)`` with
    ``(uᵢ, vᵢ) = Pᵢ⁻¹ (rhs[order[:ni]], 0)``, or None if a pivot moved a separator row or column
    out of the trailing block (then that block is not the Schur complement) or the half is
    singular."""
    P = M[order][:, order].tocsc()
    if C_diag is not None:
        rows = P.indices
        cols = np.repeat(np.arange(P.shape[1]), np.diff(P.indptr))
        trail = (rows >= ni) & (cols >= ni)
        P.data[trail] = 0.0
        # every separator cell has its diagonal entry (the generator's, or the pin's 1)
        P.data[trail & (rows == cols)] = C_diag[rows[trail & (rows == cols)] - ni]
        P.eliminate_zeros()
    try:
        lu = spla.splu(P, permc_spec="NATURAL", **options)
    except RuntimeError:                    # "Factor is exactly singular": let the caller decide
        return None
    pr, pc = lu.perm_r[ni:], lu.perm_c[ni:]
    if pr.size and (pr.min() < ni or pc.min() < ni):
        return None
    L_SS = lu.L[:, ni:][ni:].toarray()
    U_SS = lu.U[:, ni:][ni:].toarray()
    # Pr P Pc = L U with (Pr P Pc)[perm_r[i], perm_c[j]] = P[i, j]: back to the separator's order
    schur = (L_SS @ U_SS)[np.ix_(pr - ni, pc - ni)]
    b = rhs[order[:ni]]
    v = lu.solve(np.concatenate([b, np.zeros(order.size - ni)]))[ni:] if b.any() else np.zeros(order.size - ni)
    return lu, schur, v


def _map(fn, items, threads: int):
    if threads >= 2 and len(items) > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(items))) as ex:
            return list(ex.map(fn, items))
    return [fn(it) for it in items]


def split_solve(M, rhs, shape, periodic, *, options: dict | None = None, threads: int | None = None):
    """Solve ``M x = rhs`` (unknowns: the cells of a grid of ``shape``, C order) by the two-half
    Schur complement of the module docstring; ``None`` where the split does not apply.

    * ``options``: SuperLU supernode settings (``panel_size``, ``relax``) for both halves.
    * ``threads``: 1 factorises the halves one after the other; default two threads when this
      process may run on two or more cores. The result is the same either way.
    """
    options = options or {}
    shape = tuple(int(n) for n in shape)
    ax = _split_axis(shape, tuple(bool(p) for p in periodic))
    if ax is None:
        return None
    N = int(np.prod(shape))
    n_ax = shape[ax]
    mid = n_ax // 2
    ns = N // n_ax
    if ns > MAX_SEPARATOR:
        return None
    M = sps.csr_matrix(M)
    rhs = np.asarray(rhs, dtype=float)
    stride = int(np.prod(shape[ax + 1:]))
    coord = (np.arange(N) // stride) % n_ax
    if _crosses(M, coord, mid):
        return None
    idx = np.arange(N).reshape(shape)
    pick = lambda s: idx[(slice(None),) * ax + (s,)]  # noqa: E731
    sep = pick(slice(mid, mid + 1)).ravel()
    halves = [pick(slice(0, mid)), pick(slice(mid + 1, n_ax))]
    orders = [np.concatenate([h.ravel()[nested_dissection_order(h.shape)], sep]) for h in halves]
    A_SS = M[sep][:, sep].toarray()
    d = np.diag(A_SS)
    if np.any(d == 0):                      # a separator cell without a diagonal entry
        return None
    col_abs = np.asarray(abs(M[:, sep]).sum(axis=0)).ravel()
    C2 = float(col_abs.max()) * np.sign(d)
    Cs = [None, C2]

    if threads is None:
        try:
            threads = min(2, len(os.sched_getaffinity(0)))
        except AttributeError:              # pragma: no cover - not on Linux
            threads = min(2, os.cpu_count() or 1)
    jobs = [(o, o.size - ns, C) for o, C in zip(orders, Cs)]
    parts = _map(lambda j: _factor_half(M, j[0], j[1], j[2], rhs, options), jobs, threads)
    if any(p is None for p in parts):
        return None

    # Σ = A_SS + Σᵢ (Σᵢ − Cᵢ) = Σ₁ + Σ₂ − C₂ (C₁ = A_SS);  gᵢ = A_Si Aᵢᵢ⁻¹ bᵢ = −Σᵢ vᵢ with (uᵢ, vᵢ) = Pᵢ⁻¹ (bᵢ, 0)
    sigma = parts[0][1] + parts[1][1] - np.diag(C2)
    gs = [-schur @ v for _, schur, v in parts]
    try:
        x_S = sla.solve(sigma, rhs[sep] - gs[0] - gs[1], check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None
    x = np.empty(N)
    x[sep] = x_S

    # (xᵢ, x_S) = Pᵢ⁻¹ (bᵢ, gᵢ + Σᵢ x_S)
    def back(i):
        (o, ni, _), (lu, schur, _) = jobs[i], parts[i]
        return lu.solve(np.concatenate([rhs[o[:ni]], gs[i] + schur @ x_S]))[:ni]

    for (o, ni, _), xi in zip(jobs, _map(back, [0, 1], threads)):
        x[o[:ni]] = xi
    return x
