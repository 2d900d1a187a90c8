"""Example 4: a consumer scheduled on an Asset finds the chunks in the producer's event.

``asset_producer`` runs one producer pod (``produce_chunks``, one replica) whose
collector task, ``features.collect``, has the asset as an outlet: the asset event's
``extra`` carries the DataSource (chunks and the node each was written on).
``asset_consumer`` is scheduled on that asset; ``locations`` reads the latest event's
``extra`` and hands it to ``locality_pods``, whose plan binds a claim to the published
DataSource and puts each replica next to its chunks.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import DAG, Asset, task

from datalocality.operators import cluster_access, locality_pods, produce_chunks

CHUNKS = Asset("datalocality://example/daily-features", group="datalocality")
PART = 128 * 1024 * 1024


with DAG("asset_producer", schedule=None, catchup=False, tags=["datalocality", "example"]):
    produce_chunks(
        task_id="features",
        image="features:1",
        outlets=[CHUNKS],
        node_selector={"kubernetes.io/hostname": "worker-b2"},
        # What the pod "writes" in the embedded cluster; a real pod writes the XCom file.
        annotations={
            "sandbox.datalocality.io/xcom": json.dumps(
                {"chunks": [{"id": f"features-{i}", "size": PART} for i in range(4)]}
            )
        },
        startup_check_interval_seconds=1,
        **cluster_access(),
    )

with DAG(
    "asset_consumer",
    schedule=[CHUNKS],
    catchup=False,
    tags=["datalocality", "example"],
    doc_md=__doc__,
):

    @task(inlets=[CHUNKS])
    def locations(**context: Any) -> dict[str, Any]:
        """The producer's DataSource, from the latest event of the asset."""
        events = context["inlet_events"][CHUNKS]
        if not events:
            raise ValueError(f"no event of {CHUNKS.uri} yet: run asset_producer first")
        extra: dict[str, Any] = dict(events[-1].extra)
        return extra

    locality_pods(
        task_id="score",
        image="scorer:1",
        inputs=[locations()],
        replicas=2,
        requests={"cpu": "500m", "memory": "512Mi"},
        operations=False,
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
