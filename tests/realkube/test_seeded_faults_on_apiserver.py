"""Seeded fault runs on the real apiserver: the runs of ``tests/kube/test_seeded_faults``
(the pipeline's Kubernetes work with Airflow's retries, every invariant checked after
each try), the provider's client talking through a fault proxy in front of the real
kube-apiserver, as the provider's service account in a restricted namespace.

The proxy (``datalocality_testcluster.faultproxy``) draws the same seeded faults as the
emulator's chaos mode and applies them to the real server's answers: a conflict or an
error instead of forwarding, an AlreadyExists after the create landed, a write forwarded
and never answered, an answer held past the client's timeout, a reset. The checks read
the real apiserver as admin, around the proxy. ``SEEDS=<seed>`` replays one run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from kubernetes import config as kube_config  # type: ignore[import-untyped]
from kubernetes.client import ApiClient, Configuration  # type: ignore[import-untyped]

from datalocality.kube.client import KubeClient
from datalocality.kube.objects import Obj, RetryPolicy
from datalocality.kube.resources import ALL_PODS, Resource, resource_for
from datalocality_testcluster import ControlPlane
from datalocality_testcluster.faultproxy import FaultProxy, start_fault_proxy
from datalocality_testcluster.tenancy import Tenant
from tests.kube.seeded_runs import POLICY, Run, no_sleep, run_seeded

RUNS = int(os.environ.get("APISERVER_RUNS", "100"))
SEEDS = [int(s) for s in os.environ.get("SEEDS", "").split(",") if s] or list(range(RUNS))
PODS = resource_for("v1", "Pod")
ADMIN = RetryPolicy(attempts=3, initial=0.05, max_delay=0.2)
# The emulator answers in a millisecond, the real apiserver (and a loaded CI machine) can
# take tens: a request timeout of 0.05 s there timed out unfaulted requests until a plan
# failed all its tries. 0.3 s is a wide margin; a "timeout" fault holds past it.
PROVIDER = replace(POLICY, request_timeout=0.3)
HOLD = 0.35


@dataclass
class AdminReads:
    """The checks' view: the real apiserver read (and swept) as admin, around the proxy."""

    client: KubeClient
    namespace: str

    def stored(self, resource: Resource, name: str, namespace: str = "") -> Obj | None:
        return self.client.get(resource, name, namespace or None)

    def list_of(self, resource: Resource) -> list[Obj]:
        namespace = self.namespace if resource.namespaced else None
        return self.client.list(resource, namespace)[0]

    def remove_object(self, resource: Resource, name: str, namespace: str = "") -> None:
        resource = PODS if resource is ALL_PODS else resource
        self.client.delete(resource, name, namespace or None)


@pytest.fixture
def proxy(control_plane: ControlPlane) -> Iterator[FaultProxy]:
    with start_fault_proxy(control_plane.server, control_plane.ca_path) as running:
        yield running
        assert running.errors == []


def _through(proxy: FaultProxy, tenant: Tenant) -> ApiClient:
    """The provider's ApiClient (its service account's token) aimed at the proxy."""
    configuration = Configuration()
    kube_config.load_kube_config(
        config_file=str(tenant.kubeconfig_path), client_configuration=configuration
    )
    configuration.host = proxy.url
    # the loader's hook re-applies the kubeconfig (its server too) before each request
    configuration.refresh_api_key_hook = None
    configuration.retries = False  # as the provider's client: KubeClient decides
    return ApiClient(configuration)


def test_seeded_fault_runs_through_a_proxy_break_no_invariant(
    control_plane: ControlPlane, tenant: Tenant, admin: ApiClient, proxy: FaultProxy
) -> None:
    reads = AdminReads(KubeClient(admin, policy=ADMIN), tenant.namespace)
    faulted, retried = 0, 0
    with _through(proxy, tenant) as api_client:
        client = KubeClient(api_client, policy=PROVIDER, sleep=no_sleep)
        for seed in SEEDS:
            run = Run(seed, tenant.namespace)
            tries, fired = run_seeded(client, reads, proxy.faults, run, HOLD)
            retried, faulted = retried + tries, faulted + fired
    kinds = Counter(kind for kind, _, _ in proxy.faults.chaos_fired)
    print(  # the figures README quotes (pytest -s)
        f"real apiserver, seeds {SEEDS[0]}-{SEEDS[-1]}: {len(SEEDS)} runs completed, "
        f"{proxy.forwarded} requests forwarded, {faulted} faults "
        f"({dict(sorted(kinds.items()))}), {retried} task tries failed and retried, "
        "0 invariant violations"
    )
    assert faulted > len(SEEDS) and len(kinds) >= 8, (faulted, kinds)  # the faults did fire
