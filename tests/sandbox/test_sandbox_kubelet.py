"""The fake kubelet: phases, container statuses, logs, and waiting on missing config."""

from __future__ import annotations

import re

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from tests.sandbox.conftest import phase, pod, wait_for

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


def test_pending_running_succeeded(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_pod(
        "default", pod("life", annotations={"sandbox.datalocality.io/run-seconds": "1"})
    )
    assert created.status.phase == "Pending"
    wait_for(lambda: phase(core, "life") == "Running")
    running = core.read_namespaced_pod("life", "default")
    status = running.status.container_statuses[0]
    assert status.started and status.ready and status.state.running.started_at
    assert running.status.pod_ip and running.status.host_ip and running.status.start_time
    wait_for(lambda: phase(core, "life") == "Succeeded")
    done = core.read_namespaced_pod("life", "default").status.container_statuses[0].state.terminated
    assert (done.exit_code, done.reason) == (0, "Completed")


def test_exit_code_annotation_fails_the_pod(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        "default", pod("bad", annotations={"sandbox.datalocality.io/exit-code": "3"})
    )
    wait_for(lambda: phase(core, "bad") == "Failed")
    terminated = (
        core.read_namespaced_pod("bad", "default").status.container_statuses[0].state.terminated
    )
    assert (terminated.exit_code, terminated.reason) == (3, "Error")


def test_default_log_names_pod_node_and_chunks(core: client.CoreV1Api) -> None:
    env = [{"name": "DATALOCALITY_CHUNKS", "value": "c1,c2"}]
    core.create_namespaced_pod(
        "default", pod("logs", containers=[{"name": "base", "image": "x:1", "env": env}])
    )
    wait_for(lambda: phase(core, "logs") == "Succeeded")
    text = core.read_namespaced_pod_log("logs", "default", _preload_content=False).data.decode()
    assert (
        text == "pod default/logs container base on node a1 (emulated: no container ran) "
        "DATALOCALITY_CHUNKS=c1,c2\n"
    )


def test_log_annotation_expands_env_and_timestamps_tail(core: client.CoreV1Api) -> None:
    env = [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CHUNKS", "valueFrom": {"configMapKeyRef": {"name": "plan", "key": "chunks"}}},
    ]
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "plan"}, "data": {"chunks": "7,8"}}
    )
    annotations = {"sandbox.datalocality.io/log": "one $(NODE)\ntwo $(CHUNKS)\nthree"}
    core.create_namespaced_pod(
        "default",
        pod(
            "tpl",
            annotations=annotations,
            containers=[{"name": "base", "image": "x:1", "env": env}],
        ),
    )
    wait_for(lambda: phase(core, "tpl") == "Succeeded")
    raw = core.read_namespaced_pod_log(
        "tpl", "default", timestamps=True, _preload_content=False
    ).data.decode()
    lines = raw.splitlines()
    assert all(STAMP.match(line) for line in lines)
    assert [STAMP.sub("", line) for line in lines] == ["one a1", "two 7,8", "three"]
    tail = core.read_namespaced_pod_log(
        "tpl", "default", tail_lines=1, _preload_content=False
    ).data.decode()
    assert tail == "three\n"


def test_follow_streams_until_the_container_ends(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod(
        "default", pod("follow", annotations={"sandbox.datalocality.io/run-seconds": "0.5"})
    )
    wait_for(lambda: phase(core, "follow") == "Running")
    stream = core.read_namespaced_pod_log("follow", "default", follow=True, _preload_content=False)
    body = b"".join(stream.stream())
    assert b"on node a1" in body
    assert phase(core, "follow") == "Succeeded"


def test_log_errors_match_the_api_server(core: client.CoreV1Api) -> None:
    two = [{"name": "a", "image": "x:1"}, {"name": "b", "image": "x:1"}]
    core.create_namespaced_pod("default", pod("two", containers=two, nodeName="nowhere"))
    with pytest.raises(ApiException) as which:
        core.read_namespaced_pod_log("two", "default")
    assert which.value.status == 400 and "choose one of: [a b]" in which.value.body
    with pytest.raises(ApiException) as waiting:
        core.read_namespaced_pod_log("two", "default", container="a")
    assert waiting.value.status == 400 and "waiting to start" in waiting.value.body


def test_missing_config_map_keeps_the_container_waiting(core: client.CoreV1Api) -> None:
    env_from = [{"configMapRef": {"name": "later"}}]
    core.create_namespaced_pod(
        "default", pod("cfg", containers=[{"name": "base", "image": "x:1", "envFrom": env_from}])
    )

    def waiting() -> str | None:
        statuses = core.read_namespaced_pod("cfg", "default").status.container_statuses or []
        return statuses[0].state.waiting.reason if statuses and statuses[0].state.waiting else None

    assert wait_for(waiting) == "CreateContainerConfigError"
    assert phase(core, "cfg") == "Pending"
    core.create_namespaced_config_map("default", {"metadata": {"name": "later"}})
    wait_for(lambda: phase(core, "cfg") == "Succeeded")


def test_projected_config_map_volume_waits_for_its_object_and_keys(core: client.CoreV1Api) -> None:
    items = [{"key": "list.json", "path": "chunks.json"}]
    volume = {
        "name": "v",
        "projected": {"sources": [{"configMap": {"name": "lists", "items": items}}]},
    }
    container = {"name": "base", "image": "x:1", "volumeMounts": [{"name": "v", "mountPath": "/d"}]}
    core.create_namespaced_pod("default", pod("vol", containers=[container], volumes=[volume]))

    def waiting() -> tuple[str, str] | None:
        statuses = core.read_namespaced_pod("vol", "default").status.container_statuses or []
        state = statuses[0].state.waiting if statuses else None
        return (state.reason, state.message) if state else None

    assert wait_for(waiting) == (
        "ContainerCreating",
        'MountVolume.SetUp failed for volume "v" : configmap "lists" not found',
    )
    core.create_namespaced_config_map("default", {"metadata": {"name": "lists"}, "data": {}})
    wait_for(lambda: (waiting() or ("", ""))[1].endswith("non-existent config key: list.json"))
    assert phase(core, "vol") == "Pending"
    core.patch_namespaced_config_map("lists", "default", {"data": {"list.json": "[]"}})
    wait_for(lambda: phase(core, "vol") == "Succeeded")


def test_restart_policy_always_keeps_running(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("server", restartPolicy="Always"))
    wait_for(lambda: phase(core, "server") == "Running")
    core.delete_namespaced_pod("server", "default")
    with pytest.raises(ApiException):
        core.read_namespaced_pod("server", "default")
