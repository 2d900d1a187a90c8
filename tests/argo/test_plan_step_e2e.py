"""Planning inside a workflow, on the real controller, scheduler, apiserver and GC.

kwok runs no container, so the test plays each container's body, openly:

* a producer pod "writes" its parts: once kwok has run it, the test reports the chunks as
  its output parameter (the WorkflowTaskResult argoexec's wait container would write);
* the plan step's pod: the test runs ``datalocality.argo.plan_step.main`` with exactly the
  arguments the controller substituted into that pod (the producers' reports and
  ``hostNodeName``), as the provider's service account (``deploy/rbac.yaml``), then
  reports the files it wrote as the step's outputs.

Everything else is Argo's: DAG order, parameter passing, each replica's pod from its
podSpecPatch, the scheduler binding it, the Workflow owning the chunk lists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from datalocality.argo.plan_step import main
from datalocality.argo.producer import REPORT_PARAMETER
from datalocality.kube.client import KubeClient
from datalocality.kube.names import LABEL_COMPONENT as COMPONENT
from datalocality.kube.names import LABEL_REPLICA
from datalocality_testcluster import ControlPlane
from datalocality_testcluster.argo import ArgoController
from datalocality_testcluster.tenancy import Tenant
from tests.argo.support import load_example
from tests.kube.conftest import api_client_for

T = TypeVar("T")
MiB = 1024 * 1024
PARTS = {0: ["part-00", "part-01", "part-02", "part-03"], 1: ["part-04", "part-05"]}


def poll(read: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while (value := read()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def node_named(argo: ArgoController, workflow: str, display: str) -> dict[str, Any] | None:
    nodes = (argo.get(workflow).get("status") or {}).get("nodes") or {}
    return next((n for n in nodes.values() if n.get("displayName") == display), None)


def finished_pod(argo: ArgoController, workflow: str, display: str) -> dict[str, Any]:
    """The pod of node ``display`` once kwok has run it to completion."""

    def read() -> dict[str, Any] | None:
        node = node_named(argo, workflow, display)
        if node is None:
            return None
        for pod in argo.pods(workflow):
            annotations = pod["metadata"].get("annotations") or {}
            if annotations.get("workflows.argoproj.io/node-name", "").endswith(f".{display}"):
                return pod if pod["status"].get("phase") == "Succeeded" else None
        return None

    pod = poll(read, 60, f"the pod of {display} to finish")
    pod["node_id"] = node_named(argo, workflow, display)["id"]  # type: ignore[index]
    return pod


def test_chunk_pipeline_plans_on_where_its_producers_ran(
    control_plane: ControlPlane,
    argo: ArgoController,
    argo_tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (workflow,) = load_example("chunk_pipeline").build(namespace=argo.namespace)
    # the producers on two nodes (else the scheduler may stack them, and the replicas
    # could not all fit beside the data): as a user would spread writers
    extract = next(t for t in workflow["spec"]["templates"] if t["name"] == "extract")
    extract["affinity"] = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"datalocality.io/component": "producer"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    name = argo.submit(workflow)
    written: dict[str, str] = {}  # part -> the node its producer ran on
    for index, parts in PARTS.items():
        pod = finished_pod(argo, name, f"extract-{index}")
        report = {"chunks": [{"id": p, "size": 64 * MiB} for p in parts]}
        argo.report_outputs(name, pod["node_id"], {REPORT_PARAMETER: json.dumps(report)})
        written.update(dict.fromkeys(parts, pod["spec"]["nodeName"]))
    plan_pod = finished_pod(argo, name, "sessionize-plan")
    (step,) = [c for c in plan_pod["spec"]["containers"] if c["name"] == "main"]
    args = list(step["args"])
    out = tmp_path / "out"  # the step's emptyDir, here
    args[args.index("--out") + 1] = str(out)
    with api_client_for(argo_tenant.kubeconfig_path) as api:  # the provider's identity
        assert main(args, client=KubeClient(api)) == 0
    log = capsys.readouterr().out  # the step's log: the plan next to a locality-blind one
    assert "placement:" in log and "spread" in log, log
    outputs = {path.name: path.read_text() for path in out.iterdir()}
    argo.report_outputs(name, plan_pod["node_id"], outputs)
    done = argo.wait(name, timeout=90)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    admin = control_plane.api_client()
    try:
        core = client.CoreV1Api(admin)
        replicas = [
            p for p in argo.pods(name) if p["metadata"]["labels"].get(COMPONENT) == "replica"
        ]
        assert sorted(int(p["metadata"]["labels"][LABEL_REPLICA]) for p in replicas) == [0, 1, 2]
        read: list[str] = []
        for pod in replicas:
            index = pod["metadata"]["labels"][LABEL_REPLICA]
            assert pod["spec"]["nodeName"] == outputs[f"node-{index}"]  # the real scheduler
            volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "datalocality-chunks")
            ids: list[str] = []
            for source in volume["projected"]["sources"]:
                ref = source["configMap"]
                data = core.read_namespaced_config_map(ref["name"], argo.namespace).data
                ids += json.loads(data[ref["items"][0]["key"]])
            # a plan with room for every replica on the producers' nodes moves nothing
            assert {written[i] for i in ids} <= {pod["spec"]["nodeName"]}, (ids, written)
            read += ids
        assert sorted(read) == sorted(written)  # every part read exactly once
        # the chunk lists are the Workflow's: deleting it, the real GC deletes them
        lists = {
            source["configMap"]["name"]
            for pod in replicas
            for volume in pod["spec"]["volumes"]
            if volume["name"] == "datalocality-chunks"
            for source in volume["projected"]["sources"]
        }
        client.CustomObjectsApi(admin).delete_namespaced_custom_object(
            "argoproj.io", "v1alpha1", argo.namespace, "workflows", name
        )

        def gone() -> bool | None:
            for configmap in lists:
                try:
                    core.read_namespaced_config_map(configmap, argo.namespace)
                    return None
                except ApiException as exc:
                    if exc.status != 404:
                        raise
            return True

        poll(gone, 60, "the garbage collector to delete the chunk lists")
    finally:
        admin.close()
