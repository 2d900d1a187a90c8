"""Seeded fault runs: 1,000 runs of a pipeline's Kubernetes work with every request
faulted at random, and not one invariant broken.

Each run is what the example pipeline's tasks ask of the apiserver, task by task, with
Airflow's retries: the plan task (claim and bind two inputs, write the chunk lists owned
by the claims), one pod per replica, and the release teardown. The emulator faults each
request with probability 0.2, drawn (seeded: the seed is in every failure's message, so
``SEEDS=<seed>`` replays one) from the sandbox's chaos kinds: 409 conflict, 409
AlreadyExists after applying, a write applied then the connection dropped, 410 on a
watch, 429 with Retry-After, 500, 503, no answer before the client's timeout, a reset.
The client's backoff sleeps are injected (no wall-clock wait); its request timeout is
short, so a held answer costs 0.1 s.

After each task try, failed or not: at most one claim per input, every reference a
source holds is a live claim's and every Bound claim is referenced. After a plan try
that reported success: every claim Bound and every chunk list written. At the end: the
run completed within its tries, one pod per replica, no claim and no chunk list left,
one source per input with no reference.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from datalocality.errors import KubernetesError
from datalocality.kube.binder import apply_binding
from datalocality.kube.chunk_lists import build_chunk_lists
from datalocality.kube.claims import build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.names import ANNOTATION_RUN_KEY, TaskKey, build_claim_name
from datalocality.kube.objects import RetryPolicy, name_of
from datalocality.kube.pods import PodTemplate, build_replica_pod
from datalocality.kube.release import build_owner_references, release_run
from datalocality.kube.resources import ALL_PODS, CLAIMS, CONFIGMAPS, SLICES, SOURCES
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from datalocality.operators.plan_store import put_chunk_lists
from datalocality_testcluster.sandbox import Sandbox
from tests.kube.conftest import api_client_for
from tests.kube.emulator import EmulatedApi, start_emulator
from tests.kube.support import PLAN, TOPOLOGY

RUNS, BATCH = 1_000, 100  # a fresh emulator per batch keeps its lists short
PROBABILITY = 0.2
TRIES = 4  # Airflow retries of each task
NAMESPACE = "data"
POLICY = RetryPolicy(attempts=6, initial=0.0, max_delay=0.0, request_timeout=0.05)
HOLD = 0.1  # a "timeout" answers after this: past the request timeout above
SEEDS = [int(s) for s in os.environ.get("SEEDS", "").split(",") if s]


def _noop(_: float) -> None:
    """The client's backoff and Retry-After sleeps: counted by the client, not waited."""


@dataclass(frozen=True)
class Run:
    """One seeded run's names: its inputs, its plan task and its replica tasks."""

    seed: int

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
    return build_data_source_claim(claim, task=task, namespace=NAMESPACE)


def plan_task(client: KubeClient, run: Run) -> list[dict[str, Any]]:
    """The plan task's writes: claims bound, then the chunk lists owned by them."""
    claims = [
        apply_binding(client, _claim_manifest(run, i), resolve=resolver, sleep=_noop).claim
        for i in run.inputs
    ]
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=NAMESPACE)
    put_chunk_lists(client, lists, run.plan_task, build_owner_references(claims))
    return claims


def replica_task(client: KubeClient, run: Run, index: int) -> None:
    """A replica task's write: its pod (adopted when an earlier try created it)."""
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=NAMESPACE)
    pod = build_replica_pod(
        PLAN,
        index,
        task=run.replica_task(index),
        namespace=NAMESPACE,
        topology=TOPOLOGY,
        template=PodTemplate(image="read:1"),
        chunk_list=lists.replicas[index],
    )
    client.create_or_get(pod)


def release_task(client: KubeClient, run: Run) -> None:
    """The teardown: the run's claims released and deleted, its chunk lists deleted."""
    release_run(client, NAMESPACE, run.plan_task)


def _claims(api: EmulatedApi, run: Run) -> list[dict[str, Any]]:
    names = {name_of(_claim_manifest(run, i)) for i in run.inputs}
    return [c for c in api.list_of(CLAIMS) if name_of(c) in names]


def _sources(api: EmulatedApi, run: Run) -> list[dict[str, Any]]:
    wanted = {i.name for i in run.inputs}
    return [s for s in api.list_of(SOURCES) if (s.get("spec") or {}).get("name") in wanted]


def _task_objects(api: EmulatedApi, resource: Any, task: TaskKey) -> list[dict[str, Any]]:
    """Objects of ``resource`` written for ``task`` (by their run-key annotation)."""
    found = []
    for obj in api.list_of(resource):
        annotations = obj["metadata"].get("annotations") or {}
        if annotations.get(ANNOTATION_RUN_KEY) == task.run_key:
            found.append(obj)
    return found


def check_consistent(api: EmulatedApi, run: Run) -> None:
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


def check_planned(api: EmulatedApi, run: Run) -> None:
    """What a plan task that reported success must have done."""
    claims = _claims(api, run)
    assert len(claims) == len(run.inputs)
    assert all((c.get("status") or {}).get("phase") == "Bound" for c in claims), claims
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=NAMESPACE)
    for manifest in lists.configmaps:
        assert api.stored(CONFIGMAPS, name_of(manifest), NAMESPACE) is not None


def check_finished(api: EmulatedApi, run: Run) -> None:
    """After the teardown: one pod per replica, no claim or list, sources unreferenced."""
    check_consistent(api, run)
    assert _claims(api, run) == []
    lists = build_chunk_lists(PLAN, task=run.plan_task, namespace=NAMESPACE)
    for manifest in lists.configmaps:
        assert api.stored(CONFIGMAPS, name_of(manifest), NAMESPACE) is None
    for index in range(len(PLAN.replicas)):
        pods = _task_objects(api, ALL_PODS, run.replica_task(index))
        assert len(pods) == 1, f"replica {index}: {len(pods)} pods"
    sources = _sources(api, run)
    assert len(sources) == len(run.inputs)
    assert all(not (s.get("status") or {}).get("claimRefs") for s in sources)


def sweep(api: EmulatedApi, run: Run) -> None:
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


def run_pipeline(client: KubeClient, api: EmulatedApi, run: Run) -> dict[str, int]:
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


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Callable[[], Sandbox]]:
    """A fresh emulator per batch of runs (stopped when the next starts, and at the end)."""
    running: list[Sandbox] = []

    def fresh() -> Sandbox:
        for old in running:
            assert old.errors == []
            old.stop()
        running.clear()
        running.append(start_emulator())
        return running[0]

    yield fresh
    for old in running:
        assert old.errors == []
        old.stop()


BATCHES = [SEEDS] if SEEDS else [list(range(b, b + BATCH)) for b in range(0, RUNS, BATCH)]


@pytest.mark.parametrize("seeds", BATCHES, ids=[f"seeds-{b[0]}-{b[-1]}" for b in BATCHES])
def test_seeded_fault_runs_break_no_invariant(
    sandboxes: Callable[[], Sandbox], seeds: list[int]
) -> None:
    sandbox = sandboxes()
    api = EmulatedApi(sandbox)
    faulted, retried = 0, 0
    with api_client_for(sandbox) as api_client:
        client = KubeClient(api_client, policy=POLICY, sleep=_noop)
        for seed in seeds:
            sandbox.faults.chaos(seed, PROBABILITY, hold=HOLD)
            before = len(sandbox.faults.chaos_fired)
            try:
                retried += sum(run_pipeline(client, api, Run(seed)).values())
            except AssertionError as exc:
                fired = sandbox.faults.chaos_fired[before:]
                raise AssertionError(
                    f"seed {seed} (replay: SEEDS={seed}): {exc}; faults {fired}"
                ) from exc
            finally:
                sandbox.faults.clear()
            faulted += len(sandbox.faults.chaos_fired) - before
    kinds = Counter(kind for kind, _, _ in sandbox.faults.chaos_fired)
    print(  # the figures README quotes (pytest -s)
        f"seeds {seeds[0]}-{seeds[-1]}: {len(seeds)} runs completed, {faulted} faults "
        f"({dict(sorted(kinds.items()))}), {retried} task tries failed and retried, "
        "0 invariant violations"
    )
    assert faulted > len(seeds) and len(kinds) >= 8, (faulted, kinds)  # the faults did fire
