"""SC.fig4 / RND.fig3 / SC.fig6 / RND.H2 / RND.H3 / RND.H4: the papers' synthetic 1/2/3-basin
experiments with their published parameters, as an experiment of the protocol.

- **measure**: for every panel of the config, :func:`validation.reproductions.panel_statement` — the
  exact stationary density ρ ∝ exp(−2U_train/(T D)) by quadrature over a sweep of temperatures
  (SC.eq5), basin masses and losses, the Laplace predictions beside them (SC.eq6, SC.eq4), and the
  panel's qualitative claim split into numbered sub-statements; the raw summary keeps each
  sub-statement with its truth value and the numbers behind it. Quadrature only: the device is the
  CPU whatever is asked (the record says so).
- **predict**: the papers' claim per panel (text: the claims are qualitative).
- **compare** (pure): per panel and per ledger claim id, whether every sub-statement holds.

The ledger checks (:mod:`validation.checks.synthetic`) compute the same statements through
:mod:`validation.reproductions` directly; this experiment makes them runnable and recordable through
``python -m validation run synthetic``. :data:`SMALL` is the two SC Fig. 4 panels on the ledger's
17-point sweep; :data:`FULL` every constant-D panel on it; :data:`GPU` adds the
sampled-D panels of RND Fig. H.4 (CPU quadrature on fine grids).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from validation.experiments._protocol import Experiment, source_file

__all__ = ["SyntheticConfig", "SMALL", "FULL", "GPU", "EXPERIMENT", "measure", "predict", "compare", "run"]

_CONSTANT_D = ("SC.fig4.left", "SC.fig4.right", "RND.H2.left", "RND.H2.right", "RND.H3.left", "RND.H3.right")


@dataclass(frozen=True)
class SyntheticConfig:
    """The panels (keys of :data:`validation.reproductions.PANELS`) and the log-spaced temperature
    sweep ``geomspace(t_low, t_high, n_temperatures)`` of the constant-D panels (the sampled-D
    panels of RND.H4 use their own D-scaled sweep)."""

    panels: tuple[str, ...] = _CONSTANT_D
    t_low: float = 1e-3
    t_high: float = 0.1
    n_temperatures: int = 17
    seed: int = 0  # the presets' draws are fixed by the papers' tables; kept for the record's provenance

    def __post_init__(self):
        from validation.reproductions import PANELS

        unknown = [p for p in self.panels if p not in PANELS]
        if not self.panels or unknown:
            raise ValueError(f"panels must be keys of validation.reproductions.PANELS ({', '.join(PANELS)}); "
                             f"unknown: {unknown or 'none given'}")
        if not (0 < self.t_low < self.t_high) or not all(map(math.isfinite, (self.t_low, self.t_high))):
            raise ValueError(f"need 0 < t_low < t_high (finite); got {self.t_low}, {self.t_high}")
        if self.n_temperatures < 5:
            raise ValueError(f"n_temperatures must be >= 5 for the trend statements; got {self.n_temperatures}")

    def temperatures(self) -> tuple:
        return tuple(float(t) for t in np.geomspace(self.t_low, self.t_high, self.n_temperatures))


SMALL = SyntheticConfig(panels=("SC.fig4.left", "SC.fig4.right"))
FULL = SyntheticConfig()
GPU = SyntheticConfig(panels=_CONSTANT_D + ("RND.H4.left", "RND.H4.right"))


def _json(v):
    """Metrics as JSON data (NumPy scalars and arrays to Python numbers and lists)."""
    if isinstance(v, dict):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    if isinstance(v, np.ndarray):
        return _json(v.tolist())
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def measure(config: SyntheticConfig, device="auto", *, progress: bool = False, checkpoint=None) -> dict:
    """Every panel's statements (each panel checkpointed under ``["panel", key]``)."""
    from numerics.devices import device_fields
    from validation.checkpoint import cached
    from validation.reproductions import panel_statement

    temps = config.temperatures()
    panels = config.panels
    if progress:
        from numerics._progress import progress_bar

        panels = progress_bar(panels, desc="panel", unit="panel")

    def one(key):
        r = panel_statement(key, temps)
        return {"claim": r.claim, "parts": [[text, bool(ok)] for text, ok in r.parts], "holds": bool(r.holds),
                "metrics": _json(r.metrics)}

    out = {k: cached(checkpoint, ["panel", k], lambda k=k: one(k)) for k in panels}
    return {**device_fields(device, backend="numpy"), "temperatures": list(temps), "panels": out}


def predict(config: SyntheticConfig, raw: dict | None = None) -> dict:
    """The papers' claim per panel (qualitative: compared statement by statement)."""
    from validation.reproductions import PANELS

    return {"claims": {k: PANELS[k].claim for k in config.panels}}


def compare(config: SyntheticConfig, prediction: dict, raw: dict) -> dict:
    """Per panel: sub-statements holding / total; per ledger claim id: every panel of it holds."""
    from validation.reproductions import PANELS

    panels = {k: {"holds": p["holds"], "n_statements": len(p["parts"]),
                  "n_holding": sum(1 for _, ok in p["parts"] if ok)} for k, p in raw["panels"].items()}
    claims: dict = {}
    for k in raw["panels"]:
        for cid in PANELS[k].claim_ids:
            claims.setdefault(cid, []).append(k)
    return {"panels": panels,
            "claims": {cid: {"panels": ks, "holds": all(panels[k]["holds"] for k in ks)} for cid, ks in claims.items()}}


def run(config: SyntheticConfig = None, device="auto", out=None, *, progress: bool = False, force: bool = False,
        resume: bool = False) -> dict:
    """measure → predict → compare (default config: :data:`FULL`); see :meth:`Experiment.run`."""
    return EXPERIMENT.run(config, device, out, progress=progress, force=force, resume=resume)


def _summary(rec):
    for cid, c in rec["metrics"]["claims"].items():
        yield f"{cid}: {'holds' if c['holds'] else 'NOT reproduced'} ({', '.join(c['panels'])})"


EXPERIMENT = Experiment(
    name="synthetic", claims=("SC.fig4", "RND.fig3", "SC.fig6", "RND.H2", "RND.H3", "RND.H4"),
    config_type=SyntheticConfig, SMALL=SMALL, FULL=FULL, GPU=GPU, measure=measure, predict=predict,
    compare=compare, record_stem="synthetic",
    estimates={"small": {"cpu": 5, "gpu": 5}, "full": {"cpu": 10, "gpu": 10}, "gpu": {"cpu": 15, "gpu": 15}},
    description="The papers' synthetic 1/2/3-basin experiments (exact stationary density by quadrature, on the CPU "
                "whatever the device): do the published panels show what the papers say?",
    summary=_summary, inputs=source_file(__file__))


def main(argv=None) -> int:
    """``python -m validation.experiments.synthetic ARGS`` = ``python -m validation run synthetic ARGS``."""
    from validation.__main__ import run_main

    return run_main(EXPERIMENT.name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
