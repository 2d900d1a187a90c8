"""Pure pieces of the plan task: what its inputs are, and the per-replica entries it returns.

The plan task returns one entry per replica, ``{"replica": {...}}``, so that
``DataLocalityPodOperator.partial(...).expand_kwargs(plan.output)`` gives one mapped task
instance per replica. An entry is plain JSON (it travels through XCom) of about a
kilobyte whatever the chunk count: the replica's planned node, chunk count and bytes, the
camelCase node affinity and env from :mod:`datalocality.kube.affinity` /
:mod:`datalocality.kube.pods`, and where its chunk list is (``chunk_list``, a
:class:`~datalocality.kube.chunk_lists.ChunkListRef`), never the chunk ids.

Inputs are :class:`~datalocality.model.DataInput` objects (or their dicts), or what an
upstream ``produce_chunks`` group's collector
(:class:`~datalocality.operators.CollectChunksOperator`) returned: a
``{"data_source": ...}`` mapping (or a list of them), already resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.affinity import AffinityPolicy, build_affinity
from datalocality.kube.chunk_lists import ChunkListRef, ChunkLists, build_chunk_volume
from datalocality.kube.names import sanitize
from datalocality.kube.pods import build_replica_env
from datalocality.model import (
    Consumer,
    DataInput,
    DataSource,
    PlacementPlan,
    Topology,
    TopologyConstraint,
)

PRODUCED_KEY = "data_source"


def parse_input(value: object, field: str) -> DataInput | DataSource:
    """One input: a DataInput (object or dict), or a producer's output (a resolved source)."""
    if isinstance(value, DataInput | DataSource):
        return value
    if isinstance(value, Mapping):
        if PRODUCED_KEY in value:
            try:
                return DataSource.parse(value[PRODUCED_KEY])
            except SpecError as exc:
                raise SpecError(
                    f"{field}.{PRODUCED_KEY}.{exc.field}", exc.value, exc.reason
                ) from None
        try:
            return DataInput.parse(dict(value))
        except SpecError as exc:
            raise SpecError(f"{field}.{exc.field}", exc.value, exc.reason) from None
    raise SpecError(field, type(value).__name__, "must be a DataInput or a producer's output")


def parse_inputs(values: Iterable[object] | None) -> list[DataInput | DataSource]:
    """Every input, flattening lists (the output of a mapped producer is a list)."""
    parsed: list[DataInput | DataSource] = []
    for index, value in enumerate(values or ()):
        if isinstance(value, list | tuple):
            parsed.extend(parse_input(v, f"inputs[{index}][{j}]") for j, v in enumerate(value))
        else:
            parsed.append(parse_input(value, f"inputs[{index}]"))
    if not parsed:
        raise SpecError("inputs", [], "needs at least one input")
    return parsed


def as_data_input(item: DataInput | DataSource) -> DataInput:
    """The identity a claim is made for (a produced source answers its own identity)."""
    if isinstance(item, DataInput):
        return item
    return DataInput(
        system=item.system,
        name=item.name,
        data_source_type=item.data_source_type,
        attributes=dict(item.attributes),
        require_locality=item.require_locality,
    )


def build_consumer(
    *,
    name: str,
    replicas: int,
    requests: Mapping[str, Any] | None = None,
    topology: Mapping[str, Any] | TopologyConstraint | None = None,
    partitioning: str = "any",
    input_format: str = "chunks",
    workload_class: str = "default",
    node_selector: Mapping[str, str] | None = None,
) -> Consumer:
    """The consumer model from the operator's arguments (SpecError names the field)."""
    data: dict[str, Any] = {
        "name": sanitize(name) or "consumer",
        "replicas": replicas,
        "requests": dict(requests or {}),
        "partitioning": partitioning,
        "inputFormat": input_format,
        "workloadClass": workload_class,
        "nodeSelector": dict(node_selector or {}),
    }
    if topology is not None:
        data["topology"] = topology
    return Consumer.parse(data)


MAX_CHUNK_ID = 253  # Chunk.id's bound


def join_chunk_bases(sources: Sequence[DataSource]) -> list[DataSource]:
    """The plan's inputs with ids a pod can open whatever source they came from.

    One input, or inputs sharing one base, keep their relative ids (the pod joins
    ``DATALOCALITY_CHUNK_BASE``). Inputs of different bases get every id joined to its own
    base, and no base: two prefixes' ``part-0.parquet`` become distinct, openable ids.
    """
    if len({s.chunk_base for s in sources}) <= 1:
        return list(sources)
    joined = []
    for index, source in enumerate(sources):
        base = source.chunk_base
        if not base:
            joined.append(source)
            continue
        chunks = []
        for chunk in source.chunks:
            full = f"{base}/{chunk.id}"
            if len(full) > MAX_CHUNK_ID:
                raise SpecError(
                    f"inputs[{index}].chunks.id",
                    full,
                    f"joined to chunkBase it is over {MAX_CHUNK_ID} characters; read"
                    f" {source.key} in a task of its own",
                )
            chunks.append(chunk.model_copy(update={"id": full}))
        joined.append(source.model_copy(update={"chunks": tuple(chunks), "chunk_base": ""}))
    return joined


def build_replica_entries(
    plan: PlacementPlan,
    *,
    topology: Topology,
    consumer: Consumer,
    chunk_lists: ChunkLists,
    namespace: str,
    resources: Mapping[str, Any] | None = None,
    pod_group: str = "",
    sources: Sequence[DataSource] = (),
) -> list[dict[str, Any]]:
    """One ``{"replica": {...}}`` per replica of the plan, for ``expand_kwargs``;
    ``pod_group`` names the Volcano PodGroup every replica's pod joins; ``sources`` (the
    plan's inputs) tell each pod where its chunk ids point."""
    policy = AffinityPolicy.for_consumer(consumer)
    entries = []
    for index, (replica, ref) in enumerate(zip(plan.replicas, chunk_lists.replicas, strict=True)):
        entry = {
            "index": replica.index,
            "node": replica.node,
            "zone": replica.zone,
            "cluster": replica.cluster,
            "chunk_count": len(replica.chunks),
            "bytes": replica.bytes,
            "local_bytes": replica.local_bytes,
            "moved_bytes": replica.moved_bytes,
            "namespace": namespace,
            "affinity": build_affinity(replica, topology, plan=plan, policy=policy),
            "env": build_replica_env(plan, index, ref, sources),
            "chunk_list": ref.to_json(),
        }
        if resources:
            entry["resources"] = dict(resources)
        if pod_group:
            entry["pod_group"] = pod_group
        entries.append({"replica": entry})
    return entries


def build_replica_chunk_volume(
    replica: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chunk-list volume of a replica entry and its read-only mount, camelCase."""
    try:
        ref = ChunkListRef.parse(replica["chunk_list"])
    except SpecError as exc:
        raise SpecError(
            f"replica.chunk_list.{exc.field}".rstrip("."), exc.value, exc.reason
        ) from None
    return build_chunk_volume(ref)


def check_same_namespace(namespace: str | None, lists: str | None) -> str | None:
    """The namespace a pod or Job runs in: where the plan wrote its chunk lists
    (``lists``), since a pod mounts ConfigMaps of its own namespace only; SpecError when
    another is asked for (the pod would wait forever for a volume it cannot mount)."""
    if namespace and lists and namespace != lists:
        raise SpecError(
            "namespace", namespace, f"the plan's chunk lists are in namespace {lists!r}"
        )
    return namespace or lists
