"""constraints.txt: the library versions the suite last passed with, installed by `make` and CI."""
import os
import re
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT

NUMERIC = ("numpy", "scipy", "sympy", "mpmath", "torch", "scikit-learn")


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"constraints.txt: {line!r} is not an exact pin NAME==VERSION"
        pins[m.group(1).lower().replace("_", "-")] = Version(m.group(2))
    return pins


def _declared() -> list[Requirement]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in meta["dependencies"] + meta["optional-dependencies"]["dev"]]


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _pins()
    for req in _declared():
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is a dependency but constraints.txt does not pin it"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {req}")


@pytest.mark.skipif(not os.environ.get("SGDSM_CONSTRAINTS"),
                    reason="environment not built by `make` with constraints.txt")
def test_installed_numeric_libraries_are_the_pinned_ones():
    pins = _pins()
    for name in NUMERIC:
        got = Version(metadata.version(name))
        assert Version(got.public) == pins[name], (
            f"{name} {got} is installed but constraints.txt pins {pins[name]}: rebuild .venv "
            f"(rm -rf .venv && make test) or re-pin deliberately (make constraints)")
