"""Argo Workflows' workflow-controller, built from its Go module, on the real control plane.

``start_argo(plane, namespace)`` applies Argo's CRDs, writes the controller's ConfigMap in
``namespace`` and runs ``workflow-controller`` (``build-argo.sh`` builds it once, cached
outside the repository) namespaced to it with the admin kubeconfig, without leader
election. The controller is real: it creates the pods, the real scheduler binds them and
PodSecurity admits them; kwok plays the kubelets, so every container (Argo's ``init`` and
``wait`` too) "exits 0" without running.

What kwok cannot do for Argo: run ``argoexec``. Its ``wait`` container is what reports a
template's outputs (a ``WorkflowTaskResult``, then the label
``workflows.argoproj.io/report-outputs-completed=true``); without it a template with
output parameters never gets them, and v3.7's controller keeps such a node unfinished
(``assessNodeStatus`` in ``workflow/controller/operator.go``: "required outputs are not yet
set"). :meth:`ArgoController.report_outputs` writes that object the way the wait container
would, openly standing in for it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from datalocality_testcluster.controlplane import ControlPlane, _apply_crds
from datalocality_testcluster.processes import (
    Component,
    ComponentError,
    start_component,
    wait_until,
)

Obj = dict[str, Any]
ARGO_VERSION = "v3.7.18"  # as pinned in build-argo.sh
EXECUTOR_IMAGE = f"quay.io/argoproj/argoexec:{ARGO_VERSION}"  # never pulled: kwok runs none
EXECUTOR_UID = 8737  # the user argoexec's image runs as
GROUP, VERSION = "argoproj.io", "v1alpha1"
CONFIGMAP = "workflow-controller-configmap"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
NODE_ID_ANNOTATION = "workflows.argoproj.io/node-id"
OUTPUTS_COMPLETED_LABEL = "workflows.argoproj.io/report-outputs-completed"
FINISHED = ("Succeeded", "Failed", "Error")
# logged by Run() only after every informer's cache synced (gccontroller's Run)
READY_LINE = "Starting workflow garbage collector controller"
# a panic the controller recovered from (runtimeutil.HandleCrash) is still a crash
PANIC_LINES = ("Observed a panic", "panic:", "level=fatal")

_HERE = Path(__file__).resolve().parent


def binaries(build: bool = True) -> Path:
    """The directory of the built workflow-controller; builds it first when missing."""
    args = ["bash", str(_HERE / "build-argo.sh")] + ([] if build else ["--print"])
    done = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise ComponentError(f"build-argo.sh failed with code {done.returncode}")
    return Path(done.stdout.strip().splitlines()[-1])


def crd_manifests(bin_dir: Path) -> list[Obj]:
    """Argo's minimal CRDs, as copied from the module by ``build-argo.sh``."""
    loaded: list[Obj] = []
    for path in sorted((bin_dir.parent / "crds").glob("*.yaml")):
        loaded.append(yaml.safe_load(path.read_text()))
    if not loaded:
        raise ComponentError(f"no Argo CRDs in {bin_dir.parent / 'crds'}")
    return loaded


def executor_security_context() -> Obj:
    """The ``init`` and ``wait`` containers' context: restricted (Argo's documented one)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": EXECUTOR_UID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
        "readOnlyRootFilesystem": True,
    }


def controller_config() -> Obj:
    """What goes in the controller's ConfigMap (under its ``config`` key).

    * ``executor.securityContext``: the ``init`` and ``wait`` containers Argo adds get no
      context otherwise, and PodSecurity ``restricted`` would refuse the pod.
    * ``metricsConfig.enabled: false``: the metrics server listens on ``:9090`` of every
      interface (``DefaultPrometheusServerPort``; only the port is configurable, not the
      address) and panics if it is taken, so two controllers, or anything else on 9090,
      would crash it. ``telemetryConfig`` is not read by v3.7's controller; disabled too.

    Not configurable: ``/healthz`` (and pprof) on ``:6060`` of every interface, hard-coded
    in ``cmd/workflow-controller/main.go``; a second controller only logs that the port is
    taken, so readiness is read from the log instead (``READY_LINE``).
    """
    return {
        "executor": {
            "imagePullPolicy": "IfNotPresent",
            "securityContext": executor_security_context(),
        },
        "metricsConfig": {"enabled": False},
        "telemetryConfig": {"enabled": False},
    }


@dataclass
class ArgoController:
    """A running workflow-controller and its namespace; Workflows as plain dicts."""

    namespace: str
    component: Component
    api: client.ApiClient
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def _custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def submit(self, workflow: Obj, *, dry_run: bool = False) -> str:
        """Create the Workflow (``metadata.generateName`` is fine); its name."""
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Workflow", **workflow}
        created = self._custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            "workflows",
            body,
            **({"dry_run": "All"} if dry_run else {}),
        )
        return str(created["metadata"]["name"])

    def get(self, name: str) -> Obj:
        got: Obj = self._custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "workflows", name
        )
        return got

    def wait_for(self, name: str, ready: Callable[[Obj], bool], timeout: float, what: str) -> Obj:
        """Poll the Workflow until ``ready(workflow)``; raises with its status and the
        controller's log on timeout or when the controller dies."""
        deadline = time.monotonic() + timeout
        while True:
            self.component.check_alive()
            workflow = self.get(name)
            if ready(workflow):
                return workflow
            if time.monotonic() > deadline:
                status = yaml.safe_dump(workflow.get("status") or {}, sort_keys=False)
                raise ComponentError(
                    f"workflow {name} not {what} after {timeout:.0f} s; status:\n{status}\n"
                    f"workflow-controller log:\n{self.tail()}"
                )
            time.sleep(0.1)

    def wait(self, name: str, timeout: float = 60) -> Obj:
        """Until the Workflow's phase is Succeeded, Failed or Error; the Workflow."""
        return self.wait_for(
            name, lambda wf: (wf.get("status") or {}).get("phase") in FINISHED, timeout, "finished"
        )

    def pods(self, name: str) -> list[Obj]:
        """The Workflow's pods (label ``workflows.argoproj.io/workflow``), as dicts."""
        listed = client.CoreV1Api(self.api).list_namespaced_pod(
            self.namespace, label_selector=f"{WORKFLOW_LABEL}={name}"
        )
        pods: list[Obj] = self.api.sanitize_for_serialization(listed)["items"]
        return pods

    def report_outputs(self, workflow_name: str, node_id: str, parameters: dict[str, str]) -> None:
        """Report a node's output parameters as argoexec's ``wait`` container would, which
        kwok does not run: a ``WorkflowTaskResult`` named after the node, labelled with the
        workflow and ``report-outputs-completed=true``, owned by the Workflow. The values are
        the test's, not anything a container produced."""
        workflow = self.get(workflow_name)
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkflowTaskResult",
            "metadata": {
                "name": node_id,
                "labels": {WORKFLOW_LABEL: workflow_name, OUTPUTS_COMPLETED_LABEL: "true"},
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "Workflow",
                        "name": workflow_name,
                        "uid": workflow["metadata"]["uid"],
                    }
                ],
            },
            "outputs": {"parameters": [{"name": k, "value": v} for k, v in parameters.items()]},
        }
        self._custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "workflowtaskresults", body
        )

    def shutdown(self, name: str, strategy: str = "Terminate") -> None:
        """Stop the Workflow (``spec.shutdown``: ``Terminate`` or ``Stop``)."""
        self._custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "workflows", name, {"spec": {"shutdown": strategy}}
        )

    def tail(self, lines: int = 40) -> str:
        """The end of the controller's log."""
        return self.component.tail(lines)

    def crash(self) -> str | None:
        """Why the controller is to be considered crashed (exited, or logged a panic)."""
        code = self.component.process.poll()
        if code is not None:
            return f"workflow-controller exited with code {code}"
        log = self.component.log.read_text(errors="replace")
        found = [line for line in PANIC_LINES if line in log]
        return f"workflow-controller logged {found}" if found else None


def _ensure_crds(api: client.ApiClient, crds: list[Obj]) -> None:
    """Apply the CRDs not there yet (a second controller on the same plane finds them)."""
    extensions = client.ApiextensionsV1Api(api)
    existing = {crd.metadata.name for crd in extensions.list_custom_resource_definition().items}
    missing = [crd for crd in crds if crd["metadata"]["name"] not in existing]
    if missing:
        _apply_crds(api, missing)


@contextmanager
def start_argo(
    plane: ControlPlane, namespace: str, *, build: bool = True
) -> Iterator[ArgoController]:
    """Run a workflow-controller managing ``namespace`` (which must exist) until the block
    ends; then stop it (SIGTERM, SIGKILL after 5 s) and fail if it had crashed."""
    began = time.monotonic()
    bin_dir = binaries(build)
    api = plane.api_client()
    core = client.CoreV1Api(api)
    timings: dict[str, float] = {}
    component: Component | None = None
    crashed: str | None = None
    try:
        _ensure_crds(api, crd_manifests(bin_dir))
        timings["crds"] = time.monotonic() - began
        core.create_namespaced_config_map(
            namespace,
            {
                "metadata": {"name": CONFIGMAP},
                "data": {"config": yaml.safe_dump(controller_config(), sort_keys=False)},
            },
        )
        home = plane.workdir / f"argo-{namespace}"
        home.mkdir(exist_ok=True)
        started = time.monotonic()
        component = start_component(
            f"workflow-controller-{namespace}",
            [
                # only what is given here: no ARGO_* or OTEL_* of the caller's environment
                "env",
                "-i",
                f"HOME={home}",
                "LEADER_ELECTION_DISABLE=true",  # single instance: no Lease, starts at once
                "DEFAULT_REQUEUE_TIME=1s",  # as Argo's own dev setup (tasks.yaml): 10 s else
                bin_dir / "workflow-controller",
                f"--kubeconfig={plane.kubeconfig_path}",
                f"--namespace={namespace}",  # where it reads its ConfigMap
                "--namespaced",
                f"--managed-namespace={namespace}",
                f"--executor-image={EXECUTOR_IMAGE}",
                "--loglevel=info",
                "--qps=200",
                "--burst=400",
            ],
            plane.workdir / "logs",
        )
        controller = ArgoController(namespace, component, api, timings)
        # while it starts: the apiserver's first create of a resource it has not seen yet
        # waits about 2 s in ResourceQuota admission ("quota admission added evaluator for:
        # workflows.argoproj.io"); a dry run takes that wait here instead of the first submit
        warm = time.monotonic()
        controller.submit({"metadata": {"generateName": "warm-up-"}, "spec": {}}, dry_run=True)
        timings["first create (quota admission)"] = time.monotonic() - warm
        wait_until(
            component, lambda: READY_LINE in component.log.read_text(errors="replace"), 60, "ready"
        )
        timings["controller ready"] = time.monotonic() - started
        timings["total"] = time.monotonic() - began
        yield controller
        crashed = controller.crash()
    finally:
        if component is not None:
            component.stop()
        try:
            core.delete_namespaced_config_map(CONFIGMAP, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
        api.close()
    if crashed:
        raise ComponentError(f"{crashed}:\n{component.tail() if component else ''}")


__all__ = [
    "ARGO_VERSION",
    "EXECUTOR_IMAGE",
    "ArgoController",
    "binaries",
    "controller_config",
    "crd_manifests",
    "executor_security_context",
    "start_argo",
]
