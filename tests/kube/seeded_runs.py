"""One seeded fault run: the example pipeline's Kubernetes work task by task, with
Airflow's retries, and the invariants checked after every task try (what
``test_seeded_faults`` runs on the emulator and ``tests/realkube`` through a fault proxy
in front of the real apiserver)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from datalocality.errors import KubernetesError
from datalocality.kube.binder import apply_binding
from datalocality.kube.chunk_lists import build_chunk_lists
from datalocality.kube.claims import build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.names import ANNOTATION_RUN_KEY, TaskKey, build_claim_name
from datalocality.kube.objects import Obj, RetryPolicy, name_of
from datalocality.kube.pods import PodTemplate, build_replica_pod
from datalocality.kube.release import build_owner_references, release_run
from datalocality.kube.resources import ALL_PODS, CLAIMS, CONFIGMAPS, SLICES, SOURCES, Resource
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from datalocality.operators.plan_store import put_chunk_lists
from datalocality_testcluster.sandbox.faults import Faults
from tests.kube.support import PLAN, TOPOLOGY

PROBABILITY = 0.2
TRIES = 4  # Airflow retries of each task
POLICY = RetryPolicy(attempts=6, initial=0.0, max_delay=0.0, request_timeout=0.05)
HOLD = 0.1  # a "timeout" answers after this: past the request timeout above


class Reads(Protocol):
    """The test's own view of the cluster, beside the faulted client: direct reads and
    out-of-band removals (the emulator's store, or the real apiserver as admin)."""

    def stored(self, resource: Resource, name: str, namespace: str = "") -> Obj | None: ...

    def list_of(self, resource: Resource) -> list[Obj]: ...

    def remove_object(self, resource: Resource, name: str, namespace: str = "") -> None: ...


def no_sleep(_: float) -> None:
    """The client's backoff and Retry-After sleeps: counted by the client, not waited."""


@dataclass(frozen=True)
class Run:
    """One seeded run's names: its inputs, its plan task and its replica tasks."""

    seed: int
    namespace: str = "data"

    @property
    def inputs(self) -> list[DataInput]:
        return [DataInput(system="iceberg", name=f"db.events_{self.seed}_{i}") for i in (0, 1)]

    @property
    def plan_task(self) -> TaskKey:
        return TaskKey(dag_id="seeded", run_id=f"run-{self.seed}", task_id="read.plan")

    def replica_task(self, index: int) -> TaskKey:
        return TaskKey(
            dag_id="seeded", run_id=f"run-{self.seed}", task_id="read.replica", map_index=index
        )


def resolver(data_input: DataInput) -> DataSource:
    chunks = [Chunk(id=f"part-{i}", size=2**20, locations=["node-a1"]) for i in range(3)]
    return DataSource.for_input(data_input, chunks=chunks)


def _claim_manifest(run: Run, data_input: DataInput) -> dict[str, Any]:
    task = run.plan_task
    claim = DataSourceClaim(name=build_claim_name(task, data_input), input=data_input)
    return build_data_source_claim(claim, task=task, namespace=run.namespace)


def plan_task(client: KubeClient, run: Run) -> list[dict[str, Any]]:
    """The plan task's writes: claims bound, then the chunk lists owned by them."""
    claims = [
        apply_binding(client, _claim_manifest(run, i), resolve=resolver, sleep=no_sleep).claim
        for i in run.inputs
    ]
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=run.namespace)
    put_chunk_lists(client, lists, run.plan_task, build_owner_references(claims))
    return claims


def replica_task(client: KubeClient, run: Run, index: int) -> None:
    """A replica task's write: its pod (adopted when an earlier try created it)."""
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=run.namespace)
    pod = build_replica_pod(
        PLAN,
        index,
        task=run.replica_task(index),
        namespace=run.namespace,
        topology=TOPOLOGY,
        template=PodTemplate(image="read:1"),
        chunk_list=lists.replicas[index],
    )
    client.create_or_get(pod)


def release_task(client: KubeClient, run: Run) -> None:
    """The teardown: the run's claims released and deleted, its chunk lists deleted."""
    release_run(client, run.namespace, run.plan_task)


def _claims(api: Reads, run: Run) -> list[dict[str, Any]]:
    names = {name_of(_claim_manifest(run, i)) for i in run.inputs}
    return [c for c in api.list_of(CLAIMS) if name_of(c) in names]


def _sources(api: Reads, run: Run) -> list[dict[str, Any]]:
    wanted = {i.name for i in run.inputs}
    return [s for s in api.list_of(SOURCES) if (s.get("spec") or {}).get("name") in wanted]


def _task_objects(api: Reads, resource: Any, task: TaskKey) -> list[dict[str, Any]]:
    """Objects of ``resource`` written for ``task`` (by their run-key annotation)."""
    found = []
    for obj in api.list_of(resource):
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get(ANNOTATION_RUN_KEY) == task.run_key:
            found.append(obj)
    return found


def check_consistent(api: Reads, run: Run) -> None:
    """At most one claim per input; references are exactly the live Bound claims'."""
    claims = _claims(api, run)
    names = [name_of(c) for c in claims]
    assert len(names) == len(set(names)) <= len(run.inputs)
    sources = _sources(api, run)
    assert len(sources) <= len(run.inputs), "two DataSources for one input"
    for source in sources:
        status = source.get("status") or {}
        refs = [r["name"] for r in status.get("claimRefs") or []]
        assert len(refs) == len(set(refs)) == status.get("boundClaims", 0), status
        assert set(refs) <= set(names), f"a reference to a claim that is gone: {refs}"
    for claim in claims:
        status = claim.get("status") or {}
        if status.get("phase") == "Bound":
            bound = api.stored(SOURCES, status["boundDataSource"])
            assert bound is not None, f"{name_of(claim)} is bound to a missing source"
            refs = [r["name"] for r in (bound.get("status") or {}).get("claimRefs") or []]
            assert name_of(claim) in refs, f"Bound claim {name_of(claim)} is not referenced"


def check_planned(api: Reads, run: Run) -> None:
    """What a plan task that reported success must have done."""
    claims = _claims(api, run)
    assert len(claims) == len(run.inputs)
    assert all((c.get("status") or {}).get("phase") == "Bound" for c in claims), claims
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=run.namespace)
    for manifest in lists.configmaps:
        assert api.stored(CONFIGMAPS, name_of(manifest), run.namespace) is not None


def check_finished(api: Reads, run: Run) -> None:
    """After the teardown: one pod per replica, no claim or list, sources unreferenced."""
    check_consistent(api, run)
    left = [(name_of(c), c["metadata"].get("creationTimestamp")) for c in _claims(api, run)]
    assert left == [], "claims left after the teardown (name, created)"
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=run.namespace)
    for manifest in lists.configmaps:
        assert api.stored(CONFIGMAPS, name_of(manifest), run.namespace) is None
    for index in range(len(PLAN.replicas)):
        pods = _task_objects(api, ALL_PODS, run.replica_task(index))
        assert len(pods) == 1, f"replica {index}: {len(pods)} pods"
    sources = _sources(api, run)
    assert len(sources) == len(run.inputs)
    assert all(not (s.get("status") or {}).get("claimRefs") for s in sources)


def sweep(api: Reads, run: Run) -> None:
    """Remove what a finished run left (its pods, its Retain sources and their slices),
    out of band: the emulator's lists stay as short for the 100th run as for the first."""
    for index in range(len(PLAN.replicas)):
        for pod in _task_objects(api, ALL_PODS, run.replica_task(index)):
            api.remove_object(ALL_PODS, name_of(pod), pod["metadata"]["namespace"])
    for source in _sources(api, run):
        uid = source["metadata"]["uid"]
        for piece in api.list_of(SLICES):
            if any(o.get("uid") == uid for o in piece["metadata"].get("ownerReferences") or []):
                api.remove_object(SLICES, name_of(piece))
        api.remove_object(SOURCES, name_of(source))


def run_pipeline(client: KubeClient, api: Reads, run: Run) -> dict[str, int]:
    """Every task of the run, each tried up to TRIES times; failed tries per task."""
    tasks: list[tuple[str, Callable[[], Any], Callable[[], None] | None]] = [
        ("plan", lambda: plan_task(client, run), lambda: check_planned(api, run)),
        *(
            (f"replica {i}", lambda i=i: replica_task(client, run, i), None)
            for i in range(len(PLAN.replicas))
        ),
        ("release", lambda: release_task(client, run), None),
    ]
    failed: dict[str, int] = {}
    for name, task, done in tasks:
        for _ in range(TRIES):
            try:
                task()
            except KubernetesError:
                failed[name] = failed.get(name, 0) + 1
                check_consistent(api, run)
                continue
            check_consistent(api, run)
            if done is not None:
                done()
            break
        else:
            raise AssertionError(f"task {name} failed all {TRIES} tries")
    check_finished(api, run)
    sweep(api, run)
    return failed


def run_seeded(
    client: KubeClient, reads: Reads, faults: Faults, run: Run, hold: float
) -> tuple[int, int]:
    """One seeded run with ``faults`` in chaos mode: (task tries retried, faults fired);
    a broken invariant names the seed to replay and the faults the run met."""
    faults.chaos(run.seed, PROBABILITY, hold=hold)
    before = len(faults.chaos_fired)
    try:
        retried = sum(run_pipeline(client, reads, run).values())
    except AssertionError as exc:
        fired = faults.chaos_fired[before:]
        raise AssertionError(
            f"seed {run.seed} (replay: SEEDS={run.seed}): {exc}; faults {fired}"
        ) from exc
    finally:
        faults.clear()
    return retried, len(faults.chaos_fired) - before
