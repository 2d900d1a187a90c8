"""End to end: cncf.kubernetes's KubernetesPodOperator runs a pod in the sandbox.

``op.execute(context)`` is called outside a DAG run with the few context keys the
operator reads (``ti``, ``run_id``, ``dag``); the hook loads the sandbox's kubeconfig.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from datalocality_testcluster.sandbox import Sandbox, start_sandbox
from tests.sandbox.conftest import FAST

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:airflow.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kubernetes.*"),
]


class FakeTaskInstance:
    """What the operator touches on ``context["ti"]``."""

    dag_id, task_id, map_index, try_number = "clickstream", "train", 0, 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def airflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return tmp_path


@pytest.fixture
def cluster(airflow_home: Path) -> Iterator[Sandbox]:
    with start_sandbox(None, timing=FAST) as sandbox:  # the demo inventory
        yield sandbox
        assert sandbox.errors == []


def run(sandbox: Sandbox, **options: Any) -> tuple[Any, Any, FakeTaskInstance]:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    op = KubernetesPodOperator(
        task_id="train",
        name="train",
        namespace="default",
        image="trainer:1",
        config_file=str(sandbox.kubeconfig_path),
        in_cluster=False,
        kubernetes_conn_id=None,
        get_logs=True,
        startup_check_interval_seconds=0.1,  # type: ignore[arg-type]  # an int in the stub; sleeps
        on_finish_action="keep_pod",
        **options,
    )
    ti = FakeTaskInstance()
    context = {
        "ti": ti,
        "task_instance": ti,
        "run_id": "manual__1",
        "dag": SimpleNamespace(dag_id="clickstream"),
    }
    try:
        with warnings.catch_warnings():
            # websocket-client leaves the exec socket open when the server closes first
            # (as a real API server does after the command); not ours to fix.
            warnings.simplefilter("ignore", ResourceWarning)
            result = op.execute(context)  # type: ignore[arg-type]  # a fake: the keys it reads
    finally:
        op.client.api_client.close()
    return op, result, ti


def test_kpo_runs_on_the_affinity_node_and_streams_logs(
    cluster: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]  # no stubs

    affinity = k8s.V1Affinity(
        node_affinity=k8s.V1NodeAffinity(
            required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                node_selector_terms=[
                    k8s.V1NodeSelectorTerm(
                        match_expressions=[
                            k8s.V1NodeSelectorRequirement(
                                key="kubernetes.io/hostname", operator="In", values=["worker-b2"]
                            )
                        ]
                    )
                ]
            )
        )
    )
    op, result, ti = run(
        cluster, affinity=affinity, env_vars={"DATALOCALITY_CHUNKS": "c3,c7"}, do_xcom_push=False
    )
    assert result is None
    assert op.remote_pod.spec.node_name == "worker-b2"
    assert op.remote_pod.status.phase == "Succeeded"
    assert ti.xcom == {"pod_name": op.pod.metadata.name, "pod_namespace": "default"}
    expected = (
        f"pod default/{op.pod.metadata.name} container base on node worker-b2 "
        "(emulated: no container ran) DATALOCALITY_CHUNKS=c3,c7"
    )
    out, err = capfd.readouterr()
    assert f"[base] {expected}" in out + err  # the operator logged the pod's log line


def test_kpo_xcom_sidecar_and_failure(cluster: Sandbox) -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    op, result, _ = run(
        cluster,
        do_xcom_push=True,
        annotations={"sandbox.datalocality.io/xcom": '{"chunks": {"worker-a2": ["c1"]}}'},
        node_selector={"disktype": "ssd", "topology.kubernetes.io/zone": "eu-west-1b"},
    )
    assert result == {"chunks": {"worker-a2": ["c1"]}}
    assert op.remote_pod.spec.node_name == "worker-b1"
    with pytest.raises(AirflowException):
        run(cluster, do_xcom_push=False, annotations={"sandbox.datalocality.io/exit-code": "2"})
