"""Node affinity that keeps a replica where the plan put it.

Hard: a required term on the plan's node (``kubernetes.io/hostname In [node]``), or on the
zone or region the topology constraint allows, so the kube-scheduler may still move the
replica inside that domain. Soft: preferred terms only. Preferred weights default to host
100, zone 50, region 20 as Fluid does, scaled by how much of the replica's data the plan
found at that distance (never below 1, so the plan's choice still wins a tie).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from datalocality.errors import SpecError
from datalocality.model import Consumer, Node, PlacementPlan, ReplicaPlacement, Topology
from datalocality.model.base import Spec

HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEY = "topology.kubernetes.io/zone"
REGION_KEY = "topology.kubernetes.io/region"


class AffinityPolicy(Spec):
    """How strictly replicas are held to their planned node.

    ``tier`` (hard mode) is the widest domain the replica may leave its node for:
    0 the node itself, 1 its zone, 2 its region.
    """

    mode: Literal["hard", "soft"] = "hard"
    tier: int = Field(default=0, ge=0, le=2, strict=True)
    host_weight: int = Field(default=100, ge=1, le=100, alias="hostWeight")
    zone_weight: int = Field(default=50, ge=1, le=100, alias="zoneWeight")
    region_weight: int = Field(default=20, ge=1, le=100, alias="regionWeight")
    scale_by_plan: bool = Field(default=True, alias="scaleByPlan")
    hostname_key: str = Field(default=HOSTNAME_KEY, min_length=1, alias="hostnameKey")
    zone_key: str = Field(default=ZONE_KEY, min_length=1, alias="zoneKey")
    region_key: str = Field(default=REGION_KEY, min_length=1, alias="regionKey")

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        if value not in ("hard", "soft"):
            raise SpecError("", value, "must be exactly 'hard' or 'soft'")
        return value

    @classmethod
    def for_consumer(cls, consumer: Consumer) -> AffinityPolicy:
        """The policy a consumer's topology constraint implies.

        No constraint: hard on the node. A hard constraint on tier t <= 2: required on the
        tier-t domain the plan chose (every replica is in that one domain). A soft
        constraint, or one on clusters (Karmada keeps those): preferred terms only.
        """
        rule = consumer.topology
        if rule is None:
            return cls()
        if rule.mode == "hard" and rule.highest_tier_allowed <= 2:
            return cls(tier=rule.highest_tier_allowed)
        return cls(mode="soft")


def _node_value(node: Node, key: str, fallback: str) -> str:
    return node.labels.get(key, fallback)


def _requirement(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "operator": "In", "values": [value]}


def tier_fractions(replica: ReplicaPlacement, plan: PlacementPlan | None) -> tuple[float, ...]:
    """Share of the replica's bytes found on its node, in its zone, in its region."""
    if replica.bytes <= 0:
        return (1.0, 1.0, 1.0)
    within = [replica.local_bytes, replica.local_bytes, replica.local_bytes]
    if plan is not None:
        mine = set(replica.chunks)
        for transfer in plan.transfers:
            if transfer.to_node == replica.node and transfer.chunk in mine:
                for tier in (1, 2):
                    if transfer.tier <= tier:
                        within[tier] += transfer.bytes
    return tuple(min(1.0, value / replica.bytes) for value in within)


def _weight(default: int, fraction: float, scale: bool) -> int:
    return default if not scale else max(1, min(100, round(default * fraction)))


def build_affinity(
    replica: ReplicaPlacement,
    topology: Topology,
    *,
    plan: PlacementPlan | None = None,
    policy: AffinityPolicy | None = None,
) -> dict[str, Any]:
    """The pod ``affinity`` for one replica (camelCase, ready for a pod spec)."""
    policy = policy or AffinityPolicy()
    node = topology.by_name.get(replica.node)
    if node is None:
        raise SpecError("replica.node", replica.node, "is not a node of the topology")
    domains = [
        (policy.hostname_key, _node_value(node, policy.hostname_key, node.name)),
        (policy.zone_key, _node_value(node, policy.zone_key, node.zone)),
        (policy.region_key, _node_value(node, policy.region_key, node.region)),
    ]
    weights = (policy.host_weight, policy.zone_weight, policy.region_weight)
    fractions = tier_fractions(replica, plan)
    node_affinity: dict[str, Any] = {}
    widest = 3  # soft: prefer node, zone and region
    if policy.mode == "hard":
        # The required domain: the tier the policy allows, or the nearest wider one known.
        tier = next((t for t in range(policy.tier, 3) if domains[t][1]), None)
        if tier is None:
            raise SpecError("policy.tier", policy.tier, f"node {node.name} has no such domain")
        key, value = domains[tier]
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [{"matchExpressions": [_requirement(key, value)]}]
        }
        widest = tier  # hard: prefer only the domains inside the required one
    preferred = [
        {
            "weight": _weight(weights[t], fractions[t], policy.scale_by_plan),
            "preference": {"matchExpressions": [_requirement(*domains[t])]},
        }
        for t in range(widest)
        if domains[t][1]
    ]
    if preferred:
        node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"nodeAffinity": node_affinity}
