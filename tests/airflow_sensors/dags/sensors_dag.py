"""A DAG of the three datalocality sensors, deferrable, for ``airflow dags test``.

The test points it at a sandbox and a static inventory through environment variables;
nothing here touches the network or a connection at parse time.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from datalocality.sensors import (
    DataAvailableSensor,
    DataSourceClaimBoundSensor,
    OperationCompleteSensor,
)

KUBECONFIG = os.environ.get("SENSORS_KUBECONFIG")
TIMEOUT = float(os.environ.get("SENSORS_TIMEOUT", "20"))

with DAG("datalocality_sensors", schedule=None, catchup=False):
    claim = DataSourceClaimBoundSensor(
        task_id="claim_bound",
        claim_name="{{ params.claim }}",
        params={"claim": "claim-a"},
        poke_interval=0.2,
        timeout=TIMEOUT,
        kubernetes_conn_id="sensors_kube",  # a kubernetes connection, read in the trigger
    )
    data = DataAvailableSensor(
        task_id="data_available",
        system="hive",
        name="db.events",
        resolvers={
            "hive": {"resolver": "static", "inventory": os.environ.get("SENSORS_INVENTORY", "")}
        },
        min_chunks=1,
        poke_interval=0.2,
        timeout=TIMEOUT,
    )
    ops = OperationCompleteSensor(
        task_id="operations_done",
        job_names=["repartition-a"],
        poke_interval=0.2,
        timeout=TIMEOUT,
        kubernetes_conn_id=None,
        config_file=KUBECONFIG,
    )
    claim >> data >> ops
