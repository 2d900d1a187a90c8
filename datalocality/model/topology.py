"""Nodes, the resources they offer, and the tiers and bandwidths between them."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from datalocality.errors import SpecError
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_subdomain
from datalocality.model.quantities import parse_bytes, parse_quantity

# Tiers between a chunk's node and a replica's node, nearest first.
SAME_NODE, SAME_ZONE, SAME_REGION, SAME_CLUSTER, OTHER_CLUSTER = 0, 1, 2, 3, 4
TIERS = (SAME_NODE, SAME_ZONE, SAME_REGION, SAME_CLUSTER, OTHER_CLUSTER)
TIER_NAMES = ("node", "zone", "region", "cluster", "world")
# How many tiers there are; also the levels of the domain tree, from a node up to the
# world (the one domain above every cluster, which an OTHER_CLUSTER read crosses).
TIER_COUNT = len(TIERS)

Cpu = Annotated[float, BeforeValidator(lambda v: parse_quantity("", v))]
Bytes = Annotated[int, BeforeValidator(lambda v: parse_bytes("", v))]


class Resources(Spec):
    """CPU in cores, memory in bytes, pods as a count; accepts Kubernetes quantities."""

    cpu: Cpu = 0.0
    memory: Bytes = 0
    pods: int = Field(default=0, ge=0, strict=True)


class Allocatable(Resources):
    """What a node offers; a field left out means "not a limit" (pods: kubelet's 110)."""

    cpu: Cpu = 1e9
    memory: Bytes = 2**62
    pods: int = Field(default=110, ge=0, strict=True)


class Node(Spec):
    """A schedulable node with its place in the topology and what it can still host."""

    name: str
    zone: str = ""
    region: str = ""
    cluster: str = ""
    allocatable: Allocatable = Allocatable()
    requested: Resources = Resources()
    labels: dict[str, str] = Field(default_factory=dict)
    node_type: str = ""
    capabilities: tuple[str, ...] = ()
    gateway: bool = False
    load: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_dns_subdomain("", value)

    @field_validator("allocatable", mode="before")
    @classmethod
    def _allocatable(cls, value: object) -> object:
        # A Resources object counts only for the fields it was given.
        if isinstance(value, Resources) and not isinstance(value, Allocatable):
            return value.model_dump(exclude_unset=True)
        return value

    @property
    def zone_key(self) -> tuple[str, str, str]:
        """The zone as a tree domain; a node with no zone is a zone of its own."""
        return (self.cluster, self.region_key[1], self.zone or f"node:{self.name}")

    @property
    def region_key(self) -> tuple[str, str]:
        """The region as a tree domain; a node with no region is a region of its own zone."""
        return (self.cluster, self.region or f"zone:{self.zone or 'node:' + self.name}")

    def free(self) -> Resources:
        """What is left once already-requested resources are taken off."""
        return Resources(
            cpu=max(0.0, self.allocatable.cpu - self.requested.cpu),
            memory=max(0, self.allocatable.memory - self.requested.memory),
            pods=max(0, self.allocatable.pods - self.requested.pods),
        )

    def replica_capacity(self, per_replica: Resources) -> int:
        """How many replicas with these requests fit on the node (pods, cpu, memory)."""
        have, used = self.allocatable, self.requested
        fits = have.pods - used.pods
        if per_replica.cpu > 0:
            fits = min(fits, math.floor((have.cpu - used.cpu) / per_replica.cpu + 1e-9))
        if per_replica.memory > 0:
            fits = min(fits, (have.memory - used.memory) // per_replica.memory)
        return max(0, fits)


def _default_bandwidth() -> dict[int, float]:
    # bytes/second: 10 Gbit/s in a zone, 5 across zones, 2 across regions, 1 across clusters.
    return {1: 1.25e9, 2: 6.25e8, 3: 2.5e8, 4: 1.25e8}


class Topology(Spec):
    """The nodes, and the bandwidth of each tier above the node itself (bytes/second)."""

    nodes: tuple[Node, ...]
    bandwidth: dict[int, float] = Field(default_factory=_default_bandwidth)
    gateway_overload: float = Field(default=0.8, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, nodes: tuple[Node, ...]) -> tuple[Node, ...]:
        if not nodes:
            raise SpecError("", [], "needs at least one node")
        seen: set[str] = set()
        for node in nodes:
            if node.name in seen:
                raise SpecError("", node.name, "duplicate node name")
            seen.add(node.name)
        return tuple(sorted(nodes, key=lambda n: n.name))

    @field_validator("bandwidth", mode="before")
    @classmethod
    def _bandwidth(cls, value: object) -> dict[int, float]:
        merged = _default_bandwidth()
        if not isinstance(value, dict):
            raise SpecError("", value, "must map tiers 1..4 to bytes/second")
        for key, raw in value.items():
            tier = int(key) if isinstance(key, int | str) and str(key).isdigit() else -1
            if tier not in (1, 2, 3, 4):
                raise SpecError(f"{key}", key, "tier must be 1, 2, 3 or 4")
            rate = parse_quantity(f"{key}", raw)
            if rate <= 0:
                raise SpecError(f"{key}", raw, "must be > 0 bytes/second")
            merged[tier] = rate
        for tier in (2, 3, 4):
            if merged[tier] > merged[tier - 1]:
                raise SpecError(f"{tier}", merged[tier], f"must not exceed tier {tier - 1}'s")
        return merged

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        # A zone must sit in one region: otherwise the tiers would not form a tree.
        zone_region: dict[tuple[str, str], str] = {}
        for node in self.nodes:
            if node.zone:
                key = (node.cluster, node.zone)
                region = zone_region.setdefault(key, node.region)
                if region != node.region:
                    raise SpecError(
                        f"nodes.{node.name}.region",
                        node.region,
                        f"zone {node.zone!r} is already in region {region!r}",
                    )
        return self

    @cached_property
    def by_name(self) -> dict[str, Node]:
        """Nodes by name."""
        return {node.name: node for node in self.nodes}

    def cost_per_byte(self, tier: int) -> float:
        """Seconds to move one byte across the tier (0 on the same node)."""
        return 0.0 if tier == SAME_NODE else 1.0 / self.bandwidth[tier]

    def tier(self, a: str, b: str) -> int:
        """The tier between two nodes, by name."""
        return tier_between(self.by_name[a], self.by_name[b])


def tier_between(a: Node, b: Node) -> int:
    """0 same node, 1 same zone, 2 same region, 3 same cluster, 4 other cluster."""
    if a.name == b.name:
        return SAME_NODE
    if a.zone_key == b.zone_key:
        return SAME_ZONE
    if a.region_key == b.region_key:
        return SAME_REGION
    if a.cluster == b.cluster:
        return SAME_CLUSTER
    return OTHER_CLUSTER
