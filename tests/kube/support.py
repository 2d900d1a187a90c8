"""Hand-written model objects the kube tests share (no planner: goldens stay ours)."""

from __future__ import annotations

from datetime import UTC, datetime

from datalocality.kube.names import TaskKey
from datalocality.model import (
    Chunk,
    Consumer,
    DataInput,
    DataSource,
    Locality,
    Node,
    Operation,
    PlacementPlan,
    ReplicaPlacement,
    Topology,
    TopologyConstraint,
    Totals,
    Transfer,
)

GiB = 2**30
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
TASK = TaskKey(dag_id="clickstream", run_id="manual__2026-11-01T10:00:00+00:00", task_id="train")
PLAN_TASK = TaskKey(dag_id="clickstream", run_id=TASK.run_id, task_id="train_plan")

TOPOLOGY = Topology(
    nodes=[
        Node(name="node-a1", zone="zone-a", region="eu", cluster="prod"),
        Node(
            name="node-a2",
            zone="zone-a",
            region="eu",
            cluster="prod",
            labels={"kubernetes.io/hostname": "ip-10-0-0-2"},
        ),
        Node(name="node-b1", zone="zone-b", region="eu", cluster="prod"),
        Node(name="node-c1", zone="zone-c", region="us", cluster="edge"),
    ]
)

INPUT = DataInput(system="iceberg", name="warehouse.ml.Events_2026", attributes={"snapshot": "42"})

SOURCE = DataSource.for_input(
    INPUT,
    locality=Locality(clusters=("prod",), zones=("zone-a", "zone-b")),
    chunks=[
        Chunk(id="part-00", size=GiB, locations=["node-a1", "node-a2"]),
        Chunk(id="part-01", size=GiB, locations=["node-a1"]),
        Chunk(id="part-02", size=GiB, locations=["node-b1"]),
        Chunk(id="part-03", size=GiB, locations=["node-a2", "zone:zone-a"]),
    ],
    observed_at=NOW,
)

PLAN = PlacementPlan(
    strategy="optimal",
    replicas=[
        ReplicaPlacement(
            index=0,
            node="node-a1",
            cluster="prod",
            zone="zone-a",
            chunks=["part-00", "part-01"],
            bytes=2 * GiB,
            local_bytes=2 * GiB,
        ),
        ReplicaPlacement(
            index=1,
            node="node-b1",
            cluster="prod",
            zone="zone-b",
            chunks=["part-02", "part-03"],
            bytes=2 * GiB,
            local_bytes=GiB,
            moved_bytes=GiB,
        ),
        ReplicaPlacement(
            index=2,
            node="node-a2",
            cluster="prod",
            zone="zone-a",
            chunks=[],
            bytes=0,
        ),
    ],
    transfers=[
        Transfer.model_validate(
            {"chunk": "part-03", "from": "node-a2", "to": "node-b1", "bytes": GiB, "tier": 2}
        ),
    ],
    operations=[
        Operation(
            kind="repartition",
            source=SOURCE.key,
            node="node-a1",
            chunks=["part-00", "part-01"],
            replica=0,
            reason="one partition per replica",
        ),
        Operation(
            kind="assembly",
            scope="distributed",
            source=SOURCE.key,
            node="node-b1",
            chunks=["part-02", "part-03"],
            reason="a stream feeds a chunk consumer",
        ),
    ],
    totals=Totals(bytes=4 * GiB, moved_bytes=GiB, cost=0.8, lower_bound_cost=0.8),
)

CONSUMER = Consumer(
    name="train",
    replicas=3,
    requests={"cpu": "500m", "memory": "1Gi"},
    topology=TopologyConstraint(mode="hard", highest_tier_allowed=2),
)
