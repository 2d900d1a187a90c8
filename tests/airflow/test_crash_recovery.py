"""Crash recovery: kill a task at each of its Kubernetes writes, then run it again.

Issue #5 asks for "a crash test that kills the task process between Kubernetes writes and
re-runs it: zero duplicate objects, zero lost claims, and the task never reports success
for work that did not happen". Each case here:

1. starts a fresh embedded cluster (the ``cluster`` fixture) and, for the job and pod
   tasks, runs the plan task to completion first (their upstream);
2. runs the real task code (``DataLocalityPlanOperator``, ``RepartitionOperator``,
   ``DataLocalityPodOperator``, a ``ProduceChunksPodOperator`` replica, the
   ``CollectChunksOperator`` publishing the producers' source, the
   ``DataLocalityReleaseOperator`` teardown — KubernetesPodOperator's
   own launching, XCom sidecar and reattach included; a task that defers runs its
   trigger in the same process, as the triggerer would) in a separate OS process that
   kills itself with ``SIGKILL`` as soon as the answer to its k-th write (POST, PUT,
   PATCH or DELETE through the ``kubernetes`` client) arrives: no ``finally``, no
   ``atexit``, no cleanup, as when a worker dies;
3. asserts that process reported nothing (killed by the signal, no result written);
4. runs the same task instance again, as its next try, in a fresh process, to the end;
5. counts the objects by their labels (one claim per input, one DataSource per claim,
   one slice per place in its set of slices, every claim Bound and referenced by its
   source, one ConfigMap, one Job per operation, one pod per replica; after a release no
   claim, no ConfigMap and the Retain source referenced by none), checks the work
   really happened (Jobs Complete, the pods Succeeded, every produced chunk located on
   the node of the pod that wrote it) and that the result (return value and XCom)
   equals a clean run's.

The other crash points, on the real control plane: SIGKILL just *before* write k (the
request never sent), and for the tasks whose operator acts on SIGTERM (the pod tasks:
KubernetesPodOperator's ``on_kill`` deletes its pod) SIGTERM before and after write k,
handled as Airflow's task runner does (``on_kill``, then the supervisor's kill).

k runs over every write of a clean run: ``test_clean_run_writes`` counts them and fails
if the count differs from ``WRITES`` (so a change in the task's writes cannot leave a
crash point untested) or is zero.

Importing Airflow and the operators takes seconds, far too long for a process per
crash; the processes come from a ``forkserver`` with those modules preloaded, so each one
is a fresh fork of a process that has imported them and has never talked to a cluster.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from datalocality.model import DataInput
from datalocality_testcluster.clusters import Kind, ProviderCluster, start_cluster
from tests.airflow.support import DAGS, objects, source_locations

DAG_ID = "crash"
RUN_ID = "manual__crash"
PLAN_TASK = "consume.plan"
REPARTITION_TASK = "consume.repartition"
REPLICA_TASK = "consume.replica"
REPLICAS = 4
REPLICA_INDEX = 1
INPUT = DataInput(system="iceberg", name="warehouse.ml.events")
XCOM_REPORT = {"chunks": ["part-a", "part-b"]}
KILLED = -signal.SIGKILL
# Writes (POST/PUT/PATCH/DELETE) of a clean run of each task; test_clean_run_writes
# checks them, and every crash point 1..n is a test case.
WRITES = {"plan": 6, "repartition": 4, "replica": 2, "produce": 2, "collect": 2, "release": 3}
# A plan whose source is too big for one slice: 12,000 chunks in three DataSourceSlices,
# each written by its own request (killed between them, a source's slices are partial);
# swept on the real control plane only (the slices' code is the client's, on either).
SLICED_TASK, SLICED_CHUNKS = "plan-slices", 12_000
SLICED_WRITES = 8
SLICED_INPUT = DataInput(system="iceberg", name="warehouse.ml.clicks")
NEEDS_PLAN = {"repartition", "replica", "release"}
RELEASE_TASK = "consume.release"
PRODUCE_TASK = "extract.replica"  # produce_chunks' mapped producer replicas
COLLECT_TASK = "extract.collect"
PRODUCED = [["part-a", "part-b"], ["part-c", "part-d"]]  # what each producer replica wrote
# What the collector reads: each replica's entry, as ProduceChunksPodOperator returns it.
COLLECTED: list[dict[str, Any]] = [
    {"index": i, "node": node, "report": {"chunks": chunks}}
    for i, (node, chunks) in enumerate(zip(["worker-a1", "worker-b1"], PRODUCED, strict=True))
]
PRELOAD = [
    "airflow.sdk",
    "airflow.providers.cncf.kubernetes.operators.pod",
    "kubernetes.client",
    "datalocality.operators",
    "tests.airflow.test_crash_recovery",
]
CHILD_TIMEOUT = 60.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# -- the task process ------------------------------------------------------------------


@dataclass(frozen=True)
class CrashPoint:
    """Where a task process dies: before or after its write ``write``, by ``signal``.

    SIGKILL: nothing runs after it. SIGTERM: as Airflow's task runner handles it, the
    operator's ``on_kill`` runs (KubernetesPodOperator deletes its pod) and then the
    process is killed, as the supervisor does once its grace period is over.
    """

    write: int
    before: bool = False
    signal: str = "SIGKILL"

    @property
    def label(self) -> str:
        return f"{self.signal}-{'before' if self.before else 'after'}-write-{self.write}"


def _crash_at_writes(log: Path, point: CrashPoint | None, on_term: Any) -> None:
    """Log every write the kubernetes client makes; die at ``point``."""
    from kubernetes.client import rest  # type: ignore[import-untyped]  # kubernetes ships no stubs

    original = rest.RESTClientObject.request
    lock = threading.Lock()
    count = 0
    dying = False

    def die() -> None:
        nonlocal dying
        dying = True
        if point is not None and point.signal == "SIGTERM":
            on_term()  # on_kill, as the task runner's SIGTERM handler calls it
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal count
        if method.upper() not in WRITE_METHODS:
            return original(self, method, url, *args, **kwargs)
        if point and point.before and not dying and count + 1 == point.write:
            die()
        status: object = "error"
        try:
            response = original(self, method, url, *args, **kwargs)
            status = getattr(response, "status", "?")
            return response
        except Exception as exc:
            status = getattr(exc, "status", type(exc).__name__)
            raise
        finally:
            with lock:
                count += 1
                with log.open("a", encoding="utf-8") as f:
                    f.write(f"{method.upper()} {url.split('?', maxsplit=1)[0]} {status}\n")
            if point and not point.before and not dying and count == point.write:
                die()

    rest.RESTClientObject.request = request


def _context(task_id: str, try_number: int, map_index: int = -1) -> dict[str, Any]:
    from tests.airflow.test_retries import FakeTaskInstance

    ti = FakeTaskInstance(task_id, try_number)
    ti.dag_id, ti.map_index = DAG_ID, map_index
    return {"ti": ti, "run_id": RUN_ID, "dag": SimpleNamespace(dag_id=DAG_ID)}


def _operator(task: str, kubeconfig: str, upstream: dict[str, Any]) -> tuple[Any, int]:
    """The operator of ``task`` and its map index, built as the DAG would build it."""
    from datalocality.operators import (
        CollectChunksOperator,
        DataLocalityPlanOperator,
        DataLocalityPodOperator,
        DataLocalityReleaseOperator,
        ProduceChunksPodOperator,
        RepartitionOperator,
    )

    access: dict[str, Any] = {
        "config_file": kubeconfig,
        "in_cluster": False,
        "kubernetes_conn_id": None,
    }
    if task == "plan":
        plan = DataLocalityPlanOperator(
            task_id=PLAN_TASK,
            inputs=[INPUT],
            replicas=REPLICAS,
            partitioning="one-per-replica",
            consumer_name="consume",
            resolvers_config=str(DAGS / "data" / "resolvers.yaml"),
            **access,
        )
        return plan, -1
    if task == SLICED_TASK:
        sliced = DataLocalityPlanOperator(
            task_id=PLAN_TASK,
            inputs=[SLICED_INPUT],
            replicas=REPLICAS,
            consumer_name="consume",
            resolvers_config=str(sliced_resolvers()),
            **access,
        )
        return sliced, -1
    if task == "repartition":
        jobs = RepartitionOperator(
            task_id=REPARTITION_TASK,
            operations=upstream["xcom"]["operations"],
            image="repartition:1",
            job_poll_interval=0.1,
            **access,
        )
        return jobs, -1
    if task == "release":
        release = DataLocalityReleaseOperator(
            task_id=RELEASE_TASK,
            plan_task_id=PLAN_TASK,
            job_task_ids=[REPARTITION_TASK],
            **access,
        )
        return release, -1
    if task == "produce":  # one mapped replica of produce_chunks, as it builds them
        report = {"chunks": PRODUCED[REPLICA_INDEX]}
        produce = ProduceChunksPodOperator(
            task_id=PRODUCE_TASK,
            image="etl:1",
            replica={
                "index": REPLICA_INDEX,
                "annotations": {"sandbox.datalocality.io/xcom": json.dumps(report)},
            },
            on_finish_action="keep_pod",
            startup_check_interval_seconds=1,
            **access,
        )
        return produce, REPLICA_INDEX
    if task == "collect":
        collect = CollectChunksOperator(
            task_id=COLLECT_TASK,
            replicas=COLLECTED,
            replica_count=len(COLLECTED),
            data_source_name=f"{DAG_ID}.extract",
            **access,
        )
        return collect, -1
    pod = DataLocalityPodOperator(
        task_id=REPLICA_TASK,
        image="consumer:1",
        replica=upstream["return"][REPLICA_INDEX]["replica"],
        annotations={"sandbox.datalocality.io/xcom": json.dumps(XCOM_REPORT)},
        do_xcom_push=True,
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **access,
    )
    return pod, REPLICA_INDEX


def sliced_resolvers() -> Path:
    """A static resolver serving SLICED_INPUT's 12,000 chunks (written once, atomically:
    task processes may ask for it together)."""
    path = Path(tempfile.gettempdir()) / f"datalocality-crash-sliced-{SLICED_CHUNKS}.json"
    if path.exists():
        return path
    nodes = ("worker-a2", "worker-a3", "worker-b2")
    chunks = [
        {"id": f"data/{i:05d}-0-{i * 7919 % 100_000:05d}.parquet", "size": "128Mi"}
        | {"locations": [nodes[i % len(nodes)]]}
        for i in range(SLICED_CHUNKS)
    ]
    source = {"system": "iceberg", "dataSourceName": SLICED_INPUT.name, "chunks": chunks}
    config = {"iceberg": {"resolver": "static", "sources": [source]}}
    scratch = path.with_suffix(f".{os.getpid()}")
    scratch.write_text(json.dumps(config), encoding="utf-8")
    os.replace(scratch, path)
    return path


def child_main(spec: dict[str, Any]) -> None:
    """One task process: run the task; write its result only when it succeeded."""
    from tests.airflow.test_job_operators import run_task

    out = Path(spec["out"])
    task, try_number = spec["task"], spec["try_number"]
    upstream_file = spec.get("upstream")
    upstream = json.loads(Path(upstream_file).read_text()) if upstream_file else {}
    operator, map_index = _operator(task, spec["kubeconfig"], upstream)
    point = CrashPoint(**spec["crash"]) if spec.get("crash") else None
    _crash_at_writes(out / "writes.log", point, operator.on_kill)
    context = _context(operator.task_id, try_number, map_index)
    returned = run_task(operator, context)  # a task that defers: its trigger (reads only) too
    result = {"return": returned, "xcom": context["ti"].xcom}
    partial = out / "result.json.partial"
    partial.write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
    partial.rename(out / "result.json")


# -- the test process ------------------------------------------------------------------


@pytest.fixture(scope="module")
def forkserver() -> Iterator[ForkServerContext]:
    """A forkserver whose processes have Airflow, kubernetes and the operators imported."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(PRELOAD)
    yield context
    context.set_forkserver_preload([])


@dataclass
class Outcome:
    """What one task process did: its exit code, its writes, its result (if it wrote one)."""

    exitcode: int | None
    writes: list[str]
    result: dict[str, Any] | None
    path: Path  # the result file (written only on success)


class TaskProcesses:
    """Runs task processes against one cluster, each in its own output directory."""

    def __init__(self, context: ForkServerContext, sandbox: ProviderCluster, tmp: Path) -> None:
        self.context, self.sandbox, self.tmp = context, sandbox, tmp
        self.runs = 0

    def run(
        self,
        task: str,
        *,
        try_number: int = 1,
        crash: CrashPoint | None = None,
        upstream: Path | None = None,
    ) -> Outcome:
        """Run ``task`` in a fresh process (dying at ``crash``) to its end."""
        self.runs += 1
        out = self.tmp / f"{self.runs:02d}-{task}-try{try_number}"
        out.mkdir(parents=True)
        spec = {
            "task": task,
            "try_number": try_number,
            "crash": dataclasses.asdict(crash) if crash else None,
            "kubeconfig": str(self.sandbox.kubeconfig_path),
            "upstream": str(upstream) if upstream else None,
            "out": str(out),
        }
        # By its importable name, so that the forkserver's processes can unpickle it.
        target = importlib.import_module("tests.airflow.test_crash_recovery").child_main
        process = self.context.Process(target=target, args=(spec,), name=out.name)
        process.start()
        process.join(CHILD_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
            pytest.fail(f"{out.name} did not finish in {CHILD_TIMEOUT} s")
        log = out / "writes.log"
        writes = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        result_file = out / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        return Outcome(process.exitcode, writes, result, result_file)

    def finished(self, task: str, **options: Any) -> Outcome:
        """``run`` that must succeed."""
        outcome = self.run(task, **options)
        assert outcome.exitcode == 0 and outcome.result is not None, (task, outcome)
        return outcome


@dataclass(frozen=True)
class Clean:
    """A clean run of one task: its writes, its result, and the objects of its cluster."""

    writes: list[str]
    result: dict[str, Any]
    inventory: Counter[tuple[str, ...]]
    configmap_data: dict[str, Any]


class CleanRuns:
    """Each task run once, undisturbed, on a cluster of its own (as the crash cases are),
    on each kind of cluster the first time a test of that kind asks."""

    def __init__(self, forkserver: ForkServerContext, tmp: pytest.TempPathFactory) -> None:
        self.forkserver, self.tmp = forkserver, tmp
        self.runs: dict[Kind, dict[str, Clean]] = {}

    def __getitem__(self, kind: Kind) -> dict[str, Clean]:
        if kind not in self.runs:
            tasks = [*WRITES, *([SLICED_TASK] if kind == "kube" else [])]
            self.runs[kind] = {task: self._run(kind, task) for task in tasks}
        return self.runs[kind]

    def _run(self, kind: Kind, task: str) -> Clean:
        with start_cluster(kind) as cluster:
            runner = TaskProcesses(self.forkserver, cluster, self.tmp.mktemp(f"clean-{task}"))
            upstream = runner.finished("plan").path if task in NEEDS_PLAN else None
            outcome = runner.finished(task, upstream=upstream)
            assert outcome.result is not None
            clean = Clean(
                outcome.writes, outcome.result, inventory(cluster), chunk_configmap(cluster)
            )
            assert cluster.errors == []
        assert set(clean.inventory.values()) == {1}, clean.inventory
        return clean


@pytest.fixture(scope="module")
def clean(forkserver: ForkServerContext, tmp_path_factory: pytest.TempPathFactory) -> CleanRuns:
    return CleanRuns(forkserver, tmp_path_factory)


# -- what the cluster holds -------------------------------------------------------------

KINDS = {
    "datasourceclaims": ("datalocality.io", "datasourceclaims"),
    "datasources": ("datalocality.io", "datasources"),
    "datasourceslices": ("datalocality.io", "datasourceslices"),
    "configmaps": ("", "configmaps"),
    "jobs": ("batch", "jobs"),
    "pods": ("", "pods"),
}


TASK_NAMESPACE = "default"  # where the tasks create their objects


def inventory(sandbox: ProviderCluster) -> Counter[tuple[str, ...]]:
    """How many objects of each kind carry each identity (task, replica, name or job)."""
    from datalocality.kube.names import (
        LABEL_DATA_SOURCE,
        LABEL_MAP_INDEX,
        LABEL_REPLICA,
        LABEL_TASK_ID,
    )

    counts: Counter[tuple[str, ...]] = Counter()
    for kind, key in KINDS.items():
        for obj in objects(sandbox, *key):
            if obj["metadata"].get("namespace", TASK_NAMESPACE) != TASK_NAMESPACE:
                continue  # the cluster's own (kube-system, a reserved pod)
            labels = obj["metadata"].get("labels") or {}
            identity = (
                labels.get(LABEL_TASK_ID, labels.get("task_id", "")),
                labels.get(LABEL_MAP_INDEX, ""),
                labels.get(LABEL_REPLICA, ""),  # a producer's replicas share one task
            )
            # Pods have made-up names (KubernetesPodOperator's, a Job's): by labels only.
            name = labels.get("job-name", "") if kind == "pods" else obj["metadata"]["name"]
            if kind == "datasourceslices":  # named after their source's uid: by place
                name = f"{labels.get(LABEL_DATA_SOURCE, '')}[{obj['spec']['index']}]"
            counts[(kind, *identity, name)] += 1
    return counts


def chunk_configmap(sandbox: ProviderCluster) -> dict[str, Any]:
    """The data of the plan task's chunk-list ConfigMaps, by name (none without a plan)."""
    found = objects(sandbox, *KINDS["configmaps"], PLAN_TASK)
    return {c["metadata"]["name"]: c["data"] for c in found}


def check_claims(sandbox: ProviderCluster) -> None:
    """One claim, Bound, to the one DataSource, which holds its reference."""
    from datalocality.kube.claims import claim_state, source_state

    (claim,) = [claim_state(o) for o in objects(sandbox, *KINDS["datasourceclaims"], PLAN_TASK)]
    (source,) = [source_state(o) for o in objects(sandbox, *KINDS["datasources"])]
    assert claim.claim.phase == "Bound", claim
    assert claim.claim.bound_data_source == source.name
    assert source.refs == (claim.ref,) and not source.deleting


def check_released(sandbox: ProviderCluster) -> None:
    """No claim of the plan task left; the one DataSource kept (Retain), unreferenced."""
    from datalocality.kube.claims import source_state

    assert objects(sandbox, *KINDS["datasourceclaims"], PLAN_TASK) == []
    (source,) = [source_state(o) for o in objects(sandbox, *KINDS["datasources"])]
    assert source.refs == () and source.source.reclaim_policy == "Retain"


def condition(obj: dict[str, Any], kind: str) -> bool:
    """Whether the object carries a true condition of ``kind``."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


# -- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kube", "sandbox"])
@pytest.mark.parametrize("task", list(WRITES))
def test_clean_run_writes(clean: CleanRuns, task: str, kind: Kind) -> None:
    """Every write of a clean run is a crash point below: the count must be the known one."""
    writes = clean[kind][task].writes
    assert writes, f"a clean {task} run made no write: nothing to crash after"
    assert len(writes) == WRITES[task], writes


def test_the_sliced_plan_writes_its_slices_one_by_one(clean: CleanRuns) -> None:
    """The sliced plan's crash points below: its writes, three of them slices."""
    writes = clean["kube"][SLICED_TASK].writes
    assert len(writes) == SLICED_WRITES, writes
    assert sum(1 for w in writes if "/datasourceslices" in w) == 3, writes


CASES = [(task, k) for task, count in WRITES.items() for k in range(1, count + 1)]


@pytest.fixture
def processes(
    cluster: ProviderCluster, forkserver: ForkServerContext, tmp_path: Path
) -> TaskProcesses:
    """Task processes against this test's fresh cluster."""
    return TaskProcesses(forkserver, cluster, tmp_path)


@pytest.mark.parametrize(
    ("task", "crash_after"), CASES, ids=[f"{task}-killed-after-write-{k}" for task, k in CASES]
)
def test_killed_after_a_write_then_rerun(
    processes: TaskProcesses, clean: CleanRuns, task: str, crash_after: int
) -> None:
    """Killed right after write k: no success reported; the next try ends as a clean run."""
    check_crash_then_rerun(processes, clean, task, CrashPoint(crash_after))


# The tasks whose operator does something on SIGTERM (KubernetesPodOperator's on_kill
# deletes its pod); for the others SIGTERM ends as SIGKILL does
# (test_only_pod_tasks_act_on_sigterm keeps this set true).
TERM_TASKS = {"replica": "DataLocalityPodOperator", "produce": "ProduceChunksPodOperator"}
# Just before each write (SIGKILL), and SIGTERM just before and after each write of the
# tasks above: on the real control plane.
OTHER_POINTS = [
    (task, point)
    for task, count in WRITES.items()
    for k in range(1, count + 1)
    for point in (
        CrashPoint(k, before=True),
        *(
            (CrashPoint(k, before=True, signal="SIGTERM"), CrashPoint(k, signal="SIGTERM"))
            if task in TERM_TASKS
            else ()
        ),
    )
] + [
    (SLICED_TASK, point)
    for k in range(1, SLICED_WRITES + 1)
    for point in (CrashPoint(k, before=True), CrashPoint(k))
]


def test_only_pod_tasks_act_on_sigterm() -> None:
    """The crash sweep terminates only the tasks whose operators override on_kill."""
    from airflow.sdk import BaseOperator

    from datalocality import operators

    acting = {
        name
        for name in operators.__all__
        if isinstance(kind := getattr(operators, name), type)
        and issubclass(kind, BaseOperator)
        and kind.on_kill is not BaseOperator.on_kill
    }
    assert acting == set(TERM_TASKS.values())


@pytest.fixture
def kube_processes(
    kube: ProviderCluster, forkserver: ForkServerContext, tmp_path: Path
) -> TaskProcesses:
    """Task processes against a fresh real control plane."""
    return TaskProcesses(forkserver, kube, tmp_path)


@pytest.mark.parametrize(
    ("task", "point"), OTHER_POINTS, ids=[f"{t}-{p.label}" for t, p in OTHER_POINTS]
)
def test_killed_before_a_write_or_terminated_then_rerun(
    kube_processes: TaskProcesses, clean: CleanRuns, task: str, point: CrashPoint
) -> None:
    """The other crash points: no success reported; the next try ends as a clean run."""
    check_crash_then_rerun(kube_processes, clean, task, point)


def check_crash_then_rerun(
    runner: TaskProcesses, clean: CleanRuns, task: str, point: CrashPoint
) -> None:
    """Run ``task`` dying at ``point``, then its next try; the end state a clean run's."""
    cluster = runner.sandbox
    upstream = runner.finished("plan").path if task in NEEDS_PLAN else None
    before = inventory(cluster)

    crashed = runner.run(task, crash=point, upstream=upstream)
    assert crashed.exitcode == KILLED, crashed
    assert crashed.result is None, "a killed task reported a result"
    methods = [w.split()[0] for w in crashed.writes]
    clean_runs = clean[cluster.kind]
    sent = point.write - 1 if point.before else point.write
    # the writes up to the crash point are a clean run's; on_kill's follow (SIGTERM)
    assert methods[:sent] == [w.split()[0] for w in clean_runs[task].writes[:sent]]
    assert len(methods) == sent or point.signal == "SIGTERM", crashed.writes

    rerun = runner.finished(task, try_number=2, upstream=upstream)
    want = clean_runs[task]
    assert inventory(cluster) == want.inventory, (before, crashed.writes, rerun.writes)
    if task == "release":  # what is left: the Retain source, referenced by no claim
        check_released(cluster)
        assert chunk_configmap(cluster) == want.configmap_data == {}
        return  # the rerun's result lists what it removed, the killed try's part not
    if task not in {"produce", "collect"}:
        check_claims(cluster)
    if task == SLICED_TASK:
        check_sliced(cluster)
    assert chunk_configmap(cluster) == want.configmap_data
    assert rerun.result is not None
    # Producer pods carry no affinity: the real scheduler picks their nodes, and may pick
    # others on a rerun; check_produced holds the chunks to the nodes the pods ran on.
    placed = unplaced if task == "produce" else (lambda value: value)
    assert placed(rerun.result["return"]) == placed(want.result["return"])
    if task == "repartition":
        jobs = objects(cluster, *KINDS["jobs"], REPARTITION_TASK)
        assert sorted(j["metadata"]["name"] for j in jobs) == sorted(rerun.result["return"])
        assert all(condition(j, "Complete") for j in jobs), jobs
    if task == "replica":
        (pod,) = settled_pods(cluster, REPLICA_TASK)
        assert pod["status"]["phase"] == "Succeeded"
        assert rerun.result["xcom"]["pod_name"] == pod["metadata"]["name"]
        assert rerun.result["return"] == XCOM_REPORT
    if task == "produce":
        check_produced(cluster, rerun.result["return"], rerun.result["xcom"])
    if task == "collect":
        check_collected(cluster, rerun.result["return"])
    made_up = {"pod_name"}  # KubernetesPodOperator's random pod name, checked above
    assert placed(without(rerun.result["xcom"], made_up)) == placed(
        without(want.result["xcom"], made_up)
    )


def check_sliced(cluster: ProviderCluster) -> None:
    """The sliced source, read back from its slices, holds every chunk once."""
    (source,) = objects(cluster, *KINDS["datasources"])
    where = source_locations(cluster, source)
    assert len(where) == SLICED_CHUNKS and len(objects(cluster, *KINDS["datasourceslices"])) == 3


def settled_pods(cluster: ProviderCluster, task_id: str = "") -> list[dict[str, Any]]:
    """The task's pods once none is Running: a task ends when its base container has and
    its XCom sidecar is killed; the kubelet reports the pod Succeeded a moment later."""
    deadline = time.monotonic() + 30
    while True:
        pods = [
            p
            for p in objects(cluster, *KINDS["pods"], task_id)
            if p["metadata"]["namespace"] == TASK_NAMESPACE
        ]
        if all(p["status"].get("phase") != "Running" for p in pods):
            return pods
        assert time.monotonic() < deadline, [p["status"] for p in pods]
        time.sleep(0.1)


def check_produced(cluster: ProviderCluster, returned: dict[str, Any], xcom: Any) -> None:
    """One producer pod, of the replica's index, Succeeded; the entry it returned names
    its report and the node the pod ran on (also pushed as XCom ``node``)."""
    from datalocality.kube.names import LABEL_REPLICA

    pods = settled_pods(cluster)
    (pod,) = [p for p in pods if (p["metadata"].get("labels") or {}).get(LABEL_REPLICA)]
    assert pod["metadata"]["labels"][LABEL_REPLICA] == str(REPLICA_INDEX)
    assert pod["status"]["phase"] == "Succeeded"
    node = pod["spec"]["nodeName"]
    assert returned == {
        "index": REPLICA_INDEX,
        "node": node,
        "report": {"chunks": PRODUCED[REPLICA_INDEX]},
    }
    assert xcom["node"] == node
    assert objects(cluster, *KINDS["datasources"]) == []  # the collector publishes, not it


def check_collected(cluster: ProviderCluster, returned: dict[str, Any]) -> None:
    """The one DataSource places every chunk on the node its replica's entry names."""
    (source,) = objects(cluster, *KINDS["datasources"])
    where = source_locations(cluster, source)
    for entry in COLLECTED:
        assert all(where[c] == [entry["node"]] for c in entry["report"]["chunks"]), where
    assert [r["node"] for r in returned["replicas"]] == [e["node"] for e in COLLECTED]
    assert (
        source["spec"]["name"] == f"{DAG_ID}.extract"
    )  # the group's name, as produce_chunks gives


def unplaced(value: Any) -> Any:
    """``value`` without where things ran (``node``, ``locations``, ``locality``)."""
    if isinstance(value, dict):
        return {
            k: unplaced(v) for k, v in value.items() if k not in {"node", "locations", "locality"}
        }
    if isinstance(value, list):
        return [unplaced(v) for v in value]
    return value


def without(mapping: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """A copy of ``mapping`` without ``keys``."""
    return {k: v for k, v in mapping.items() if k not in keys}
