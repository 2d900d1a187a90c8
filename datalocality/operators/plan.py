"""DataLocalityPlanOperator: resolve, claim and bind every input, plan, hand out replicas.

The task, in order, each step safe to repeat on a retry (deterministic names from
:mod:`datalocality.kube.names`, create-or-get in :mod:`datalocality.kube.client`):

1. resolve the DataInputs through the configured resolvers (a producer's output is
   already resolved);
2. create or adopt one DataSourceClaim per input and bind it
   (:func:`datalocality.kube.binder.apply_binding`: static to an existing DataSource of
   the same identity, else a new DataSource from the resolver's answer);
3. read the nodes and the pods on them, plan with :func:`datalocality.placement.plan`,
   and plan once more with a locality-blind strategy for comparison;
4. build, in memory, every chunk-list ConfigMap (:mod:`datalocality.kube.chunk_lists`,
   each checked against the 1 MiB limit), the replica entries and the summary; only then
   create, adopt or rewrite the ConfigMaps, and delete those an earlier try wrote beyond
   the set (:func:`datalocality.operators.plan_store.put_chunk_lists`); with
   ``scheduler="volcano"``, create or adopt the replicas' Volcano PodGroup (gang, the
   plan's network topology), owned by the claims like the lists;
5. push the plan's summary (``plan``: no chunk ids, and where the lists are), the
   operation entries the job tasks read (``operations``), the comparison (``baseline``),
   and return one small entry per replica for
   ``DataLocalityPodOperator.partial(...).expand_kwargs(...)``.

The chunk lists cannot fail to fit once the claims are written: lists are sharded, and a
chunk id (at most 253 characters) is far smaller than a shard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio
from airflow.sdk import BaseOperator

from datalocality.binding import matches
from datalocality.errors import PlacementError, SpecError
from datalocality.kube.binder import Bound, apply_binding
from datalocality.kube.chunk_lists import build_chunk_lists
from datalocality.kube.claims import build_data_source_claim, source_state
from datalocality.kube.members import fetch_member_topology, fetch_topology
from datalocality.kube.names import TaskKey, build_claim_name
from datalocality.kube.release import build_owner_references
from datalocality.kube.resources import SOURCES
from datalocality.kube.volcano import SCHEDULERS, VOLCANO_SCHEDULER, build_pod_group, pod_group_name
from datalocality.model import (
    Consumer,
    DataInput,
    DataSource,
    DataSourceClaim,
    PlacementPlan,
    PlacementRequest,
    Topology,
    WorkloadRef,
)
from datalocality.model.names import check_dns_label, check_dns_subdomain
from datalocality.operators.context import literal_text, task_key_of
from datalocality.operators.entries import (
    as_data_input,
    build_consumer,
    build_replica_entries,
    join_chunk_bases,
    parse_inputs,
)
from datalocality.operators.failures import final_failures
from datalocality.operators.placement_view import build_plan_xcoms
from datalocality.operators.plan_report import build_plan_report
from datalocality.operators.plan_store import put_chunk_lists, put_pod_group
from datalocality.placement import STRATEGIES, plan, strategy_names
from datalocality.provider.access import ClusterAccess, parse_access
from datalocality.provider.hook import DataLocalityHook
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.provider.links import PlacementPlanLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from datalocality.kube.client import KubeClient


class DataLocalityPlanOperator(ClusterAccess, BaseOperator):
    """Plan where the replicas of a consumer run, next to the data they read.

    :param inputs: DataInput objects (or dicts) and outputs of ``produce_chunks`` (its collector).
    :param replicas: how many replicas (pods) will read the inputs.
    :param requests: per-replica resource requests (``{"cpu": "500m", "memory": "1Gi"}``).
    :param topology: topology constraint, ``{"mode": "soft", "highest_tier_allowed": 1}``.
    :param partitioning: ``any`` or ``one-per-replica`` (then a repartition may be planned).
    :param strategy: placement strategy (default ``optimal``); ``baseline_strategy`` is the
        locality-blind one the plan is compared with (``spread``).
    :param namespace: where claims and the ConfigMap go (default: the connection's, or
        ``default``).
    :param scheduler: ``default-scheduler``, or ``volcano``: the replicas' pods then carry
        ``schedulerName: volcano`` and belong to one PodGroup (``minMember`` = replicas,
        the topology as its ``networkTopology``) in Volcano queue ``volcano_queue``.
    :param member_clusters: Karmada: each member cluster's name and how to reach its own
        apiserver (``{"eu": cluster_access(...)}``); the topology is read from the members
        (a Karmada apiserver lists no nodes), claims and chunk lists go to the plan's cluster.
    :param datalocality_conn_id: Connection holding the resolvers config (see the hook).
    :param resolvers_config: path of a resolvers config file.
    :param kubernetes_conn_id: cncf.kubernetes connection; or ``config_file`` /
        ``in_cluster`` / ``cluster_context`` as for KubernetesPodOperator.
    """

    operator_extra_links = (PlacementPlanLink(),)
    template_fields: Sequence[str] = (
        "inputs",
        "namespace",
        "resolvers_config",
        "config_file",
        "strategy",
    )
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        inputs: Sequence[Any],
        replicas: int = 1,
        requests: Mapping[str, Any] | None = None,
        topology: Mapping[str, Any] | None = None,
        partitioning: str = "any",
        input_format: str = "chunks",
        workload_class: str = "default",
        node_selector: Mapping[str, str] | None = None,
        consumer_name: str | None = None,
        strategy: str = "optimal",
        baseline_strategy: str | None = "spread",
        scheduler: str = "default-scheduler",
        volcano_queue: str = "default",
        namespace: str | None = None,
        cluster_name: str = "",
        member_clusters: Mapping[str, Mapping[str, Any]] | None = None,
        source_ttl: timedelta | None = timedelta(minutes=5),
        datalocality_conn_id: str | None = None,
        resolvers_config: str | None = None,
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inputs = list(inputs)
        self.replicas = replicas
        self.requests = dict(requests or {})
        self.topology = dict(topology) if topology is not None else None
        self.partitioning = partitioning
        self.input_format = input_format
        self.workload_class = workload_class
        self.node_selector = dict(node_selector or {})
        self.consumer_name = consumer_name
        self.strategy = strategy
        self.baseline_strategy = baseline_strategy
        self.namespace = namespace
        self.cluster_name = cluster_name
        self.member_clusters = {
            check_dns_label("member_clusters", name): dict(access)
            for name, access in (member_clusters or {}).items()
        }
        for member, access in self.member_clusters.items():
            parse_access(access, f"member_clusters.{member}")
        self.source_ttl = source_ttl
        self.datalocality_conn_id = datalocality_conn_id
        self.resolvers_config = resolvers_config
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.in_cluster = in_cluster
        self.cluster_context = cluster_context
        if scheduler not in SCHEDULERS:
            raise SpecError("scheduler", scheduler, f"must be one of {sorted(SCHEDULERS)}")
        self.scheduler = scheduler
        self.volcano_queue = volcano_queue
        # Checked when the DAG is parsed: the DagBag import error names the field, where a
        # run would fail half a minute in.
        self.build_consumer_spec()
        if cluster_name:
            check_dns_label("cluster_name", cluster_name)
        check_dns_subdomain("volcano_queue", volcano_queue)
        if source_ttl is not None and (
            not isinstance(source_ttl, timedelta) or source_ttl < timedelta(0)
        ):
            raise SpecError("source_ttl", source_ttl, "must be a timedelta >= 0 or None")
        self.check_rendered_fields(templated=True)

    def check_rendered_fields(self, *, templated: bool = False) -> None:
        """The templated fields' values, before any request (SpecError names the field);
        ``templated``: when the DAG is parsed, skipping those still holding a template."""
        fields = (
            ("strategy", self.strategy),
            ("baseline_strategy", self.baseline_strategy),
            ("namespace", self.namespace),
        )
        for field, value in fields:
            if not value or (templated and literal_text(value) is None):
                continue
            if field == "namespace":
                check_dns_label(field, value)
            elif value not in STRATEGIES:
                raise SpecError(field, value, f"unknown strategy; choose one of {strategy_names()}")

    def build_consumer_spec(self) -> Consumer:
        """The consumer the arguments describe (pure; SpecError names the bad field)."""
        return build_consumer(
            name=self.consumer_name or self.task_id.rsplit(".", 1)[0],
            replicas=self.replicas,
            requests=self.requests,
            topology=self.topology,
            partitioning=self.partitioning,
            input_format=self.input_format,
            workload_class=self.workload_class,
            node_selector=self.node_selector,
        )

    def get_hook(self) -> DataLocalityHook:
        """The hook for resolvers and the cluster (built when the task runs)."""
        return DataLocalityHook(
            self.datalocality_conn_id, resolvers_config=self.resolvers_config, access=self.access
        )

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Resolve, bind, plan; push the plan; return one entry per replica."""
        with final_failures():
            self.check_rendered_fields()
            items = parse_inputs(self.inputs)
            consumer = self.build_consumer_spec()
        hook = self.get_hook()
        with final_failures():
            client = hook.get_kube_client()
        try:
            return self._plan_on_cluster(context, hook, client, items, consumer)
        finally:
            client.api.close()  # its pooled connections, not left to the garbage collector

    def _plan_on_cluster(
        self,
        context: Context,
        hook: DataLocalityHook,
        client: KubeClient,
        items: list[DataInput | DataSource],
        consumer: Consumer,
    ) -> list[dict[str, Any]]:
        """:meth:`execute` once the inputs are parsed and the client is open."""
        task = task_key_of(context)
        with final_failures():
            namespace = self.namespace or hook.get_namespace()
            claims = self.bind_inputs(client, hook, items, task, namespace)
            sources = join_chunk_bases([bound.data_source for bound in claims])
            topology = self.fetch_plan_topology(client)
            request = PlacementRequest(topology=topology, consumer=consumer, sources=sources)
            chosen = plan(request, self.strategy)
        baseline = self._baseline(request)
        with final_failures():
            lists = build_chunk_lists(chosen, task=task, namespace=namespace)
            group = None
            if self.scheduler == VOLCANO_SCHEDULER:
                group = build_pod_group(
                    consumer, task=task, namespace=namespace, queue=self.volcano_queue
                )
        entries = build_replica_entries(
            chosen,
            topology=topology,
            consumer=consumer,
            chunk_lists=lists,
            namespace=namespace,
            resources={"requests": dict(self.requests)} if self.requests else None,
            pod_group=pod_group_name(task) if group else "",
            sources=sources,
        )
        xcoms = build_plan_xcoms(chosen, lists, baseline, topology, sources)
        with final_failures():
            owners = build_owner_references([bound.claim for bound in claims])
            written = put_chunk_lists(client, lists, task, owners)
            if group:
                self.log.info("Volcano PodGroup %s", put_pod_group(client, group, owners))
        self.log.info("chunk lists in ConfigMaps %s", ", ".join(written))
        for key, value in xcoms.items():
            context["ti"].xcom_push(key=key, value=value)
        self.log.info("placement:\n%s", build_plan_report(xcoms["plan"], xcoms["baseline"]))
        for note in chosen.notes:
            self.log.info("plan note: %s", note)
        return entries

    def fetch_plan_topology(self, client: KubeClient) -> Topology:
        """The plan's cluster's nodes, or every Karmada member's from its own apiserver."""
        if not self.member_clusters:
            return fetch_topology(client, self.cluster_name)
        clients = {
            name: DataLocalityHook(access=parse_access(access, name)).get_kube_client()
            for name, access in self.member_clusters.items()
        }
        try:
            return fetch_member_topology(clients)
        finally:
            for member in clients.values():
                member.api.close()

    def _baseline(self, request: PlacementRequest) -> PlacementPlan | None:
        if not self.baseline_strategy:
            return None
        try:
            return plan(request, self.baseline_strategy)
        except PlacementError as exc:  # a comparison only: never fails the task
            self.log.warning("baseline %s failed: %s", self.baseline_strategy, exc)
            return None

    def bind_inputs(
        self,
        client: KubeClient,
        hook: DataLocalityHook,
        items: Sequence[DataInput | DataSource],
        task: TaskKey,
        namespace: str,
    ) -> list[Bound]:
        """Claim and bind every input; the bound claims and sources, in input order.

        Inputs no DataSource answers yet are resolved first, concurrently, before any
        claim is written (a resolver error leaves nothing behind); the others only when
        their binding asks (a stale or incomplete source): a source the platform
        published needs no resolver.
        """
        answers: dict[str, DataSource] = {
            as_data_input(item).key: item for item in items if isinstance(item, DataSource)
        }
        listed = [source_state(obj).source for obj in client.list(SOURCES)[0]]
        unanswered = [
            item
            for item in items
            if isinstance(item, DataInput) and not any(matches(item, s) for s in listed)
        ]
        answers.update(self.resolve_inputs(hook, unanswered))

        def resolve(data_input: DataInput) -> DataSource:
            if data_input.key not in answers:
                answers.update(self.resolve_inputs(hook, [data_input]))
            return answers[data_input.key]

        bound: list[Bound] = []
        workload = WorkloadRef(name=f"{task.dag_id}.{task.task_id}", namespace=namespace)
        for item in items:
            data_input = as_data_input(item)
            claim = DataSourceClaim(
                name=build_claim_name(task, data_input), input=data_input, workload=workload
            )
            manifest = build_data_source_claim(claim, task=task, namespace=namespace)
            result = apply_binding(
                client,
                manifest,
                resolve=resolve,
                ttl=self.source_ttl,
            )
            source_name = result.source["metadata"]["name"]
            self.log.info("claim %s bound to DataSource %s", claim.name, source_name)
            bound.append(result)
        return bound

    def resolve_inputs(
        self, hook: DataLocalityHook, inputs: Sequence[DataInput]
    ) -> dict[str, DataSource]:
        """Resolve the inputs concurrently through the configured resolvers, by key."""
        if not inputs:
            return {}
        resolvers = hook.get_resolver_set()

        async def run() -> list[DataSource]:
            async with resolvers:
                return await resolvers.resolve_all(inputs)

        found = anyio.run(run)
        return {i.key: s for i, s in zip(inputs, found, strict=True)}
