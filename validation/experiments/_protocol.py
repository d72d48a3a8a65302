"""The experiment protocol: one :class:`Experiment` per predict-vs-measure experiment, one typed
config loader (:func:`config_from_dict`), and the record-file convention.

An experiment is a frozen dataclass holding its ``name``, the claim ids it measures (``claims``), its
config type (a frozen dataclass) with three presets — ``SMALL`` (seconds on one CPU core: what the
ledger runs live), ``FULL`` (the committed CPU record) and ``GPU`` (sized for about 1–3 minutes on
one H100/H200; it runs on a CPU too, only slower) — and four functions:

- ``measure(config, device, *, progress, checkpoint)`` → the raw summary (JSON data; holds the
  ``device`` actually used);
- ``predict(config, raw)`` → the theory's prediction;
- ``compare(config, prediction, raw)`` → the metrics and the numbers a verdict rests on (pure, so
  the metrics of a committed record can be re-derived from its raw runs);
- ``estimate_s(preset, device)`` → a rough run time in seconds (for ``--help`` and a campaign
  planner).

Records live in ``validation/data/<record_stem>_<kind>.json`` with ``kind`` ``gpu`` or ``cpu``
(the device the record was measured on, :func:`device_kind`); :data:`RECORD_KINDS` orders them by
size of device, largest first — the evidence layer (:mod:`validation.evidence.experiments`) reads
the first that exists, so a GPU record beats a CPU one.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["Experiment", "ExperimentConfigError", "UnknownExperimentError", "UnknownPresetError",
           "PRESETS", "RECORD_KINDS", "config_from_dict", "device_kind"]

#: preset names, smallest first
PRESETS = ("small", "full", "gpu")
#: record kinds (the device a record was measured on), largest device first
RECORD_KINDS = ("gpu", "cpu")


class ExperimentConfigError(ValueError):
    """A config dict does not fit its config type (unknown or missing fields, a value of the wrong
    type); the message names the fields and what to pass."""


class UnknownExperimentError(ValueError):
    """No experiment of that name is registered; the message lists the known names."""


class UnknownPresetError(ValueError):
    """No preset of that name; the message lists :data:`PRESETS`."""


def device_kind(device) -> str:
    """``"gpu"`` for a CUDA device (``"cuda"``, ``"cuda:1"``, ``"cuda:0 (NVIDIA H200)"`` as records
    write it), ``"cpu"`` otherwise (``"auto"`` counts as ``"gpu"`` only when CUDA is present)."""
    text = str(device).strip()
    if text == "auto":
        try:
            import torch

            return "gpu" if torch.cuda.is_available() else "cpu"
        except ImportError:  # pragma: no cover - torch is a dependency
            return "cpu"
    return "gpu" if text.startswith("cuda") else "cpu"


# --------------------------------------------------------------------------------------------------
# the one typed config loader
# --------------------------------------------------------------------------------------------------
def _convert(value, hint, where: str):
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ExperimentConfigError(f"{where} must be true or false; got {value!r} ({type(value).__name__})")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ExperimentConfigError(f"{where} must be a whole number; got {value!r} ({type(value).__name__})")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ExperimentConfigError(f"{where} must be a number; got {value!r} ({type(value).__name__})")
        x = float(value)
        if not math.isfinite(x):
            raise ExperimentConfigError(f"{where} must be finite; got {value!r}")
        return x
    if hint is str:
        if not isinstance(value, str):
            raise ExperimentConfigError(f"{where} must be a string; got {value!r} ({type(value).__name__})")
        return value
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise ExperimentConfigError(f"{where} must be a JSON object; got {type(value).__name__}")
        return dict(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ExperimentConfigError(f"{where} must be a list; got {value!r} ({type(value).__name__})")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ExperimentConfigError(f"{where} must have {len(args)} entries; got {len(value)}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    raise ExperimentConfigError(f"{where}: the config type declares {hint!r}, which config_from_dict cannot "
                                "restore; declare bool, int, float, str, dict or tuple[...]")


def config_from_dict(config_type, d):
    """Rebuild a ``config_type`` (a frozen dataclass) from its JSON form ``d`` (e.g. a record's
    ``config``): every field must be present and no other key; tuples come back from JSON lists;
    numbers are checked strictly (a string is never turned into a number, booleans are not numbers,
    an int field takes only whole numbers); then the type's own ``__post_init__`` checks the values.
    Raises :class:`ExperimentConfigError` naming the offending fields."""
    if not (dataclasses.is_dataclass(config_type) and isinstance(config_type, type)):
        raise ExperimentConfigError(f"config_type must be a dataclass type; got {config_type!r}")
    name = config_type.__name__
    if not isinstance(d, Mapping):
        raise ExperimentConfigError(f"a {name} is read from a JSON object; got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(config_type) if f.init}
    bad_keys = [k for k in d if not isinstance(k, str)]
    if bad_keys:
        raise ExperimentConfigError(f"{name}: keys must be strings; got {bad_keys!r}")
    unknown = sorted(set(d) - set(fields))
    missing = sorted(set(fields) - set(d))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown field(s) {', '.join(unknown)}")
        if missing:
            parts.append(f"missing field(s) {', '.join(missing)}")
        raise ExperimentConfigError(f"{name}: {'; '.join(parts)} (the fields are: {', '.join(fields)})")
    hints = typing.get_type_hints(config_type)
    kwargs = {k: _convert(d[k], hints[k], f"{name}.{k}") for k in fields}
    try:
        return config_type(**kwargs)
    except ExperimentConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ExperimentConfigError(f"{name}: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Experiment:
    """One predict-vs-measure experiment (see the module docstring).

    ``estimates`` maps a preset name to ``{"cpu": seconds, "gpu": seconds}`` (rough: one CPU core,
    one H100/H200; the CPU figures of ``small`` and ``full`` come from measured runs — the committed
    records' provenance — the GPU figures are sizing targets until a GPU record exists); ``record_stem`` names the committed records ``<record_stem>_<kind>.json``;
    ``summary(record)`` yields the lines the command line prints after a run; ``inputs`` are files
    the experiment reads (its source), which an output path may never name; ``work(config, raw)``
    (optional) returns ``(amount, unit)`` of what the measurement computed — chain-steps,
    per-sample gradient evaluations — for the record's throughput (runs/s without it)."""

    name: str
    claims: tuple
    config_type: type
    SMALL: Any
    FULL: Any
    GPU: Any
    measure: Callable
    predict: Callable
    compare: Callable
    record_stem: str
    estimates: Mapping
    description: str = ""
    summary: Callable | None = None
    inputs: tuple = ()
    work: Callable | None = None

    def __post_init__(self):
        for preset in PRESETS:
            cfg = self.preset(preset)
            if not isinstance(cfg, self.config_type):
                raise TypeError(f"{self.name}: preset {preset} is a {type(cfg).__name__}, not a "
                                f"{self.config_type.__name__}")
            if preset not in self.estimates or set(self.estimates[preset]) != {"cpu", "gpu"}:
                raise TypeError(f"{self.name}: estimates[{preset!r}] must give 'cpu' and 'gpu' seconds")

    # presets ------------------------------------------------------------------------------------
    def preset(self, name: str):
        """The config of preset ``name`` (one of :data:`PRESETS`)."""
        key = str(name).lower()
        if key not in PRESETS:
            raise UnknownPresetError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
        return {"small": self.SMALL, "full": self.FULL, "gpu": self.GPU}[key]

    def estimate_s(self, preset: str, device="cpu") -> float:
        """Rough wall time in seconds of ``preset`` on ``device`` (one CPU core, or one H100/H200)."""
        self.preset(preset)
        return float(self.estimates[str(preset).lower()][device_kind(device)])

    # records ------------------------------------------------------------------------------------
    @property
    def record_name(self) -> str:
        """The committed CPU record's file name in ``validation/data``."""
        return self.record_name_for("cpu")

    def record_name_for(self, device) -> str:
        """``<record_stem>_<kind>.json`` for the kind (:func:`device_kind`) of ``device``."""
        kind = device if device in RECORD_KINDS else device_kind(device)
        return f"{self.record_stem}_{kind}.json"

    def record_names(self) -> tuple:
        """Every record file name this experiment may have, largest device first."""
        return tuple(f"{self.record_stem}_{k}.json" for k in RECORD_KINDS)

    def config_from_dict(self, d):
        """:func:`config_from_dict` for this experiment's config type."""
        return config_from_dict(self.config_type, d)

    # running ------------------------------------------------------------------------------------
    def run(self, config=None, device="auto", out=None, *, progress: bool = False, force: bool = False,
            resume: bool = False) -> dict:
        """measure → predict → compare on ``config`` (a config, a preset name, or None for FULL),
        assembled into a record and written atomically to ``out`` when given (see
        :func:`validation.experiments.run_experiment`)."""
        from validation.experiments import run_experiment

        if config is None:
            config = self.FULL
        elif isinstance(config, str):
            config = self.preset(config)
        if not isinstance(config, self.config_type):
            raise ExperimentConfigError(f"{self.name} takes a {self.config_type.__name__} or a preset name; "
                                        f"got {type(config).__name__}")
        return run_experiment(self.name, self.claims, config, measure=self.measure, predict=self.predict,
                              compare=self.compare, device=device, out=out, progress=progress, force=force,
                              resume=resume, inputs=self.inputs, work=self.work)

    def summary_lines(self, record: dict) -> list:
        """What the command line prints after a run."""
        if self.summary is None:
            return [f"{self.name}: metrics {sorted(record['metrics'])}"]
        return list(self.summary(record))

    def help_text(self) -> str:
        """One paragraph: what the experiment measures, its claims and each preset's run time."""
        def fmt(s):
            return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min"

        times = "; ".join(f"{p} about {fmt(self.estimate_s(p, 'cpu'))} on one CPU core and "
                          f"{fmt(self.estimate_s(p, 'cuda'))} on one H100/H200" for p in PRESETS)
        from validation.records import DATA_DIR

        have = [n for n in self.record_names() if (DATA_DIR / n).exists()]
        records = (f"Its committed record is validation/data/{have[0]}." if have else
                   f"It has no committed record yet (it would be validation/data/{self.record_name}).")
        return f"{self.description} It measures {', '.join(self.claims)}. Estimated run times: {times}. {records}"


def source_file(module_file: str) -> tuple:
    """``(path,)`` of an experiment module's source, the input no output may name."""
    return (str(Path(module_file).resolve()),)
