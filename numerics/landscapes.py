"""The papers' synthetic losses, as SymPy expressions first (compile them with
:func:`numerics.compile.compile_expr`).

* :class:`WellMixture` — the Gaussian-well mixture of RND footnote 6 (also SC App. G.2):
  ``U_s(θ) = −Σ_i (w_i + δ_i) N(θ; μ_i + s, σ_i) + c θ²`` with ``N`` the Gaussian p.d.f.
  The *train* loss is ``U_s`` (shift ``s`` and per-basin added weights ``δ_i``, the depth shifts
  of RND Fig. H.3), the *test* loss is ``U_0`` with the unshifted weights.  A larger weight makes
  a well deeper.  D is constant unless stated.
* :class:`SampledWellModel` — the per-sample models of RND Fig. H.4:
  ``U(x, θ) = −Σ_i (w_i + ω x) N(θ; μ_i + ℓ x, σ_i) + c θ²`` (``ω`` = ``wscale``, ``ℓ`` = ``lscale``),
  with seeded samples x; train/test losses are sample means and the diffusion
  ``D(θ) = Var_x[∂_θ U(x, θ)]`` (population variance over the train samples, the per-sample
  gradient variance of the THEORY notation) is a SymPy expression.
* :func:`styblinski_tang` — DT App. E.1: ``f(θ) = ½ Σ_i (θ_i⁴ − 16 θ_i² + 5 θ_i)``, with the
  sharpness scale of DT §4, ``L_k(θ) = f(√k θ)`` (Hessian scaled by k), and per-sample
  ``L(x, θ) = f(√k θ − x)``.
* :func:`preset` — the published parameter tables (end of seeds 000 = RND App. H and 001 = SC
  App. G) as named presets.

Random draws: the tables give a seed and ``stddev_shift`` but not the drawn value of the shift;
we reconstruct it as ``x = numpy.random.RandomState(seed).normal(0, stddev_shift)`` (the
legacy NumPy generator of the papers' era), ``s = lscale·x`` and, for the two-basin H.3 cases, the
depth shifts ``(+wscale·x, −wscale·x)`` (RND Fig. H.3 caption).  The drawn numbers are stored in
the preset, so results are reproducible even if the papers' own draw differed.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import sympy as sp

from theory.coordinates import as_expr, as_theta
from theory.laplace import normal_density

__all__ = [
    "LandscapeError",
    "gaussian_pdf",
    "WellMixture",
    "SampledWellModel",
    "styblinski_tang",
    "styblinski_tang_per_sample",
    "STYBLINSKI_TANG_1D",
    "Preset",
    "preset",
    "preset_names",
]


class LandscapeError(ValueError):
    """Invalid landscape parameters; the message names the offending field."""


def _num(value, name: str) -> sp.Expr:
    """A parameter as a SymPy number (or an existing SymPy expression); never parses strings."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        raise LandscapeError(f"{name} is a string ({_short(value)}); strings are never evaluated — "
                             "pass a number")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise LandscapeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    if not math.isfinite(float(value)):
        raise LandscapeError(f"{name} must be finite; got {value!r}")
    return sp.Float(float(value)) if not float(value).is_integer() else sp.Integer(int(value))


def _short(value, limit: int = 60) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


_PDF_THETA, _PDF_MEAN = sp.Dummy("theta", real=True), sp.Dummy("mean", real=True)
_PDF_SIGMA = sp.Dummy("sigma", positive=True)


@functools.lru_cache(maxsize=1)
def _normal_pdf_1d() -> sp.Expr:
    """``theory.laplace.normal_density`` for p = 1, Σ = σ² (σ > 0), in the Dummies above:
    ``exp(−(θ−μ)²/(2σ²)) / (σ √(2π))``."""
    return normal_density([_PDF_MEAN], [[_PDF_SIGMA ** 2]], _PDF_THETA)


def gaussian_pdf(theta: sp.Expr, mean, sigma) -> sp.Expr:
    """Gaussian p.d.f. ``N(θ; μ, σ) = exp(−(θ−μ)²/(2σ²)) / (σ √(2π))`` (RND footnote 6's f_{μ,σ}).

    The expression is :func:`theory.laplace.normal_density` (p = 1, Σ = σ², derived once there)
    with ``theta``, ``mean`` and ``sigma`` substituted; ``theta`` may be any expression (e.g. a
    shifted coordinate) and σ is taken as given (the formula with σ, not |σ|).

    >>> x = sp.Symbol("x", real=True)
    >>> gaussian_pdf(x, 1, sp.Rational(1, 2))
    sqrt(2)*exp(-2*(x - 1)**2)/sqrt(pi)
    """
    theta = as_expr(theta, name="theta")
    mean, sigma = as_expr(mean, name="mean"), as_expr(sigma, name="sigma")
    return _normal_pdf_1d().subs({_PDF_THETA: theta, _PDF_MEAN: mean, _PDF_SIGMA: sigma})


def _tuple(values, name: str) -> tuple:
    if isinstance(values, (str, bytes, bytearray)):
        raise LandscapeError(f"{name} is a string ({_short(values)}); strings are never evaluated — "
                             "pass a list of numbers")
    if not hasattr(values, "__iter__"):
        raise LandscapeError(f"{name} must be a list of numbers; got {values!r}")
    return tuple(values)


def _positive(values: tuple, name: str) -> None:
    for i, v in enumerate(values):
        if isinstance(v, sp.Basic) and not v.is_number:
            continue
        if not float(v) > 0:
            raise LandscapeError(f"{name}[{i}] must be > 0; got {float(v)!r}")


@dataclass(frozen=True)
class WellMixture:
    """Gaussian-well mixture of RND footnote 6 (train = shifted, test = unshifted).

    Fields: ``means`` μ_i, ``weights`` w_i (> 0; larger = deeper), ``sigmas`` σ_i (> 0), ``c`` (≥ 0,
    the confining c θ²), ``shift`` s (train wells centred at μ_i + s), ``depth_shifts`` δ_i (added
    to the train weights; RND Fig. H.3), all numbers or SymPy expressions.
    """

    means: tuple
    weights: tuple
    sigmas: tuple
    c: float = 0.001
    shift: float = 0.0
    depth_shifts: tuple | None = None

    def __post_init__(self):
        means = _tuple(self.means, "means")
        weights = _tuple(self.weights, "weights")
        sigmas = _tuple(self.sigmas, "sigmas")
        if len(means) == 0:
            raise LandscapeError("means must list at least one well")
        for name, vals in (("weights", weights), ("sigmas", sigmas)):
            if len(vals) != len(means):
                raise LandscapeError(f"{name} has {len(vals)} entries but means has {len(means)}; give one per well")
        means = tuple(_num(v, f"means[{i}]") for i, v in enumerate(means))
        weights = tuple(_num(v, f"weights[{i}]") for i, v in enumerate(weights))
        sigmas = tuple(_num(v, f"sigmas[{i}]") for i, v in enumerate(sigmas))
        _positive(sigmas, "sigmas")
        _positive(weights, "weights")
        c = _num(self.c, "c")
        if c.is_number and float(c) < 0:
            raise LandscapeError(f"c must be >= 0 (the confining c·θ² term); got {float(c)!r}")
        shift = _num(self.shift, "shift")
        if self.depth_shifts is None:
            depth = tuple(sp.Integer(0) for _ in means)
        else:
            depth = _tuple(self.depth_shifts, "depth_shifts")
            if len(depth) != len(means):
                raise LandscapeError(
                    f"depth_shifts has {len(depth)} entries but means has {len(means)}; give one per well"
                )
            depth = tuple(_num(v, f"depth_shifts[{i}]") for i, v in enumerate(depth))
        for i, (w, d) in enumerate(zip(weights, depth)):
            if (w + d).is_number and float(w + d) <= 0:
                raise LandscapeError(
                    f"depth_shifts[{i}] = {float(d)!r} removes well {i} (train weight w+δ = {float(w + d)!r} <= 0)"
                )
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "sigmas", sigmas)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "depth_shifts", depth)

    @property
    def n_wells(self) -> int:
        return len(self.means)

    def loss(self, theta, *, shift=0, depth_shifts=None) -> sp.Expr:
        """``U(θ) = −Σ_i (w_i + δ_i) N(θ; μ_i + shift, σ_i) + c θ²`` for given shift / depth shifts."""
        th = _scalar_theta(theta)
        shift = _num(shift, "shift")
        depth = (0,) * self.n_wells if depth_shifts is None else tuple(
            _num(v, f"depth_shifts[{i}]") for i, v in enumerate(_tuple(depth_shifts, "depth_shifts")))
        wells = [
            (w + d) * gaussian_pdf(th, m + shift, s)
            for m, w, s, d in zip(self.means, self.weights, self.sigmas, depth)
        ]
        return -sp.Add(*wells) + self.c * th ** 2

    def train_loss(self, theta) -> sp.Expr:
        """Train loss ``U_s`` (shifted by s, weights w_i + δ_i) — RND footnote 6, Fig. H.3."""
        return self.loss(theta, shift=self.shift, depth_shifts=self.depth_shifts)

    def test_loss(self, theta) -> sp.Expr:
        """Test loss ``U_0`` (unshifted, weights w_i)."""
        return self.loss(theta)

    def train_centres(self) -> tuple[float, ...]:
        return tuple(float(m + self.shift) for m in self.means)

    def test_centres(self) -> tuple[float, ...]:
        return tuple(float(m) for m in self.means)


def _scalar_theta(theta) -> sp.Symbol:
    th = as_theta(theta)
    if th.shape[0] != 1:
        raise LandscapeError(f"this landscape is one-dimensional; theta has {th.shape[0]} coordinates")
    return th[0]


@dataclass(frozen=True)
class SampledWellModel:
    """Per-sample two-basin models of RND Fig. H.4 (App. H).

    ``U(x, θ) = −Σ_i (w_i + wscale·x) N(θ; μ_i + lscale·x, σ_i) + c θ²``, x ∼ N(0, stddev_x²).
    Train/test samples: ``num_samples`` draws from ``RandomState(seed_train/seed_test)``.
    Train/test losses are sample means; ``diffusion(θ) = (1/N) Σ_j (∂_θU(x_j,θ) − ∂_θU^tr(θ))²``.
    """

    means: tuple
    weights: tuple
    sigmas: tuple
    c: float
    stddev_x: float
    num_samples: int
    seed_train: int
    seed_test: int
    lscale: float = 1.0
    wscale: float = 0.0
    train_samples: tuple = field(default=None)
    test_samples: tuple = field(default=None)

    def __post_init__(self):
        base = WellMixture(self.means, self.weights, self.sigmas, c=self.c)  # validates the wells
        for name in ("stddev_x", "lscale", "wscale"):
            _num(getattr(self, name), name)  # numbers only (strings are refused, never parsed)
        if not (isinstance(self.num_samples, int) and self.num_samples >= 2):
            raise LandscapeError(f"num_samples must be an integer >= 2; got {self.num_samples!r}")
        if not float(self.stddev_x) >= 0:
            raise LandscapeError(f"stddev_x must be >= 0; got {self.stddev_x!r}")
        object.__setattr__(self, "means", base.means)
        object.__setattr__(self, "weights", base.weights)
        object.__setattr__(self, "sigmas", base.sigmas)
        object.__setattr__(self, "c", base.c)
        if self.train_samples is None:
            xs = np.random.RandomState(self.seed_train).normal(0.0, float(self.stddev_x), self.num_samples)
            object.__setattr__(self, "train_samples", tuple(float(v) for v in xs))
        if self.test_samples is None:
            xs = np.random.RandomState(self.seed_test).normal(0.0, float(self.stddev_x), self.num_samples)
            object.__setattr__(self, "test_samples", tuple(float(v) for v in xs))

    def per_sample_loss(self, x, theta) -> sp.Expr:
        """``U(x, θ)`` for one sample x (number or Symbol)."""
        th = _scalar_theta(theta)
        x = x if isinstance(x, sp.Basic) else _num(x, "x")
        ls, ws = _num(self.lscale, "lscale"), _num(self.wscale, "wscale")
        wells = [(w + ws * x) * gaussian_pdf(th, m + ls * x, s)
                 for m, w, s in zip(self.means, self.weights, self.sigmas)]
        return -sp.Add(*wells) + self.c * th ** 2

    def _mean_loss(self, samples, theta) -> sp.Expr:
        return sp.Add(*[self.per_sample_loss(x, theta) for x in samples]) / len(samples)

    def train_loss(self, theta) -> sp.Expr:
        return self._mean_loss(self.train_samples, theta)

    def test_loss(self, theta) -> sp.Expr:
        return self._mean_loss(self.test_samples, theta)

    def diffusion(self, theta) -> sp.Expr:
        """Per-sample gradient variance over the train samples, ``D(θ) = Var_j[∂_θ U(x_j, θ)]``."""
        th = _scalar_theta(theta)
        grads = [sp.diff(self.per_sample_loss(x, th), th) for x in self.train_samples]
        mean = sp.Add(*grads) / len(grads)
        return sp.Add(*[(g - mean) ** 2 for g in grads]) / len(grads)


# --- Styblinski–Tang (DT App. E.1, §4) -------------------------------------------------------------
#: 1-D Styblinski–Tang landmarks (DT App. E.1): global minimum a, saddle/barrier b, local minimum d.
STYBLINSKI_TANG_1D = {"global_minimum": -2.903534, "barrier": 0.156731, "local_minimum": 2.746803}


def styblinski_tang(theta, *, k=1) -> sp.Expr:
    """``L_k(θ) = f(√k θ)``, ``f(θ) = ½ Σ_i (θ_i⁴ − 16 θ_i² + 5 θ_i)`` (DT App. E.1; k scales the
    Hessian by k, DT §4)."""
    th = as_theta(theta)
    k = _num(k, "k")
    if k.is_number and float(k) <= 0:
        raise LandscapeError(f"k (sharpness scale) must be > 0; got {float(k)!r}")
    r = sp.sqrt(k)
    return sp.Rational(1, 2) * sp.Add(*[(r * t) ** 4 - 16 * (r * t) ** 2 + 5 * r * t for t in th])


def styblinski_tang_per_sample(x, theta, *, k=1) -> sp.Expr:
    """Per-sample DT loss ``L(x, θ) = f(√k θ − x)`` with x ∼ N(0, I) (DT App. E.1 setting 1)."""
    th = as_theta(theta)
    raw = list(x) if isinstance(x, (list, tuple, sp.MatrixBase)) else [x]
    xs = [xi if isinstance(xi, sp.Basic) else _num(xi, f"x[{i}]") for i, xi in enumerate(raw)]
    if len(xs) != len(th):
        raise LandscapeError(f"x has {len(xs)} coordinates but theta has {len(th)}")
    k = _num(k, "k")
    r = sp.sqrt(k)
    z = [r * t - xi for t, xi in zip(th, xs)]
    return sp.Rational(1, 2) * sp.Add(*[zi ** 4 - 16 * zi ** 2 + 5 * zi for zi in z])


# --- published parameter sets ----------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """A published synthetic experiment: its model, citation and the raw table entries."""

    name: str
    citation: str
    model: object  # WellMixture or SampledWellModel
    table: dict
    drawn: dict  # the reconstructed random draws (x, shift, depth shifts)
    domain: tuple = (-3.0, 3.0)
    temperatures: tuple = tuple(float(t) for t in np.geomspace(1e-3, 1.0, 31))


_TABLES = {
    # RND App. H (seed 000) / SC App. G (seed 001) parameter tables.
    "RND.fig3.top": dict(seed=0, minima=[-1, 1], weights=[0.019, 0.1], sigmas=[0.1, 0.5], c=0.001,
                         stddev_shift=0.1, lscale=1.0, wscale=0.0),
    "RND.fig3.bottom": dict(seed=0, minima=[-1, 1], weights=[0.021, 0.1], sigmas=[0.1, 0.5], c=0.001,
                            stddev_shift=0.1, lscale=1.0, wscale=0.0),
    "RND.H2.left": dict(seed=0, minima=[0], weights=[0.1], sigmas=[0.1], c=0.001,
                        stddev_shift=0.03, lscale=1.0, wscale=0.0),
    "RND.H2.right": dict(seed=0, minima=[-1, 0, 1], weights=[0.1, 0.051, 0.3], sigmas=[0.1, 0.05, 0.3],
                         c=0.001, stddev_shift=0.1, lscale=1.0, wscale=0.0),
    "RND.H3.left": dict(seed=0, minima=[-1, 1], weights=[0.0195, 0.1], sigmas=[0.1, 0.5], c=0.001,
                        stddev_shift=0.1, lscale=1.0, wscale=0.01),
    "RND.H3.right": dict(seed=13, minima=[-1, 1], weights=[0.0201, 0.1], sigmas=[0.1, 0.5], c=0.001,
                         stddev_shift=0.1, lscale=1.0, wscale=0.01),
    "RND.H4.left": dict(seed_test=1, seed_train=2, num_samples=10, minima=[-1, 1], weights=[0.065, 0.1],
                        sigmas=[0.1, 0.5], c=0.001, stddev_x=1e-2, lscale=0.0, wscale=1.0),
    "RND.H4.right": dict(seed_test=1, seed_train=2, num_samples=10, minima=[-1, 1], weights=[0.05, 0.1],
                         sigmas=[0.1, 0.5], c=0.001, stddev_x=5e-2, lscale=1.0, wscale=0.0),
}
# SC reuses the RND experiments: SC Fig. 4 left = RND Fig. 3 bottom (weights 0.021, 0.1), SC Fig. 4
# right = RND Fig. 3 top (0.019, 0.1), SC Fig. 6 = RND Fig. H.2 (SC App. G table).
_ALIASES = {
    "SC.fig4.left": "RND.fig3.bottom",
    "SC.fig4.right": "RND.fig3.top",
    "SC.fig6.left": "RND.H2.left",
    "SC.fig6.right": "RND.H2.right",
}
_CITATIONS = {
    "RND.fig3.top": "RND Fig. 3 top / App. H table (deeper minimum also wider)",
    "RND.fig3.bottom": "RND Fig. 3 bottom / App. H table (deeper minimum narrower)",
    "RND.H2.left": "RND Fig. H.2 left (one basin)",
    "RND.H2.right": "RND Fig. H.2 right (three basins)",
    "RND.H3.left": "RND Fig. H.3 left (shift + depth shifts ±wscale·x)",
    "RND.H3.right": "RND Fig. H.3 right (shift + depth shifts ±wscale·x)",
    "RND.H4.left": "RND Fig. H.4 left (per-sample weights w_i + x, sampled D(θ))",
    "RND.H4.right": "RND Fig. H.4 right (per-sample locations μ_i + x, sampled D(θ))",
}


def preset_names() -> list[str]:
    """All preset names (RND keys and their SC aliases)."""
    return sorted(list(_TABLES) + list(_ALIASES))


def preset(name: str) -> Preset:
    """A published synthetic experiment by name, e.g. ``preset("SC.fig4.left")``.

    Sources: RND App. H parameter listings (seed 000, end) and SC App. G table (seed 001, end);
    SC Fig. 4 left/right and SC Fig. 6 left/right are the RND Fig. 3 bottom/top and H.2 settings.
    The random shift is reconstructed as described in the module docstring.
    """
    if not isinstance(name, str):
        raise LandscapeError(f"preset name must be a string; got {type(name).__name__}")
    key = _ALIASES.get(name, name)
    if key not in _TABLES:
        raise LandscapeError(f"unknown preset {name!r}; choose one of {preset_names()}")
    table = dict(_TABLES[key])
    citation = _CITATIONS[key] + (f" = {name}" if name != key else "")
    if "num_samples" in table:
        model = SampledWellModel(
            means=table["minima"], weights=table["weights"], sigmas=table["sigmas"], c=table["c"],
            stddev_x=table["stddev_x"], num_samples=table["num_samples"], seed_train=table["seed_train"],
            seed_test=table["seed_test"], lscale=table["lscale"], wscale=table["wscale"],
        )
        drawn = {"train_samples": list(model.train_samples), "test_samples": list(model.test_samples)}
    else:
        x = float(np.random.RandomState(table["seed"]).normal(0.0, table["stddev_shift"]))
        n = len(table["minima"])
        shift = table["lscale"] * x
        if table["wscale"] and n == 2:
            depth = [table["wscale"] * x, -table["wscale"] * x]
        else:
            depth = [table["wscale"] * x] * n
        model = WellMixture(table["minima"], table["weights"], table["sigmas"], c=table["c"], shift=shift,
                            depth_shifts=depth)
        drawn = {"x": x, "shift": shift, "depth_shifts": depth}
    return Preset(name=name, citation=citation, model=model, table=table, drawn=drawn)
