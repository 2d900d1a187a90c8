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
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from kubernetes import config as kube_config  # type: ignore[import-untyped]
from kubernetes.client import ApiClient, Configuration  # type: ignore[import-untyped]

from datalocality.kube.claims import build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.names import build_claim_name
from datalocality.kube.objects import Obj, RetryPolicy, name_of
from datalocality.kube.resources import ALL_PODS, CLAIMS, Resource, resource_for
from datalocality.model import DataSourceClaim
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
    with start_fault_proxy(
        control_plane.server, control_plane.ca_path, slow_after=PROVIDER.request_timeout
    ) as running:
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


def test_the_first_create_after_start_is_not_delayed_by_the_apiserver(
    control_plane: ControlPlane, admin: ApiClient
) -> None:
    # the module's first test, on a control plane just started: the apiserver's 2 s sleep
    # in creates of a just-Established CRD would time out the seeded runs' 0.3 s client
    run = Run(seed=-1, namespace="default")
    data_input = run.inputs[0]
    claim = DataSourceClaim(name=build_claim_name(run.plan_task, data_input), input=data_input)
    manifest = build_data_source_claim(claim, task=run.plan_task, namespace=run.namespace)
    client = KubeClient(admin, policy=ADMIN)
    began = time.monotonic()
    assert client.create_or_get(manifest).created
    took = time.monotonic() - began
    client.delete(CLAIMS, name_of(manifest), run.namespace)
    assert took < 1.0, f"the first create took {took:.2f} s"


def test_seeded_fault_runs_through_a_proxy_break_no_invariant(
    control_plane: ControlPlane, tenant: Tenant, admin: ApiClient, proxy: FaultProxy
) -> None:
    reads = AdminReads(KubeClient(admin, policy=ADMIN), tenant.namespace)
    faulted, retried = 0, 0
    with _through(proxy, tenant) as api_client:
        client = KubeClient(api_client, policy=PROVIDER, sleep=no_sleep)
        for seed in SEEDS:
            run = Run(seed, tenant.namespace)
            slow_before = len(proxy.slow)
            try:
                tries, fired = run_seeded(client, reads, proxy.faults, run, HOLD)
            except AssertionError as exc:
                raise AssertionError(_with_slow(str(exc), proxy.slow[slow_before:])) from exc
            retried, faulted = retried + tries, faulted + fired
    kinds = Counter(kind for kind, _, _ in proxy.faults.chaos_fired)
    print(  # the figures README quotes (pytest -s)
        f"real apiserver, seeds {SEEDS[0]}-{SEEDS[-1]}: {len(SEEDS)} runs completed, "
        f"{proxy.forwarded} requests forwarded, {faulted} faults "
        f"({dict(sorted(kinds.items()))}), {retried} task tries failed and retried, "
        f"{len(proxy.slow)} unfaulted answers past the client's timeout, 0 invariant violations"
    )
    if len(SEEDS) >= 20:  # the faults did fire (a replay of a seed or two meets few kinds)
        assert faulted > len(SEEDS) and len(kinds) >= 8, (faulted, kinds)


def _with_slow(message: str, slow: list[str]) -> str:
    """A broken invariant's message, naming the answers the apiserver itself was slow to
    give: each one timed out unfaulted, so the run's requests (and the faults drawn for
    them) were not the seed's, and the abandoned request may have landed later."""
    if not slow:
        return message
    return (
        f"{message}; the apiserver answered {len(slow)} unfaulted request(s) past the "
        f"client's {PROVIDER.request_timeout} s timeout: {slow}"
    )
