"""The one place that decides what the client tests talk to: the embedded emulator.

Each test gets its own sandbox (``datalocality_testcluster.sandbox``) on a loopback port, with our
CRDs preloaded, reached over real HTTP through the kubeconfig it writes. The tests use
``api_server`` (:class:`tests.kube.emulator.EmulatedApi`: the sandbox's fault arguments,
direct reads, another actor's writes), ``request_log`` (recorded at the pool manager,
under the real HTTP transport) and the KubeClient.

The ApiClient is built with ``Configuration.retries = False``: urllib3's default Retry
would otherwise re-send idempotent requests on its own (GET/PUT/DELETE on 429/503 with
Retry-After, and on broken connections), hiding from the client the very answers whose
handling these tests count. ``test_faults_on_sandbox`` also runs with urllib3's defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import config as kube_config  # type: ignore[import-untyped]  # no stubs
from kubernetes.client import ApiClient, Configuration  # type: ignore[import-untyped]  # no stubs

from datalocality.kube.client import KubeClient
from datalocality.kube.objects import RetryPolicy
from datalocality_testcluster.sandbox import Sandbox
from tests.kube.emulator import EmulatedApi, start_emulator


@dataclass
class RequestLog:
    """Every request the client sent: (method, path)."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def count(self, method: str = "", path_contains: str = "") -> int:
        """How many requests match the method ('' any) and contain the path fragment."""
        return sum(1 for m, p in self.seen if (not method or m == method) and path_contains in p)


class _Recording:
    """Wraps the real pool manager and logs each request before sending it."""

    def __init__(self, inner: Any, log: RequestLog) -> None:
        self.inner = inner
        self.log = log

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.log.seen.append((method, urlsplit(url).path))
        return self.inner.request(method, url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def api_client_for(
    cluster: Sandbox | Path, log: RequestLog | None = None, *, urllib3_retries: bool = False
) -> ApiClient:
    """An ApiClient configured from a cluster's kubeconfig (close it after use)."""
    configuration = Configuration()
    path = cluster if isinstance(cluster, Path) else cluster.kubeconfig_path
    kube_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    if not urllib3_retries:
        configuration.retries = False
    client = ApiClient(configuration)
    if log is not None:
        client.rest_client.pool_manager = _Recording(client.rest_client.pool_manager, log)
    return client


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_emulator() as running:
        yield running
        assert running.errors == []


@pytest.fixture
def api_server(sandbox: Sandbox) -> EmulatedApi:
    return EmulatedApi(sandbox)


@pytest.fixture
def request_log() -> RequestLog:
    return RequestLog()


@pytest.fixture
def api_client(sandbox: Sandbox, request_log: RequestLog) -> Iterator[ApiClient]:
    client = api_client_for(sandbox, request_log)
    yield client
    client.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def kube(api_client: ApiClient, sleeps: list[float]) -> KubeClient:
    """A client that records its waits instead of sleeping, on a fake clock."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    return KubeClient(api_client, policy=RetryPolicy(), sleep=sleep, clock=lambda: now[0])
