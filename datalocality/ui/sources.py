"""Where the plugin's API reads from: Airflow's database (DAG runs, serialized DAGs, XCom)
and the cluster (through the provider's hook). The I/O seam of :mod:`.api`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from kubernetes.config import ConfigException  # type: ignore[import-untyped]
from sqlalchemy import select

from datalocality.errors import KubernetesError, PlacementNotRecorded
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import RetryPolicy
from datalocality.kube.resources import CLAIMS, SOURCES
from datalocality.operators.access import cluster_access
from datalocality.operators.placement_view import ReadXCom
from datalocality.provider.hook import DataLocalityHook
from datalocality.provider.links import PLACEMENT_TAB, build_task_url

UI_TIMEOUT = 5.0  # seconds: a page waits this long for the cluster, not a task's budget


def placement_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """A task instance's Placement tab, relative to the UI's base URL."""
    url = build_task_url(
        "", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, tab=PLACEMENT_TAB
    )
    return url.lstrip("/")


def readable_dag_ids(user: Any) -> set[str]:
    """The DAGs Airflow's auth manager lets ``user`` read."""
    return set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


@contextmanager
def open_dag_run_reader(dag_id: str, run_id: str) -> Iterator[tuple[Any, ReadXCom]]:
    """The serialized DAG of one run (its own version) and a reader of its unmapped
    XComs, over one database session; PlacementNotRecorded when the run is unknown."""
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            raise PlacementNotRecorded(f"DAG {dag_id!r} has no run {run_id!r}")
        dag = DBDagBag().get_dag_for_run(run, session=session)
        if dag is None:
            raise PlacementNotRecorded(f"DAG {dag_id!r} is not serialized for run {run_id!r}")

        def read_xcom(task_id: str, key: str) -> Any:
            query = XComModel.get_many(
                run_id=run_id, key=key, task_ids=task_id, dag_ids=dag_id, map_indexes=-1, limit=1
            )
            row = session.scalars(query).first()
            return None if row is None else XComModel.deserialize_value(row)

        yield dag, read_xcom


def fetch_claim_objects() -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The namespace, its DataSourceClaims and every DataSource, read through the hook
    with the operators' cluster access and a short timeout, no retries."""
    hook = DataLocalityHook(**cluster_access())
    try:
        api, namespace = hook.get_kube_client().api, hook.get_namespace()
    except ConfigException as exc:  # no kubeconfig, no in-cluster config, no connection
        raise KubernetesError(f"no cluster access is configured: {exc}") from None
    client = KubeClient(api, policy=RetryPolicy(attempts=1, request_timeout=UI_TIMEOUT))
    try:
        claims, _ = client.list(CLAIMS, namespace)
        sources, _ = client.list(SOURCES)
        return namespace, claims, sources
    finally:
        client.api.close()
