"""The consumer of the data and the whole placement request."""

from __future__ import annotations

import math
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import Literal

from pydantic import Field, field_validator, model_validator

from datalocality.errors import SpecError
from datalocality.model.base import Spec
from datalocality.model.data import Chunk, DataSource
from datalocality.model.names import (
    check_dns_label,
    check_label_key,
    check_label_value,
    check_replicas,
)
from datalocality.model.topology import OTHER_CLUSTER, SAME_NODE, TIERS, Resources, Topology

WorkloadClass = Literal["default", "data-intensive", "compute-intensive"]
CRITERIA = ("resource", "node_affinity", "node_type", "capabilities", "data_locality")
# The data-locality-scheduler's weight profiles, in CRITERIA order.
WEIGHT_PROFILES: dict[str, tuple[float, ...]] = {
    "default": (0.15, 0.10, 0.15, 0.10, 0.50),
    "data-intensive": (0.10, 0.05, 0.10, 0.05, 0.70),
    "compute-intensive": (0.40, 0.15, 0.10, 0.15, 0.20),
}


class TopologyConstraint(Spec):
    """All replicas inside one domain of ``highest_tier_allowed`` (0 node ... 4 anywhere).

    ``hard`` is never violated; ``soft`` is kept when some domain can host every replica.
    """

    mode: Literal["hard", "soft"] = "soft"
    highest_tier_allowed: int = Field(default=1, alias="highestTierAllowed")

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        if value not in ("hard", "soft"):
            raise SpecError("", value, "must be exactly 'hard' or 'soft'")
        return value

    @field_validator("highest_tier_allowed", mode="before")
    @classmethod
    def _tier(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in TIERS:
            raise SpecError("", value, f"must be an integer tier {SAME_NODE}..{OTHER_CLUSTER}")
        return value


class Consumer(Spec):
    """The task reading the data: replicas, per-replica requests and preferences."""

    name: str = "consumer"
    replicas: int = 1
    requests: Resources = Resources(pods=1)
    topology: TopologyConstraint | None = None
    workload_class: WorkloadClass = Field(default="default", alias="workloadClass")
    weights: dict[str, float] | None = None
    partitioning: Literal["any", "one-per-replica"] = "any"
    input_format: Literal["chunks", "stream"] = Field(default="chunks", alias="inputFormat")
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    preferred_node_type: str = Field(default="", alias="preferredNodeType")
    capabilities: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_dns_label("", value)

    @field_validator("replicas", mode="before")
    @classmethod
    def _replicas(cls, value: object) -> int:
        return check_replicas(value)

    @field_validator("node_selector")
    @classmethod
    def _node_selector(cls, value: dict[str, str]) -> dict[str, str]:
        # what a pod's nodeSelector may hold, checked before any claim is written
        for key, label in value.items():
            check_label_key(key, key)
            check_label_value(key, label)
        return value

    @field_validator("requests")
    @classmethod
    def _requests(cls, value: Resources) -> Resources:
        # Every replica is one pod, whatever the caller wrote.
        return value if value.pods == 1 else value.model_copy(update={"pods": 1})

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        for key, weight in value.items():
            if key not in CRITERIA:
                raise SpecError(f"{key}", key, f"unknown criterion; use {CRITERIA}")
            if math.isnan(weight) or weight < 0:
                raise SpecError(f"{key}", weight, "must be a number >= 0")
        total = sum(value.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise SpecError("", value, f"must sum to 1 (sum is {total:g})")
        return {key: value.get(key, 0.0) for key in CRITERIA}

    @property
    def weight_vector(self) -> tuple[float, ...]:
        """The weights in CRITERIA order: explicit ones, else the class profile."""
        if self.weights is not None:
            return tuple(self.weights[key] for key in CRITERIA)
        return WEIGHT_PROFILES[self.workload_class]


class PlacementRequest(Spec):
    """Everything placement needs: the topology, the consumer and the resolved sources."""

    topology: Topology
    consumer: Consumer
    sources: tuple[DataSource, ...] = ()

    @model_validator(mode="after")
    def _chunks_known(self) -> PlacementRequest:
        seen: set[str] = set()
        zones = {n.zone for n in self.topology.nodes if n.zone}
        regions = {n.region for n in self.topology.nodes if n.region}
        clusters = {n.cluster for n in self.topology.nodes}
        by_name = self.topology.by_name
        for s, source in enumerate(self.sources):
            for c, chunk in enumerate(source.chunks):
                field = f"sources[{s}].chunks[{c}]"
                if chunk.id in seen:
                    raise SpecError(f"{field}.id", chunk.id, "duplicate chunk id")
                seen.add(chunk.id)
                for loc in chunk.locations:
                    kind, _, name = loc.rpartition(":")
                    known = {"": by_name, "zone": zones, "region": regions, "cluster": clusters}
                    if name not in known[kind]:
                        what = kind or "node"
                        raise SpecError(f"{field}.locations", loc, f"unknown {what}")
        return self

    @cached_property
    def chunks(self) -> tuple[Chunk, ...]:
        """All chunks of all sources, sorted by id (the order every strategy iterates)."""
        return tuple(
            sorted(chain.from_iterable(s.chunks for s in self.sources), key=attrgetter("id"))
        )

    @cached_property
    def chunk_source(self) -> dict[str, int]:
        """Index of the source each chunk belongs to, by chunk id."""
        return {c.id: i for i, s in enumerate(self.sources) for c in s.chunks}

    @cached_property
    def chunk_sizes(self) -> tuple[int, ...]:
        """Each chunk's size, in :attr:`chunks` order (read once: 1M chunks are many)."""
        return tuple(map(attrgetter("size"), self.chunks))

    @cached_property
    def total_bytes(self) -> int:
        """Bytes over every chunk."""
        return sum(self.chunk_sizes)

    @cached_property
    def unit_sized(self) -> bool:
        """True when all chunks have the same size (balance is then by count)."""
        sizes = self.chunk_sizes
        return not sizes or min(sizes) == max(sizes)
