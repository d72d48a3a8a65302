"""Old public names kept as deprecated aliases while callers outside ``theory`` are updated.

``renamed(module_name, namespace, {old: new})`` returns a module ``__getattr__`` that serves each
old name with a :class:`DeprecationWarning` naming the new one (never in ``__all__``).
"""
from __future__ import annotations

import warnings


def renamed(module_name: str, namespace: dict, mapping: dict):
    def __getattr__(name):
        if name in mapping:
            new = mapping[name]
            warnings.warn(f"{module_name}.{name} is renamed {module_name}.{new} (naming rule: "
                          "*_printed = the paper's form as printed, *_corrected = the derived one)",
                          DeprecationWarning, stacklevel=2)
            return namespace[new]
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
