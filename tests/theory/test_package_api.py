"""The curated public API of ``theory``: every name resolves to its module's
object, every module is in the package's claim map, the naming rule *_printed / *_corrected holds."""
import importlib
import pkgutil

import theory

MODULES = sorted(m.name for m in pkgutil.iter_modules(theory.__path__) if not m.name.startswith("_"))


def test_every_exported_name_is_its_modules_object():
    assert len(theory.__all__) == len(set(theory.__all__))
    for name in theory.__all__:
        obj = getattr(theory, name)
        homes = [m for m in MODULES if getattr(importlib.import_module(f"theory.{m}"), name, None) is obj]
        assert homes, f"theory.{name} is not a public object of any theory module"


def test_submodules_are_not_shadowed_by_exports():
    for m in MODULES:
        assert m not in theory.__all__
        assert getattr(theory, m) is importlib.import_module(f"theory.{m}")


def test_every_module_is_in_the_claim_map():
    for m in MODULES:
        assert f":mod:`theory.{m}`" in theory.__doc__, f"theory.{m} missing from theory/__init__.py's map"


def test_printed_forms_have_the_printed_suffix_and_no_old_prefix():
    for m in MODULES:
        names = importlib.import_module(f"theory.{m}").__all__
        assert not [n for n in names if n.startswith(("printed_", "paper_form_"))], m
    for name in ("minimum_free_energy", "flat_direction_variance", "tf_noise_threshold"):
        assert f"{name}_printed" in theory.__all__ and f"{name}_corrected" in theory.__all__
