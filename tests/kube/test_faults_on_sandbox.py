"""Fault injection in the emulator: every kind we create, and binding, with zero duplicates.

Faults are the sandbox's (``Faults.inject``): a status code before the request is applied,
the same after it was applied (apply-then-fail), or the connection dropped after applying
(an ambiguous write). Whatever happens, the end state holds exactly one object per
deterministic name and no lost claim reference, and the client either succeeded or
raised one of the errors of ``datalocality.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from datalocality.errors import ApiRejected, ApiUnavailable, KubernetesError
from datalocality.kube.binder import apply_binding, release_binding
from datalocality.kube.chunk_lists import build_chunk_lists
from datalocality.kube.claims import build_data_source, build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.jobs import JobTemplate, build_operation_job
from datalocality.kube.names import TaskKey, build_claim_name
from datalocality.kube.objects import RetryPolicy, name_of, namespace_of
from datalocality.kube.pods import PodTemplate, build_replica_pod
from datalocality.kube.resources import CLAIMS, SLICES, SOURCES, resource_of
from datalocality.kube.slices import build_slices, source_chunks
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from datalocality_testcluster.sandbox import Sandbox
from tests.kube.conftest import RequestLog, api_client_for
from tests.kube.emulator import EmulatedApi
from tests.kube.support import PLAN, PLAN_TASK, SOURCE, TASK, TOPOLOGY

Obj = dict[str, Any]
INPUT = DataInput(system="iceberg", name="db.Events", attributes={"day": "7"})


def claim_manifest(task_id: str = "train") -> Obj:
    task = TaskKey(dag_id="dag", run_id="run-1", task_id=task_id)
    claim = DataSourceClaim(name=build_claim_name(task, INPUT), input=INPUT)
    return build_data_source_claim(claim, task=task, namespace="data")


def unowned(manifest: Obj) -> Obj:
    """Without its owner reference: no DataSource owns it here, and the garbage collector
    would delete a slice whose owner is not there (tests/kube/test_slices.py has that)."""
    del manifest["metadata"]["ownerReferences"]
    return manifest


CHUNK_LISTS = build_chunk_lists(PLAN, task=PLAN_TASK, namespace="data")
MANIFESTS: dict[str, Callable[[], Obj]] = {
    "pod": lambda: build_replica_pod(
        PLAN,
        0,
        task=TASK,
        namespace="data",
        topology=TOPOLOGY,
        template=PodTemplate(image="train:1"),
        chunk_list=CHUNK_LISTS.replicas[0],
    ),
    "configmap": lambda: build_chunk_lists(PLAN, task=PLAN_TASK, namespace="data").configmaps[0],
    "job": lambda: build_operation_job(
        PLAN.operations[0],
        0,
        task=PLAN_TASK,
        namespace="data",
        template=JobTemplate(image="op:1"),
        chunk_list=CHUNK_LISTS.operations[0],
    ),
    "datasource": lambda: build_data_source("events", SOURCE),
    "datasourceslice": lambda: unowned(build_slices("events", "uid-of-events", SOURCE.chunks)[0]),
    "datasourceclaim": claim_manifest,
}
# Before applying: nothing landed. After: the write landed, the client is told otherwise.
FAULTS: dict[str, dict[str, Any]] = {
    "409": {"code": 409},
    "409-after-apply": {"code": 409, "after": True},
    "429": {"code": 429, "retry_after": 2},
    "500": {"code": 500},
    "500-after-apply": {"code": 500, "after": True},
    "503": {"code": 503},
    "dropped-after-apply": {"drop": True},
}


def same_kind(api_server: EmulatedApi, manifest: Obj) -> list[Obj]:
    """Every stored object of the manifest's kind carrying its name's labels."""
    resource = resource_of(manifest)
    labels = manifest["metadata"].get("labels") or {}
    return [
        obj
        for obj in api_server.list_of(resource)
        if namespace_of(obj) == namespace_of(manifest)
        and all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
    ]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("kind", MANIFESTS)
def test_create_or_get_under_a_fault_makes_exactly_one_object(
    kube: KubeClient, api_server: EmulatedApi, kind: str, fault: dict[str, Any]
) -> None:
    manifest = MANIFESTS[kind]()
    api_server.inject("create", resource_of(manifest).plural, **fault)
    result = kube.create_or_get(manifest)
    assert len(api_server.sandbox.faults.fired) == 1
    stored = same_kind(api_server, manifest)
    assert [name_of(o) for o in stored] == [name_of(manifest)]
    assert result.object["metadata"]["uid"] == stored[0]["metadata"]["uid"]
    # A retried task adopts the very same object.
    again = kube.create_or_get(MANIFESTS[kind]())
    assert not again.created
    assert again.object["metadata"]["uid"] == stored[0]["metadata"]["uid"]
    assert len(same_kind(api_server, manifest)) == 1


@pytest.mark.parametrize("kind", MANIFESTS)
def test_a_rival_object_under_our_name_is_refused_untouched(
    kube: KubeClient, api_server: EmulatedApi, kind: str
) -> None:
    rival = MANIFESTS[kind]()
    rival["metadata"]["annotations"]["datalocality.io/spec-hash"] = "someone-else"
    stored = kube.create_or_get(rival).object
    with pytest.raises(KubernetesError, match="not ours"):
        kube.create_or_get(MANIFESTS[kind]())
    kept = same_kind(api_server, rival)
    assert [o["metadata"]["uid"] for o in kept] == [stored["metadata"]["uid"]]


@pytest.mark.parametrize("code", [500, 503])
def test_a_create_that_keeps_failing_raises_unavailable_and_leaves_at_most_one(
    kube: KubeClient, api_server: EmulatedApi, code: int
) -> None:
    manifest = MANIFESTS["configmap"]()
    api_server.inject("create", "configmaps", code=code, after=True, times=100)
    result = kube.create_or_get(manifest)  # the first write landed: the read adopts it
    assert len(same_kind(api_server, manifest)) == 1 and not result.created
    other = MANIFESTS["pod"]()
    api_server.inject("create", "pods", code=code, times=100)
    with pytest.raises(ApiUnavailable):
        kube.create_or_get(other)
    assert same_kind(api_server, other) == []


def test_429_under_urllib3s_own_retries_still_makes_one_object(
    sandbox: Sandbox, api_server: EmulatedApi
) -> None:
    """With urllib3's default Retry, reads absorb 429 themselves; POST reaches the client."""
    log = RequestLog()
    with api_client_for(sandbox, log, urllib3_retries=True) as api_client:
        waits: list[float] = []
        kube = KubeClient(api_client, sleep=waits.append)
        manifest = MANIFESTS["configmap"]()
        api_server.inject("create", "configmaps", code=429, retry_after=0)
        api_server.inject("get", "configmaps", code=429, retry_after=0, times=2)
        assert kube.create_or_get(manifest).created
        assert not kube.create_or_get(MANIFESTS["configmap"]()).created
    assert waits == [0.0]  # the POST's Retry-After; urllib3 slept through the GETs' own
    assert log.count("POST") == 3  # 429, created, 409 adopted
    assert len(same_kind(api_server, manifest)) == 1
    assert [f[3] for f in sandbox.faults.fired] == [429, 429, 429]


# -- binding under faults ------------------------------------------------------------------

STEPS = {
    "create-claim": ("create", "datasourceclaims", None),
    "create-source": ("create", "datasources", None),
    "reference": ("update", "datasources", "status"),
    "mark-bound": ("update", "datasourceclaims", "status"),
    "list-sources": ("list", "datasources", None),
    "read-claim": ("get", "datasourceclaims", None),
    "list-slices": ("list", "datasourceslices", None),
    "create-slice": ("create", "datasourceslices", None),
}


def resolver(data_input: DataInput) -> DataSource:
    return DataSource.for_input(data_input, chunks=[Chunk(id="part-0", locations=["node-a"])])


def assert_consistent(api_server: EmulatedApi) -> None:
    """One claim at most, one source at most, and a Bound claim is referenced."""
    claims = api_server.list_of(CLAIMS)
    sources = api_server.list_of(SOURCES)
    assert len(claims) <= 1 and len(sources) <= 1
    for source in sources:
        status = source.get("status") or {}
        refs = [(r["namespace"], r["name"]) for r in status.get("claimRefs") or []]
        assert len(refs) == len(set(refs)) == status.get("boundClaims", 0)
    for claim in claims:
        status = claim.get("status") or {}
        if status.get("phase") == "Bound":
            bound = api_server.stored(SOURCES, status["boundDataSource"])
            assert bound is not None
            ref = {"namespace": "data", "name": name_of(claim)}
            assert any(
                {k: r[k] for k in ("namespace", "name")} == ref
                for r in bound["status"]["claimRefs"]
            )


def assert_bound_once(api_server: EmulatedApi) -> None:
    assert_consistent(api_server)
    claims, sources = api_server.list_of(CLAIMS), api_server.list_of(SOURCES)
    assert len(claims) == len(sources) == 1
    assert claims[0]["status"]["phase"] == "Bound"
    assert sources[0]["status"]["boundClaims"] == 1
    assert source_chunks(sources[0], api_server.list_of(SLICES)) == resolver(INPUT).chunks
    assert len(api_server.list_of(SLICES)) == 1  # one set, one slice: no duplicate


@pytest.fixture
def steps_seen(api_server: EmulatedApi) -> Iterator[EmulatedApi]:
    yield api_server
    # Every injected fault fired: the step it targets really happened.
    assert api_server.sandbox.faults.fired


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS.keys())
def test_binding_under_a_fault_binds_once(
    kube: KubeClient,
    steps_seen: EmulatedApi,
    step: tuple[str, str, str | None],
    fault: dict[str, Any],
) -> None:
    api_server = steps_seen
    verb, resource, subresource = step
    api_server.inject(verb, resource, subresource=subresource, **fault)
    if verb in {"get", "list"} and fault.get("code") == 409:  # meaningless on a read: final
        with pytest.raises(ApiRejected):
            apply_binding(kube, claim_manifest(), resolve=resolver, sleep=lambda _: None)
        assert_consistent(api_server)
    bound = apply_binding(kube, claim_manifest(), resolve=resolver, sleep=lambda _: None)
    assert bound.claim["status"]["phase"] == "Bound"
    assert_bound_once(api_server)
    # The retried task adopts; a release then leaves nothing referenced.
    apply_binding(kube, claim_manifest(), resolve=resolver, sleep=lambda _: None)
    assert_bound_once(api_server)
    release_binding(kube, "data", name_of(bound.claim))
    assert api_server.list_of(SOURCES)[0]["status"]["boundClaims"] == 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [({"code": 500, "times": 100}, ApiUnavailable), ({"code": 403}, ApiRejected)],
    ids=["keeps-failing", "forbidden"],
)
@pytest.mark.parametrize("step", STEPS.values(), ids=STEPS.keys())
def test_binding_that_cannot_finish_raises_and_the_retry_converges(
    sandbox: Sandbox,
    api_server: EmulatedApi,
    step: tuple[str, str, str | None],
    fault: dict[str, Any],
    error: type[Exception],
) -> None:
    verb, resource, subresource = step
    with api_client_for(sandbox) as api_client:
        fast = RetryPolicy(initial=0.001, max_delay=0.001, conflict_attempts=3, attempts=3)
        kube = KubeClient(api_client, policy=fast)
        api_server.inject(verb, resource, subresource=subresource, **fault)
        with pytest.raises(error):
            apply_binding(kube, claim_manifest(), resolve=resolver, sleep=lambda _: None)
        assert_consistent(api_server)
        api_server.sandbox.faults.clear()
        apply_binding(kube, claim_manifest(), resolve=resolver, sleep=lambda _: None)
    assert_bound_once(api_server)


def test_many_claims_bound_under_scattered_faults_share_one_source(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    for index, (verb, resource, subresource) in enumerate(STEPS.values()):
        fault = list(FAULTS.values())[index % len(FAULTS)]
        api_server.inject(verb, resource, subresource=subresource, **{**fault, "times": 2})
    names = []
    for task_id in ("a", "b", "c", "d"):
        bound = apply_binding(kube, claim_manifest(task_id), resolve=resolver, sleep=lambda _: None)
        names.append(name_of(bound.claim))
    sources = api_server.list_of(SOURCES)
    assert len(sources) == 1
    refs = sorted(r["name"] for r in sources[0]["status"]["claimRefs"])
    assert refs == sorted(names) and sources[0]["status"]["boundClaims"] == 4


RELEASE_STEPS = {
    "remove-reference": ("update", "datasources", "status"),
    "delete-source": ("delete", "datasources", None),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("step", RELEASE_STEPS.values(), ids=RELEASE_STEPS.keys())
def test_release_under_a_fault_leaves_no_reference_and_no_source(
    kube: KubeClient,
    steps_seen: EmulatedApi,
    step: tuple[str, str, str | None],
    fault: dict[str, Any],
) -> None:
    api_server = steps_seen

    def deleting(data_input: DataInput) -> DataSource:
        return resolver(data_input).model_copy(update={"reclaim_policy": "Delete"})

    bound = apply_binding(kube, claim_manifest(), resolve=deleting, sleep=lambda _: None)
    verb, resource, subresource = step
    api_server.inject(verb, resource, subresource=subresource, **fault)
    release_binding(kube, "data", name_of(bound.claim))
    assert api_server.list_of(SOURCES) == []  # reclaimPolicy Delete, last claim gone
