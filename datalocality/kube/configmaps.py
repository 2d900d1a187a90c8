"""ConfigMaps: the 1 MiB limit, and the chunk -> node ConfigMap in Vineyard's shape.

The chunk lists pods mount are built in :mod:`datalocality.kube.chunk_lists`.
``build_vineyard_configmap`` reproduces the ConfigMap the Vineyard operator's scheduler
writes (``v6d-io/v6d`` ``CreateConfigmapForID``): one key per node, ``<node>: id,id,...``,
plus ``<producer>: ids``; a consumer with ``envFrom: configMapRef`` and ``NODENAME`` from
``spec.nodeName`` reads ``$NODENAME``'s key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.names import TaskKey, build_metadata, build_name, stamp
from datalocality.model import DataSource, PlacementPlan
from datalocality.model.names import check_dns_label

# A ConfigMap holds at most 1 MiB of data (etcd's object limit leaves room for metadata).
CONFIGMAP_LIMIT = 1024 * 1024
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def check_configmap_size(field: str, data: Mapping[str, str]) -> None:
    """SpecError naming ``field`` when ``data`` is over the ConfigMap limit (keys and
    values, in bytes, as the API server counts them)."""
    size = sum(len(k) + len(v.encode("utf-8")) for k, v in data.items())
    if size > CONFIGMAP_LIMIT:
        raise SpecError(field, size, f"bytes exceed the ConfigMap limit of {CONFIGMAP_LIMIT}")


def chunks_by_assignment(plan: PlacementPlan) -> dict[str, list[str]]:
    """Node -> the chunks the plan's replicas on that node read (what ``$NODENAME`` gets)."""
    by_node: dict[str, set[str]] = {}
    for replica in plan.replicas:
        by_node.setdefault(replica.node, set()).update(replica.chunks)
    return {node: sorted(ids) for node, ids in sorted(by_node.items())}


def chunks_by_location(sources: Iterable[DataSource]) -> dict[str, list[str]]:
    """Node -> the chunks with a copy on it (domain-only locations are left out)."""
    by_node: dict[str, set[str]] = {}
    for source in sources:
        for chunk in source.chunks:
            for location in chunk.locations:
                if ":" not in location:
                    by_node.setdefault(location, set()).add(chunk.id)
    return {node: sorted(ids) for node, ids in sorted(by_node.items())}


def build_vineyard_configmap(
    *,
    task: TaskKey,
    namespace: str,
    producer: str,
    producer_chunks: Sequence[str],
    chunks_by_node: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """The Vineyard operator's chunk -> node ConfigMap for the consumer ``task``.

    Keys are node names (``id,id,...``) and ``producer`` (every chunk id it produced, the
    "global objects" of Vineyard). Ids are joined with commas as Vineyard does, so an id
    containing a comma is refused.
    """
    check_dns_label("namespace", namespace)
    if not _KEY.match(producer):
        raise SpecError("producer", producer, "must be a ConfigMap key ([-._a-zA-Z0-9]+)")
    if producer in chunks_by_node:
        raise SpecError("producer", producer, "is also a node name; the keys would collide")
    data: dict[str, str] = {}
    for node, ids in sorted(chunks_by_node.items()):
        if not _KEY.match(node):
            raise SpecError("chunks_by_node", node, "must be a ConfigMap key")
        data[node] = _join(f"chunks_by_node.{node}", ids)
    data[producer] = _join("producer_chunks", sorted(producer_chunks))
    check_configmap_size("chunks_by_node", data)
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": build_metadata(
            task, build_name(task, "vineyard", producer), namespace, component="vineyard"
        ),
        "data": data,
    }
    return stamp(manifest)


def _join(field: str, ids: Iterable[str]) -> str:
    ids = list(ids)
    for chunk_id in ids:
        if "," in chunk_id:
            raise SpecError(field, chunk_id, "chunk ids joined with ',' cannot contain ','")
    return ",".join(ids)
