"""Fixtures: a sandbox cluster with our CRDs, a client to arrange objects, trigger runners.

Triggers reach the sandbox the way they reach a cluster: through cncf.kubernetes's
KubernetesHook with the kubeconfig the sandbox writes (``kubernetes_conn_id=None``, so no
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

from datalocality.kube.claims import crd_manifests  # noqa: E402
from datalocality.kube.client import KubeClient  # noqa: E402
from datalocality.sandbox import KubeletTiming, Sandbox, start_sandbox  # noqa: E402
from datalocality.triggers.base import PollingTrigger  # noqa: E402

FAST = KubeletTiming(start_seconds=0.05, run_seconds=0.1)
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


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(NODES, timing=FAST, crds=crd_manifests()) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def kube(sandbox: Sandbox) -> Iterator[KubeClient]:
    with sandbox.api_client() as api:
        yield KubeClient(api)


@pytest.fixture
def access(sandbox: Sandbox) -> dict[str, Any]:
    """Trigger/sensor kwargs reaching the sandbox through its kubeconfig, no connection."""
    return {"kubernetes_conn_id": None, "config_file": str(sandbox.kubeconfig_path)}


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
