"""datalocality: place Kubernetes pods where their data already is.

Public names are imported lazily so that Airflow's provider discovery, which imports this
package, stays fast and loads neither kubernetes nor hera.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Chunk": "datalocality.model",
    "Consumer": "datalocality.model",
    "DataInput": "datalocality.model",
    "DataSource": "datalocality.model",
    "DataSourceClaim": "datalocality.model",
    "Node": "datalocality.model",
    "PlacementPlan": "datalocality.model",
    "PlacementRequest": "datalocality.model",
    "Topology": "datalocality.model",
    "TopologyConstraint": "datalocality.model",
    "plan": "datalocality.placement",
}

if TYPE_CHECKING:
    from datalocality.model import (
        Chunk,
        Consumer,
        DataInput,
        DataSource,
        DataSourceClaim,
        Node,
        PlacementPlan,
        PlacementRequest,
        Topology,
        TopologyConstraint,
    )
    from datalocality.placement import plan

__all__ = [
    "Chunk",
    "Consumer",
    "DataInput",
    "DataSource",
    "DataSourceClaim",
    "Node",
    "PlacementPlan",
    "PlacementRequest",
    "Topology",
    "TopologyConstraint",
    "plan",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'datalocality' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
