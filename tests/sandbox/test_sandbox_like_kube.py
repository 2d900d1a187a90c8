"""The emulator refuses what the real apiserver refuses, with the same cases as
tests/realkube: invalid pods (422, 400 for a quantity), a ConfigMap over 1 MiB (422) and
any object over etcd's 1.5 MiB (500)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from datalocality.kube.claims import crd_manifests
from datalocality_testcluster.sandbox import Sandbox, start_sandbox
from tests.realkube.test_controlplane import INVALID_POD_IDS, INVALID_PODS, restricted_pod
from tests.realkube.test_limits import slice_manifest


@pytest.mark.parametrize(("change", "message"), INVALID_PODS, ids=INVALID_POD_IDS)
def test_invalid_pods_are_refused_as_by_the_apiserver(
    core: client.CoreV1Api, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod("default", restricted_pod("invalid", **change))
    assert raised.value.status == 422
    assert message in raised.value.body


def test_bad_quantity_and_env_name_are_refused_as_by_the_apiserver(
    core: client.CoreV1Api,
) -> None:
    bad_cpu = restricted_pod("cpu")
    bad_cpu["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "lots"}}
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod("default", bad_cpu)
    assert raised.value.status == 400
    assert "quantities must match the regular expression" in raised.value.body
    relaxed = restricted_pod("relaxed")  # any printable name but '=' since 1.34
    relaxed["spec"]["containers"][0]["env"] = [{"name": "1 bad", "value": "x"}]
    core.create_namespaced_pod("default", relaxed)
    bad_env = restricted_pod("env")
    bad_env["spec"]["containers"][0]["env"] = [{"name": "bad=name", "value": "x"}]
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod("default", bad_env)
    assert raised.value.status == 422
    assert "environment variable name" in raised.value.body


def test_configmap_over_one_mebibyte_is_invalid(core: client.CoreV1Api) -> None:
    just = {"metadata": {"name": "just"}, "data": {"x": "a" * (1024 * 1024 - 1)}}
    core.create_namespaced_config_map("default", just)
    over = {"metadata": {"name": "over"}, "data": {"x": "a" * (1024 * 1024 + 1)}}
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_config_map("default", over)
    assert raised.value.status == 422
    assert "may not be more than 1048576 bytes" in raised.value.body


def test_objects_over_etcds_request_limit_fail_as_on_a_cluster() -> None:
    with start_sandbox(None, crds=crd_manifests()) as sandbox, sandbox.api_client() as api:
        custom = client.CustomObjectsApi(api)
        create: Any = custom.create_cluster_custom_object
        create("datalocality.io", "v1alpha1", "datasourceslices", slice_manifest(12000))
        with pytest.raises(ApiException) as raised:
            create("datalocality.io", "v1alpha1", "datasourceslices", slice_manifest(13000))
        assert raised.value.status == 500
        assert "request is too large" in raised.value.body
        assert isinstance(sandbox, Sandbox)


def test_restricted_namespaces_refuse_pods_as_pod_security_does(core: client.CoreV1Api) -> None:
    core.patch_namespace(
        "default", {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    core.create_namespaced_pod("default", restricted_pod("tight"))
    loose = restricted_pod("loose")
    del loose["spec"]["containers"][0]["securityContext"]
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod("default", loose)
    assert raised.value.status == 403
    message = json.loads(raised.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "allowPrivilegeEscalation" in message
