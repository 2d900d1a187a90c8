"""DataSourceSlices: the pure slicing rules (hypothesis), then 100,000 chunks written to
both clusters, where the real etcd judges every object and the real garbage collector
removes the slices of a deleted source."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datalocality.errors import IncompleteSlices, SourceReplaced, SpecError
from datalocality.kube.binder import apply_binding
from datalocality.kube.claims import build_data_source, build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.names import (
    LABEL_DATA_SOURCE,
    TaskKey,
    build_claim_name,
    build_data_source_name,
    is_label_value,
)
from datalocality.kube.objects import ETCD_REQUEST_BYTES, name_of
from datalocality.kube.publish import (
    list_slices,
    publish_data_source,
    read_data_source,
    refresh_data_source,
)
from datalocality.kube.resources import SLICES, SOURCES
from datalocality.kube.slices import (
    SLICE_BYTES,
    build_slices,
    chunks_from_slices,
    chunks_hash,
    entry_size,
    is_complete,
    slice_changes,
    slice_chunks,
    source_chunks,
    summarize,
)
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from datalocality.model.names import check_dns_subdomain
from datalocality_testcluster.clusters import KINDS, ProviderCluster, start_cluster
from tests.kube.conftest import RequestLog, api_client_for
from tests.kube.emulator import EmulatedApi

Obj = dict[str, Any]
UID = "3b0d4f52-6a8e-4f3c-9a51-0d5b1c2e7f90"
NAME = "iceberg-table-db-events-0123456789ab"
INPUT = DataInput(system="iceberg", name="warehouse.db.table")

label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=63).filter(
    lambda s: s[0] != "-" and s[-1] != "-"
)
source_names = st.lists(label, min_size=1, max_size=6).map(".".join).filter(lambda s: len(s) <= 253)
chunk_ids = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=253)
location = st.one_of(
    st.sampled_from(["node-a", "node-b", "worker-17.example"]),
    st.builds("{}:{}".format, st.sampled_from(["zone", "region", "cluster"]), label),
)
chunks_lists = st.lists(
    st.builds(
        Chunk,
        id=chunk_ids,
        size=st.integers(0, 2**50),
        locations=st.lists(location, max_size=4),
        kind=st.sampled_from(["chunk", "stream"]),
    ),
    max_size=60,
)
limits = st.sampled_from([3 * 1024, 8 * 1024, SLICE_BYTES])


def compact(obj: object) -> int:
    """Bytes as KubeClient's etcd check measures them."""
    return len(json.dumps(obj, separators=(",", ":"), default=str).encode())


def sliced(chunks: list[Chunk], limit: int, name: str = NAME, uid: str = UID) -> list[Obj]:
    return build_slices(name, uid, slice_chunks(name, chunks, limit=limit))


# -- the pure rules ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(chunks_lists, limits, st.randoms(use_true_random=False))
def test_slicing_then_reassembly_round_trips_in_any_order(
    chunks: list[Chunk], limit: int, shuffler: random.Random
) -> None:
    made = sliced(chunks, limit)
    shuffler.shuffle(made)
    assert chunks_from_slices(made) == tuple(chunks)
    assert len(made) == slice_chunks(NAME, chunks, limit=limit).count


@settings(max_examples=200, deadline=None)
@given(chunks_lists, limits)
def test_no_slice_is_over_its_bound_and_each_is_full(chunks: list[Chunk], limit: int) -> None:
    made = sliced(chunks, limit)
    for index, obj in enumerate(made):
        assert compact(obj) <= limit
        assert obj["spec"]["chunks"], "no empty slice"
        if index + 1 < len(made):  # greedy: the next slice's first chunk did not fit
            first = made[index + 1]["spec"]["chunks"][0]
            assert compact(obj) + 1 + entry_size(first) > limit - 64  # room for digits, uid


@given(st.builds(dict, id=chunk_ids, size=st.integers(0, 2**62), kind=st.just("chunk"),
                 locations=st.lists(chunk_ids, max_size=3)))  # fmt: skip
def test_entry_size_is_the_compact_json_size(entry: Obj) -> None:
    assert entry_size(entry) == compact(entry)


@settings(max_examples=100, deadline=None)
@given(source_names, st.uuids().map(str), chunks_lists)
def test_names_are_deterministic_valid_and_distinct(
    name: str, uid: str, chunks: list[Chunk]
) -> None:
    made = sliced(chunks, 3 * 1024, name, uid)
    names = [name_of(obj) for obj in made]
    assert names == [name_of(obj) for obj in sliced(chunks, 3 * 1024, name, uid)]
    assert len(set(names)) == len(names)
    for obj in made:
        check_dns_subdomain("name", name_of(obj))
        assert is_label_value(obj["metadata"]["labels"][LABEL_DATA_SOURCE])
        assert obj["metadata"]["ownerReferences"][0]["uid"] == uid
    other_owner = [name_of(obj) for obj in sliced(chunks, 3 * 1024, name, str(uuid.uuid4()))]
    assert not set(other_owner) & set(names)  # a recreated source never meets old slices


def test_changed_chunks_get_a_new_set_and_equal_ones_the_same() -> None:
    chunks = [Chunk(id=f"part-{i}", locations=["node-a"]) for i in range(3)]
    moved = [*chunks[:2], Chunk(id="part-2", locations=["node-b"])]
    assert sliced(chunks, SLICE_BYTES) == sliced(list(chunks), SLICE_BYTES)
    (before,), (after,) = sliced(chunks, SLICE_BYTES), sliced(moved, SLICE_BYTES)
    assert name_of(before) != name_of(after)
    assert slice_changes([after], [before]) == ([after], [name_of(before)])
    assert slice_changes([before], [before]) == ([], [])


def test_missing_doubled_mixed_and_tampered_sets_are_refused() -> None:
    chunks = [Chunk(id=f"part-{i:04d}-{'x' * 100}") for i in range(100)]
    made = sliced(chunks, 3 * 1024)
    assert len(made) > 3
    with pytest.raises(IncompleteSlices, match=r"slice 2 of \d+ missing"):
        chunks_from_slices(made[:2] + made[3:])
    with pytest.raises(IncompleteSlices, match="both hold index 1"):
        chunks_from_slices([*made, made[1]])
    other = sliced(chunks[:-1], 3 * 1024)
    with pytest.raises(IncompleteSlices, match="different sets"):
        chunks_from_slices([*made[:2], *other[2:]])
    tampered = json.loads(json.dumps(made))
    tampered[0]["spec"]["chunks"][0]["size"] = 7
    with pytest.raises(IncompleteSlices, match="do not add up"):
        chunks_from_slices(tampered)
    with pytest.raises(IncompleteSlices, match="index 9 of 3"):
        chunks_from_slices([{"metadata": {"name": "x"}, "spec": {"index": 9, "count": 3}}])
    assert chunks_from_slices([]) == ()


def test_a_source_reads_only_its_own_set() -> None:
    chunks = [Chunk(id=f"part-{i:04d}-{'x' * 100}") for i in range(40)]
    source = DataSource.for_input(DataInput(system="s3", name="b/p"), chunks=chunks)
    stored = build_data_source(NAME, source)
    stored["metadata"]["uid"] = UID
    mine = build_slices(NAME, UID, chunks)
    older = build_slices(NAME, UID, chunks[:10])  # an earlier set, not yet deleted
    dead = build_slices(NAME, str(uuid.uuid4()), chunks)  # a deleted object's, awaiting GC
    assert source_chunks(stored, [*older, *dead, *mine]) == tuple(chunks)
    assert is_complete(stored, mine) and not is_complete(stored, [*older, *dead])
    with pytest.raises(IncompleteSlices, match="0 of its 1 slices"):
        source_chunks(stored, dead)
    stored["spec"].pop("chunksHash")
    with pytest.raises(IncompleteSlices, match="names no chunk slices"):
        source_chunks(stored, mine)
    empty = build_data_source(NAME, source.model_copy(update={"chunks": ()}))
    assert (empty["spec"]["slices"], source_chunks(empty, [])) == (0, ())


def test_a_chunk_too_big_for_any_slice_is_named() -> None:
    huge = Chunk(id="part-0", locations=[f"node-{i:05d}" for i in range(300)])
    with pytest.raises(SpecError, match=r"chunks\[0\].*a slice holds"):
        slice_chunks(NAME, [huge], limit=3 * 1024)


def test_totals_stay_bounded_with_thousands_of_nodes() -> None:
    chunks = [
        Chunk(id=f"c{i}", size=i, locations=[f"node-{i % 5000:04d}", f"zone:z{i % 7}"])
        for i in range(20000)
    ] + [Chunk(id="nowhere", size=5)]
    totals = summarize(chunks)
    assert (totals["chunks"], totals["bytes"]) == (20001, sum(c.size for c in chunks))
    assert totals["unlocatedBytes"] == 5
    nodes = totals["nodes"]
    assert nodes["count"] == 5000 and len(nodes["top"]) == 100
    assert nodes["top"][0] == {
        "name": "node-4999",
        "chunks": 4,
        "bytes": 4999 + 9999 + 14999 + 19999,
    }
    sizes = [t["bytes"] for t in nodes["top"]]
    assert sizes == sorted(sizes, reverse=True)
    assert totals["zones"]["count"] == 7 and totals["regions"] == {"count": 0, "top": []}
    assert compact(totals) < 32 * 1024


def test_the_same_chunks_hash_alike_whatever_the_key_order() -> None:
    entries = [{"id": "a", "size": 1, "kind": "chunk", "locations": []}]
    assert chunks_hash(entries) == chunks_hash([dict(reversed(entries[0].items()))])


# -- publishing through the client (the emulator) ------------------------------------------


def many(prefix: str, count: int = 2500) -> list[Chunk]:  # 2,500: two slices
    return [Chunk(id=f"{prefix}-{i:04d}-{'x' * 200}", locations=["node-a"]) for i in range(count)]


def writes(log: RequestLog) -> list[tuple[str, str]]:
    return [(m, p.rsplit("/", 2)[-2]) for m, p in log.seen if m in {"POST", "PUT", "DELETE"}]


def test_a_changed_source_gets_a_new_set_and_loses_the_old_one(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    first = DataSource.for_input(INPUT, chunks=many("old"))
    name = build_data_source_name(first)
    stored = publish_data_source(kube, name, first)
    old = {name_of(o) for o in api_server.list_of(SLICES)}
    assert len(old) == stored["spec"]["slices"] == 2
    request_log.seen.clear()
    second = first.model_copy(update={"chunks": tuple(many("new", 3))})
    updated = publish_data_source(kube, name, second)
    assert writes(request_log) == [
        ("POST", "v1alpha1"),  # the DataSource: 409, adopted
        ("POST", "v1alpha1"),  # the new set's one slice
        ("PUT", "datasources"),  # the source names the new set
        ("DELETE", "datasourceslices"),
        ("DELETE", "datasourceslices"),
    ]
    (new,) = api_server.list_of(SLICES)
    assert name_of(new) not in old and updated["spec"]["chunksHash"] == new["spec"]["chunksHash"]
    assert read_data_source(kube, updated).chunks == second.chunks
    request_log.seen.clear()
    assert publish_data_source(kube, name, second) == updated  # unchanged: not rewritten
    assert writes(request_log) == [("POST", "v1alpha1")]  # answered 409 and adopted
    kept = publish_data_source(kube, name, first, replace=False)  # another's observation
    assert kept["spec"]["chunksHash"] == new["spec"]["chunksHash"]


def test_refreshing_a_source_that_is_gone_says_so(kube: KubeClient) -> None:
    with pytest.raises(SourceReplaced, match="gone"):
        refresh_data_source(kube, "nothing-here", DataSource.for_input(INPUT))


def test_a_source_recreated_while_its_slices_were_written_is_not_pointed_at_them(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    source = DataSource.for_input(INPUT, chunks=many("a", 3))
    name = build_data_source_name(source)
    publish_data_source(kube, name, source)
    original = kube.create_or_get

    def recreating(manifest: Obj) -> Any:
        if manifest["kind"] == "DataSourceSlice":  # another actor replaces the source
            current = api_server.stored(SOURCES, name)
            assert current is not None
            api_server.remove_object(SOURCES, name)
            api_server.put_object(SOURCES, {**current, "metadata": {"name": name}})
        return original(manifest)

    kube.create_or_get = recreating  # type: ignore[method-assign]
    with pytest.raises(SourceReplaced, match="recreated"):
        refresh_data_source(kube, name, source.model_copy(update={"chunks": many("b", 3)}))


# -- 100,000 chunks on both clusters -------------------------------------------------------

CHUNKS = 100_000
TASK = TaskKey(dag_id="big", run_id="run-1", task_id="plan")
NAMESPACE = "default"  # the provider's namespace on both clusters


def big_source() -> DataSource:
    """100,000 Iceberg data files with realistic ids, 128 MiB each, on 500 nodes."""
    rng = random.Random(7)
    chunks = [
        Chunk(
            id=f"warehouse/db/table/data/part-{i:05d}-{uuid.UUID(int=rng.getrandbits(128))}.parquet",
            size=128 * 2**20,
            locations=[f"worker-{rng.randrange(500):03d}"],
        )
        for i in range(CHUNKS)
    ]
    # the base survives the real apiserver's pruning only when the CRD declares it
    return DataSource.for_input(INPUT, chunks=chunks, chunk_base="s3://lake")


@pytest.fixture(params=KINDS)
def provider_cluster(request: pytest.FixtureRequest) -> Iterator[ProviderCluster]:
    with start_cluster(request.param) as cluster:
        yield cluster
        assert cluster.errors == []


def versions(kube: KubeClient, name: str) -> dict[str, str]:
    """resourceVersion of the DataSource and of each of its slices, by name."""
    source = kube.get(SOURCES, name)
    assert source is not None
    found = {name: source["metadata"]["resourceVersion"]}
    for obj in list_slices(kube, name):
        found[name_of(obj)] = obj["metadata"]["resourceVersion"]
    return found


def test_a_source_of_100000_chunks_is_written_as_slices_read_back_adopted_and_collected(
    provider_cluster: ProviderCluster,
) -> None:
    source = big_source()
    name = build_data_source_name(source)
    whole = build_data_source(name, source)
    whole["spec"]["chunks"] = [c.model_dump(mode="json") for c in source.chunks]
    assert compact(whole) > 9 * ETCD_REQUEST_BYTES  # 14 MiB, had it been one object
    with api_client_for(provider_cluster.kubeconfig_path) as api:  # the provider's account
        kube = KubeClient(api)
        stored = publish_data_source(kube, name, source)
        slices = list_slices(kube, name)
        assert len(slices) == stored["spec"]["slices"] > 10
        assert compact(stored) < 64 * 1024
        for obj in slices:  # stored by etcd, and within our bound before the server's fields
            assert compact(obj) < ETCD_REQUEST_BYTES
            mine = {k: v for k, v in obj["metadata"].items() if k in ("name", "labels")}
            assert compact({**obj, "metadata": mine}) <= SLICE_BYTES
        assert read_data_source(kube, stored) == source

        before = versions(kube, name)
        assert publish_data_source(kube, name, source) == stored  # a retry adopts
        claim = DataSourceClaim(name=build_claim_name(TASK, INPUT), input=INPUT)
        bound = apply_binding(
            kube,
            build_data_source_claim(claim, task=TASK, namespace=NAMESPACE),
            resolve=lambda _: pytest.fail("bound statically: nothing to resolve"),
        )
        assert bound.data_source.chunks == source.chunks
        assert bound.data_source.chunk_base == "s3://lake"
        after = versions(kube, name)
        assert after.pop(name) != before.pop(name)  # only the claim reference (status)
        assert after == before  # no slice written again

        assert kube.delete(SOURCES, name)
        deadline = time.monotonic() + 120  # the real collector finds new kinds every 30 s
        for left in sorted(after):  # one GET at a time: a list would copy all that is left
            while kube.get(SLICES, left) is not None:
                assert time.monotonic() < deadline, f"{left} outlived its DataSource"
                time.sleep(0.5)
        assert kube.list(SLICES)[0] == []
