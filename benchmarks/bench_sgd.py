"""Benchmark (a script, not a test): the many-chain SGD simulator (:func:`numerics.sgd.simulate_sgd`)
against per-step loops and against the device's bound, in chain-steps/s.

Workload (issue 11, item 4): a 1-D two-basin per-sample model ``L(x, θ) = θ⁴/4 − θ²/2 + xθ`` on a
finite training set of N = 1000 standardised Gaussian samples, minibatches of B = 10 indices drawn
with replacement, λ = 0.1, ``--chains`` chains (default 10⁵) for ``--steps`` steps (default 40),
every step's θ counted into a 100-bin histogram on [−2.5, 2.5] (the simulator's
:class:`numerics.sgd.Histogram1D`; the loops do the same with ``bincount``). A *chain-step* is one
SGD iteration of one chain: B sample indices, B per-sample gradients, the mean, the update and the
histogram count.

Variants, measured in one process, interleaved in a seeded random order per repetition, medians of
``--repeat`` (≥ 3) repetitions, all on the CPU with one torch / BLAS thread (the simulator's default
``cpu_threads=1``; the machine is shared):

* ``simulator`` — :func:`numerics.sgd.simulate_sgd` (``FiniteData``, a ``Histogram1D`` observer,
  its convergence diagnostics included: that is what a record pays);
* ``torch_loop`` — a naive per-step PyTorch loop: ``randint``, ``X[idx]``, the compiled per-sample
  gradient, ``mean``, update, ``bincount`` — new tensors every step;
* ``numpy_loop`` — the same loop in NumPy (``Generator.integers``, fancy indexing);
* ``torch_compiled`` — the per-step function (gather, gradient, mean, update, histogram index) under
  ``torch.compile``; tried once — when compilation fails or its first call takes longer than a minute
  the result says so and the variant is left out;
* ``bound`` — the device's bound measured in the same run: drawing the same random numbers
  (``randint`` of ``chains × B`` int64 per step, as the simulator does) plus one fused in-place
  elementwise pass over the ``chains × B`` per-sample terms (``addcmul_``); the two parts are timed
  separately too, and the result says which binds;
* **the floor** (``floor=True``, the default; ``--no-floor`` leaves it out) — the cheapest parts an
  exact simulation of this workload cannot avoid, each timed alone over the same ``chains`` and
  ``steps``: the B = 10 uniform indices in [0, N) per chain-step from every stream available here
  without new dependencies — ``torch.randint`` int32 (``rng_torch_randint_int32``; int64 is
  ``bound_rng``) and under ``torch.compile`` (``rng_torch_compiled_philox``, with ``compile``),
  ``numpy.random.Generator(PCG64 | SFC64 | Philox | MT19937).integers`` as uint16 / uint32
  (``rng_numpy_<bitgen>_<dtype>``: Lemire's method, exact), and :func:`draw_reject10` from raw SFC64
  / PCG64 words (``rng_reject10_<bitgen>``: 10-bit lanes of 16, lanes ≥ N redrawn, exact); the
  *information floor* ``raw_bits_<bitgen>`` — ``random_raw`` of ⌈chains·B·log2 N / 64⌉ 64-bit words
  per step (≈ 100 bits per chain-step), no decoding; the gather + mean of the B data values
  (``gather_mean_torch_int32`` / ``_int64``: ``index_select`` + ``mv``; ``gather_mean_numpy``:
  ``take`` + ``dot``); one elementwise pass over the chains (``update_elementwise``); and the
  cheapest of them composed end to end (``floor_pipeline``).  torch's eager ``randint`` is *not*
  exactly uniform: it reduces one 32-bit word modulo N (:func:`torch_randint_modulo_bias`, 2.3e-7
  relative; checked on the installed torch by :func:`torch_randint_is_modulo` and recorded in
  ``stream_exactness``) — statistically invisible, but the "exact" streams are NumPy's.

The harness (:func:`benchmarks._common.interleaved`): every variant once to warm up, then the
repetitions, each in a seeded random order; ratios are of medians of the same run, so the machine's
load (recorded) cancels to first order — the absolute rates do not: on the shared 2-core machine
they move 3–5× with the load average (0.2 → 14), the ratios far less.

**Roofline** (``roofline`` in the result): the simulator draws the same random numbers as the
bound's RNG part, so it cannot run faster than ``bound_rng``; its ratio over a loop is therefore at
most ``bound_rng / loop``, however much else it fuses.  The result records that cap per loop and
whether the acceptance target (≥ 10× the naive loops) is reachable at all with this random stream.
With the floor measured it also answers *with any stream*: per stream, the cap
``t_loop / (t_stream + t_gather_mean + t_update)`` (the cheapest gather + mean and the update pass;
the gradient and the histogram left out, so every cap is generous), the cheapest exact stream's cap
(``any_exact_stream``), and the information floor's (``information_floor``: raw bits alone — if even
that is < 10×, no exact stream can reach 10× on this CPU — and raw bits + gather + mean + update).
On a quiet machine (load 1.0–1.4, 2026-12-01) the cheapest exact stream was ``rng_reject10_sfc64``
(≈ 16 ns per chain-step: ≈ 1.5× faster than NumPy's own uint16 integers, ≈ 2.3× faster than
``torch.randint``; the torch.compile'd randint was the slowest, ≈ 100 ns); the gather + mean cost
≈ 10–12 ns and binds next: raw bits alone (≈ 3 ns) would allow ≈ 30× over the torch loop, but raw
bits + gather + mean + update already capped it at ≈ 6× — with pure NumPy/PyTorch primitives the
target is out of reach whatever the stream (a hand-written fused kernel, not measured, is the only
way left; the numbers of a run are in ``roofline.note``).

Usage: ``python benchmarks/bench_sgd.py [--chains C] [--steps S] [--repeat K] [--no-compile] [--no-floor]
[--out PATH] [--force]``.
Writes ``benchmarks/results/bench_sgd.json`` with provenance (:func:`validation.records.provenance`).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

from benchmarks._common import add_output_arguments, interleaved, out_is_usable, rate_table, write_result  # noqa: E402,E501

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bench_sgd.json"
LR, BATCH, N_DATA = 0.1, 10, 1000
LO, HI, BINS = -2.5, 2.5, 100
VARIANTS = ("simulator", "torch_loop", "numpy_loop", "torch_compiled", "bound")
COMPILE_LIMIT_S = 60.0


def _data(seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(N_DATA)
    return (x - x.mean()) / x.std()


def _loss():
    x, th = sp.symbols("x theta", real=True)
    return th ** 4 / 4 - th ** 2 / 2 + x * th, x, th


# --------------------------------------------------------------------------------------------------
# variants: each returns chain-steps advanced and the histogram counts
# --------------------------------------------------------------------------------------------------
def run_simulator(grad, data, *, chains, steps, seed):
    from numerics.sgd import FiniteData, Histogram1D, simulate_sgd

    res = simulate_sgd(grad, data=FiniteData(data), lr=LR, batch_size=BATCH, n_chains=chains, n_steps=steps,
                       start=[-1.0], observers=[Histogram1D(LO, HI, BINS)], seed=seed, device="cpu")
    return chains * steps, res.histograms[0]["counts"]


def _torch_step_parts(torch, X, grad):
    scale = BINS / (HI - LO)

    def step(theta, idx):
        xs = X.index_select(0, idx.reshape(-1)).view(idx.shape[0], BATCH, 1)
        g = grad(xs, theta[:, None, :]).mean(1)
        theta = theta - LR * g
        b = ((theta[:, 0] - LO) * scale).floor().clamp(-1, BINS).to(torch.int64) + 1
        return theta, b

    return step


def run_torch_loop(grad, data, *, chains, steps, seed):
    import torch

    gen = torch.Generator().manual_seed(seed)
    X = torch.as_tensor(data, dtype=torch.float64)[:, None]
    theta = torch.full((chains, 1), -1.0, dtype=torch.float64)
    counts = torch.zeros(BINS + 2, dtype=torch.float64)
    step = _torch_step_parts(torch, X, grad)
    for _ in range(steps):
        idx = torch.randint(0, N_DATA, (chains, BATCH), generator=gen)
        theta, b = step(theta, idx)
        counts += torch.bincount(b, minlength=BINS + 2).to(torch.float64)
    return chains * steps, counts[1:-1].numpy()


def run_numpy_loop(data, *, chains, steps, seed):
    rng = np.random.default_rng(seed)
    theta = np.full(chains, -1.0)
    counts = np.zeros(BINS + 2)
    scale = BINS / (HI - LO)
    for _ in range(steps):
        idx = rng.integers(0, N_DATA, (chains, BATCH))
        xs = data[idx]
        g = (theta[:, None] ** 3 - theta[:, None] + xs).mean(1)
        theta = theta - LR * g
        b = np.clip(np.floor((theta - LO) * scale), -1, BINS).astype(np.int64) + 1
        counts += np.bincount(b, minlength=BINS + 2)
    return chains * steps, counts[1:-1]


def make_compiled(grad, data):
    """The per-step function under torch.compile, or (None, reason)."""
    import torch

    X = torch.as_tensor(data, dtype=torch.float64)[:, None]
    try:
        fn = torch.compile(_torch_step_parts(torch, X, grad), dynamic=False)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return None, f"torch.compile failed: {type(exc).__name__}: {str(exc)[:200]}"
    return fn, None


def run_torch_compiled(fn, *, chains, steps, seed):
    import torch

    gen = torch.Generator().manual_seed(seed)
    theta = torch.full((chains, 1), -1.0, dtype=torch.float64)
    counts = torch.zeros(BINS + 2, dtype=torch.float64)
    for _ in range(steps):
        idx = torch.randint(0, N_DATA, (chains, BATCH), generator=gen)
        theta, b = fn(theta, idx)
        counts += torch.bincount(b, minlength=BINS + 2).to(torch.float64)
    return chains * steps, counts[1:-1].numpy()


def run_bound(*, chains, steps, seed, part="both"):
    """The same random numbers (randint, chains × B int64 per step) and/or one fused in-place
    elementwise pass over chains × B float64 terms."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    idx = torch.empty((chains, BATCH), dtype=torch.int64)
    terms = torch.zeros((chains, BATCH), dtype=torch.float64)
    other = torch.ones((chains, BATCH), dtype=torch.float64)
    for _ in range(steps):
        if part in ("both", "rng"):
            torch.randint(0, N_DATA, (chains, BATCH), generator=gen, out=idx)
        if part in ("both", "elementwise"):
            terms.addcmul_(other, other, value=LR)
    return chains * steps, None


# --------------------------------------------------------------------------------------------------
# the cheapest exact random streams, the gather + mean, one elementwise pass (the roofline's floor)
# --------------------------------------------------------------------------------------------------
BIT_GENERATORS = ("PCG64", "SFC64", "Philox", "MT19937")
#: bits of information in one chain-step's B indices: B·log2(N) (≈ 99.7 for B = 10, N = 1000)
INFO_BITS = BATCH * math.log2(N_DATA)
#: the 10-bit lane mask of the rejection decoder: 2^⌈log2 N⌉ − 1 (1023 for N = 1000)
LANE_MASK = (1 << (N_DATA - 1).bit_length()) - 1


def raw_words_per_step(chains: int) -> int:
    """64-bit words that carry one step's information, ⌈chains·B·log2(N)/64⌉: the floor of any exact
    stream (a stream has to consume at least this many random bits on average)."""
    return math.ceil(chains * INFO_BITS / 64)


def torch_randint_modulo_bias(n: int = N_DATA) -> float:
    """The relative excess probability of the favoured indices under ``torch.randint(0, n)`` on the
    CPU, which reduces one 32-bit mt19937 word modulo ``n`` (``uniform_int_from_to`` in
    ATen/core/TransformationHelper.h: ``val % range + base``): the ``2^32 mod n`` smallest indices
    have probability ``(⌊2^32/n⌋ + 1)/2^32``, the others ``⌊2^32/n⌋/2^32`` — a ratio of
    ``1 + 1/⌊2^32/n⌋`` (2.3e-7 for n = 1000; ranges below 2^28 in torch's OSS build). Not exact,
    though statistically invisible here."""
    return 1.0 / ((1 << 32) // n) if (1 << 32) % n else 0.0


def torch_randint_is_modulo(seed: int = 0, k: int = 4096, n: int = N_DATA) -> bool:
    """Checks on this torch that ``randint(0, n)`` is one 32-bit word modulo ``n``: with the same seed,
    ``randint(0, n·2^j)`` (the largest ``j`` with ``n·2^j < 2^28`` — from 2^28 on, torch's OSS build
    reduces a 64-bit word instead (``uniform_int_from_to_distribution`` in
    ATen/core/DistributionsHelper.h) — a multiple of n, so the same word modulo it, then modulo n, is
    the word modulo n) reduced modulo ``n`` gives the same numbers."""
    import torch

    if n >= 1 << 28:
        raise ValueError(f"n = {n} >= 2^28: torch.randint reduces a 64-bit word there; pass n < 2^28")
    big = n << ((((1 << 28) - 1) // n).bit_length() - 1)
    a = torch.randint(0, n, (k,), generator=torch.Generator().manual_seed(seed))
    b = torch.randint(0, big, (k,), generator=torch.Generator().manual_seed(seed))
    return bool(torch.equal(a, b % n))


def draw_reject10(bitgen, n: int, out: np.ndarray | None = None, *, _bad: np.ndarray | None = None) -> np.ndarray:
    """``n`` exactly uniform indices in ``[0, N)`` (uint16) from raw 64-bit words of ``bitgen`` (a
    ``numpy.random.BitGenerator``): every word gives four 16-bit lanes, each masked to its low
    ⌈log2 N⌉ bits (uniform on ``[0, 1024)``); lanes ≥ N are rejected and their positions refilled
    from fresh lanes until none is left.  Given which positions were rejected, the accepted values
    are i.i.d. uniform on ``[0, N)`` — the same law as ``Generator.integers`` (Lemire) draws, from
    16 raw bits per lane instead of 32 (≈ 16.4 bits per index with the 2.3 % rejections; the
    information floor is log2 N ≈ 9.97)."""
    if N_DATA > LANE_MASK + 1 or LANE_MASK > 0xFFFF:
        raise ValueError(f"the 16-bit lane decoder needs N <= 65536 (N = {N_DATA})")
    out = np.empty(n, dtype=np.uint16) if out is None else out
    bad = np.empty(n, dtype=bool) if _bad is None else _bad
    np.bitwise_and(bitgen.random_raw(-(-n // 4)).view(np.uint16)[:n], LANE_MASK, out=out)
    np.greater_equal(out, N_DATA, out=bad)
    pos = np.flatnonzero(bad)
    while pos.size:
        v = bitgen.random_raw(-(-pos.size // 4)).view(np.uint16)[:pos.size] & LANE_MASK
        ok = v < N_DATA
        out[pos[ok]] = v[ok]
        pos = pos[~ok]
    return out


def run_torch_randint(*, chains, steps, seed, dtype="int32"):
    """``torch.randint`` into a preallocated ``chains × B`` buffer of ``dtype`` (int64 is ``bound_rng``)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    idx = torch.empty((chains, BATCH), dtype=getattr(torch, dtype))
    for _ in range(steps):
        torch.randint(0, N_DATA, (chains, BATCH), generator=gen, out=idx)
    return chains * steps, None


def run_numpy_integers(*, chains, steps, seed, bitgen, dtype):
    """``Generator(bitgen).integers(0, N, (chains, B), dtype)``: Lemire's exact bounded integers."""
    g = np.random.Generator(getattr(np.random, bitgen)(seed))
    for _ in range(steps):
        g.integers(0, N_DATA, (chains, BATCH), dtype=dtype)
    return chains * steps, None


def run_reject10(*, chains, steps, seed, bitgen):
    """:func:`draw_reject10` into preallocated buffers (exact)."""
    bg = getattr(np.random, bitgen)(seed)
    out, bad = np.empty(chains * BATCH, dtype=np.uint16), np.empty(chains * BATCH, dtype=bool)
    for _ in range(steps):
        draw_reject10(bg, chains * BATCH, out, _bad=bad)
    return chains * steps, None


def run_raw_bits(*, chains, steps, seed, bitgen):
    """The information floor: :func:`raw_words_per_step` raw 64-bit words per step, no decoding."""
    bg, w = getattr(np.random, bitgen)(seed), raw_words_per_step(chains)
    for _ in range(steps):
        bg.random_raw(w)
    return chains * steps, None


def run_gather_mean(data, *, chains, steps, seed, route):
    """The B data values of every chain-step gathered and averaged, from fixed indices (drawn once):
    ``torch_int32`` / ``torch_int64`` — ``index_select`` into a buffer, then a matrix–vector product
    with ``(1/B, …, 1/B)`` (faster than ``mean(1)`` over a length-B axis); ``numpy`` — ``np.take``
    (``mode="wrap"``: no bounds check, faster) and ``np.dot``."""
    import torch

    idx = np.random.default_rng(seed).integers(0, N_DATA, chains * BATCH)
    if route == "numpy":
        buf, m, w = np.empty(chains * BATCH), np.empty(chains), np.full(BATCH, 1.0 / BATCH)
        for _ in range(steps):
            np.dot(np.take(data, idx, out=buf, mode="wrap").reshape(chains, BATCH), w, out=m)
        return chains * steps, m
    X = torch.as_tensor(data, dtype=torch.float64)
    I = torch.as_tensor(idx).to(torch.int32 if route == "torch_int32" else torch.int64)
    buf, m = torch.empty(chains * BATCH, dtype=torch.float64), torch.empty(chains, dtype=torch.float64)
    w = torch.full((BATCH,), 1.0 / BATCH, dtype=torch.float64)
    for _ in range(steps):
        torch.mv(torch.index_select(X, 0, I, out=buf).view(chains, BATCH), w, out=m)
    return chains * steps, m.numpy()


def run_update(*, chains, steps, seed):
    """One in-place elementwise pass over the ``chains`` parameters per step (``add_``): the update
    ``θ ← θ − λ·(θ³ − θ + mean)`` fused into one kernel would cost at least this."""
    import torch

    theta = torch.zeros(chains, dtype=torch.float64)
    m = torch.full((chains,), 1e-3, dtype=torch.float64)
    for _ in range(steps):
        theta.add_(m, alpha=-LR)
    return chains * steps, None


def run_floor_pipeline(data, *, chains, steps, seed):
    """The cheapest parts composed, end to end: :func:`draw_reject10` (SFC64) → int32 → ``index_select``
    → ``mv`` → one update pass (no gradient, no histogram): the parts' sum is a lower bound on it."""
    import torch

    bg = np.random.SFC64(seed)
    n = chains * BATCH
    out, bad = np.empty(n, dtype=np.uint16), np.empty(n, dtype=bool)
    X = torch.as_tensor(data, dtype=torch.float64)
    I = torch.empty(n, dtype=torch.int32)
    buf, m = torch.empty(n, dtype=torch.float64), torch.empty(chains, dtype=torch.float64)
    w = torch.full((BATCH,), 1.0 / BATCH, dtype=torch.float64)
    theta = torch.full((chains,), -1.0, dtype=torch.float64)
    src = torch.from_numpy(out.view(np.int16))  # indices < 1000 fit int16: the same bits
    for _ in range(steps):
        draw_reject10(bg, n, out, _bad=bad)
        I.copy_(src)
        torch.mv(torch.index_select(X, 0, I, out=buf).view(chains, BATCH), w, out=m)
        theta.add_(m, alpha=-LR)
    return chains * steps, theta.numpy()


#: the streams of B indices per chain-step: name → (exact?, how); the times are the variants' of the same name
STREAMS = {
    "bound_rng": (False, "torch.randint int64 (mt19937, one 32-bit word mod N per index): the simulator's stream"),
    "rng_torch_randint_int32": (False, "torch.randint int32 (the same words as int64)"),
    **{f"rng_numpy_{b.lower()}_{dt}": (True, f"numpy Generator({b}).integers(0, N, dtype={dt}) — Lemire, exact")
       for b in BIT_GENERATORS for dt in ("uint16", "uint32")},
    **{f"rng_reject10_{b.lower()}": (True, f"raw {b} words, four 16-bit lanes each masked to 10 bits, lanes ≥ N "
                                           f"redrawn (draw_reject10) — exact") for b in ("SFC64", "PCG64")},
}
#: streams measured only when torch.compile works (``torch_compile=True``)
OPTIONAL_STREAMS = {
    "rng_torch_compiled_philox": (False, "torch.randint under torch.compile (inductor: Philox4_32 per element, a "
                                         "64-bit word mod N: relative bias 5e-17)"),
}
#: the information floor: raw words only (no decoding, no gather)
RAW_FLOORS = {f"raw_bits_{b.lower()}": b for b in BIT_GENERATORS}
GATHER_MEANS = ("gather_mean_torch_int32", "gather_mean_torch_int64", "gather_mean_numpy")


def make_compiled_randint(chains: int):
    """``torch.randint(0, N, (chains, B))`` under ``torch.compile`` (inductor's CPU kernel: a
    counter-based Philox4_32 per element, ``randint64_cpu`` in torch/csrc/inductor/cpp_prefix.h), or
    ``(None, reason)``; the first call is timed into the reason when it works."""
    import torch

    t0 = time.perf_counter()
    try:
        fn = torch.compile(lambda: torch.randint(0, N_DATA, (chains, BATCH)), dynamic=False)
        fn()
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return None, f"torch.compile of randint failed: {type(exc).__name__}: {str(exc)[:200]}"
    dt = time.perf_counter() - t0
    if dt > COMPILE_LIMIT_S:
        return None, f"torch.compile of randint took {dt:.0f} s (> {COMPILE_LIMIT_S:.0f} s): left out"
    return fn, f"compiled (first call {dt:.1f} s)"


def run_compiled_randint(fn, *, chains, steps, seed):
    """The compiled randint, ``steps`` times (seeded through torch's global generator, from which
    inductor draws each call's Philox seed)."""
    import torch

    with torch.random.fork_rng(devices=[]):  # the caller's global generator state is left as it was
        torch.manual_seed(seed)
        for _ in range(steps):
            fn()
    return chains * steps, None


def floor_calls(data, *, chains, steps, seed) -> dict:
    """The variants of the floor, name → call (for :func:`benchmarks._common.interleaved`)."""
    calls = {"rng_torch_randint_int32": lambda: run_torch_randint(chains=chains, steps=steps, seed=seed)}
    for b in BIT_GENERATORS:
        for dt in ("uint16", "uint32"):
            calls[f"rng_numpy_{b.lower()}_{dt}"] = (
                lambda b=b, dt=dt: run_numpy_integers(chains=chains, steps=steps, seed=seed, bitgen=b, dtype=dt))
    for b in ("SFC64", "PCG64"):
        calls[f"rng_reject10_{b.lower()}"] = lambda b=b: run_reject10(chains=chains, steps=steps, seed=seed, bitgen=b)
    for name, b in RAW_FLOORS.items():
        calls[name] = lambda b=b: run_raw_bits(chains=chains, steps=steps, seed=seed, bitgen=b)
    for name in GATHER_MEANS:
        route = name[len("gather_mean_"):]
        calls[name] = lambda route=route: run_gather_mean(data, chains=chains, steps=steps, seed=seed, route=route)
    calls["update_elementwise"] = lambda: run_update(chains=chains, steps=steps, seed=seed)
    calls["floor_pipeline"] = lambda: run_floor_pipeline(data, chains=chains, steps=steps, seed=seed)
    return calls


# --------------------------------------------------------------------------------------------------
def run_benchmark(*, chains: int = 100_000, steps: int = 40, repeat: int = 5, seed: int = 0,
                  torch_compile: bool = True, floor: bool = True) -> dict:
    """Every variant, interleaved (``torch_compile=False``: no torch.compile variant; ``floor=False``: no
    stream / gather / update variants, so no any-stream roofline)."""
    if repeat < 3:
        raise ValueError("repeat must be >= 3 (medians of at least 3 repetitions)")
    if chains < 1 or steps < 2:
        raise ValueError("chains >= 1 and steps >= 2 are required")
    import torch

    from numerics.sgd import compile_per_sample_gradient

    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        loss, x, th = _loss()
        grad = compile_per_sample_gradient(loss, x, th, device="cpu")
        data = _data(seed)
        t0 = time.perf_counter()
        compiled, compile_note = make_compiled(grad, data) if torch_compile else (None, "not run (torch_compile=False)")
        compile_s = None
        if compiled is not None:
            try:
                run_torch_compiled(compiled, chains=chains, steps=2, seed=seed)
                compile_s = time.perf_counter() - t0
                if compile_s > COMPILE_LIMIT_S:
                    compile_note = f"torch.compile took {compile_s:.0f} s (> {COMPILE_LIMIT_S:.0f} s): left out"
                    compiled = None
            except Exception as exc:  # noqa: BLE001 - reported, not hidden
                compile_note = f"torch.compile'd step failed on its first call: {type(exc).__name__}: {str(exc)[:200]}"
                compiled = None
        calls = {
            "simulator": lambda: run_simulator(grad, data, chains=chains, steps=steps, seed=seed),
            "torch_loop": lambda: run_torch_loop(grad, data, chains=chains, steps=steps, seed=seed),
            "numpy_loop": lambda: run_numpy_loop(data, chains=chains, steps=steps, seed=seed),
            "bound": lambda: run_bound(chains=chains, steps=steps, seed=seed),
            "bound_rng": lambda: run_bound(chains=chains, steps=steps, seed=seed, part="rng"),
            "bound_elementwise": lambda: run_bound(chains=chains, steps=steps, seed=seed, part="elementwise"),
        }
        if compiled is not None:
            calls["torch_compiled"] = lambda: run_torch_compiled(compiled, chains=chains, steps=steps, seed=seed)
        rng_compile_note = "not run (torch_compile=False or floor=False)"
        if floor:
            calls.update(floor_calls(data, chains=chains, steps=steps, seed=seed))
            if torch_compile:
                rng_fn, rng_compile_note = make_compiled_randint(chains)
                if rng_fn is not None:
                    calls["rng_torch_compiled_philox"] = lambda: run_compiled_randint(rng_fn, steps=steps, seed=seed,
                                                                                      chains=chains)
        m = interleaved(calls, repeat=repeat, seed=seed)
    finally:
        torch.set_num_threads(threads_before)
    names, rates, outputs, med = list(calls), m.rates, m.outputs, m.median
    sim = med["simulator"]
    # the histograms agree in total mass and mean position (different random streams)
    centres = np.linspace(LO, HI, BINS + 1)[:-1] + 0.5 * (HI - LO) / BINS
    hist_mean = {v: float(np.dot(outputs[v][1], centres) / max(outputs[v][1].sum(), 1))
                 for v in ("simulator", "torch_loop", "numpy_loop")}
    t_rng, t_elem = 1.0 / med["bound_rng"], 1.0 / med["bound_elementwise"]
    from validation.records import provenance

    return {
        "benchmark": "many-chain SGD simulator vs per-step loops and the device bound (chain-steps/s)",
        "provenance": provenance(device="cpu", seed=seed, wall_time_s=m.wall_s),
        "load": m.load(torch_threads=1),
        "workload": {"loss": "θ⁴/4 − θ²/2 + xθ (1-D two-basin per-sample model)", "n_data": N_DATA,
                     "batch_size": BATCH, "lr": LR, "replacement": True, "n_chains": chains, "n_steps": steps,
                     "histogram": {"lo": LO, "hi": HI, "bins": BINS}, "seed": seed},
        "repeat": repeat,
        "chain_steps_per_s": {v: {"median": med[v], "all": rates[v]} for v in names},
        "torch_compile": {"available": compiled is not None, "note": compile_note,
                          "first_call_seconds": compile_s, "randint_stream_note": rng_compile_note},
        "ratios_of_medians": {
            "simulator_over_torch_loop": sim / med["torch_loop"],
            "simulator_over_numpy_loop": sim / med["numpy_loop"],
            "simulator_over_torch_compiled": (sim / med["torch_compiled"]) if "torch_compiled" in med else None,
            "bound_over_simulator": med["bound"] / sim,
        },
        "bound_parts": {"rng_seconds_per_chain_step": t_rng, "elementwise_seconds_per_chain_step": t_elem,
                        "binds": "random numbers" if t_rng >= t_elem else "elementwise pass"},
        "roofline": roofline(med),
        "stream_exactness": {"torch_randint_is_32_bit_word_mod_n": torch_randint_is_modulo(seed),
                             "torch_randint_modulo_bias_relative": torch_randint_modulo_bias(),
                             "numpy_integers": "Lemire's bounded integers with rejection: exact",
                             "reject10": "10-bit lanes of raw words, lanes >= N redrawn: exact"},
        "targets": {"simulator_over_naive_loops_at_least": 10.0, "bound_over_simulator_at_most": 3.0},
        "histogram_mean_theta": hist_mean,
    }


LOOPS = ("torch_loop", "numpy_loop", "torch_compiled")
NAIVE_LOOPS = ("torch_loop", "numpy_loop")
TEN_X = 10.0


def _caps(med: dict, seconds: float) -> dict:
    """``max_simulator_over_<loop>``: the loop's time per chain-step over ``seconds`` — the most a
    simulator whose step costs at least ``seconds`` can gain over that loop."""
    return {f"max_simulator_over_{loop}": 1.0 / (seconds * med[loop])
            for loop in LOOPS if loop in med}


def roofline(med: dict) -> dict:
    """Why a ratio target can or cannot be met (``med``: median chain-steps/s per variant).

    *This stream*: every variant that draws the simulator's random numbers (the simulator, and the
    bound's RNG part) takes at least ``t_rng`` per chain-step, so the simulator is at most
    ``t_loop / t_rng`` times faster than a loop that takes ``t_loop`` — whatever else it fuses.

    *Any stream* (when the floor's variants were measured): an exact simulation has to draw B
    uniform indices, gather and average the B data values and update θ; the floor is the cheapest
    measured exact stream + the cheapest gather + mean + one elementwise pass (the gradient and the
    histogram left out, so the floor is generous and its cap an upper bound).  Per stream the cap
    with the cheapest gather + update is recorded.  *Information floor*: raw 64-bit words carrying
    B·log2(N) bits per chain-step, no decoding, no gather — if even its cap is below 10×, no stream
    can reach 10× on this CPU."""
    t_rng = 1.0 / med["bound_rng"]
    out = {"rng_seconds_per_chain_step": t_rng,
           "rng_share_of_simulator": t_rng * med["simulator"]}
    for loop in LOOPS:
        if loop in med:
            out[f"rng_share_of_{loop}"] = t_rng * med[loop]
            out[f"max_simulator_over_{loop}_at_the_rng_bound"] = med["bound_rng"] / med[loop]
    best = min(out[f"max_simulator_over_{loop}_at_the_rng_bound"] for loop in NAIVE_LOOPS)
    out["ten_x_over_naive_loops_possible"] = bool(best >= TEN_X)
    note = (f"the simulator draws the same random numbers as the bound (torch.randint, mt19937, one serial stream "
            f"per RNG block): no variant drawing them can exceed {med['bound_rng'] / 1e6:.3g} M chain-steps/s on "
            f"this machine, which caps the ratio over the naive loops at {best:.3g}× (< 10×: the target is out of "
            f"reach with this random stream)" if best < TEN_X else
            f"a 10× ratio over the naive loops is within the RNG bound (at most {best:.3g}×)")
    if not all(s in med for s in (*STREAMS, *RAW_FLOORS, *GATHER_MEANS, "update_elementwise")):
        out["note"] = note
        return out
    kinds = {**STREAMS, **{v: k for v, k in OPTIONAL_STREAMS.items() if v in med}}
    ns = {v: 1e9 / med[v] for v in (*kinds, *RAW_FLOORS, *GATHER_MEANS, "update_elementwise", "floor_pipeline")
          if v in med}
    gm = min(GATHER_MEANS, key=lambda v: ns[v])
    t_gu = (ns[gm] + ns["update_elementwise"]) * 1e-9  # seconds per chain-step
    streams = {}
    for v, (exact, how) in kinds.items():
        t = ns[v] * 1e-9
        streams[v] = {"ns_per_chain_step": ns[v], "exact": exact, "how": how,
                      "with_gather_mean_and_update_ns": (t + t_gu) * 1e9, **_caps(med, t + t_gu)}
    exact = [v for v in kinds if kinds[v][0]]
    cheapest = min(exact, key=lambda v: ns[v])
    cheapest_any = min(kinds, key=lambda v: ns[v])
    t_floor = ns[cheapest] * 1e-9 + t_gu
    raw = min(RAW_FLOORS, key=lambda v: ns[v])
    t_raw = ns[raw] * 1e-9
    floor_caps, info_caps, info_gu_caps = _caps(med, t_floor), _caps(med, t_raw), _caps(med, t_raw + t_gu)

    def worst(caps):
        return min(caps[f"max_simulator_over_{loop}"] for loop in NAIVE_LOOPS)

    any_ok, info_ok, info_gu_ok = worst(floor_caps) >= TEN_X, worst(info_caps) >= TEN_X, worst(info_gu_caps) >= TEN_X
    out["streams"] = streams
    out["gather_mean_ns_per_chain_step"] = {v: ns[v] for v in GATHER_MEANS}
    out["update_elementwise_ns_per_chain_step"] = ns["update_elementwise"]
    out["any_exact_stream"] = {
        "cheapest_exact_stream": cheapest, "cheapest_stream_exact_or_not": cheapest_any,
        "cheapest_gather_mean": gm,
        "floor_ns_per_chain_step": t_floor * 1e9,
        "floor_pipeline_ns_per_chain_step": ns.get("floor_pipeline"),
        **floor_caps, "ten_x_over_naive_loops_possible": bool(any_ok)}
    out["information_floor"] = {
        "bits_per_chain_step": INFO_BITS, "raw_words_per_chain_step": INFO_BITS / 64,
        "raw": {v: ns[v] for v in RAW_FLOORS}, "cheapest_raw": raw, "ns_per_chain_step": t_raw * 1e9,
        **info_caps, "ten_x_over_naive_loops_possible": bool(info_ok),
        "with_gather_mean_and_update": {"ns_per_chain_step": (t_raw + t_gu) * 1e9, **info_gu_caps,
                                        "ten_x_over_naive_loops_possible": bool(info_gu_ok)}}
    out["ten_x_with_any_measured_exact_stream"] = bool(any_ok)
    out["ten_x_at_the_information_floor"] = bool(info_ok)
    if not info_ok:
        verdict = (f"even the information floor alone ({raw}, {t_raw * 1e9:.3g} ns per chain-step for "
                   f"{INFO_BITS:.1f} raw bits, no decoding, no gather) caps the ratio over the naive loops at "
                   f"{worst(info_caps):.3g}×: ≥ 10× is impossible on this CPU with any exact stream")
    elif any_ok:
        verdict = (f"with the cheapest exact stream measured ({cheapest}) + {gm} + one update pass "
                   f"({t_floor * 1e9:.3g} ns per chain-step) the cap is {worst(floor_caps):.3g}×: 10× is within "
                   f"reach with that stream")
    else:
        verdict = (f"no exact stream measured reaches 10×: the cheapest ({cheapest}, {ns[cheapest]:.3g} ns) + "
                   f"{gm} ({ns[gm]:.3g} ns) + one update pass ({ns['update_elementwise']:.2g} ns) = "
                   f"{t_floor * 1e9:.3g} ns per chain-step caps the ratio over the naive loops at "
                   f"{worst(floor_caps):.3g}× (torch loop {floor_caps['max_simulator_over_torch_loop']:.3g}×, "
                   f"NumPy loop {floor_caps['max_simulator_over_numpy_loop']:.3g}×); the information floor "
                   f"({raw}: {INFO_BITS:.1f} raw bits, {t_raw * 1e9:.3g} ns) alone would allow "
                   f"{worst(info_caps):.3g}×, so 10× is not ruled out by the random bits themselves"
                   + ("" if info_gu_ok else
                      f" — but those bits + the cheapest gather + mean + update already cap it at "
                      f"{worst(info_gu_caps):.3g}× (< 10×): with the gather of pure NumPy/PyTorch on this CPU, "
                      f"10× is out of reach whatever the stream"))
    out["note"] = note + "; " + verdict
    return out


def format_table(result: dict) -> str:
    rows = rate_table({v: r["median"] for v, r in result["chain_steps_per_s"].items()}, ref="simulator",
                      column="simulator ×", ref_over_variant=True)
    q = result["ratios_of_medians"]
    rows.append(f"\nsimulator / torch loop {q['simulator_over_torch_loop']:.3g}×, / NumPy loop "
                f"{q['simulator_over_numpy_loop']:.3g}×; bound / simulator {q['bound_over_simulator']:.3g}× "
                f"(binds: {result['bound_parts']['binds']}); torch.compile: "
                f"{result['torch_compile']['note'] or 'compiled'}; load {result['load']['getloadavg_before'][0]:.2f}")
    roof = result.get("roofline", {})
    if "streams" in roof:
        rows.append("\n| B = 10 indices in [0, 1000) per chain-step | exact | ns per chain-step | cap over torch loop "
                    "| cap over NumPy loop |")
        rows.append("|---|---|---|---|---|")
        for v, r in roof["streams"].items():
            rows.append(f"| {v} | {'yes' if r['exact'] else 'no (mod bias)'} | {r['ns_per_chain_step']:.3g} | "
                        f"{r['max_simulator_over_torch_loop']:.3g}× | {r['max_simulator_over_numpy_loop']:.3g}× |")
        info = roof["information_floor"]
        for v, t in info["raw"].items():
            rows.append(f"| {v} (information floor, raw only) | — | {t:.3g} | "
                        f"{1e9 / t / result['chain_steps_per_s']['torch_loop']['median']:.3g}× | "
                        f"{1e9 / t / result['chain_steps_per_s']['numpy_loop']['median']:.3g}× |")
        rows.append("\n(caps of the streams include the cheapest gather + mean ("
                    + ", ".join(f"{v} {t:.3g} ns" for v, t in roof["gather_mean_ns_per_chain_step"].items())
                    + f") and one update pass ({roof['update_elementwise_ns_per_chain_step']:.2g} ns); end-to-end "
                    f"floor pipeline {roof['any_exact_stream']['floor_pipeline_ns_per_chain_step']:.3g} ns)")
    if "note" in roof:
        rows.append("roofline: " + roof["note"])
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=100_000)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-compile", action="store_true", help="Leave out the torch.compile variant.")
    p.add_argument("--no-floor", action="store_true",
                   help="Leave out the random-stream / gather / update variants (no any-stream roofline).")
    add_output_arguments(p, DEFAULT_OUT)
    a = p.parse_args(argv)
    if not out_is_usable(a.out, force=a.force):
        return 2
    res = run_benchmark(chains=a.chains, steps=a.steps, repeat=a.repeat, seed=a.seed, torch_compile=not a.no_compile,
                        floor=not a.no_floor)
    print(format_table(res))
    print(f"wrote {write_result(res, a.out, force=a.force)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
