"""The hook's cluster side: KubeClient gets a pool that never retries behind its back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import CoreV1Api  # type: ignore[import-untyped]  # kubernetes ships no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # kubernetes ships no stubs

from datalocality.kube.claims import crd_manifests
from datalocality.provider.hook import DataLocalityHook
from datalocality_testcluster.sandbox import Sandbox, start_sandbox


@pytest.fixture
def emulator() -> Iterator[Sandbox]:
    """The emulator: only it can be told to answer 429 (fault injection)."""
    with start_sandbox(None, crds=crd_manifests()) as sandbox:
        yield sandbox


def test_kube_client_sees_a_429_that_urllib3_would_have_retried(emulator: Sandbox) -> None:
    cluster = emulator
    hook = DataLocalityHook(config_file=str(cluster.kubeconfig_path))
    ours = hook.get_kube_client().api
    theirs = hook.kubernetes_hook.api_client
    assert ours is not theirs
    assert ours.configuration.host == theirs.configuration.host

    cluster.faults.inject("list", "configmaps", code=429, retry_after=0)
    CoreV1Api(theirs).list_namespaced_config_map("default")  # urllib3 retried it unseen
    assert cluster.faults.fired == [("list", "configmaps", None, 429)]

    cluster.faults.inject("list", "configmaps", code=429, retry_after=0)
    with pytest.raises(ApiException) as raised:
        CoreV1Api(ours).list_namespaced_config_map("default")
    assert raised.value.status == 429
