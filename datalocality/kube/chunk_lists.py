"""Chunk lists for pods: every replica's and operation's list in ConfigMaps under 1 MiB.

A ConfigMap holds at most 1 MiB of data, and 100,000 realistic chunk ids are about
10 MiB of JSON. So each list is cut, in order, into shards of at most
:data:`SHARD_BYTES` (JSON arrays), and the shards go into ConfigMaps of at most
:data:`CONFIGMAP_DATA_BYTES` of data: lists of one shard share ConfigMaps, packed in
plan order (100 replicas of 1,000 chunks: 17 objects to write, not 100), and a list of
several shards gets one ConfigMap per shard. Nothing here does I/O; sizes are known
before anything is written.

Objects and keys. The ConfigMaps of a plan task are ``<stem>-0``, ``<stem>-1``...
(:func:`chunk_list_configmap_name`), labelled with the task and component
``chunk-lists``. List ``replica-<i>`` (or ``operation-<j>``) is key ``replica-<i>.json``
when it is one shard, else keys ``replica-<i>-<s>.json`` in ConfigMaps ``first + s``; a
small list also has ``replica-<i>.env``, its ids comma-joined, for the env var.

What a pod reads, from one projected volume at ``/etc/datalocality``:

* ``chunks-0.json`` ... ``chunks-<K-1>.json``: JSON arrays; concatenated in order they
  are the pod's list (K = ``DATALOCALITY_CHUNK_FILES``, at least 1);
* ``chunks.json``: the whole list, when it is one shard (K = 1: lists up to 511 KiB,
  some 6,000 ids of 80 characters);

and in its environment ``DATALOCALITY_CHUNK_COUNT`` (ids), ``DATALOCALITY_CHUNK_FILES``
(K), ``DATALOCALITY_CHUNKS_DIR``, ``DATALOCALITY_CHUNKS_FILE`` (``chunks.json``, when
K = 1) and ``DATALOCALITY_CHUNKS`` (the ids comma-joined, from the ConfigMap) when they
are at most :data:`ENV_CHUNKS_BYTES` and no id holds a comma.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from datalocality.errors import IncompleteChunkLists
from datalocality.kube.configmaps import check_configmap_size
from datalocality.kube.names import (
    HASH_LENGTH,
    MAX_NAME,
    TaskKey,
    build_metadata,
    build_name,
    selector,
    spec_hash,
    stamp,
)
from datalocality.model import PlacementPlan
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label

Obj = dict[str, Any]
CHUNKS_DIR = "/etc/datalocality"
CHUNKS_FILE = f"{CHUNKS_DIR}/chunks.json"
CHUNKS_VOLUME = "datalocality-chunks"
COMPONENT = "chunk-lists"
# Half the ConfigMap limit, as DataSourceSlices take a third of etcd's: far from every
# limit on the way (the 1 MiB check, etcd, watch events, the kubelet's cache).
CONFIGMAP_DATA_BYTES = 512 * 1024
SHARD_BYTES = CONFIGMAP_DATA_BYTES - 1024  # room for the keys beside a shard
# DATALOCALITY_CHUNKS only for short lists: a pod's env is copied into every process.
ENV_CHUNKS_BYTES = 4 * 1024
_KIND = "chunks"
_STEM_TAIL = len(f"-{_KIND}-") + HASH_LENGTH  # what build_name ends a stem with
_quote = json.encoder.encode_basestring_ascii  # a JSON string, as json.dumps writes it


def chunk_list_stem(task: TaskKey) -> str:
    """What every chunk-list ConfigMap name of a plan task instance starts with."""
    return build_name(task, _KIND)


def chunk_list_configmap_name(stem: str, index: int) -> str:
    """ConfigMap ``index`` of a stem: ``<stem>-<index>``, the readable head of the stem
    cut (never its hash) to stay within 63 characters."""
    suffix = f"-{index}"
    room = MAX_NAME - len(suffix)
    if len(stem) <= room:
        return stem + suffix
    head, tail = stem[:-_STEM_TAIL], stem[-_STEM_TAIL:]
    return head[: room - len(tail)].rstrip("-") + tail + suffix


def chunk_list_selector(task: TaskKey) -> str:
    """The label selector of every chunk-list ConfigMap of a plan task instance."""
    return selector(task, component=COMPONENT)


def replica_list_key(index: int) -> str:
    """The key stem of replica ``index``'s list."""
    return f"replica-{index}"


def operation_list_key(index: int) -> str:
    """The key stem of operation ``index``'s list."""
    return f"operation-{index}"


class ChunkListRef(Spec):
    """Where one list lives: ConfigMap ``first`` (and the next ``shards - 1``), its keys."""

    stem: str = Field(max_length=MAX_NAME, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    key: str = Field(pattern=r"^(replica|operation)-[0-9]+$")
    first: int = Field(ge=0, strict=True)
    shards: int = Field(ge=1, strict=True)
    count: int = Field(ge=0, strict=True)
    inline: bool = False  # a ``<key>.env`` key holds the ids comma-joined

    def shard_keys(self) -> list[tuple[str, str]]:
        """(ConfigMap name, key) of every shard, in order."""
        if self.shards == 1:
            return [(chunk_list_configmap_name(self.stem, self.first), f"{self.key}.json")]
        return [
            (chunk_list_configmap_name(self.stem, self.first + s), f"{self.key}-{s}.json")
            for s in range(self.shards)
        ]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for XCom."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class ChunkLists:
    """A plan's lists as ConfigMaps, and where each replica's and operation's list is."""

    namespace: str
    configmaps: tuple[Obj, ...]
    replicas: tuple[ChunkListRef, ...]
    operations: tuple[ChunkListRef, ...]

    def reference(self) -> dict[str, Any]:
        """Where the lists are, with each ConfigMap's spec hash (to tell a rewrite)."""
        return {
            "namespace": self.namespace,
            "configmaps": [
                {"name": c["metadata"]["name"], "spec_hash": spec_hash(c)} for c in self.configmaps
            ],
        }


def split_ids(ids: Sequence[str], limit: int = SHARD_BYTES) -> list[str]:
    """``ids`` as compact JSON arrays of at most ``limit`` bytes each, in order (at least
    one, ``[]`` for no ids). Ids are ASCII-escaped, so characters are bytes."""
    shards: list[str] = []
    current: list[str] = []
    size = 2  # the brackets
    for chunk_id in ids:
        quoted = _quote(chunk_id)
        grown = size + len(quoted) + (1 if current else 0)
        if current and grown > limit:
            shards.append("[" + ",".join(current) + "]")
            current, grown = [], 2 + len(quoted)
        current.append(quoted)
        size = grown
    shards.append("[" + ",".join(current) + "]")
    return shards


def _joined(ids: Sequence[str]) -> str | None:
    """The ids comma-joined, when short enough for the env var and unambiguous."""
    if any("," in chunk_id for chunk_id in ids):
        return None
    joined = ",".join(ids)
    return joined if len(joined.encode("utf-8")) <= ENV_CHUNKS_BYTES else None


def _data_size(data: Mapping[str, str]) -> int:
    return sum(len(k) + len(v.encode("utf-8")) for k, v in data.items())


class _Packer:
    """Fills ConfigMap data in order: one-shard lists share, sharded ones get their own."""

    def __init__(self) -> None:
        self.done: list[dict[str, str]] = []
        self.open: dict[str, str] = {}

    def _close(self) -> None:
        if self.open:
            self.done.append(self.open)
            self.open = {}

    def add(self, key: str, ids: Sequence[str]) -> tuple[int, int, bool]:
        """Place one list; its first ConfigMap, shard count and whether it is inlined."""
        shards = split_ids(ids)
        if len(shards) > 1:
            self._close()
            first = len(self.done)
            self.done.extend({f"{key}-{s}.json": shard} for s, shard in enumerate(shards))
            return first, len(shards), False
        entries = {f"{key}.json": shards[0]}
        joined = _joined(ids)
        if joined is not None:
            entries[f"{key}.env"] = joined
        if self.open and _data_size(self.open) + _data_size(entries) > CONFIGMAP_DATA_BYTES:
            self._close()
        self.open.update(entries)
        return len(self.done), 1, joined is not None

    def finish(self) -> list[dict[str, str]]:
        self._close()
        return self.done


def build_chunk_lists(plan: PlacementPlan, *, task: TaskKey, namespace: str) -> ChunkLists:
    """Every replica's and operation's list as ConfigMaps, each checked against the limit."""
    check_dns_label("namespace", namespace)
    stem = chunk_list_stem(task)
    packer = _Packer()
    lists = [(replica_list_key(r.index), r.chunks) for r in plan.replicas]
    lists += [(operation_list_key(i), op.chunks) for i, op in enumerate(plan.operations)]
    refs = []
    for key, ids in lists:
        first, shards, inline = packer.add(key, ids)
        refs.append(
            ChunkListRef(
                stem=stem, key=key, first=first, shards=shards, count=len(ids), inline=inline
            )
        )
    configmaps = []
    for index, data in enumerate(packer.finish()):
        name = chunk_list_configmap_name(stem, index)
        check_configmap_size(f"chunk_lists.{name}", data)
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": build_metadata(task, name, namespace, component=COMPONENT),
            "data": dict(sorted(data.items())),
        }
        configmaps.append(stamp(manifest))
    replicas = len(plan.replicas)
    return ChunkLists(namespace, tuple(configmaps), tuple(refs[:replicas]), tuple(refs[replicas:]))


def build_chunk_volume(ref: ChunkListRef) -> tuple[Obj, Obj]:
    """The projected volume giving a pod its list's files, and its read-only mount."""
    if ref.shards == 1:
        ((name, key),) = ref.shard_keys()
        items = [{"key": key, "path": "chunks.json"}, {"key": key, "path": "chunks-0.json"}]
        sources = [{"configMap": {"name": name, "items": items}}]
    else:
        sources = [
            {"configMap": {"name": name, "items": [{"key": key, "path": f"chunks-{s}.json"}]}}
            for s, (name, key) in enumerate(ref.shard_keys())
        ]
    volume = {"name": CHUNKS_VOLUME, "projected": {"sources": sources}}
    mount = {"name": CHUNKS_VOLUME, "mountPath": CHUNKS_DIR, "readOnly": True}
    return volume, mount


def build_chunk_env(ref: ChunkListRef) -> list[Obj]:
    """The variables telling a pod how many chunks it reads and where their list is."""
    env: list[Obj] = [
        {"name": "DATALOCALITY_CHUNK_COUNT", "value": str(ref.count)},
        {"name": "DATALOCALITY_CHUNK_FILES", "value": str(ref.shards)},
        {"name": "DATALOCALITY_CHUNKS_DIR", "value": CHUNKS_DIR},
    ]
    if ref.shards == 1:
        env.append({"name": "DATALOCALITY_CHUNKS_FILE", "value": CHUNKS_FILE})
    if ref.inline:
        name = chunk_list_configmap_name(ref.stem, ref.first)
        key_ref = {"name": name, "key": f"{ref.key}.env"}
        env.append({"name": "DATALOCALITY_CHUNKS", "valueFrom": {"configMapKeyRef": key_ref}})
    return env


def read_chunk_list(ref: ChunkListRef, data: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The list ``ref`` names, from ConfigMap data by name; IncompleteChunkLists when a
    ConfigMap or key is missing or the ids do not add up to the count."""
    ids: list[str] = []
    for name, key in ref.shard_keys():
        found = data.get(name)
        if found is None:
            raise IncompleteChunkLists(name, "is missing")
        if key not in found:
            raise IncompleteChunkLists(name, f"has no key {key}")
        try:
            shard = json.loads(found[key])
        except ValueError:
            shard = None
        if not isinstance(shard, list) or not all(isinstance(i, str) for i in shard):
            raise IncompleteChunkLists(name, f"key {key} is not a JSON list of ids")
        ids.extend(shard)
    if len(ids) != ref.count:
        raise IncompleteChunkLists(ref.shard_keys()[0][0], f"{ref.key} holds {len(ids)} ids")
    return ids
