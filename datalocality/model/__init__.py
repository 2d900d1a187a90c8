"""The pure data model: topology, data sources and claims, placement requests and plans."""

from __future__ import annotations

from datalocality.model.base import Spec, spec_error_from
from datalocality.model.data import (
    Chunk,
    Condition,
    DataInput,
    DataSource,
    DataSourceClaim,
    Locality,
    WorkloadRef,
)
from datalocality.model.plan import (
    ClusterShare,
    Operation,
    PlacementPlan,
    ReplicaPlacement,
    Totals,
    Transfer,
)
from datalocality.model.quantities import parse_bytes, parse_quantity
from datalocality.model.request import (
    CRITERIA,
    WEIGHT_PROFILES,
    Consumer,
    PlacementRequest,
    TopologyConstraint,
)
from datalocality.model.topology import (
    TIER_COUNT,
    TIER_NAMES,
    TIERS,
    Allocatable,
    Node,
    Resources,
    Topology,
    tier_between,
)

__all__ = [
    "CRITERIA",
    "TIERS",
    "TIER_COUNT",
    "TIER_NAMES",
    "WEIGHT_PROFILES",
    "Allocatable",
    "Chunk",
    "ClusterShare",
    "Condition",
    "Consumer",
    "DataInput",
    "DataSource",
    "DataSourceClaim",
    "Locality",
    "Node",
    "Operation",
    "PlacementPlan",
    "PlacementRequest",
    "ReplicaPlacement",
    "Resources",
    "Spec",
    "Topology",
    "TopologyConstraint",
    "Totals",
    "Transfer",
    "WorkloadRef",
    "parse_bytes",
    "parse_quantity",
    "spec_error_from",
    "tier_between",
]
