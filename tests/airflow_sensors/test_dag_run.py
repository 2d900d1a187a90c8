"""The sensors in a real DAG run: ``airflow dags test`` defers them and runs their triggers.

This is the path Airflow itself takes: TaskDeferred → the trigger serialized and rebuilt by
Airflow → its one event → ``execute_complete`` in a resumed task. Runs in a subprocess with
its own AIRFLOW_HOME (SQLite), against both clusters.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from datalocality.kube.client import KubeClient
from datalocality_testcluster.clusters import ProviderCluster
from tests.airflow.support import airflow_cli_env, run_airflow
from tests.airflow_sensors.test_claim_trigger import bind, make_claim
from tests.airflow_sensors.test_operation_trigger import job

DAGS = Path(__file__).parent / "dags"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_cli_env(
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )
    run_airflow(env, "db", "migrate")
    yield env


def dags_test(
    env: dict[str, str], sandbox: ProviderCluster, inventory: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    run_env = {
        **env,
        "SENSORS_KUBECONFIG": str(sandbox.kubeconfig_path),
        "SENSORS_INVENTORY": str(inventory),
        "AIRFLOW_CONN_SENSORS_KUBE": json.dumps(
            {
                "conn_type": "kubernetes",
                "extra": {"kube_config_path": str(sandbox.kubeconfig_path)},
            }
        ),
        **extra,
    }
    return run_airflow(run_env, "dags", "test", "datalocality_sensors", check=False)


def test_deferred_sensors_succeed_in_a_dag_run(
    airflow_env: dict[str, str], cluster: ProviderCluster, kube: KubeClient, tmp_path: Path
) -> None:
    make_claim(kube)
    bind(kube)
    kube.create_or_get(job("repartition-a"))
    inventory = tmp_path / "inventory.json"
    source = {"system": "hive", "dataSourceName": "db.events", "chunks": [{"id": "c", "size": 1}]}
    inventory.write_text(json.dumps([source]), encoding="utf-8")
    done = dags_test(airflow_env, cluster, inventory)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert output.count("Pausing task as DEFERRED.") == 3, output[-4000:]
    assert output.count("[DAG TEST] Trigger completed") == 3
    assert "DagRun Finished: dag_id=datalocality_sensors" in output
    assert "state=success, run_type=manual" in output


def test_a_timed_out_trigger_fails_the_run(
    airflow_env: dict[str, str], cluster: ProviderCluster, kube: KubeClient, tmp_path: Path
) -> None:
    make_claim(kube)  # never bound
    done = dags_test(airflow_env, cluster, tmp_path / "none.json", SENSORS_TIMEOUT="1")
    output = done.stdout + done.stderr
    assert "AirflowSensorTimeout" in output, output[-4000:]
    assert "DataSourceClaim default/claim-a: not done within 1 s" in output
    assert "is Pending" in output
    assert "state=failed, run_type=manual" in output
    assert output.count("Pausing task as DEFERRED.") == 1  # the later tasks never ran
