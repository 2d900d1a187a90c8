"""KubernetesPodOperator that leaves one pod per task instance when a crashed try reruns.

KPO labels a finished pod ``already_checked`` before the task reports success, and never
reattaches to such a pod. A try killed in between (after the label, before its success
was recorded) left its Succeeded pod behind, and with ``on_finish_action="keep_pod"`` the
next try started a second pod for the same work (tests/airflow/test_crash_recovery.py).
That pod's result cannot be read back (its XCom sidecar is gone), so the work runs again,
in one pod: the finished one is removed first. So is an unchecked pod whose XCom sidecar
has exited: a try killed after KPO read the result (which ends the sidecar) and before it
labelled the pod left it so, and KPO would reattach to it and fail every later try with
"Xcom sidecar container is already terminated" (found by the crash sweep killing the
replica task just before that label's write). Failed pods of earlier tries are kept, as
KPO keeps them, for debugging.

It also pushes XCom ``node``, the node its pod was bound to, before KPO may delete the pod:
where a replica ran is read from there, not from kept pods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.utils.container import (
    container_is_succeeded,
    container_is_terminated,
)
from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import PodDefaults

from datalocality.model.names import check_dns_label
from datalocality.operators.context import literal_text
from datalocality.operators.failures import refused_pod_requests
from datalocality.operators.pod_request import build_restricted_pod_request

if TYPE_CHECKING:
    from airflow.sdk import Context
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]

NODE_XCOM = "node"  # the XCom key of the node a replica's pod was bound to


class RerunSafePodOperator(KubernetesPodOperator):
    """KPO whose reattach-or-create first removes pods an earlier try finished and checked,
    and whose pods (XCom sidecar included) meet the restricted Pod Security Standard."""

    node = ""  # the node this try's pod was bound to, once cleanup has read it

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if (literal := literal_text(self.namespace)) is not None:
            check_dns_label("namespace", literal)  # not the apiserver's 404 later

    def execute(self, context: Context) -> Any:
        """KPO's execute; a request the apiserver refuses for good (403 on pods/exec...)
        fails the task without retries, naming the verb and resource it was refused."""
        with refused_pod_requests():
            return super().execute(context)

    def trigger_reentry(self, context: Context, event: dict[str, Any]) -> Any:
        """KPO's return from deferral, refusals handled as in :meth:`execute`."""
        with refused_pod_requests():
            return super().trigger_reentry(context, event)

    def cleanup(
        self,
        pod: k8s.V1Pod,
        remote_pod: k8s.V1Pod,
        xcom_result: dict[str, Any] | None = None,
        context: Context | None = None,
    ) -> None:
        """KPO's cleanup (it may delete the pod), after recording where the pod ran."""
        node = getattr(getattr(remote_pod, "spec", None), "node_name", None)
        if node:
            self.node = str(node)
            if context is not None:
                context["ti"].xcom_push(key=NODE_XCOM, value=self.node)
        super().cleanup(pod, remote_pod, xcom_result=xcom_result, context=context)

    def build_pod_request_obj(
        self, context: Context | None = None, *, dry_run: bool = False
    ) -> k8s.V1Pod:
        """KPO's pod, with the restricted profile where the user chose no context."""
        pod = super().build_pod_request_obj(context, dry_run=dry_run)
        return build_restricted_pod_request(pod)

    def get_or_create_pod(self, pod_request_obj: k8s.V1Pod, context: Context) -> k8s.V1Pod:
        """KPO's reattach-or-create, after removing pods earlier tries finished."""
        if self.reattach_on_restart:
            self.remove_finished_pods(pod_request_obj.metadata.namespace, context)
        pod: k8s.V1Pod = super().get_or_create_pod(pod_request_obj, context)
        return pod

    def remove_finished_pods(self, namespace: str, context: Context) -> None:
        """Delete this task instance's pods that an earlier try checked and whose base
        container succeeded. Not only Succeeded ones: with the XCom sidecar the pod stays
        Running until the kubelet has seen the killed sidecar exit, seconds later on a real
        cluster, and a rerun in between would start a second pod. Also, with XCom, the
        unchecked ones whose sidecar has exited (see the module's docstring). One list of
        the task instance's pods serves both."""
        selector = self._build_find_pod_label_selector(context, exclude_checked=False)
        for pod in self.client.list_namespaced_pod(namespace, label_selector=selector).items:
            if pod.status is None:
                continue
            labels = pod.metadata.labels or {}
            if labels.get(self.POD_CHECKED_KEY) == "True":
                if pod.status.phase == "Succeeded" or container_is_succeeded(
                    pod, self.base_container_name
                ):
                    self.log.info("Deleting pod %s: an earlier try finished it", pod.metadata.name)
                    self.pod_manager.delete_pod(pod)
            elif (
                self.do_xcom_push  # else an unchecked finished pod is reattached, logs read
                and pod.status.phase != "Failed"
                and container_is_terminated(pod, PodDefaults.SIDECAR_CONTAINER_NAME)
            ):
                self.log.info(
                    "Deleting pod %s: its XCom sidecar has exited, its result is lost",
                    pod.metadata.name,
                )
                self.patch_already_checked(pod, reraise=True)  # not found while it goes
                self.pod_manager.delete_pod(pod)
