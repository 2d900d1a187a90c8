"""Example 1: a producer writes chunks, a consumer reads them where they were written.

``extract`` runs two producer pods in parallel (``extract.replica``, mapped): one on
worker-a1 writes nine 256 MiB parts, one on worker-b1 writes three. Each reports its
parts through KubernetesPodOperator's XCom sidecar, and ``extract.collect`` publishes
them, with the nodes, as one DataSource. ``sessionize`` wants one partition per replica
for its three replicas, so its plan puts the replicas next to the parts, runs a
repartition Job on each replica's node, then one pod per replica with its chunk list;
``release``, a teardown, then gives back the claims, the chunk lists and the Jobs, and
the producer's source with them (``reclaimPolicy: Delete``). ``make demo`` runs this DAG
against the embedded cluster. Triggered with the conf ``{"replica_exit_code": 1}``, the
simulated replicas fail: the run fails, and still leaves nothing behind.
"""

from __future__ import annotations

import json

from airflow.sdk import DAG

from datalocality.operators import cluster_access, locality_pods, produce_chunks

PART = 256 * 1024 * 1024
WRITERS = {"worker-a1": range(0, 9), "worker-b1": range(9, 12)}


# What the simulated replicas exit with (the embedded cluster's pods run no container).
EXIT_CODE = {"sandbox.datalocality.io/exit-code": "{{ dag_run.conf.get('replica_exit_code', 0) }}"}


def report(parts: range) -> dict[str, str]:
    """What the embedded cluster's pod "writes" to its XCom file (a real pod writes it)."""
    chunks = [{"id": f"part-{i:02d}", "size": PART} for i in parts]
    return {"sandbox.datalocality.io/xcom": json.dumps({"chunks": chunks})}


with DAG(
    "chunk_pipeline",
    schedule=None,
    catchup=False,
    tags=["datalocality", "example"],
    doc_md=__doc__,
):
    extract = produce_chunks(
        task_id="extract",
        image="etl:1",
        replicas=len(WRITERS),
        replica_overrides=[
            {
                "node_selector": {"kubernetes.io/hostname": node},
                "annotations": report(parts),
            }
            for node, parts in WRITERS.items()
        ],
        get_logs=True,
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
    locality_pods(
        task_id="sessionize",
        image="sessionizer:1",
        inputs=[extract.output],
        replicas=3,
        requests={"cpu": "500m", "memory": "1Gi"},
        partitioning="one-per-replica",
        job_image="repartition:1",
        job_kwargs={"requests": {"cpu": "100m", "memory": "128Mi"}},
        on_finish_action="keep_pod",
        annotations=EXIT_CODE,
        get_logs=True,
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
