"""``produce_chunks``: producer replicas as parallel mapped tasks, then one collector.

Expands, inside a TaskGroup named ``task_id``, to::

    replica [mapped: one ProduceChunksPodOperator per replica] ──► collect

``collect`` (CollectChunksOperator) reads every replica's entry (its report and the node
its pod ran on), builds one DataSource from them and

* creates it in Kubernetes (cluster-scoped, its chunks in DataSourceSlices it owns,
  create-or-get, brought up to date when it exists: a rerun adopts what an earlier one
  published, with the reports of the replicas' latest tries),
* returns ``{"data_source": {...}, "replicas": [...]}`` — a valid input of
  DataLocalityPlanOperator and ``locality_pods``, as the group's ``.output`` — and
* sets it as the ``extra`` of its Asset events when ``outlets`` are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TaskGroup

from datalocality.errors import SpecError
from datalocality.kube.names import build_data_source_name
from datalocality.kube.publish import publish_data_source
from datalocality.model import DataSource
from datalocality.model.data import ReclaimPolicy
from datalocality.model.names import check_dns_label, check_text
from datalocality.model.produced import build_produced_source, parse_report
from datalocality.operators.context import literal_text
from datalocality.operators.entries import PRODUCED_KEY
from datalocality.operators.failures import final_failures
from datalocality.operators.produce import ProduceChunksPodOperator, build_producer_replicas
from datalocality.provider.access import ClusterAccess, KubeAccess
from datalocality.provider.hook import DataLocalityHook
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.provider.links import PlacementPlanLink

if TYPE_CHECKING:
    from airflow.sdk import Context


def order_replica_entries(entries: Iterable[object], count: int) -> list[tuple[str, object]]:
    """Every replica's ``(node, report)`` in index order; each of ``0..count-1`` once."""
    found: dict[int, tuple[str, object]] = {}
    for position, entry in enumerate(entries):
        field = f"replicas[{position}]"
        if not isinstance(entry, Mapping) or not {"index", "node", "report"} <= set(entry):
            raise SpecError(
                field, entry, 'must be a producer replica\'s {"index", "node", "report"}'
            )
        index = entry["index"]
        if not isinstance(index, int) or not 0 <= index < count or index in found:
            raise SpecError(f"{field}.index", index, f"must be a distinct index below {count}")
        found[index] = (str(entry["node"] or ""), entry["report"])
    if len(found) != count:
        missing = sorted(set(range(count)) - set(found))
        raise SpecError("replicas", len(found), f"misses the entries of replicas {missing}")
    return [found[i] for i in range(count)]


class CollectChunksOperator(ClusterAccess, BaseOperator):
    """Publish one DataSource from every producer replica's report.

    :param replicas: the replicas' entries (``produce_chunks`` passes the mapped task's
        output: its latest try's return value per replica).
    :param replica_count: how many replicas there are; each must have reported once.
    :param system, data_source_type, data_source_name: the source's identity (default
        ``airflow``/``chunks``/``<dag_id>.<task_id>``; the run id is added as an
        attribute so every run publishes its own source).
    :param publish: also create the DataSource in Kubernetes (default True).
    :param reclaim_policy: ``Delete`` (default: each run publishes its own) or ``Retain``.
    """

    operator_extra_links = (PlacementPlanLink(),)

    template_fields: Sequence[str] = ("replicas", "data_source_name")

    def __init__(
        self,
        *,
        replicas: Any,
        replica_count: int,
        system: str = "airflow",
        data_source_type: str = "chunks",
        data_source_name: str | None = None,
        publish: bool = True,
        reclaim_policy: ReclaimPolicy = "Delete",
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (
            isinstance(replica_count, bool)
            or not isinstance(replica_count, int)
            or replica_count < 1
        ):
            raise SpecError("replica_count", replica_count, "must be an integer >= 1")
        if reclaim_policy not in ("Delete", "Retain"):
            raise SpecError("reclaim_policy", reclaim_policy, "must be Delete or Retain")
        if not isinstance(publish, bool):
            raise SpecError("publish", publish, "must be true or false")
        for field, text in (("system", system), ("data_source_type", data_source_type)):
            if not isinstance(text, str) or not text:
                raise SpecError(field, text, "must be a non-empty string")
            check_text(field, text)
        if (literal := literal_text(data_source_name)) is not None:
            check_text("data_source_name", literal)  # a template: once rendered
        self.replicas = replicas
        self.replica_count = replica_count
        self.system = system
        self.data_source_type = data_source_type
        self.data_source_name = data_source_name
        self.publish = publish
        self.reclaim_policy: ReclaimPolicy = reclaim_policy
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.in_cluster = in_cluster
        self.cluster_context = cluster_context

    def execute(self, context: Context) -> dict[str, Any]:
        """Build, publish and return the run's DataSource; emit it on the outlets."""
        ti = context["ti"]
        with final_failures("xcom"):
            reports = order_replica_entries(self.replicas, self.replica_count)
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

    def _publish(self, source: DataSource) -> None:
        """Create the run's DataSource and its chunk slices, or bring the ones an earlier
        try published up to date: a retried replica may have written elsewhere."""
        name = build_data_source_name(source)
        hook = DataLocalityHook(access=self.access)
        with final_failures():
            client = hook.get_kube_client()
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


class ProducedChunks(TaskGroup):
    """The group ``produce_chunks`` returns; ``output`` is its collector's return value."""

    __slots__ = ()

    @property
    def output(self) -> Any:
        """The collector's XComArg: ``{"data_source": ..., "replicas": [...]}``."""
        collector = self.children[f"{self.group_id}.collect"]
        assert isinstance(collector, CollectChunksOperator)
        return collector.output


def produce_chunks(
    *,
    task_id: str,
    image: str,
    replicas: int = 1,
    replica_overrides: Sequence[Mapping[str, Any]] = (),
    system: str = "airflow",
    data_source_type: str = "chunks",
    data_source_name: str | None = None,
    publish: bool = True,
    reclaim_policy: ReclaimPolicy = "Delete",
    outlets: Sequence[Any] | None = None,
    kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
    config_file: str | None = None,
    in_cluster: bool | None = None,
    cluster_context: str | None = None,
    collect_kwargs: Mapping[str, Any] | None = None,
    **pod_kwargs: Any,
) -> ProducedChunks:
    """A TaskGroup of ``replicas`` parallel producer pods and the task publishing their chunks.

    ``replica_overrides[i]`` (``annotations``, ``node_selector``, ``env``) is merged over
    ``pod_kwargs`` for replica ``i``; ``pod_kwargs`` are KubernetesPodOperator's (``cmds``,
    ``deferrable``, ``retries``...). ``outlets`` go to the collector, which emits the asset
    events. ``group.output`` is what DataLocalityPlanOperator and ``locality_pods`` accept.
    """
    entries = build_producer_replicas(replicas, replica_overrides)
    if (namespace := literal_text(pod_kwargs.get("namespace"))) is not None:
        check_dns_label("namespace", namespace)  # mapped: KPO's own init runs late
    cluster = KubeAccess(kubernetes_conn_id, config_file, cluster_context, in_cluster).kwargs()
    group = ProducedChunks(group_id=task_id)
    with group:
        pods = ProduceChunksPodOperator.partial(
            task_id="replica", image=image, **cluster, **pod_kwargs
        ).expand(replica=entries)
        collect = CollectChunksOperator(
            task_id="collect",
            replicas=pods.output,
            replica_count=replicas,
            system=system,
            data_source_type=data_source_type,
            data_source_name=data_source_name or f"{{{{ dag.dag_id }}}}.{group.group_id}",
            publish=publish,
            reclaim_policy=reclaim_policy,
            outlets=list(outlets or []),
            **cluster,
            **dict(collect_kwargs or {}),
        )
        pods >> collect
    return group
