"""Binding applied through the client: adopt on retry, share sources, survive faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from datalocality.binding import Backoff
from datalocality.errors import ApiRejected, DataSourceNotFound
from datalocality.kube.binder import (
    Bound,
    apply_binding,
    release_binding,
)
from datalocality.kube.claims import build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.names import TaskKey, build_claim_name, build_data_source_name
from datalocality.kube.resources import CLAIMS, SLICES, SOURCES
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from tests.kube.conftest import RequestLog
from tests.kube.emulator import EmulatedApi
from tests.kube.support import NOW

INPUT = DataInput(system="iceberg", name="db.Events", attributes={"day": "7"})
SOURCE_NAME = build_data_source_name(INPUT)


class Resolver:
    """Answers from a script: DataSources, or DataSourceNotFound; counts the calls."""

    def __init__(self, *answers: DataSource | None, policy: str = "Retain") -> None:
        self.answers = list(answers)
        self.calls = 0
        self.policy = policy

    def __call__(self, data_input: DataInput) -> DataSource:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else self.default(self.calls)
        if answer is None:
            raise DataSourceNotFound(data_input.key)
        return answer

    def default(self, generation: int) -> DataSource:
        chunks = [Chunk(id=f"gen{generation}-part{i}", locations=["node-a"]) for i in range(2)]
        return DataSource.for_input(INPUT, chunks=chunks, reclaim_policy=self.policy)


def claim_manifest(task_id: str = "train", namespace: str = "data") -> dict[str, Any]:
    task = TaskKey(dag_id="dag", run_id="run-1", task_id=task_id)
    claim = DataSourceClaim(name=build_claim_name(task, INPUT), input=INPUT)
    return build_data_source_claim(claim, task=task, namespace=namespace)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def bind(
    kube: KubeClient,
    resolver: Callable[[DataInput], DataSource],
    manifest: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Bound:
    kwargs.setdefault("now", Clock())
    kwargs.setdefault("sleep", lambda _: None)
    return apply_binding(kube, manifest or claim_manifest(), resolve=resolver, **kwargs)


def refs(api_server: EmulatedApi, name: str = SOURCE_NAME) -> list[str]:
    source = api_server.stored(SOURCES, name)
    assert source is not None
    status = source.get("status") or {}
    assert status.get("boundClaims", 0) == len(status.get("claimRefs") or [])
    return [f"{r['namespace']}/{r['name']}" for r in status.get("claimRefs") or []]


def test_dynamic_binding_creates_references_and_binds(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    resolver = Resolver()
    bound = bind(kube, resolver)
    assert bound.claim["status"]["phase"] == "Bound"
    assert bound.claim["status"]["boundDataSource"] == SOURCE_NAME
    assert [c.id for c in bound.data_source.chunks] == ["gen1-part0", "gen1-part1"]
    assert refs(api_server) == [f"data/{bound.claim['metadata']['name']}"]
    assert resolver.calls == 1


def test_a_retried_task_adopts_everything(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    first = bind(kube, Resolver())
    objects = dict(api_server.objects)
    writes = request_log.count("PUT") + request_log.count("POST")
    resolver = Resolver()
    again = bind(kube, resolver)
    assert again.claim == first.claim and again.source == first.source
    assert api_server.objects == objects
    assert resolver.calls == 0
    # Only the claim's POST (answered 409 and adopted); nothing written.
    assert request_log.count("PUT") + request_log.count("POST") == writes + 1


def test_claims_with_one_identity_share_one_source(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    resolver = Resolver()
    a = bind(kube, resolver, claim_manifest("train"))
    b = bind(kube, resolver, claim_manifest("score", namespace="other"))
    assert a.source["metadata"]["name"] == b.source["metadata"]["name"] == SOURCE_NAME
    assert sorted(refs(api_server)) == sorted(
        [f"data/{a.claim['metadata']['name']}", f"other/{b.claim['metadata']['name']}"]
    )
    assert resolver.calls == 1
    assert len([k for k in api_server.objects if k[0].endswith("datasources")]) == 1


def test_a_user_made_source_is_bound_statically(kube: KubeClient, api_server: EmulatedApi) -> None:
    user_source = DataSource.for_input(INPUT, chunks=[Chunk(id="mine")], observed_at=NOW)
    api_server.put_source("hand-made", user_source)
    resolver = Resolver()
    bound = bind(kube, resolver)
    assert bound.source["metadata"]["name"] == "hand-made"
    assert bound.data_source.chunks == user_source.chunks  # read from its slice
    assert resolver.calls == 0


@pytest.mark.parametrize("written", ["without slices", "with a slice gone"])
def test_a_source_whose_slices_are_incomplete_is_resolved_again(
    kube: KubeClient, api_server: EmulatedApi, written: str
) -> None:
    """Its writer died between the DataSource and its slices (or wrote it before slices)."""
    chunks = [
        Chunk(id=f"warehouse/part-{i:05d}-{'x' * 200}", locations=["node-a"]) for i in range(3000)
    ]
    old = DataSource.for_input(INPUT, chunks=chunks, observed_at=NOW)
    api_server.put_source(SOURCE_NAME, old, slices=written != "without slices")
    if written == "with a slice gone":
        api_server.remove_object(SLICES, slice_names(api_server)[1])
    resolver = Resolver()
    bound = bind(kube, resolver)
    assert resolver.calls == 1
    assert [c.id for c in bound.data_source.chunks] == ["gen1-part0", "gen1-part1"]
    (left,) = api_server.list_of(SLICES)  # the new set of one slice; the old one deleted
    assert left["spec"]["chunksHash"] == bound.source["spec"]["chunksHash"]
    assert bind(kube, Resolver()).data_source == bound.data_source


def slice_names(api_server: EmulatedApi) -> list[str]:
    return sorted(s["metadata"]["name"] for s in api_server.list_of(SLICES))


def test_a_rival_reference_written_concurrently_is_kept(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    api_server.inject("update", "datasources", subresource="status", code=409)
    bound = bind(kube, Resolver())
    assert refs(api_server) == [f"data/{bound.claim['metadata']['name']}"]
    assert request_log.count("PUT", f"{SOURCE_NAME}/status") == 2


def test_a_source_create_that_landed_but_failed_is_adopted(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    api_server.inject("create", "datasources", code=500, after=True)
    bind(kube, Resolver())
    assert len([k for k in api_server.objects if k[0].endswith("datasources")]) == 1


def test_a_crash_between_reference_and_bound_is_adopted_by_the_retry(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    api_server.inject("update", "datasourceclaims", subresource="status", code=403)
    with pytest.raises(ApiRejected):
        bind(kube, Resolver())
    name = claim_manifest()["metadata"]["name"]
    claim = api_server.stored(CLAIMS, name, "data")
    assert claim is not None and "status" not in claim
    assert refs(api_server) == [f"data/{name}"]
    resolver = Resolver()
    bound = bind(kube, resolver)
    assert bound.claim["status"]["phase"] == "Bound"
    assert refs(api_server) == [f"data/{name}"]
    assert resolver.calls == 0


def test_not_found_is_retried_on_schedule_then_reported(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    waits: list[float] = []
    resolver = Resolver(None, None, None, None)
    with pytest.raises(DataSourceNotFound, match="after 4 attempts"):
        bind(kube, resolver, sleep=waits.append, backoff=Backoff())
    assert waits == [1.0, 2.0, 4.0]
    assert resolver.calls == 4
    claim = api_server.stored(CLAIMS, claim_manifest()["metadata"]["name"], "data")
    assert claim is not None
    condition = claim["status"]["conditions"][0]
    assert (claim["status"]["phase"], condition["reason"]) == ("Pending", "DataSourceNotFound")


def test_data_that_appears_while_retrying_is_bound(kube: KubeClient) -> None:
    waits: list[float] = []
    resolver = Resolver(None, None)
    bound = bind(kube, resolver, sleep=waits.append)
    assert bound.claim["status"]["phase"] == "Bound" and waits == [1.0, 2.0]


def test_a_deleted_source_turns_the_claim_lost_and_the_retry_binds_anew(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    resolver = Resolver()
    bind(kube, resolver)
    api_server.remove_object(SOURCES, SOURCE_NAME)
    transitions: list[str] = []
    original = kube.modify

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = original(*args, **kwargs)
        if args[0] is CLAIMS:
            transitions.append(result["status"]["phase"])
        return result

    kube.modify = recording  # type: ignore[method-assign]
    again = bind(kube, resolver)
    assert transitions == ["Lost", "Bound"]
    assert [c.id for c in again.data_source.chunks] == ["gen2-part0", "gen2-part1"]
    assert resolver.calls == 2


def test_a_stale_source_is_refreshed_before_binding(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    clock = Clock()
    resolver = Resolver()
    bind(kube, resolver, claim_manifest("train"), now=clock, ttl=timedelta(minutes=10))
    clock.now += timedelta(minutes=11)
    later = bind(kube, resolver, claim_manifest("score"), now=clock, ttl=timedelta(minutes=10))
    assert resolver.calls == 2
    assert later.source["spec"]["observedAt"] == "2026-11-01T10:11:00Z"
    assert [c.id for c in later.data_source.chunks] == ["gen2-part0", "gen2-part1"]
    assert len(refs(api_server)) == 2


@pytest.mark.parametrize(("policy", "kept"), [("Delete", False), ("Retain", True)])
def test_releasing_the_last_claim_follows_the_reclaim_policy(
    kube: KubeClient, api_server: EmulatedApi, policy: str, kept: bool
) -> None:
    resolver = Resolver(policy=policy)
    a = bind(kube, resolver, claim_manifest("train"))
    b = bind(kube, resolver, claim_manifest("score"))
    release_binding(kube, "data", a.claim["metadata"]["name"])
    assert refs(api_server) == [f"data/{b.claim['metadata']['name']}"]
    release_binding(kube, "data", b.claim["metadata"]["name"])
    assert (api_server.stored(SOURCES, SOURCE_NAME) is not None) == kept


def test_a_source_replaced_between_reference_and_bound_is_not_bound_without_it(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    """Deleted and recreated (without our reference) after AddClaimRef, before MarkBound."""
    transitions: list[str] = []
    raced: list[bool] = []
    original = kube.modify

    def racing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = original(*args, **kwargs)
        if args[0] is SOURCES and not raced and result["status"].get("claimRefs"):
            raced.append(True)
            replacement = {k: v for k, v in result.items() if k != "status"}
            replacement["metadata"] = {
                k: v for k, v in result["metadata"].items() if k not in ("uid", "resourceVersion")
            }
            api_server.remove_object(SOURCES, SOURCE_NAME)
            api_server.put_object(SOURCES, replacement)
        if args[0] is CLAIMS:
            transitions.append(result["status"]["phase"])
        return result

    kube.modify = racing  # type: ignore[method-assign]
    bound = bind(kube, Resolver())
    assert transitions == ["Bound"]  # never Bound on the replacement, then Lost
    assert refs(api_server) == [f"data/{bound.claim['metadata']['name']}"]
