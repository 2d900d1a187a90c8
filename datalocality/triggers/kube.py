"""Kubernetes reads for triggers: our sync :class:`KubeClient`, run in a worker thread.

Why not ``kubernetes_asyncio`` (installed with cncf.kubernetes for its own triggers)?
:class:`~datalocality.kube.client.KubeClient` is the one tested path for our CRDs and
Jobs: it classifies status codes (404 → None, 4xx final, 429/5xx retried with backoff)
and returns plain dicts. An async twin would duplicate that logic against another
generated client with other exceptions. A trigger makes one short GET per poll, so a
worker thread per read costs little, the event loop never blocks, and a cancelled wait
abandons the thread (it ends within the request timeout). Building the ``ApiClient``
through cncf.kubernetes's ``KubernetesHook`` honours the same connection, kubeconfig,
context and in-cluster settings as the KubernetesPodOperator; the connection lookup it
makes is a sync SDK call, which Airflow allows from a worker thread of the triggerer.
"""

from __future__ import annotations

from typing import Final

import anyio.to_thread
import urllib3

from datalocality.errors import ApiRejected, ApiUnavailable, ObjectNotFound
from datalocality.kube.client import KubeClient, build_api_client_without_retries
from datalocality.kube.objects import Obj, RetryPolicy
from datalocality.kube.resources import Resource
from datalocality.provider.access import KubeAccess
from datalocality.triggers.base import Outcome, PollingTrigger

# Fewer, shorter tries than a task's writes: the poll loop itself is the outer retry.
POLL_POLICY: Final = RetryPolicy(attempts=3, initial=0.2, max_delay=2.0, request_timeout=20.0)


def build_client(access: KubeAccess) -> KubeClient:
    """A KubeClient on a new ApiClient (blocking: loads config, may read a connection)."""
    hooks_client = access.build_kubernetes_hook().get_conn()
    try:
        return KubeClient(build_api_client_without_retries(hooks_client), policy=POLL_POLICY)
    finally:
        hooks_client.close()  # only its configuration is used


async def open_client(access: KubeAccess) -> KubeClient:
    """Build the client in a worker thread."""
    return await anyio.to_thread.run_sync(build_client, access, abandon_on_cancel=True)


async def close_client(client: KubeClient) -> None:
    """Close the ApiClient's connection pool in a worker thread."""
    await anyio.to_thread.run_sync(client.api.close)


async def read(
    client: KubeClient, resource: Resource, name: str, namespace: str | None
) -> Obj | None:
    """GET one object (None when it does not exist) without blocking the event loop."""
    return await anyio.to_thread.run_sync(
        client.get, resource, name, namespace, abandon_on_cancel=True
    )


def failure(what: str, exc: Exception) -> Outcome:
    """A failed read as an Outcome: 4xx are final, the rest (5xx, network) may pass."""
    if isinstance(exc, ApiRejected) and not isinstance(exc, ObjectNotFound):
        return Outcome("error", f"{what}: the API server refused the read: {exc}")
    if isinstance(exc, ApiUnavailable | urllib3.exceptions.HTTPError | OSError):
        return Outcome("error", f"{what}: {type(exc).__name__}: {exc}", transient=True)
    raise exc


class KubeTrigger(PollingTrigger[KubeClient]):
    """A polling trigger that reads the cluster through one KubeClient per wait."""

    access: KubeAccess

    async def open(self) -> KubeClient:
        """An API client for the cluster."""
        return await open_client(self.access)

    async def close(self, session: KubeClient) -> None:
        """Close the API client."""
        await close_client(session)
