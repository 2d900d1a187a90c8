"""Lazy imports of the data systems' client libraries, with an actionable error if missing.

``import datalocality.resolvers`` must stay light, so each built-in resolver imports its
client (pyiceberg, fsspec, vineyard) here, the first time it resolves.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from datalocality.errors import ResolverConfigError


def import_client(module: str, *, system: str, extra: str) -> ModuleType:
    """Import ``module``; if it is missing, ResolverConfigError names the extra to install."""
    try:
        with warnings.catch_warnings():
            # vineyard 0.24 imports pkg_resources, which warns on import; nothing we can fix.
            warnings.filterwarnings(
                "ignore", message="pkg_resources is deprecated", category=UserWarning
            )
            return importlib.import_module(module)
    except ImportError as exc:
        raise ResolverConfigError(
            f"{system}: the client library {exc.name or module} is not installed; install "
            f"airflow-provider-datalocality[{extra}]"
        ) from None
