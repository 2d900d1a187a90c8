"""DataLocalityPodOperator: a KubernetesPodOperator that runs one replica of a plan.

Everything KPO does — building the pod from its arguments, launching, log streaming,
deferrable mode, reattaching to a pod a crashed try left running, XCom, cleanup — is
KPO's own code; this subclass only edits the built pod request with the replica's node
affinity, chunk list (env and files projected from its ConfigMaps) and labels
(:func:`~datalocality.operators.pod_request.build_replica_pod_request`, the same merge the
golden-tested :func:`~datalocality.kube.pods.build_replica_pod` makes).

Every pod, KPO's XCom sidecar included, meets the restricted Pod Security Standard: the
security contexts the user gives (KPO's ``security_context`` and
``container_security_context``) are completed, never replaced. Pods run as uid
``DEFAULT_RUN_AS_USER`` (65534) unless ``security_context={"runAsUser": 1000}`` (add
``runAsGroup``/``fsGroup`` as needed) names another.

``DataLocalityPodOperator.partial(task_id=..., image=...).expand_kwargs(plan.output)``
gives one mapped task instance per replica. Each pushes ``node``, the node its pod was
bound to, before KPO deletes the pod: where a replica ran outlives the pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

from datalocality.errors import SpecError
from datalocality.operators.context import task_key_of
from datalocality.operators.entries import check_same_namespace
from datalocality.operators.failures import final_failures
from datalocality.operators.pod_request import build_replica_pod_request
from datalocality.operators.rerun import RerunSafePodOperator
from datalocality.provider.links import PlacementPlanLink

if TYPE_CHECKING:
    from airflow.sdk import Context
    from kubernetes.client import models as k8s  # type: ignore[import-untyped]

REPLICA_KEYS = ("index", "node", "chunk_count", "affinity", "env", "chunk_list")


def check_replica(replica: object) -> Mapping[str, Any]:
    """A replica entry as the plan task returns it; SpecError naming what is missing."""
    if not isinstance(replica, Mapping):
        raise SpecError("replica", type(replica).__name__, "must be one entry of the plan task")
    missing = [key for key in REPLICA_KEYS if key not in replica]
    if missing:
        raise SpecError("replica", sorted(replica), f"misses {missing}")
    return replica


class DataLocalityPodOperator(RerunSafePodOperator):
    """Run replica ``replica`` of a placement plan as a pod on its planned node.

    :param replica: one entry returned by DataLocalityPlanOperator (usually given through
        ``expand_kwargs``). Every other argument is KubernetesPodOperator's; the uid is
        KPO's ``security_context={"runAsUser": ...}`` (65534 when not given).
    """

    operator_extra_links = (PlacementPlanLink(),)
    template_fields: Sequence[str] = (*KubernetesPodOperator.template_fields, "replica")

    def __init__(self, *, replica: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # the replica is checked when the pod is built: given by expand_kwargs, this runs
        # when Airflow unmaps the task, where a SpecError would be retried
        self.replica = replica
        if self.namespace is None and isinstance(replica, Mapping):
            self.namespace = replica.get("namespace")

    def build_pod_request_obj(
        self, context: Context | None = None, *, dry_run: bool = False
    ) -> k8s.V1Pod:
        """KPO's pod with the replica's affinity, chunk list and labels applied."""
        pod = super().build_pod_request_obj(context, dry_run=dry_run)
        if self.replica is None:
            return pod
        task = task_key_of(context) if context is not None else None
        with final_failures():
            replica = check_replica(self.replica)
            lists = replica.get("namespace")
            check_same_namespace(self.namespace, lists if isinstance(lists, str) else None)
            return build_replica_pod_request(
                pod, replica, task=task, container_name=self.base_container_name
            )
