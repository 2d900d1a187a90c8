"""Chunk lists at scale: 100,000 realistic ids in ConfigMaps under the limit, read back.

Pure builders only. What a pod sees is worked out as the kubelet mounts it
(``volume_files`` from the emulator: projected ConfigMap sources, items to paths) and read
the way the layout in :mod:`datalocality.kube.chunk_lists` says a pod reads it.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datalocality.errors import IncompleteChunkLists
from datalocality.kube.affinity import AffinityPolicy
from datalocality.kube.chunk_lists import (
    CONFIGMAP_DATA_BYTES,
    ChunkLists,
    build_chunk_lists,
    chunk_list_configmap_name,
    chunk_list_stem,
    read_chunk_list,
    split_ids,
)
from datalocality.kube.configmaps import CONFIGMAP_LIMIT
from datalocality.kube.names import TaskKey
from datalocality.kube.objects import check_object_size
from datalocality.kube.pods import PodTemplate, build_replica_pod
from datalocality.model import (
    Consumer,
    Node,
    Operation,
    PlacementPlan,
    ReplicaPlacement,
    Topology,
    TopologyConstraint,
    Totals,
)
from datalocality.operators.entries import build_replica_entries
from datalocality_testcluster.sandbox.environment import volume_files
from datalocality_testcluster.sandbox.podsecurity import restricted_violations

CHUNKS = 100_000
REPLICAS = 100
SIZE = 128 * 2**20
TASK = TaskKey(dag_id="clickstream", run_id="scheduled__2026-11-01T10:00:00+00:00", task_id="p")
PLAN_TASK = TASK.model_copy(update={"task_id": "sessionize.plan"})
NODES = [Node(name=f"node-{i:03d}", zone=f"zone-{i % 4}", region="eu") for i in range(REPLICAS)]
TOPOLOGY = Topology(nodes=NODES)
# An entry is its affinity and env (about 200-700 and 500 bytes), the chunk list's place
# (130) and a dozen small fields: the same whatever the chunk count.
ENTRY_BYTES = 1536
CONSUMERS = {
    "hard": Consumer(replicas=REPLICAS),
    "soft": Consumer(
        replicas=REPLICAS, topology=TopologyConstraint(mode="soft", highest_tier_allowed=1)
    ),
}


def realistic_ids(count: int, seed: int = 16) -> list[str]:
    """Ids as Spark writes a table's files: 80 characters each."""
    rng = random.Random(seed)
    return [
        f"warehouse/db/table/data/part-{i:05d}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        ".parquet"
        for i in range(count)
    ]


IDS = realistic_ids(CHUNKS)


def plan_of(shares: list[int], *, operations: bool = False) -> PlacementPlan:
    """A plan giving replica r the next ``shares[r]`` ids (and each a repartition)."""
    replicas, start = [], 0
    for index, count in enumerate(shares):
        node = NODES[index % len(NODES)]
        chunks = IDS[start : start + count]
        start += count
        replicas.append(
            ReplicaPlacement(
                index=index,
                node=node.name,
                zone=node.zone,
                chunks=chunks,
                bytes=count * SIZE,
                local_bytes=count * SIZE,
            )
        )
    ops = [
        Operation(kind="repartition", source="s/t/n", node=r.node, chunks=r.chunks, replica=i)
        for i, r in enumerate(replicas)
        if operations
    ]
    total = start * SIZE
    return PlacementPlan(
        strategy="optimal",
        replicas=replicas,
        operations=ops,
        totals=Totals(bytes=total, moved_bytes=0, cost=0.0, lower_bound_cost=0.0),
    )


BALANCED = plan_of([CHUNKS // REPLICAS] * REPLICAS, operations=True)
LOPSIDED = plan_of([CHUNKS] + [0] * (REPLICAS - 1))


def mounted_list(lists: ChunkLists, pod: dict[str, Any]) -> list[str]:
    """The list a pod reads from its files, as the kubelet would mount them."""
    data = {c["metadata"]["name"]: c["data"] for c in lists.configmaps}
    (container,) = pod["spec"]["containers"]
    files = volume_files(pod, container, lambda kind, name, optional: data[name])
    env = {e["name"]: e for e in container["env"]}
    directory = env["DATALOCALITY_CHUNKS_DIR"]["value"]
    count = int(env["DATALOCALITY_CHUNK_FILES"]["value"])
    assert sorted(files) == sorted(
        [f"{directory}/chunks-{s}.json" for s in range(count)]
        + ([f"{directory}/chunks.json"] if count == 1 else [])
    )
    ids = [i for s in range(count) for i in json.loads(files[f"{directory}/chunks-{s}.json"])]
    if count == 1:
        assert json.loads(files[env["DATALOCALITY_CHUNKS_FILE"]["value"]]) == ids
    assert len(ids) == int(env["DATALOCALITY_CHUNK_COUNT"]["value"])
    if "DATALOCALITY_CHUNKS" in env:
        ref = env["DATALOCALITY_CHUNKS"]["valueFrom"]["configMapKeyRef"]
        assert data[ref["name"]][ref["key"]] == ",".join(ids)
    return ids


def pod_of(plan: PlacementPlan, lists: ChunkLists, index: int) -> dict[str, Any]:
    return build_replica_pod(
        plan,
        index,
        task=TASK,
        namespace="data",
        topology=TOPOLOGY,
        template=PodTemplate(image="trainer:1"),
        chunk_list=lists.replicas[index],
        policy=AffinityPolicy.for_consumer(CONSUMERS["soft"]),
    )


def check_within_limits(lists: ChunkLists) -> None:
    for configmap in lists.configmaps:
        data = sum(len(k) + len(v.encode()) for k, v in configmap["data"].items())
        assert data <= CONFIGMAP_DATA_BYTES < CONFIGMAP_LIMIT
        check_object_size(configmap)  # etcd's limit, on the whole object
        assert len(json.dumps(configmap).encode()) < CONFIGMAP_LIMIT


@pytest.mark.parametrize("shape", ["balanced", "lopsided"])
def test_100k_realistic_ids_fit_configmaps_and_every_pod_reads_its_own(shape: str) -> None:
    plan = BALANCED if shape == "balanced" else LOPSIDED
    lists = build_chunk_lists(plan, task=PLAN_TASK, namespace="data")
    check_within_limits(lists)
    # about 10 MiB in 512 KiB ConfigMaps (the balanced plan's operations as much again)
    assert len(lists.configmaps) == {"balanced": 34, "lopsided": 17}[shape]
    for index, replica in enumerate(plan.replicas):
        assert mounted_list(lists, pod_of(plan, lists, index)) == list(replica.chunks)
    data = {c["metadata"]["name"]: c["data"] for c in lists.configmaps}
    for operation, ref in zip(plan.operations, lists.operations, strict=True):
        assert read_chunk_list(ref, data) == list(operation.chunks)
    if shape == "lopsided":
        assert lists.replicas[0].shards == 16  # sharded: one ConfigMap per shard
        assert {r.shards for r in lists.replicas[1:]} == {1}


def test_a_sharded_pod_validates_and_stays_restricted() -> None:
    lists = build_chunk_lists(LOPSIDED, task=PLAN_TASK, namespace="data")
    pod = pod_of(LOPSIDED, lists, 0)
    kubernetes_validate.validate(pod, "1.33", strict=True)
    assert restricted_violations(pod["spec"]) == []
    (volume,) = pod["spec"]["volumes"]
    assert len(volume["projected"]["sources"]) == 16


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_replica_entries_are_small_whatever_the_chunk_count(consumer: str) -> None:
    sizes = {}
    for shape, plan in (("balanced", BALANCED), ("lopsided", LOPSIDED)):
        lists = build_chunk_lists(plan, task=PLAN_TASK, namespace="data")
        entries = build_replica_entries(
            plan,
            topology=TOPOLOGY,
            consumer=CONSUMERS[consumer],
            chunk_lists=lists,
            namespace="data",
        )
        sizes[shape] = [len(json.dumps(e).encode()) for e in entries]
        assert max(sizes[shape]) < ENTRY_BYTES, (shape, max(sizes[shape]))
        assert not any(IDS[0] in json.dumps(e) for e in entries)
    # replica 0 reads 1,000 chunks, or 100,000 in 16 files (no chunks.json): no bigger
    assert sizes["lopsided"][0] <= sizes["balanced"][0]


def test_names_are_deterministic_within_63_characters_and_keep_the_hash() -> None:
    long_task = PLAN_TASK.model_copy(update={"task_id": "a-very-long-task-group.and-its-plan-task"})
    stem = chunk_list_stem(long_task)
    names = [chunk_list_configmap_name(stem, i) for i in (0, 9, 10, 12345)]
    assert all(
        len(n) <= 63 and n.endswith(f"{stem[-12:]}-{i}")
        for n, i in zip(names, (0, 9, 10, 12345), strict=True)
    )
    assert len(set(names)) == 4
    again = build_chunk_lists(BALANCED, task=PLAN_TASK, namespace="data")
    assert again == build_chunk_lists(BALANCED, task=PLAN_TASK, namespace="data")


@given(
    st.lists(st.text(min_size=1, max_size=20), max_size=60),
    st.integers(min_value=2 + 20 * 12 + 2, max_value=600),  # an escaped id always fits
)
def test_shards_round_trip_any_list_within_their_bound(ids: list[str], limit: int) -> None:
    shards = split_ids(ids, limit)
    assert [i for shard in shards for i in json.loads(shard)] == ids
    assert all(len(shard) <= limit for shard in shards)
    assert all(s.isascii() for s in shards)


def test_reading_a_list_back_refuses_what_does_not_add_up() -> None:
    lists = build_chunk_lists(LOPSIDED, task=PLAN_TASK, namespace="data")
    data = {c["metadata"]["name"]: dict(c["data"]) for c in lists.configmaps}
    ref = lists.replicas[0]
    first, key = ref.shard_keys()[0]
    with pytest.raises(IncompleteChunkLists, match=r"-0: is missing"):
        read_chunk_list(ref, {n: d for n, d in data.items() if n != first})
    with pytest.raises(IncompleteChunkLists, match=r"has no key replica-0-0\.json"):
        read_chunk_list(ref, {**data, first: {}})
    with pytest.raises(IncompleteChunkLists, match="not a JSON list of ids"):
        read_chunk_list(ref, {**data, first: {key: '{"a": 1}'}})
    with pytest.raises(IncompleteChunkLists, match=r"replica-0 holds 93\d\d\d ids"):
        read_chunk_list(ref, {**data, first: {key: "[]"}})
