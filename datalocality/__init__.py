"""datalocality: place Kubernetes pods where their data already is.

Public names are imported lazily so that Airflow's provider discovery, which imports this
package, stays fast and loads neither kubernetes nor hera.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datalocality._lazy import lazy_attributes

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

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
