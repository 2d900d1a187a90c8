"""Repartition and assembly operations a plan needs before its replicas can start.

Repartition (Vineyard's dask repartition): the consumer wants exactly one partition per
replica but an input has another number of chunks; each replica's node merges the chunks
it was assigned. Assembly (Vineyard's assembly): stream chunks feeding a consumer that
reads chunks; local on the one node that holds a whole stream, distributed otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from datalocality.model import Chunk, Operation, PlacementRequest


def plan_operations(
    request: PlacementRequest, nodes: Sequence[str], loads: Sequence[Sequence[Chunk]]
) -> list[Operation]:
    """Operations implied by the request's shapes and a replica assignment."""
    consumer = request.consumer
    operations: list[Operation] = []
    where: dict[str, tuple[int, str]] = {}
    for source in request.sources:
        streams = sorted((c for c in source.chunks if c.kind == "stream"), key=lambda c: c.id)
        count = len(source.chunks)
        repartition = consumer.partitioning == "one-per-replica" and count != consumer.replicas
        if (streams or repartition) and not where:
            where = {c.id: (r, nodes[r]) for r, chunks in enumerate(loads) for c in chunks}
        if streams and consumer.input_format == "chunks":
            operations.extend(_assembly(source.key, streams, where))
        if repartition and count:
            by_id = {c.id: c for c in source.chunks}
            per_replica: dict[int, list[str]] = defaultdict(list)
            for chunk in sorted(source.chunks, key=lambda c: c.id):
                per_replica[where[chunk.id][0]].append(chunk.id)
            for replica, ids in sorted(per_replica.items()):
                node = nodes[replica]
                local = all(node in by_id[i].locations for i in ids)
                operations.append(
                    Operation(
                        kind="repartition",
                        scope="local" if local else "distributed",
                        source=source.key,
                        node=node,
                        chunks=tuple(ids),
                        replica=replica,
                        reason=(
                            f"consumer needs one partition per replica: {count} chunks "
                            f"for {consumer.replicas} replicas"
                        ),
                    )
                )
    return operations


def _assembly(
    key: str, streams: Sequence[Chunk], where: dict[str, tuple[int, str]]
) -> list[Operation]:
    holders = {c.locations[0] if len(c.locations) == 1 else "" for c in streams}
    if len(holders) == 1 and "" not in holders and ":" not in next(iter(holders)):
        node = next(iter(holders))
        reason = f"a stream feeds a chunk consumer; {node} holds the whole stream"
        return [
            Operation(
                kind="assembly",
                scope="local",
                source=key,
                node=node,
                chunks=tuple(c.id for c in streams),
                reason=reason,
            )
        ]
    by_node: dict[str, list[str]] = defaultdict(list)
    for chunk in streams:
        nodes = [loc for loc in chunk.locations if ":" not in loc]
        by_node[nodes[0] if nodes else where[chunk.id][1]].append(chunk.id)
    reason = f"a stream spread over {len(by_node)} nodes feeds a chunk consumer"
    return [
        Operation(
            kind="assembly",
            scope="distributed",
            source=key,
            node=node,
            chunks=tuple(ids),
            reason=reason,
        )
        for node, ids in sorted(by_node.items())
    ]
