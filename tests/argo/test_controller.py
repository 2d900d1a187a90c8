"""What the provider will ask of Argo Workflows, done by Argo's real workflow-controller
(v3.7.18, built from its Go module) on the real control plane: pods it creates are
admitted by PodSecurity ``restricted``, bound by the real kube-scheduler where node
affinity and ``podSpecPatch`` say, run in DAG order, and fanned out by ``withItems`` and
``withParam``. kwok runs no container, so no ``argoexec`` either: outputs only arrive when
the test reports them as the ``wait`` container would (``report_outputs``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, watch  # type: ignore[import-untyped]  # no stubs

from datalocality.kube.security import container_security_context, pod_security_context
from datalocality_testcluster import ControlPlane
from datalocality_testcluster.argo import NODE_ID_ANNOTATION, ArgoController, start_argo
from datalocality_testcluster.sandbox.podsecurity import restricted_violations
from datalocality_testcluster.tenancy import provision_tenant

Obj = dict[str, Any]
T = TypeVar("T")


def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """``check()`` until it returns something; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {timeout:.0f} s")
        time.sleep(0.05)


def pin(node: str) -> Obj:
    """A required node affinity to exactly ``node``."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def container(**extra: Any) -> Obj:
    """A main container that passes restricted (the pod context comes from the spec)."""
    return {
        "image": "busybox:1.36",
        "command": ["true"],
        "securityContext": container_security_context(),
        **extra,
    }


def workflow(prefix: str, templates: list[Obj], **spec: Any) -> Obj:
    return {
        "metadata": {"generateName": f"{prefix}-"},
        "spec": {
            "entrypoint": templates[0]["name"],
            "securityContext": pod_security_context(run_as_user=1000),
            "templates": templates,
            **spec,
        },
    }


def task_pods(argo: ArgoController, name: str) -> dict[str, Obj]:
    """The workflow's pods by their node's name inside it (``a``, ``replica(0:...)``; ``""``
    for a workflow of one template)."""
    found = {}
    for pod in argo.pods(name):
        node_name = pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
        found[node_name.removeprefix(name).lstrip(".")] = pod
    return found


def node_named(workflow: Obj, display_name: str) -> Obj:
    """A node of the workflow's status by its display name."""
    return next(n for n in workflow["status"]["nodes"].values() if n["displayName"] == display_name)


def env_of(pod: Obj, container_name: str = "main") -> dict[str, str]:
    main = next(c for c in pod["spec"]["containers"] if c["name"] == container_name)
    return {e["name"]: e.get("value", "") for e in main.get("env") or []}


def test_one_pinned_container_is_admitted_and_bound_there(argo: ArgoController) -> None:
    name = argo.submit(
        workflow("one", [{"name": "main", "affinity": pin("worker-a2"), "container": container()}])
    )
    done = argo.wait(name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    [pod] = argo.pods(name)
    # the controller only created it: the real scheduler bound it, to exactly that node
    assert pod["spec"]["nodeName"] == "worker-a2"
    assert pod["spec"]["schedulerName"] == "default-scheduler"
    assert pod["status"]["phase"] == "Succeeded"
    core = client.CoreV1Api(argo.api)

    def scheduled() -> Obj | None:
        events = core.list_namespaced_event(
            argo.namespace, field_selector=f"involvedObject.name={pod['metadata']['name']}"
        ).items
        return next(
            (
                {"by": e.reporting_component, "message": e.message}
                for e in events
                if e.reason == "Scheduled"
            ),
            None,
        )

    event = poll(scheduled, 10, "a Scheduled event")
    assert event["by"] == "default-scheduler"
    assert event["message"].endswith("to worker-a2")
    # admitted by PodSecurity restricted: Argo's init and wait containers as well as main
    labels = core.read_namespace(argo.namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    spec = pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["init"]
    assert sorted(c["name"] for c in spec["containers"]) == ["main", "wait"]
    for c in spec["initContainers"] + spec["containers"]:
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], c["name"]
    assert restricted_violations(spec) == []  # the sandbox's own reading of the profile


def test_restricted_refuses_a_main_container_without_its_context(argo: ArgoController) -> None:
    """The control for the test above: restricted really is enforced on Argo's pods."""
    bare = {"image": "busybox:1.36", "command": ["true"]}
    name = argo.submit(workflow("bare", [{"name": "main", "container": bare}]))
    done = argo.wait(name)
    assert done["status"]["phase"] == "Error", done["status"]
    [node] = done["status"]["nodes"].values()
    assert 'violates PodSecurity "restricted:latest"' in node["message"]
    assert "allowPrivilegeEscalation != false" in node["message"]
    assert argo.pods(name) == []


def test_dag_runs_b_only_after_a_finished(argo: ArgoController) -> None:
    core = client.CoreV1Api(argo.api)
    start = core.list_namespaced_pod(argo.namespace).metadata.resource_version
    name = argo.submit(
        workflow(
            "dag",
            [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "a", "template": "step"},
                            {"name": "b", "template": "step", "dependencies": ["a"]},
                        ]
                    },
                },
                {"name": "step", "container": container()},
            ],
        )
    )
    # every change of the workflow's pods, in the apiserver's (etcd revision) order
    seen: list[tuple[str, str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_pod,
        argo.namespace,
        label_selector=f"workflows.argoproj.io/workflow={name}",
        resource_version=start,
        timeout_seconds=30,
    ):
        pod = event["object"]
        task = pod.metadata.annotations["workflows.argoproj.io/node-name"].rsplit(".", 1)[-1]
        seen.append((event["type"], task, pod.status.phase))
        if ("MODIFIED", "b", "Succeeded") in seen:
            stream.stop()
    assert ("MODIFIED", "b", "Succeeded") in seen, seen
    done = argo.wait(name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    b_created = seen.index(("ADDED", "b", "Pending"))
    a_finished = seen.index(("MODIFIED", "a", "Succeeded"))
    assert a_finished < b_created, seen
    assert seen[0] == ("ADDED", "a", "Pending"), seen
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    assert nodes["b"]["startedAt"] >= nodes["a"]["finishedAt"]


def test_pod_spec_patch_moves_the_pod_and_sets_env(argo: ArgoController) -> None:
    patch = {
        "affinity": pin("worker-b2"),
        "containers": [{"name": "main", "env": [{"name": "DATALOCALITY_SHARD", "value": "7"}]}],
    }
    template = {
        "name": "main",
        "affinity": pin("worker-a1"),  # what the patch replaces
        "podSpecPatch": json.dumps(patch),
        "container": container(env=[{"name": "BASE", "value": "kept"}]),
    }
    name = argo.submit(workflow("patched", [template]))
    done = argo.wait(name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    [pod] = argo.pods(name)
    assert pod["spec"]["nodeName"] == "worker-b2"
    assert pod["spec"]["affinity"] == pin("worker-b2")
    env = env_of(pod)
    assert env["DATALOCALITY_SHARD"] == "7"
    assert env["BASE"] == "kept"  # merged by name, not replaced
    assert "DATALOCALITY_SHARD" not in env_of(pod, "wait")


def _fan_out(items: list[Any], value: str) -> Obj:
    """A DAG task over ``items``, each passing ``value`` as the ``patch`` parameter of a
    template whose ``podSpecPatch`` is that parameter (as the provider builds it)."""
    task = {
        "name": "replica",
        "template": "replica",
        "withItems": items,
        "arguments": {"parameters": [{"name": "patch", "value": value}]},
    }
    return workflow(
        "fan",
        [
            {"name": "main", "dag": {"tasks": [task]}},
            {
                "name": "replica",
                "inputs": {"parameters": [{"name": "patch"}]},
                "podSpecPatch": "{{inputs.parameters.patch}}",
                "container": container(),
            },
        ],
    )


FAN_NODES = ["worker-a1", "worker-a3", "worker-b1"]
FAN_FORMS: dict[str, tuple[list[Any], str]] = {
    # each item the patch's JSON text
    "string-items": ([json.dumps({"affinity": pin(n)}) for n in FAN_NODES], "{{item}}"),
    # map items, the patch a nested object: {{item.patch}} is rendered as its JSON
    "object-field": (
        [{"node": n, "patch": {"affinity": pin(n)}} for n in FAN_NODES],
        "{{item.patch}}",
    ),
}


@pytest.mark.parametrize("form", list(FAN_FORMS))
def test_with_items_passes_one_patch_per_item_to_three_nodes(
    argo: ArgoController, form: str
) -> None:
    items, value = FAN_FORMS[form]
    name = argo.submit(_fan_out(items, value))
    done = argo.wait(name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    pods = argo.pods(name)
    assert len(pods) == 3
    assert sorted(p["spec"]["nodeName"] for p in pods) == FAN_NODES
    for pod in pods:
        assert pod["spec"]["affinity"] == pin(pod["spec"]["nodeName"])


def test_a_json_string_inside_a_map_item_reaches_the_patch_escaped(argo: ArgoController) -> None:
    """The trap beside the forms above: a map item's string field is rendered by
    ``Item.String()`` (JSON-marshalled, outer quotes cut), so JSON text inside it arrives
    with its quotes escaped and the pod is never made."""
    items = [{"node": n, "patch": json.dumps({"affinity": pin(n)})} for n in FAN_NODES]
    name = argo.submit(_fan_out(items, "{{item.patch}}"))
    done = argo.wait(name)
    assert done["status"]["phase"] == "Error", done["status"]
    messages = [n.get("message", "") for n in done["status"]["nodes"].values()]
    assert any(m.endswith("Error applying PodSpecPatch") for m in messages), messages
    assert any('{\\"affinity\\"' in m for m in messages), messages
    assert argo.pods(name) == []


def _outputs_workflow(**spec: Any) -> Obj:
    """``produce`` writes an output parameter (a JSON list) that ``consume`` fans out on."""
    return workflow(
        "outputs",
        [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "produce", "template": "produce"},
                        {
                            "name": "consume",
                            "template": "consume",
                            "dependencies": ["produce"],
                            "withParam": "{{tasks.produce.outputs.parameters.shards}}",
                            "arguments": {"parameters": [{"name": "shard", "value": "{{item}}"}]},
                        },
                    ]
                },
            },
            {
                "name": "produce",
                "container": container(),
                "outputs": {
                    "parameters": [{"name": "shards", "valueFrom": {"path": "/tmp/shards.json"}}]
                },
            },
            {
                "name": "consume",
                "inputs": {"parameters": [{"name": "shard"}]},
                "container": container(
                    env=[{"name": "SHARD", "value": "{{inputs.parameters.shard}}"}]
                ),
            },
        ],
        **spec,
    )


def _produce_pod_finished(argo: ArgoController, name: str) -> Obj:
    """The ``produce`` pod once kwok finished it (every container exit 0) and the
    controller decided, on seeing it, to leave the node unfinished."""
    pod = poll(
        lambda: next(
            (
                p
                for k, p in task_pods(argo, name).items()
                if k == "produce" and p["status"]["phase"] == "Succeeded"
            ),
            None,
        ),
        20,
        "produce's pod Succeeded",
    )
    marker = "leaving phase un-changed: required outputs are not yet set"
    poll(
        lambda: next(
            (
                line
                for line in argo.component.log.read_text().splitlines()
                if marker in line and f"workflow={name}" in line
            ),
            None,
        ),
        20,
        "the controller holding the node back",
    )
    return pod


def test_outputs_never_arrive_without_the_wait_container(argo: ArgoController) -> None:
    """kwok "exits" argoexec's wait container without it reporting anything: the pod
    Succeeded, but v3.7's controller keeps a node with output parameters unfinished until
    they are set (``assessNodeStatus``), so the workflow stays Running; stopping it
    (``spec.shutdown``) ends it."""
    name = argo.submit(_outputs_workflow())
    pod = _produce_pod_finished(argo, name)
    statuses = {c["name"]: c["state"] for c in pod["status"]["containerStatuses"]}
    assert statuses["wait"]["terminated"]["exitCode"] == 0
    assert statuses["main"]["terminated"]["exitCode"] == 0
    running = argo.get(name)
    assert running["status"]["phase"] == "Running"
    produce = node_named(running, "produce")
    assert produce["phase"] in {"Pending", "Running"}, produce
    assert produce["outputs"] == {"exitCode": "0"}  # the controller's own, from the pod
    assert set(task_pods(argo, name)) == {"produce"}  # consume never started
    argo.shutdown(name, "Terminate")
    done = argo.wait(name)
    assert done["status"]["phase"] == "Failed", done["status"]
    assert done["status"]["message"] == "Stopped with strategy 'Terminate'"
    assert "parameters" not in node_named(done, "produce")["outputs"]


def test_reported_outputs_feed_a_with_param_task(argo: ArgoController) -> None:
    name = argo.submit(_outputs_workflow())
    pod = _produce_pod_finished(argo, name)
    argo.report_outputs(
        name, pod["metadata"]["annotations"][NODE_ID_ANNOTATION], {"shards": '["s0", "s1"]'}
    )
    done = argo.wait(name)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    assert nodes["produce"]["outputs"]["parameters"] == [
        {"name": "shards", "value": '["s0", "s1"]'}
    ]
    consumers = {k: p for k, p in task_pods(argo, name).items() if k.startswith("consume")}
    assert sorted(env_of(p)["SHARD"] for p in consumers.values()) == ["s0", "s1"]


def test_a_second_controller_beside_the_first(
    argo: ArgoController, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """Two controllers on one plane, each managing its namespace: no port of theirs
    collides (metrics off; healthz's fixed :6060 is only logged as taken) and neither takes
    the other's workflows."""
    namespace = f"argo-{uuid.uuid4().hex[:8]}"
    with (
        provision_tenant(control_plane, namespace, tmp_path) as tenant,
        start_argo(control_plane, tenant.namespace) as second,
    ):
        ours = second.submit(workflow("second", [{"name": "main", "container": container()}]))
        theirs = argo.submit(workflow("first", [{"name": "main", "container": container()}]))
        assert second.wait(ours)["status"]["phase"] == "Succeeded"
        assert argo.wait(theirs)["status"]["phase"] == "Succeeded"
        assert f"workflow={theirs}" not in second.component.log.read_text()
        assert f"workflow={ours}" not in argo.component.log.read_text()
    argo.component.check_alive()
