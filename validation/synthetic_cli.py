"""``python -m validation synthetic --config CONFIG.json --out RESULT.json``: any user-defined
Gaussian-well mixture (RND footnote 6) through the stationary-density pipeline.

CONFIG (JSON object; no other keys)::

    {"basins": [{"mean": μ, "weight": w, "sigma": σ}, ...],   # required, σ > 0, w > 0
     "c": c,                        # required, ≥ 0 (confining c·θ²)
     "shift": s,                    # required; train wells at μ_i + s, test at μ_i
     "depth_shifts": [δ_i, ...],    # optional; added to the train weights
     "diffusion": D,                # optional constant D > 0 (default 1)
     "temperatures": [T, ...],      # required, each T > 0
     "domain": [a, b],              # required; must contain every train and test well centre
     "grid": n}                     # optional number of scan points (default 20001, 101 … 1e7)

RESULT::

    {"temperatures", "train_loss", "test_loss",          # E_ρ[U_train], E_ρ[U_test] per T
     "basin_weights",                                     # exact basin masses per T (train basins by position)
     "basin_weights_laplace", "test_loss_laplace",        # SC.eq6 weights; SC.eq4 mixture test loss
     "basins": [{"minimum", "depth", "curvature"}],       # train minima θ_k, U_train(θ_k), U_train''(θ_k)
     "optimal_temperature"}                               # T* (Brent-refined) or null

with ρ ∝ exp(−2 U_train/(T D)) on the domain and basins delimited by the local maxima of U_train.
``test_loss_laplace`` = Σ_k w_k^L (U^test(θ_k^test) + ½ C_k^test Σ_k + ½ C_k^test (s_k + b_k)²) with
Σ_k = T D/(2 C_k^tr), b_k = 0 (constant D), s_k = θ_k^test − θ_k^tr (SC.eq4, SC.eq8), compiled from
``theory.shift_curvature``.  Bad configs raise :class:`ConfigError` (a ValueError) naming the field; the
CLI prints it and exits 2.  A temperature too small for float64 to resolve the basins (T below
~1000 ε |U|, :class:`numerics.stationary.FloatResolutionError`) is refused as ``temperatures[i]``;
wells narrower than the scan spacing (:class:`numerics.stationary.GridResolutionError`) as
``grid`` — distinct from wells that really merge (``basins``).
"""
from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path

import sympy as sp

from numerics.landscapes import LandscapeError, WellMixture
from numerics.stationary import (
    _SCAN_BYTES_PER_POINT,
    MAX_SCAN_POINTS,
    BasinMergeError,
    DomainError,
    FloatResolutionError,
    GridResolutionError,
    check_grid_size,
    StationaryError,
    StationaryProblem1D,
    optimal_temperature,
)

__all__ = ["ConfigError", "CONFIG_KEYS", "RESULT_KEYS", "validate_config", "run_config", "run_config_file",
           "is_synthetic_result"]

CONFIG_KEYS = ("basins", "c", "shift", "depth_shifts", "diffusion", "temperatures", "domain", "grid")
REQUIRED_KEYS = ("basins", "c", "shift", "temperatures", "domain")
BASIN_KEYS = ("mean", "weight", "sigma")
RESULT_KEYS = ("temperatures", "train_loss", "test_loss", "basin_weights", "basin_weights_laplace",
               "test_loss_laplace", "basins", "optimal_temperature")


class ConfigError(ValueError):
    """A synthetic config is invalid; ``field`` names the offending entry."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(field, f"must be a number; got {value!r} ({type(value).__name__})")
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(field, f"must be finite; got {value!r}")
    return x


def _list(value, field: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(field, f"must be a JSON list; got {type(value).__name__}")
    return value


def validate_config(config) -> dict:
    """Check types/values and return a normalised config (floats, defaults filled)."""
    if not isinstance(config, dict):
        raise ConfigError("config", f"must be a JSON object; got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown key (allowed: {', '.join(CONFIG_KEYS)})")
    for key in REQUIRED_KEYS:
        if key not in config:
            raise ConfigError(key, "is required")
    basins = _list(config["basins"], "basins")
    if not basins:
        raise ConfigError("basins", "must list at least one basin")
    norm_basins = []
    for i, b in enumerate(basins):
        if not isinstance(b, dict):
            raise ConfigError(f"basins[{i}]", f"must be an object with keys {BASIN_KEYS}")
        extra = sorted(set(b) - set(BASIN_KEYS))
        if extra:
            raise ConfigError(f"basins[{i}].{extra[0]}", f"unknown key (allowed: {', '.join(BASIN_KEYS)})")
        for k in BASIN_KEYS:
            if k not in b:
                raise ConfigError(f"basins[{i}].{k}", "is required")
        mean = _number(b["mean"], f"basins[{i}].mean")
        weight = _number(b["weight"], f"basins[{i}].weight")
        sigma = _number(b["sigma"], f"basins[{i}].sigma")
        if sigma <= 0:
            raise ConfigError(f"basins[{i}].sigma", f"must be > 0; got {sigma!r}")
        if weight <= 0:
            raise ConfigError(f"basins[{i}].weight", f"must be > 0 (a well); got {weight!r}")
        norm_basins.append({"mean": mean, "weight": weight, "sigma": sigma})
    c = _number(config["c"], "c")
    if c < 0:
        raise ConfigError("c", f"must be >= 0; got {c!r}")
    shift = _number(config["shift"], "shift")
    depth = config.get("depth_shifts")
    if depth is None:
        depth = [0.0] * len(norm_basins)
    else:
        depth = [_number(d, f"depth_shifts[{i}]") for i, d in enumerate(_list(depth, "depth_shifts"))]
        if len(depth) != len(norm_basins):
            raise ConfigError("depth_shifts", f"has {len(depth)} entries for {len(norm_basins)} basins")
        for i, (b, d) in enumerate(zip(norm_basins, depth)):
            if b["weight"] + d <= 0:
                raise ConfigError(f"depth_shifts[{i}]", f"removes the well (weight + shift = {b['weight'] + d!r} <= 0)")
    diffusion = _number(config.get("diffusion", 1.0), "diffusion")
    if diffusion <= 0:
        raise ConfigError("diffusion", f"must be > 0; got {diffusion!r}")
    temps = _list(config["temperatures"], "temperatures")
    if not temps:
        raise ConfigError("temperatures", "must list at least one temperature")
    temps = [_number(t, f"temperatures[{i}]") for i, t in enumerate(temps)]
    for i, t in enumerate(temps):
        if t <= 0:
            raise ConfigError(f"temperatures[{i}]", f"must be > 0 (T = lr/B); got {t!r}")
    domain = _list(config["domain"], "domain")
    if len(domain) != 2:
        raise ConfigError("domain", f"must be [a, b]; got {len(domain)} entries")
    a, b = _number(domain[0], "domain[0]"), _number(domain[1], "domain[1]")
    if not a < b:
        raise ConfigError("domain", f"must satisfy a < b; got [{a!r}, {b!r}]")
    for i, bas in enumerate(norm_basins):
        for label, centre in (("train", bas["mean"] + shift), ("test", bas["mean"])):
            if not a < centre < b:
                raise ConfigError("domain", f"[{a!r}, {b!r}] does not contain the {label} centre "
                                            f"{centre!r} of basins[{i}]; widen the domain")
    grid = config.get("grid", 20001)
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 101:
        raise ConfigError("grid", f"must be an integer >= 101; got {grid!r}")
    try:
        check_grid_size(grid, name="grid", limit=MAX_SCAN_POINTS, bytes_per_point=_SCAN_BYTES_PER_POINT)
    except StationaryError as exc:
        raise ConfigError("grid", str(exc)) from exc
    return {"basins": norm_basins, "c": c, "shift": shift, "depth_shifts": depth, "diffusion": diffusion,
            "temperatures": temps, "domain": [a, b], "grid": grid}


def _mixture(cfg: dict) -> WellMixture:
    try:
        return WellMixture(
            means=[b["mean"] for b in cfg["basins"]], weights=[b["weight"] for b in cfg["basins"]],
            sigmas=[b["sigma"] for b in cfg["basins"]], c=cfg["c"], shift=cfg["shift"],
            depth_shifts=cfg["depth_shifts"],
        )
    except LandscapeError as exc:  # already validated; kept as a safety net
        raise ConfigError("basins", str(exc)) from exc


def run_config(config: dict) -> dict:
    """Run one synthetic config (see the module docstring) and return the RESULT dict."""
    cfg = validate_config(config)
    model = _mixture(cfg)
    theta = sp.Symbol("theta", real=True)
    try:
        problem = StationaryProblem1D(model.train_loss(theta), theta, diffusion=cfg["diffusion"],
                                      test_loss=model.test_loss(theta), domain=cfg["domain"],
                                      scan_points=cfg["grid"], expected_basins=model.n_wells)
        sweep = problem.sweep(cfg["temperatures"])
        t_star = None
        if len(set(cfg["temperatures"])) >= 3:
            t_star = optimal_temperature(problem, cfg["temperatures"]).T
    except FloatResolutionError as exc:
        temps = cfg["temperatures"]
        i = min(range(len(temps)), key=lambda j: abs(temps[j] - exc.T))
        raise ConfigError(f"temperatures[{i}]", str(exc)) from exc
    except GridResolutionError as exc:
        raise ConfigError("grid", str(exc)) from exc
    except BasinMergeError as exc:
        raise ConfigError("basins", str(exc)) from exc
    except DomainError as exc:
        raise ConfigError("domain", str(exc)) from exc
    except StationaryError as exc:
        raise ConfigError("config", str(exc)) from exc
    return {
        "temperatures": [float(t) for t in sweep.temperatures],
        "train_loss": [float(v) for v in sweep.train_loss],
        "test_loss": [float(v) for v in sweep.test_loss],
        "basin_weights": [[float(w) for w in row] for row in sweep.basin_weights],
        "basin_weights_laplace": [[float(w) for w in row] for row in sweep.basin_weights_laplace],
        "test_loss_laplace": [float(v) for v in sweep.test_loss_laplace],
        "basins": [{"minimum": bk.minimum, "depth": bk.depth, "curvature": bk.curvature} for bk in problem.basins],
        "optimal_temperature": t_star,
    }


def is_synthetic_result(path) -> bool:
    """True when ``path`` holds a RESULT written by :func:`run_config_file`: a JSON object with exactly
    the keys :data:`RESULT_KEYS` (such a file is replaced without ``force``)."""
    from validation._io import _load_small_json

    res = _load_small_json(Path(path))
    return isinstance(res, dict) and set(res) == set(RESULT_KEYS)


def _read_config_text(config_path: Path) -> str:
    """The config file's text, or a :class:`ConfigError` saying what is wrong with the path."""
    if not config_path.exists():
        raise ConfigError("config", f"{config_path} does not exist; pass the path of a JSON config file")
    if config_path.is_dir():
        raise ConfigError("config", f"{config_path} is a directory; pass the path of a JSON config file "
                                    "inside it (e.g. --config C.json)")
    try:
        return config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("config", f"{config_path} is not a UTF-8 text (JSON) file ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError("config", f"cannot read {config_path}: {exc.strerror or exc}") from exc


def run_config_file(config_path, out_path, *, force: bool = False) -> Path:
    """Read CONFIG JSON, run it, write RESULT JSON atomically (temp file + ``os.replace``).

    ``out_path`` is checked before any work (:func:`validation._io.check_output_file`): the config
    file itself, a symlink, a folder or a device is refused, and an existing file is replaced only
    when it is an earlier RESULT (:func:`is_synthetic_result`) or with ``force=True``; refusals raise
    :class:`~validation._io.OutputPathError` (a ``ValueError``)."""
    from validation._io import check_output_file, write_json_atomic

    config_path = Path(config_path)
    out_path = check_output_file(out_path, inputs=[config_path], force=force, is_ours=is_synthetic_result,
                                 example="result.json")
    text = _read_config_text(config_path)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("config", f"{config_path} is not valid JSON ({exc})") from exc
    result = run_config(config)
    check_output_file(out_path, inputs=[config_path], force=force, is_ours=is_synthetic_result,
                      example="result.json")  # again: the folder may have changed while we computed
    return write_json_atomic(result, out_path, indent=2, allow_nan=False)
