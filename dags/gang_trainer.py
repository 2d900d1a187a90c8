"""Example 5: the trainer of example 2, gang-scheduled by Volcano in one zone.

``scheduler="volcano"``: the plan task creates a Volcano PodGroup for the run
(``minMember`` 3, the replicas' summed requests, ``networkTopology`` hard within one
HyperNode tier, translated from ``highest_tier_allowed: 1``), and every replica pod names
Volcano's scheduler and the group (annotation ``scheduling.k8s.io/group-name``), so no
replica starts until all three fit. The PodGroup is owned by the run's claims: the
``release`` teardown's deletion of the claims removes it too. Needs Volcano (v1.12 CRDs) on
the cluster; see README for what the test control plane runs in its place.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import DAG

from datalocality import DataInput
from datalocality.operators import cluster_access, locality_pods

RESOLVERS = str(Path(__file__).with_name("data") / "resolvers.yaml")


with DAG(
    "gang_trainer",
    schedule=None,
    catchup=False,
    tags=["datalocality", "example", "volcano"],
    doc_md=__doc__,
):
    locality_pods(
        task_id="train",
        image="trainer:1",
        inputs=[DataInput(system="iceberg", name="warehouse.ml.events")],
        replicas=3,
        topology={"mode": "hard", "highest_tier_allowed": 1},
        requests={"cpu": "1", "memory": "2Gi"},
        scheduler="volcano",
        volcano_queue="default",
        resolvers_config=RESOLVERS,
        operations=False,
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
