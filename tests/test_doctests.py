"""Every example in the package's docstrings runs and prints what it says.

The modules are found by walking ``datalocality`` for files holding ``>>>``, so a doctest
added anywhere runs in CI without being listed here.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import datalocality

PACKAGE = Path(datalocality.__file__).parent


def modules_with_examples() -> list[str]:
    """Dotted names of the package's modules whose source holds a ``>>>`` example."""
    found = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="datalocality."):
        relative = info.name.removeprefix("datalocality.").replace(".", "/")
        path = PACKAGE / f"{relative}.py"
        if not path.exists():
            path = PACKAGE / relative / "__init__.py"
        if path.exists() and ">>> " in path.read_text(encoding="utf-8"):
            found.append(info.name)
    return found


MODULES = modules_with_examples()


def test_the_walk_finds_the_examples() -> None:
    assert "datalocality.model.quantities" in MODULES
    assert len(MODULES) >= 10, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} holds '>>> ' but doctest found no example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
