"""Fault injection: failures before, after (apply-then-fail) and instead of an answer."""

from __future__ import annotations

import pytest
import urllib3
from kubernetes import client, watch  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox import Sandbox


def test_injected_status_codes(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    sandbox.faults.inject("create", "configmaps", code=500)
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert exc.value.status == 500
    assert core.list_namespaced_config_map("default").items == []  # failed before applying
    sandbox.faults.inject("get", "configmaps", code=429, retry_after=0)
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    # urllib3 (under the kubernetes client) honours Retry-After on 429 by itself
    assert core.read_namespaced_config_map("a", "default").metadata.name == "a"
    assert ("get", "configmaps", "a", 429) in sandbox.faults.fired
    sandbox.faults.inject("get", "configmaps", code=503, retry_after=0)
    sandbox.faults.inject("get", "configmaps", code=503, retry_after=0)
    sandbox.faults.inject("get", "configmaps", code=503, retry_after=0)
    sandbox.faults.inject("get", "configmaps", code=503, retry_after=0)
    with pytest.raises(ApiException) as unavailable:
        core.read_namespaced_config_map("a", "default")
    assert unavailable.value.status == 503


def test_apply_then_fail(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    sandbox.faults.inject("create", "configmaps", code=500, after=True)
    with pytest.raises(ApiException):
        core.create_namespaced_config_map("default", {"metadata": {"name": "applied"}})
    assert core.read_namespaced_config_map("applied", "default").metadata.name == "applied"


def test_dropped_connection_after_applying(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    sandbox.faults.inject("create", "configmaps", drop=True)
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.create_namespaced_config_map(
            "default", {"metadata": {"name": "ambiguous"}}, _request_timeout=5
        )
    assert core.read_namespaced_config_map("ambiguous", "default").metadata.name == "ambiguous"


def test_watch_410(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    sandbox.faults.inject("watch", "configmaps", code=410)
    with pytest.raises(ApiException) as exc:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=1
            )
        )
    assert exc.value.status == 410
    assert sandbox.faults.fired == [("watch", "configmaps", None, 410)]
