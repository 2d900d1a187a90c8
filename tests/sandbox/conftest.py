"""Fixtures: a sandbox on a free loopback port, torn down after each test, and its clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox import KubeletTiming, Sandbox, start_sandbox

T = TypeVar("T")
FAST = KubeletTiming(start_seconds=0.05, run_seconds=0.2)
NODES = {
    "nodes": [
        {
            "name": "a1",
            "zone": "z-a",
            "region": "r",
            "labels": {"disk": "ssd", "rank": "3"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"},
        },
        {
            "name": "a2",
            "zone": "z-a",
            "region": "r",
            "labels": {"rank": "7"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "10"},
        },
        {
            "name": "b1",
            "zone": "z-b",
            "region": "r",
            "labels": {"disk": "ssd"},
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "10"},
            "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
        },
    ]
}


def wait_for(probe: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Poll ``probe`` until it returns something truthy (bounded), and return that."""
    end = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(NODES, timing=FAST) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Any]:
    with sandbox.api_client() as api_client:
        yield api_client


@pytest.fixture
def core(api: Any) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def batch(api: Any) -> client.BatchV1Api:
    return client.BatchV1Api(api)


@pytest.fixture
def custom(api: Any) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def pod(name: str, **spec: Any) -> dict[str, Any]:
    """A minimal pod manifest; ``annotations``/``labels`` go to metadata, the rest to spec."""
    meta: dict[str, Any] = {"name": name}
    for key in ("annotations", "labels"):
        if key in spec:
            meta[key] = spec.pop(key)
    body = {"restartPolicy": "Never", "containers": [{"name": "base", "image": "busybox:1"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body}


def phase(core: client.CoreV1Api, name: str, namespace: str = "default") -> str:
    return str(core.read_namespaced_pod(name, namespace).status.phase)
