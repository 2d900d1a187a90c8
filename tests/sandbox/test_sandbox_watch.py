"""Watches through kubernetes.watch: events, selectors, resourceVersion, 410 Gone."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, watch  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox import Sandbox


def events(core: client.CoreV1Api, **kwargs: Any) -> list[tuple[str, str, dict[str, str]]]:
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, "default", timeout_seconds=1, **kwargs
    )
    return [
        (e["type"], e["object"].metadata.name, e["object"].metadata.labels or {}) for e in stream
    ]


def test_watch_from_a_resource_version_sees_every_change(core: client.CoreV1Api) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "w"}})
    core.patch_namespaced_config_map("w", "default", {"metadata": {"labels": {"a": "b"}}})
    core.delete_namespaced_config_map("w", "default")
    seen = events(core, resource_version=start)
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


def test_watch_without_version_starts_with_current_objects(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "old"}})
    assert [(t, n) for t, n, _ in events(core)] == [("ADDED", "old")]


def test_label_selected_watch_reports_objects_entering_and_leaving(core: client.CoreV1Api) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"app": "a"}}})
    core.patch_namespaced_config_map("x", "default", {"metadata": {"labels": {"app": "b"}}})
    seen = events(core, resource_version=start, label_selector="app=a")
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "x"), ("DELETED", "x")]


def test_events_arrive_while_watching(core: client.CoreV1Api, sandbox: Sandbox) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    w = watch.Watch()
    stream = w.stream(
        core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=10
    )
    core.create_namespaced_config_map("default", {"metadata": {"name": "live"}})
    first = next(stream)
    w.stop()
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "live")
    assert int(first["object"].metadata.resource_version) > int(start)


def test_too_old_resource_version_is_410_gone(core: client.CoreV1Api, sandbox: Sandbox) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    sandbox.compact()
    with pytest.raises(ApiException) as exc:
        list(
            watch.Watch().stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=start,
                timeout_seconds=1,
            )
        )
    assert exc.value.status == 410
    latest = core.list_namespaced_config_map("default").metadata.resource_version
    assert events(core, resource_version=latest) == []


def test_raw_watch_lines_are_json_events(api: Any, sandbox: Sandbox) -> None:
    core = client.CoreV1Api(api)
    start = core.list_node().metadata.resource_version
    core.patch_node("a1", {"metadata": {"labels": {"seen": "yes"}}})
    response = core.list_node(
        watch=True, resource_version=start, timeout_seconds=1, _preload_content=False
    )
    lines = [line for line in response.read().decode().splitlines() if line]
    response.release_conn()
    assert len(lines) == 1 and '"type": "MODIFIED"' in lines[0] and '"seen": "yes"' in lines[0]
