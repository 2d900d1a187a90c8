"""Example 2: a 3-replica trainer reads an Iceberg table, all replicas kept in one zone.

``warehouse.ml.events`` is resolved by the resolvers config in ``data/resolvers.yaml``
(the static resolver standing in for an Iceberg catalog, so the example runs anywhere).
The topology rule is soft: the replicas stay in one zone when one has room for all three
(the plan says so in a note), and the pods get preferred — not required — node affinity,
so the scheduler can still move a replica if its node is full when it starts.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import DAG

from datalocality import DataInput
from datalocality.operators import cluster_access, locality_pods

RESOLVERS = str(Path(__file__).with_name("data") / "resolvers.yaml")


with DAG(
    "iceberg_trainer",
    schedule=None,
    catchup=False,
    tags=["datalocality", "example"],
    doc_md=__doc__,
):
    locality_pods(
        task_id="train",
        image="trainer:1",
        inputs=[DataInput(system="iceberg", name="warehouse.ml.events")],
        replicas=3,
        topology={"mode": "soft", "highest_tier_allowed": 1},
        requests={"cpu": "1", "memory": "2Gi"},
        resolvers_config=RESOLVERS,
        operations=False,
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
