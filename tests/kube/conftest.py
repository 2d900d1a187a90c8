"""The one place that decides what the client tests talk to.

Today: :class:`tests.kube.fake_api.FakeApiServer` behind ``ApiClient.rest_client``'s
pool manager. Switching to the embedded emulator (``datalocality.sandbox``) means
changing ``api_server`` and ``api_client`` here: the tests use only ``server.inject``
(the sandbox's fault arguments), ``request_log`` (recorded at the pool manager, so it
works over real HTTP too) and the KubeClient.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes.client import ApiClient, Configuration

from datalocality.kube.client import KubeClient
from datalocality.kube.objects import RetryPolicy
from tests.kube.fake_api import FakeApiServer


@dataclass
class RequestLog:
    """Every request the client sent: (method, path)."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def count(self, method: str = "", path_contains: str = "") -> int:
        """How many requests match the method ('' any) and contain the path fragment."""
        return sum(1 for m, p in self.seen if (not method or m == method) and path_contains in p)


class _Recording:
    """Wraps a pool manager (fake or real) and logs each request before sending it."""

    def __init__(self, inner: Any, log: RequestLog) -> None:
        self.inner = inner
        self.log = log

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.log.seen.append((method, urlsplit(url).path))
        return self.inner.request(method, url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def api_server() -> FakeApiServer:
    return FakeApiServer()


@pytest.fixture
def request_log() -> RequestLog:
    return RequestLog()


@pytest.fixture
def api_client(api_server: FakeApiServer, request_log: RequestLog) -> Iterator[ApiClient]:
    config = Configuration(host="http://fake.invalid")
    client = ApiClient(config)
    client.rest_client.pool_manager = _Recording(api_server, request_log)
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
