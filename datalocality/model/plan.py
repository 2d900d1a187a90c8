"""What placement returns: per-replica decisions, transfers, operations and totals."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from datalocality.model.base import Spec


class ReplicaPlacement(Spec):
    """One replica: its node, the chunks it reads, and why it was put there."""

    index: int
    node: str
    cluster: str = ""
    zone: str = ""
    chunks: tuple[str, ...] = ()
    bytes: int = 0
    local_bytes: int = 0
    moved_bytes: int = 0
    cost: float = 0.0
    score_terms: dict[str, float] = Field(default_factory=dict)
    reason: str = ""


class Transfer(Spec):
    """A chunk read from another node, and across which tier."""

    chunk: str
    from_node: str = Field(alias="from")
    to_node: str = Field(alias="to")
    bytes: int
    tier: int


class Operation(Spec):
    """Work to run before the replicas: a repartition or an assembly, where, on what."""

    kind: Literal["repartition", "assembly"]
    scope: Literal["local", "distributed"] = "local"
    source: str
    node: str
    chunks: tuple[str, ...]
    replica: int | None = None
    reason: str = ""


class ClusterShare(Spec):
    """A cluster ranked by the bytes of the request it holds."""

    name: str
    bytes: int


class Totals(Spec):
    """Plan-wide figures; ``lower_bound_cost`` bounds every feasible plan's cost from below."""

    bytes: int
    moved_bytes: int
    cost: float
    lower_bound_cost: float
    bytes_by_tier: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    proven_optimal: bool = False


class PlacementPlan(Spec):
    """The answer of a strategy; ``model_dump(by_alias=True)`` is the JSON plan."""

    strategy: str
    replicas: tuple[ReplicaPlacement, ...]
    transfers: tuple[Transfer, ...] = ()
    operations: tuple[Operation, ...] = ()
    clusters: tuple[ClusterShare, ...] = ()
    totals: Totals
    notes: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, object]:
        """The documented JSON shape (``from``/``to`` keys on transfers)."""
        return self.model_dump(mode="json", by_alias=True)
