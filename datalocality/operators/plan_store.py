"""The plan in XCom as a summary, its chunk lists in ConfigMaps, and the way back.

A plan of 100,000 chunks is about 10 MiB of JSON: too much for XCom, for every task that
templates it, and for the UI. So the plan task pushes :func:`build_plan_summary` as its
``plan`` XCom, a few hundred bytes per replica whatever the chunk count: per replica its
index, node, cluster, zone, chunk count, bytes (total, local, moved, per tier), cost, score
terms, reason and where its list is (a :class:`~datalocality.kube.chunk_lists.ChunkListRef`);
per operation the same without bytes (these entries are also the ``operations`` XCom the
job tasks read); the clusters, totals (with the chunk and transfer counts) and notes; and
``chunk_lists``, the ConfigMaps holding the lists with each one's spec hash. Transfers
are not kept one by one: ``bytes_by_tier`` sums them.

:func:`fetch_full_plan` reads the lists back and returns the plan with every replica's and
operation's chunks (for tools and the UI); :func:`put_chunk_lists` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from datalocality.errors import (
    ApiRejected,
    IncompleteChunkLists,
    ObjectConflict,
    ObjectNotFound,
    SpecError,
)
from datalocality.kube.chunk_lists import (
    ChunkListRef,
    ChunkLists,
    chunk_list_selector,
    read_chunk_list,
)
from datalocality.kube.names import ANNOTATION_RUN_KEY, TaskKey, spec_hash
from datalocality.kube.objects import name_of, namespace_of
from datalocality.kube.resources import CONFIGMAPS, resource_of
from datalocality.model import Operation, PlacementPlan, Totals

if TYPE_CHECKING:
    from datalocality.kube.client import KubeClient

# What a summary keeps of each replica and operation, besides counts and chunk lists.
_REPLICA_FIELDS = (
    "index",
    "node",
    "cluster",
    "zone",
    "bytes",
    "local_bytes",
    "moved_bytes",
    "cost",
    "score_terms",
    "reason",
)
_OPERATION_FIELDS = ("kind", "scope", "source", "node", "replica", "reason")


def replica_tiers(plan: PlacementPlan) -> list[list[int]]:
    """Bytes each replica reads per tier (node, zone, region, cluster, farther)."""
    owner = {chunk: i for i, replica in enumerate(plan.replicas) for chunk in replica.chunks}
    tiers = [[r.local_bytes, 0, 0, 0, 0] for r in plan.replicas]
    for transfer in plan.transfers:
        index = owner.get(transfer.chunk)
        if index is not None and 0 < transfer.tier < 5:
            tiers[index][transfer.tier] += transfer.bytes
    return tiers


def build_operation_entries(plan: PlacementPlan, chunk_lists: ChunkLists) -> list[dict[str, Any]]:
    """One entry per operation, without its chunk ids: what the job tasks build Jobs from."""
    return [
        {
            "index": index,
            "kind": operation.kind,
            "scope": operation.scope,
            "source": operation.source,
            "node": operation.node,
            "replica": operation.replica,
            "reason": operation.reason,
            "chunk_count": len(operation.chunks),
            "namespace": chunk_lists.namespace,
            "chunk_list": ref.to_json(),
        }
        for index, (operation, ref) in enumerate(
            zip(plan.operations, chunk_lists.operations, strict=True)
        )
    ]


def parse_operation_entries(entries: object) -> list[tuple[int, Operation, ChunkListRef]]:
    """Each operation entry's index, operation (without chunk ids) and chunk list;
    SpecError naming the entry and field."""
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise SpecError("operations", type(entries).__name__, "must be the plan's operations")
    parsed = []
    for position, entry in enumerate(entries):
        field = f"operations[{position}]"
        if not isinstance(entry, Mapping):
            raise SpecError(field, type(entry).__name__, "must be an operation entry")
        fields = {k: entry[k] for k in _OPERATION_FIELDS if k in entry}
        try:
            operation = Operation.parse(fields | {"chunks": ()})
            ref = ChunkListRef.parse(entry.get("chunk_list"))
        except SpecError as exc:
            raise SpecError(f"{field}.{exc.field}".rstrip("."), exc.value, exc.reason) from None
        index = entry.get("index")
        if not isinstance(index, int) or index < 0:
            raise SpecError(f"{field}.index", index, "must be an integer >= 0")
        parsed.append((index, operation, ref))
    return parsed


def build_plan_summary(plan: PlacementPlan, chunk_lists: ChunkLists) -> dict[str, Any]:
    """The ``plan`` XCom: the plan without chunk ids, and where its lists are."""
    replicas = [
        {
            "index": replica.index,
            "node": replica.node,
            "cluster": replica.cluster,
            "zone": replica.zone,
            "chunk_count": len(replica.chunks),
            "bytes": replica.bytes,
            "local_bytes": replica.local_bytes,
            "moved_bytes": replica.moved_bytes,
            "bytes_by_tier": tiers,
            "cost": replica.cost,
            "score_terms": dict(replica.score_terms),
            "reason": replica.reason,
            "chunk_list": ref.to_json(),
        }
        for replica, tiers, ref in zip(
            plan.replicas, replica_tiers(plan), chunk_lists.replicas, strict=True
        )
    ]
    totals = plan.totals.model_dump(mode="json")
    totals["chunks"] = sum(len(r.chunks) for r in plan.replicas)
    totals["transfers"] = len(plan.transfers)
    return {
        "strategy": plan.strategy,
        "replicas": replicas,
        "operations": build_operation_entries(plan, chunk_lists),
        "clusters": [c.model_dump(mode="json") for c in plan.clusters],
        "totals": totals,
        "notes": list(plan.notes),
        "chunk_lists": chunk_lists.reference(),
    }


def _rows(summary: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    rows = summary.get(field)
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise SpecError(f"summary.{field}", type(rows).__name__, "must be a list of objects")
    return rows


def chunk_list_refs(summary: Mapping[str, Any]) -> list[ChunkListRef]:
    """Every replica's and operation's ChunkListRef in a summary, replicas first."""
    refs = []
    for field in ("replicas", "operations"):
        for index, row in enumerate(_rows(summary, field)):
            try:
                refs.append(ChunkListRef.parse(row.get("chunk_list")))
            except SpecError as exc:
                where = f"summary.{field}[{index}].chunk_list"
                raise SpecError(f"{where}.{exc.field}".rstrip("."), exc.value, exc.reason) from None
    return refs


def plan_from_summary(
    summary: Mapping[str, Any], chunk_lists: Mapping[str, Sequence[str]] | None = None
) -> PlacementPlan:
    """The plan a summary describes, with the chunks ``chunk_lists`` holds by list key
    (``replica-<i>``, ``operation-<j>``); without them every list is empty. No transfers."""
    lists = chunk_lists or {}
    refs = iter(chunk_list_refs(summary))
    totals = summary.get("totals")
    if not isinstance(totals, Mapping):
        raise SpecError("summary.totals", type(totals).__name__, "must be an object")
    data = {
        "strategy": summary.get("strategy"),
        "replicas": [
            {
                **{k: row[k] for k in _REPLICA_FIELDS if k in row},
                "chunks": lists.get(next(refs).key, ()),
            }
            for row in _rows(summary, "replicas")
        ],
        "operations": [
            {
                **{k: row[k] for k in _OPERATION_FIELDS if k in row},
                "chunks": lists.get(next(refs).key, ()),
            }
            for row in _rows(summary, "operations")
        ],
        "clusters": summary.get("clusters") or [],
        "totals": {k: v for k, v in totals.items() if k in Totals.model_fields},
        "notes": summary.get("notes") or [],
    }
    try:
        return PlacementPlan.parse(data)
    except SpecError as exc:
        raise SpecError(f"summary.{exc.field}", exc.value, exc.reason) from None


# -- I/O --------------------------------------------------------------------------------


def put_configmap(client: KubeClient, manifest: dict[str, Any]) -> dict[str, Any]:
    """Create or adopt one chunk-list ConfigMap; a retry whose plan changed rewrites it."""
    try:
        return client.create_or_get(manifest).object
    except ObjectConflict:
        want = manifest["metadata"]["annotations"]

        def rewrite(current: dict[str, Any]) -> dict[str, Any] | None:
            have = (current.get("metadata") or {}).get("annotations") or {}
            if have.get(ANNOTATION_RUN_KEY) != want.get(ANNOTATION_RUN_KEY):
                raise ObjectConflict(f"ConfigMap {name_of(current)} exists and is not ours")
            meta = {**current["metadata"], "annotations": {**have, **want}}
            if "ownerReferences" in manifest["metadata"]:
                meta["ownerReferences"] = manifest["metadata"]["ownerReferences"]
            return {**current, "data": manifest["data"], "metadata": meta}

        resource = resource_of(manifest)
        return client.modify(resource, name_of(manifest), rewrite, namespace=namespace_of(manifest))


def put_chunk_lists(
    client: KubeClient,
    chunk_lists: ChunkLists,
    task: TaskKey,
    owners: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """Write every chunk-list ConfigMap (create, adopt or rewrite), then delete the ones an
    earlier try of ``task`` wrote beyond this set; the names written. ``owners`` (the run's
    claims) become each ConfigMap's ownerReferences: garbage collection removes the lists
    once every claim is gone."""
    names = []
    for built in chunk_lists.configmaps:
        manifest = built
        if owners:
            metadata = {**built["metadata"], "ownerReferences": [dict(o) for o in owners]}
            manifest = {**built, "metadata": metadata}
        put_configmap(client, manifest)
        names.append(name_of(manifest))
    existing, _ = client.list(
        CONFIGMAPS, chunk_lists.namespace, label_selector=chunk_list_selector(task)
    )
    for obj in existing:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if name_of(obj) not in names and annotations.get(ANNOTATION_RUN_KEY) == task.run_key:
            client.delete(CONFIGMAPS, name_of(obj), chunk_lists.namespace)
    return names


def put_pod_group(
    client: KubeClient, manifest: Mapping[str, Any], owners: Sequence[Mapping[str, Any]] = ()
) -> str:
    """Create (or adopt an earlier try's) Volcano PodGroup, owned like the chunk lists by
    the run's claims, so garbage collection removes it when the run is released; its name.
    A cluster without Volcano's CRD is a clear ApiRejected, not a bare 404."""
    body = dict(manifest)
    if owners:
        body["metadata"] = {**manifest["metadata"], "ownerReferences": [dict(o) for o in owners]}
    try:
        created = client.create_or_get(body)
    except ObjectNotFound as exc:
        raise ApiRejected(
            exc.status,
            exc.reason,
            f"the cluster serves no {manifest['apiVersion']} PodGroup: install Volcano's CRDs,"
            " or plan with scheduler='default-scheduler'",
        ) from exc
    return name_of(created.object)


def fetch_chunk_lists(
    client: KubeClient, reference: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """The data of every ConfigMap a summary's ``chunk_lists`` names, by name;
    IncompleteChunkLists when one is missing or no longer holds what the plan wrote."""
    namespace = reference.get("namespace")
    configmaps = reference.get("configmaps")
    if not isinstance(namespace, str) or not isinstance(configmaps, list):
        raise SpecError("chunk_lists", sorted(reference), "needs namespace and configmaps")
    found: dict[str, dict[str, str]] = {}
    for entry in configmaps:
        name, expected = str(entry.get("name", "")), entry.get("spec_hash")
        obj = client.get(CONFIGMAPS, name, namespace)
        if obj is None:
            raise IncompleteChunkLists(name, "is missing")
        if spec_hash(obj) != expected:
            raise IncompleteChunkLists(name, "holds other lists than the plan's (rewritten)")
        found[name] = dict(obj.get("data") or {})
    return found


def fetch_full_plan(client: KubeClient, summary: Mapping[str, Any]) -> PlacementPlan:
    """The plan a ``plan`` XCom summarises, every replica's and operation's chunks read
    back from its ConfigMaps (transfers are not kept: ``totals.bytes_by_tier`` sums them)."""
    reference = summary.get("chunk_lists")
    if not isinstance(reference, Mapping):
        raise SpecError("summary.chunk_lists", type(reference).__name__, "must be an object")
    data = fetch_chunk_lists(client, reference)
    lists = {ref.key: read_chunk_list(ref, data) for ref in chunk_list_refs(summary)}
    return plan_from_summary(summary, lists)
