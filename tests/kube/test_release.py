"""Releasing a run, on both clusters: the run's claims, chunk lists and Jobs go, each
DataSource keeps only other runs' references, a Delete source goes with its slices; a
release killed after any of its writes is finished by the next one. And losing data: a
source whose refresh finds the data gone turns Lost with every claim on it, and is
Available again once the data is found."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from datalocality.binding import Backoff, claim_ref
from datalocality.errors import DataSourceNotFound
from datalocality.kube.binder import Bound, apply_binding
from datalocality.kube.chunk_lists import build_chunk_lists, chunk_list_selector
from datalocality.kube.claims import CLAIM_COMPONENT, build_data_source_claim, source_state
from datalocality.kube.client import KubeClient
from datalocality.kube.jobs import JobTemplate, build_operation_job
from datalocality.kube.names import (
    LABEL_DATA_SOURCE,
    TaskKey,
    build_claim_name,
    build_data_source_name,
    label_value,
    selector,
)
from datalocality.kube.objects import name_of
from datalocality.kube.release import Released, build_owner_references, release_run
from datalocality.kube.resources import CLAIMS, CONFIGMAPS, JOBS, SLICES, SOURCES
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from datalocality.operators.plan_store import put_chunk_lists
from datalocality_testcluster.clusters import KINDS, ProviderCluster, start_cluster
from tests.kube.conftest import api_client_for
from tests.kube.support import PLAN

NAMESPACE = "default"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Run:
    """One run's plan task, its job task, and the two inputs it claimed."""

    plan_task: TaskKey
    job_task: TaskKey
    kept: DataInput  # Retain
    dropped: DataInput  # Delete

    @classmethod
    def named(cls, tag: str, run_id: str = "") -> Run:
        plan_task = TaskKey(dag_id="pipeline", run_id=run_id or f"run-{tag}", task_id="c.plan")
        return cls(
            plan_task,
            plan_task.model_copy(update={"task_id": "c.repartition"}),
            DataInput(system="iceberg", name=f"db.kept_{tag}"),
            DataInput(system="airflow", data_source_type="chunks", name=f"produced.{tag}"),
        )


def bind(kube: KubeClient, task: TaskKey, data_input: DataInput, policy: str) -> Bound:
    """Claim ``data_input`` for ``task``; a new source gets ``policy``."""
    return apply_binding(kube, claim_of(task, data_input), resolve=lambda i: resolved(i, policy))


def resolved(data_input: DataInput, policy: str = "Retain") -> DataSource:
    """What the resolver answers for ``data_input``: three chunks on worker-0."""
    chunks = [Chunk(id=f"part-{i}", size=1024, locations=["worker-0"]) for i in range(3)]
    return DataSource.for_input(data_input, chunks=chunks, reclaim_policy=policy)


def claim_of(task: TaskKey, data_input: DataInput) -> dict[str, Any]:
    claim = DataSourceClaim(name=build_claim_name(task, data_input), input=data_input)
    return build_data_source_claim(claim, task=task, namespace=NAMESPACE)


def write_run(kube: KubeClient, run: Run) -> None:
    """What a plan task and its job task leave: two bound claims, the chunk lists owned by
    them, a Job."""
    bound = [bind(kube, run.plan_task, run.kept, "Retain")]
    bound.append(bind(kube, run.plan_task, run.dropped, "Delete"))
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=NAMESPACE)
    put_chunk_lists(kube, lists, run.plan_task, build_owner_references([b.claim for b in bound]))
    job = build_operation_job(
        PLAN.operations[0],
        0,
        task=run.job_task,
        namespace=NAMESPACE,
        template=JobTemplate(image="op:1"),
        chunk_list=lists.operations[0],
    )
    kube.create_or_get(job)


def left_of(kube: KubeClient, run: Run) -> dict[str, list[str]]:
    """The run's claims, chunk lists and Jobs still in the cluster."""
    claims = selector(run.plan_task, component=CLAIM_COMPONENT)
    return {
        "claims": sorted(map(name_of, kube.list(CLAIMS, NAMESPACE, label_selector=claims)[0])),
        "configmaps": sorted(
            map(
                name_of,
                kube.list(CONFIGMAPS, NAMESPACE, label_selector=chunk_list_selector(run.plan_task))[
                    0
                ],
            )
        ),
        "jobs": sorted(
            map(name_of, kube.list(JOBS, NAMESPACE, label_selector=selector(run.job_task))[0])
        ),
    }


def refs_of(kube: KubeClient, data_input: DataInput) -> tuple[str, ...] | None:
    """The claim references of an input's source; None once the source is gone."""
    obj = kube.get(SOURCES, build_data_source_name(data_input))
    return None if obj is None else source_state(obj).refs


def slices_of(kube: KubeClient, data_input: DataInput) -> list[str]:
    labels = f"{LABEL_DATA_SOURCE}={label_value(build_data_source_name(data_input))}"
    return sorted(map(name_of, kube.list(SLICES, label_selector=labels)[0]))


def eventually_empty(read: Any, seconds: float = 120.0) -> None:
    """Wait for ``read()`` to be empty (the real garbage collector rescans kinds every
    30 s); fail with what is left."""
    deadline = time.monotonic() + seconds
    while (left := read()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left


@pytest.fixture(params=KINDS, scope="module")
def provider_cluster(request: pytest.FixtureRequest) -> Iterator[ProviderCluster]:
    with start_cluster(request.param) as cluster:
        yield cluster
        assert cluster.errors == []


@pytest.fixture
def kube(provider_cluster: ProviderCluster) -> Iterator[KubeClient]:
    with api_client_for(provider_cluster.kubeconfig_path) as api:  # the provider's account
        yield KubeClient(api)


def test_release_removes_only_the_runs_objects_and_applies_reclaim(kube: KubeClient) -> None:
    run, other = Run.named("a"), Run.named("a", run_id="run-other")  # same inputs, two runs
    write_run(kube, run)
    write_run(kube, other)
    before = left_of(kube, run)
    assert [len(v) for v in before.values()] == [2, 1, 1]
    assert len(refs_of(kube, run.kept) or ()) == len(refs_of(kube, run.dropped) or ()) == 2

    released = release_run(kube, NAMESPACE, run.plan_task, [run.job_task])

    assert released.claims == tuple(before["claims"])
    assert released.configmaps == tuple(before["configmaps"])
    assert released.jobs == tuple(before["jobs"])
    assert released.deleted_sources == ()  # the other run still holds the Delete source
    assert left_of(kube, run) == {"claims": [], "configmaps": [], "jobs": []}
    other_claims = left_of(kube, other)["claims"]
    assert len(other_claims) == 2  # the other run's objects are untouched
    theirs = {claim_ref(NAMESPACE, c) for c in other_claims}
    kept, dropped = refs_of(kube, run.kept) or (), refs_of(kube, run.dropped) or ()
    assert len(kept) == len(dropped) == 1
    assert {*kept, *dropped} == theirs

    last = release_run(kube, NAMESPACE, other.plan_task, [other.job_task])
    assert last.deleted_sources == (build_data_source_name(run.dropped),)
    assert refs_of(kube, run.kept) == ()  # Retain: kept, unreferenced, for the next claim
    assert refs_of(kube, run.dropped) is None  # Delete: gone, and its slices after it
    eventually_empty(lambda: slices_of(kube, run.dropped))
    assert slices_of(kube, run.kept)
    assert release_run(kube, NAMESPACE, run.plan_task, [run.job_task]) == Released()


def test_chunk_lists_go_with_the_claims_that_own_them(kube: KubeClient) -> None:
    run = Run.named("owned")
    write_run(kube, run)
    for claim in left_of(kube, run)["claims"]:  # as `kubectl delete datasourceclaims -l ...`
        kube.delete(CLAIMS, claim, NAMESPACE)
    eventually_empty(lambda: left_of(kube, run)["configmaps"])


class Killed(BaseException):
    """The process died: nothing after this runs (not an Exception: no handler sees it)."""


class _KillAfter:
    """Wraps the pool manager: the answer to the ``k``-th write arrives, then the process
    dies."""

    def __init__(self, inner: Any, k: int) -> None:
        self.inner, self.k, self.writes = inner, k, 0

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        answer = self.inner.request(method, url, **kwargs)
        if method in WRITES:
            self.writes += 1
            if self.writes == self.k:
                raise Killed(f"{method} {urlsplit(url).path}")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def release_killed_after(cluster: ProviderCluster, run: Run, k: int) -> int:
    """Release ``run`` in a client that dies after its ``k``-th write (0: never); the
    writes it made."""
    with api_client_for(cluster.kubeconfig_path) as api:
        killer = _KillAfter(api.rest_client.pool_manager, k)
        api.rest_client.pool_manager = killer
        with pytest.raises(Killed) if k else contextlib.nullcontext():
            release_run(KubeClient(api), NAMESPACE, run.plan_task, [run.job_task])
        return killer.writes


def test_a_release_killed_after_any_write_is_finished_by_the_next(
    provider_cluster: ProviderCluster, kube: KubeClient
) -> None:
    clean = Run.named("clean")
    write_run(kube, clean)
    writes = release_killed_after(provider_cluster, clean, 0)
    # each ConfigMap; the Job; the reference off the Retain source and the claim; the
    # reference off the Delete source, that source, the claim
    lists = build_chunk_lists(PLAN, task=clean.plan_task, namespace=NAMESPACE).configmaps
    assert writes == 2 + 3 + len(lists) + 1
    for k in range(1, writes + 1):
        run = Run.named(f"k{k}")
        write_run(kube, run)
        release_killed_after(provider_cluster, run, k)
        release_run(kube, NAMESPACE, run.plan_task, [run.job_task])  # the teardown's retry
        assert left_of(kube, run) == {"claims": [], "configmaps": [], "jobs": []}, k
        assert refs_of(kube, run.kept) == (), k
        assert refs_of(kube, run.dropped) is None, k


def _gone(data_input: DataInput) -> DataSource:
    raise DataSourceNotFound(f"{data_input.key} not found")


def test_a_source_whose_data_is_gone_turns_lost_with_its_claims_then_binds_again(
    kube: KubeClient,
) -> None:
    data_input = DataInput(system="iceberg", name="db.vanishing")
    tasks = [TaskKey(dag_id="pipeline", run_id=f"run-lost-{i}", task_id="c.plan") for i in range(3)]
    first = bind(kube, tasks[0], data_input, "Retain")
    name = name_of(first.source)
    later = datetime.now(UTC) + timedelta(hours=1)  # past the TTL: the next bind refreshes

    def rebind(task: TaskKey, resolve: Any) -> Bound:
        return apply_binding(
            kube,
            claim_of(task, data_input),
            resolve=resolve,
            ttl=timedelta(minutes=5),
            now=lambda: later,
            backoff=Backoff(retries=1),
            sleep=lambda _: None,
        )

    with pytest.raises(DataSourceNotFound, match=f"DataSource {name} is Lost"):
        rebind(tasks[1], _gone)
    source = kube.get(SOURCES, name)
    assert source is not None and source["status"]["phase"] == "Lost"
    (available,) = [c for c in source["status"]["conditions"] if c["type"] == "Available"]
    assert (available["status"], available["reason"]) == ("False", "DataGone")
    for task in tasks[:2]:  # the claim bound to it, and the one that could not bind
        claim = kube.get(CLAIMS, build_claim_name(task, data_input), NAMESPACE)
        assert claim is not None and claim["status"]["phase"] == "Lost", claim
        (bound,) = claim["status"]["conditions"]
        assert bound["reason"] == "DataGone" and name in bound["message"]
        assert claim["status"]["boundDataSource"] == name

    again = rebind(tasks[2], resolved)
    assert again.claim["status"]["phase"] == "Bound" and name_of(again.source) == name
    source = kube.get(SOURCES, name)
    assert source is not None and source["status"]["phase"] == "Available"
    (available,) = [c for c in source["status"]["conditions"] if c["type"] == "Available"]
    assert (available["status"], available["reason"]) == ("True", "DataFound")
    for task in tasks:
        release_run(kube, NAMESPACE, task)
    assert refs_of(kube, data_input) == ()
