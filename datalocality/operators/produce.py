"""ProduceChunksPodOperator: producer pods report their chunks; the task publishes a DataSource.

Each replica is a KubernetesPodOperator run (KPO's own launching, logs, XCom sidecar and
reattach), one after the other, each with ``DATALOCALITY_REPLICA`` in its env and a
``datalocality.io/replica`` label (KPO includes operator labels in its reattach
selector, so a retried task finds the right replica's pod). A replica writes what it
produced to ``/airflow/xcom/return.json``::

    {"chunks": [{"id": "part-00", "size": 268435456}, ...]}

Combined with the node each pod ran on, the reports become one DataSource (identity:
``system``/``data_source_type``/``name`` plus the run id as an attribute) that is

* created in Kubernetes (cluster-scoped, its chunks in DataSourceSlices it owns,
  create-or-get: a retry adopts them),
* returned to XCom as ``{"data_source": {...}, "replicas": [...]}`` — a valid input of
  DataLocalityPlanOperator and ``locality_pods``, and
* set as the ``extra`` of the task's Asset events when ``outlets`` are set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s  # type: ignore[import-untyped]

from datalocality.errors import SpecError
from datalocality.kube.client import KubeClient, build_api_client_without_retries
from datalocality.kube.names import LABEL_REPLICA, build_data_source_name
from datalocality.kube.publish import publish_data_source
from datalocality.model import Chunk, DataSource
from datalocality.model.data import ReclaimPolicy
from datalocality.operators.entries import PRODUCED_KEY
from datalocality.operators.failures import final_failures
from datalocality.operators.rerun import RerunSafePodOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def parse_report(report: object, node: str, field: str) -> list[Chunk]:
    """The chunks one replica reported, located on the node its pod ran on."""
    raw = report.get("chunks") if isinstance(report, Mapping) else report
    if not isinstance(raw, list):
        raise SpecError(field, type(report).__name__, 'must be {"chunks": [{"id", "size"}...]}')
    chunks = []
    for index, item in enumerate(raw):
        entry = {"id": item} if isinstance(item, str) else dict(item)
        entry.setdefault("locations", [node] if node else [])
        try:
            chunks.append(Chunk.parse(entry))
        except SpecError as exc:
            raise SpecError(f"{field}.chunks[{index}].{exc.field}", exc.value, exc.reason) from None
    return chunks


def build_produced_source(
    reports: Sequence[tuple[str, object]],
    *,
    system: str,
    data_source_type: str,
    name: str,
    attributes: Mapping[str, str],
    reclaim_policy: ReclaimPolicy = "Delete",
) -> DataSource:
    """One DataSource from every replica's ``(node, report)``; chunk ids must be unique."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for index, (node, report) in enumerate(reports):
        for chunk in parse_report(report, node, f"replicas[{index}]"):
            if chunk.id in seen:
                raise SpecError(f"replicas[{index}].chunks", chunk.id, "duplicate chunk id")
            seen.add(chunk.id)
            chunks.append(chunk)
    return DataSource(
        system=system,
        name=name,
        data_source_type=data_source_type,
        attributes=dict(attributes),
        chunks=tuple(chunks),
        locality={"nodes": sorted({loc for c in chunks for loc in c.locations})},
        reclaim_policy=reclaim_policy,
    )


class ProduceChunksPodOperator(RerunSafePodOperator):
    """Run ``replicas`` producer pods and publish the chunks they wrote as a DataSource.

    :param replicas: how many producer pods run (one after the other, in this task).
    :param system, data_source_type, data_source_name: the published source's identity
        (default ``airflow``/``chunks``/``<dag_id>.<task_id>``; the run id is added as an
        attribute so every run publishes its own source).
    :param publish: also create the DataSource in Kubernetes (default True).
    :param reclaim_policy: what happens to it once the last claim on it is released:
        ``Delete`` (default: each run publishes its own, so nothing piles up) or ``Retain``.
    :param replica_overrides: per replica, ``annotations``, ``node_selector`` and ``env``
        merged over the operator's (the sandbox's kubelet reads its XCom from an annotation).
    Every other argument is KubernetesPodOperator's; ``do_xcom_push`` is always on.
    """

    template_fields: Sequence[str] = (*KubernetesPodOperator.template_fields, "data_source_name")

    def __init__(
        self,
        *,
        replicas: int = 1,
        system: str = "airflow",
        data_source_type: str = "chunks",
        data_source_name: str | None = None,
        publish: bool = True,
        reclaim_policy: ReclaimPolicy = "Delete",
        replica_overrides: Sequence[Mapping[str, Any]] = (),
        **kwargs: Any,
    ) -> None:
        kwargs["do_xcom_push"] = True
        super().__init__(**kwargs)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise SpecError("replicas", replicas, "must be an integer >= 1")
        self.replicas = replicas
        self.system = system
        self.data_source_type = data_source_type
        self.data_source_name = data_source_name
        self.publish = publish
        if reclaim_policy not in ("Delete", "Retain"):
            raise SpecError("reclaim_policy", reclaim_policy, "must be Delete or Retain")
        self.reclaim_policy: ReclaimPolicy = reclaim_policy
        self.replica_overrides = [dict(o) for o in replica_overrides]
        if len(self.replica_overrides) > replicas:
            raise SpecError("replica_overrides", len(self.replica_overrides), "more than replicas")

    def execute(self, context: Context) -> dict[str, Any]:
        """Run every replica's pod, then publish and return the DataSource."""
        reports: list[tuple[str, object]] = []
        base_env = list(self.env_vars) if isinstance(self.env_vars, list) else self.env_vars
        base_annotations, base_selector = dict(self.annotations), dict(self.node_selector)
        if self.replicas > 1 and self.deferrable:
            self.log.info("%d replicas run one after the other: not deferring", self.replicas)
            self.deferrable = False
        for index in range(self.replicas):
            override = self.replica_overrides[index] if index < len(self.replica_overrides) else {}
            self.labels = {**self.labels, LABEL_REPLICA: str(index)}
            self.annotations = {**base_annotations, **(override.get("annotations") or {})}
            self.node_selector = {**base_selector, **(override.get("node_selector") or {})}
            extra_env = {**(override.get("env") or {}), "DATALOCALITY_REPLICA": str(index)}
            if isinstance(base_env, dict):
                self.env_vars = {**base_env, **extra_env}
            else:
                self.env_vars = [
                    *base_env,
                    *(k8s.V1EnvVar(name=k, value=str(v)) for k, v in extra_env.items()),
                ]
            self.pod_request_obj = None
            self.pod = None
            self.remote_pod = None
            report = super().execute(context)
            node = self._node_of_last_pod()
            self.log.info("replica %d ran on %s and reported %s", index, node, report)
            reports.append((node, report))
        ti = context["ti"]
        with final_failures("xcom"):
            source = build_produced_source(
                reports,
                system=self.system,
                data_source_type=self.data_source_type,
                name=self.data_source_name or f"{ti.dag_id}.{ti.task_id}",
                attributes={"run_id": context["run_id"]},
                reclaim_policy=self.reclaim_policy,
            )
        if self.publish:
            self._publish(source)
        payload = {
            PRODUCED_KEY: source.model_dump(mode="json", by_alias=True),
            "replicas": [
                {"index": i, "node": node, "chunks": len(parse_report(r, node, "report"))}
                for i, (node, r) in enumerate(reports)
            ],
        }
        self._emit_asset_extra(context, payload)
        return payload

    def _node_of_last_pod(self) -> str:
        for pod in (self.remote_pod, self.pod):
            node = getattr(getattr(pod, "spec", None), "node_name", None)
            if node:
                return str(node)
        if self.pod is not None:  # the pod may have been deleted: ask for the last state
            remote = self.pod_manager.read_pod(self.pod)
            return str(remote.spec.node_name or "")
        return ""

    def _publish(self, source: DataSource) -> None:
        """Create the run's DataSource and its chunk slices, or bring the ones an earlier
        try published up to date: a rerun's pods may have written the chunks elsewhere."""
        name = build_data_source_name(source)
        client = KubeClient(build_api_client_without_retries(self.client.api_client))
        try:
            with final_failures():
                stored = publish_data_source(client, name, source)
        finally:
            client.api.close()
        self.log.info(
            "published DataSource %s with %d chunks in %s slices",
            name,
            len(source.chunks),
            stored["spec"].get("slices"),
        )

    def _emit_asset_extra(self, context: Context, payload: dict[str, Any]) -> None:
        outlets = [o for o in self.outlets or [] if type(o).__name__ == "Asset"]
        if not outlets:
            return
        events = context["outlet_events"]
        for outlet in outlets:
            events[outlet].extra = dict(payload)
