"""Issue #16 at scale: 100 replicas read a table of 100,000 files next to where they are.

``warehouse.db.events`` is a DataSource the platform published beforehand, its 100,000
chunks (128 MiB Iceberg data files, cached on the worker nodes) in DataSourceSlices;
``read.plan`` binds a claim to it statically (no resolver is asked: the platform keeps
it current), plans 100 replicas, hands each its list through ConfigMaps mounted at
/etc/datalocality, and runs one pod per replica. Parsing builds nothing large.
"""

from __future__ import annotations

from airflow.sdk import DAG

from datalocality import DataInput
from datalocality.operators import cluster_access, locality_pods

REPLICAS = 100
TABLE = DataInput(system="iceberg", name="warehouse.db.events")

with DAG(
    "large_read",
    schedule=None,
    catchup=False,
    tags=["datalocality", "example", "scale"],
    doc_md=__doc__,
):
    locality_pods(
        task_id="read",
        image="reader:1",
        inputs=[TABLE],
        replicas=REPLICAS,
        requests={"cpu": "50m", "memory": "64Mi"},
        plan_kwargs={"source_ttl": None},
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    )
