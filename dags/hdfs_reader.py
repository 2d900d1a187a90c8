"""Example 6: four scanners of an HDFS directory, each next to a replica of its blocks.

``/logs/events`` is resolved when the run starts by the ``webhdfs`` resolver, asking the
NameNode for every file's blocks (1 chunk per block) and the DataNodes that hold a copy.
HDFS keeps each block on two DataNodes, so the plan has a choice: each replica reads its
blocks from a copy on its own node where it can, and the plan task's log says how many
bytes still move and how many a locality-blind placement would have moved.

The NameNode and how DataNode host names map to Kubernetes nodes come from the Airflow
Connection ``datalocality_hdfs`` (``conn_type: datalocality``), a platform team's setting::

    AIRFLOW_CONN_DATALOCALITY_HDFS='{"conn_type": "datalocality", "extra": {"hdfs": {
        "resolver": "webhdfs", "endpoint": "http://namenode:9870", "user": "etl",
        "filesystem": "hdfs://lake",
        "hostAliases": {"dn-a1": "worker-a1", "dn-b1": "worker-b1"}}}}'
"""

from __future__ import annotations

from airflow.sdk import DAG

from datalocality import DataInput
from datalocality.operators import cluster_access, locality_pods

LOGS = DataInput(
    system="hdfs",
    name="/logs/events",
    data_source_type="directory",
    attributes={"recursive": "true"},
)

with DAG(
    "hdfs_reader",
    schedule=None,
    catchup=False,
    tags=["datalocality", "example", "hdfs"],
    doc_md=__doc__,
):
    locality_pods(
        task_id="scan",
        image="scanner:1",
        inputs=[LOGS],
        replicas=4,
        requests={"cpu": "500m", "memory": "1Gi"},
        datalocality_conn_id="datalocality_hdfs",
        operations=False,
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
