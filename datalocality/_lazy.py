"""Lazy package attributes (PEP 562), so importing a package imports none of its modules.

Airflow's provider discovery imports ``datalocality`` and lists its operators and sensors;
the packages therefore name what they export and import it on first use::

    __getattr__, __dir__ = lazy_attributes(__name__, {"plan": "datalocality.placement"})

(with the same names imported under ``TYPE_CHECKING`` for type checkers).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module-level ``__getattr__`` and ``__dir__`` for ``package``.

    ``names`` maps each public name to the module defining it. The first look-up of a name
    imports its module and stores the value on the package, so later ones are plain
    attribute reads; any other name raises AttributeError as a missing attribute does.
    """
    modules = dict(names)

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *modules})

    return __getattr__, __dir__
