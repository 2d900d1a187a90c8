"""Fixtures: both clusters with our CRDs, a client to arrange objects, trigger runners.

Triggers reach the cluster as the provider would: through cncf.kubernetes's
KubernetesHook with a kubeconfig (``kubernetes_conn_id=None``, so no
Airflow connection is read). Airflow reads AIRFLOW_HOME when first imported, so a
temporary home is set before anything imports it (the same one tests/airflow uses when
both directories run in one session) and removed at the end if this module made it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_OWN_HOME = "DATALOCALITY_TEST_AIRFLOW_HOME" not in os.environ
if _OWN_HOME:
    os.environ["DATALOCALITY_TEST_AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="datalocality-airflow-")
_HOME = Path(os.environ["DATALOCALITY_TEST_AIRFLOW_HOME"])
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import pytest  # noqa: E402

from datalocality.kube.client import KubeClient  # noqa: E402
from datalocality.triggers.base import PollingTrigger  # noqa: E402
from datalocality_testcluster.clusters import (  # noqa: E402
    KINDS,
    ProviderCluster,
    start_cluster,
)
from datalocality_testcluster.sandbox import Sandbox  # noqa: E402

NODES = {
    "nodes": [
        {"name": "n1", "zone": "z-a", "region": "r", "allocatable": {"cpu": "8", "memory": "16Gi"}},
        {"name": "n2", "zone": "z-b", "region": "r", "allocatable": {"cpu": "8", "memory": "16Gi"}},
    ]
}


@pytest.fixture(scope="session", autouse=True)
def _airflow_home() -> Iterator[Path]:
    yield _HOME
    if _OWN_HOME:
        shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(params=KINDS)
def cluster(request: pytest.FixtureRequest) -> Iterator[ProviderCluster]:
    """Two nodes with our CRDs: the real control plane (restricted ``default`` namespace,
    the provider's service account) and the emulator."""
    with start_cluster(request.param, NODES, run_seconds=0.1) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def sandbox(cluster: ProviderCluster) -> Sandbox:
    """The emulator, for the tests that inject faults (the real apiserver takes none)."""
    if cluster.kind != "sandbox":
        pytest.skip("faults are injected by the emulator only")
    emulator: Sandbox = cluster.admin  # type: ignore[assignment]
    return emulator


@pytest.fixture
def kube(cluster: ProviderCluster) -> Iterator[KubeClient]:
    """An admin client: another actor arranging the objects the triggers wait for."""
    with cluster.api_client() as api:
        yield KubeClient(api)


@pytest.fixture
def access(cluster: ProviderCluster) -> dict[str, Any]:
    """Trigger/sensor kwargs reaching the cluster as the provider, through a kubeconfig."""
    return {"kubernetes_conn_id": None, "config_file": str(cluster.kubeconfig_path)}


def run_trigger(trigger: PollingTrigger[Any]) -> list[dict[str, Any]]:
    """Every event payload the trigger yields (run to its end, as the triggerer would)."""

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    """Run ``action`` in a thread after ``seconds`` (another actor changing the world)."""

    def body() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread
