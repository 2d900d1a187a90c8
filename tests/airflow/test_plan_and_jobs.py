"""The plan, producer and job operators' pure parts, their failures, and the task group.

The job operators against a cluster (deferring, waiting, a failed Job) are in
test_job_operators.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from datalocality.errors import SpecError
from datalocality.model import DataInput, DataSource


def _context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", task_id="t", map_index=-1, try_number=1)
    return {"ti": ti, "run_id": "manual__1"}


def test_inputs_are_data_inputs_dicts_and_producer_outputs() -> None:
    from datalocality.operators.entries import as_data_input, parse_inputs

    produced = {"data_source": {"system": "airflow", "dataSourceName": "d.extract"}}
    parsed = parse_inputs(
        [DataInput(system="iceberg", name="db.t"), {"system": "hive", "name": "x"}, [produced]]
    )
    assert [type(p).__name__ for p in parsed] == ["DataInput", "DataInput", "DataSource"]
    assert as_data_input(parsed[2]).key == "airflow/table/d.extract"
    with pytest.raises(SpecError, match=r"^inputs\[1\]\.system"):
        parse_inputs([DataInput(system="s", name="n"), {"system": "", "name": "x"}])
    with pytest.raises(SpecError, match=r"^inputs: needs at least one input"):
        parse_inputs([])


def test_bad_inputs_fail_the_task_without_retry(airflow_db: Path) -> None:
    """Inputs may be templated (an upstream's XCom): they are checked when the task runs."""
    from airflow.sdk.exceptions import AirflowFailException

    from datalocality.operators import DataLocalityPlanOperator

    op = DataLocalityPlanOperator(task_id="plan", inputs=[{"system": "s"}])
    with pytest.raises(AirflowFailException, match=r"inputs\[0\]\.dataSourceName: Field required"):
        op.execute(_context())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"replicas": 0}, r"^replicas: must be an integer >= 1 \(got 0\)"),
        ({"topology": {"mode": "strict"}}, r"^topology\.mode: must be exactly 'hard' or 'soft'"),
        ({"strategy": "optimla"}, r"^strategy: unknown strategy; choose one of \['optimal'"),
        ({"baseline_strategy": "blind"}, r"^baseline_strategy: unknown strategy"),
    ],
)
def test_bad_arguments_fail_when_the_operator_is_built(
    arguments: dict[str, Any], message: str
) -> None:
    from datalocality.operators import DataLocalityPlanOperator

    options: dict[str, Any] = {"inputs": [DataInput(system="s", name="n")], **arguments}
    with pytest.raises(SpecError, match=message):
        DataLocalityPlanOperator(task_id="plan", **options)
    templated = DataLocalityPlanOperator(task_id="plan", inputs=[], strategy="{{ params.s }}")
    assert templated.strategy == "{{ params.s }}"  # rendered when the task runs


def test_final_and_transient_failures_are_told_apart(airflow_db: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from datalocality.errors import ApiRejected, ApiUnavailable, InfeasiblePlacement
    from datalocality.operators.failures import final_failures

    no_room = pytest.raises(AirflowFailException, match="infeasible placement: no room")
    with no_room, final_failures():
        raise InfeasiblePlacement("no room")
    with pytest.raises(AirflowFailException, match="CRDs installed"), final_failures():
        raise ApiRejected(404, "NotFound", "datasourceclaims")
    with pytest.raises(ApiUnavailable), final_failures():  # retried by Airflow
        raise ApiUnavailable("down")


def test_producer_reports_become_one_located_source() -> None:
    from datalocality.model.produced import build_produced_source

    source = build_produced_source(
        [("n1", {"chunks": [{"id": "a", "size": "1Ki"}, "b"]}), ("n2", {"chunks": ["c"]})],
        system="airflow",
        data_source_type="chunks",
        name="d.extract",
        attributes={"run_id": "r1"},
    )
    assert [(c.id, c.size, c.locations) for c in source.chunks] == [
        ("a", 1024, ("n1",)),
        ("b", 1, ("n1",)),
        ("c", 1, ("n2",)),
    ]
    assert source.locality.nodes == ("n1", "n2")
    with pytest.raises(SpecError, match=r"replicas\[1\]\.chunks"):
        build_produced_source(
            [("n1", ["a"]), ("n2", ["a"])],
            system="s",
            data_source_type="t",
            name="n",
            attributes={},
        )
    with pytest.raises(SpecError, match=r"^replicas\[0\]: must be"):
        build_produced_source(
            [("n1", "nonsense")], system="s", data_source_type="t", name="n", attributes={}
        )


def test_repartition_jobs_are_built_from_the_plan(airflow_db: Path) -> None:
    from datalocality.kube.chunk_lists import build_chunk_lists
    from datalocality.kube.names import TaskKey
    from datalocality.model import Chunk, Consumer, Node, PlacementRequest, Topology
    from datalocality.operators import AssemblyOperator, RepartitionOperator
    from datalocality.operators.plan_store import build_operation_entries
    from datalocality.placement import plan

    request = PlacementRequest(
        topology=Topology(nodes=[Node(name="a"), Node(name="b")]),
        consumer=Consumer(replicas=2, partitioning="one-per-replica"),
        sources=[
            DataSource(
                system="s",
                name="d",
                chunks=[Chunk(id=f"c{i}", locations=["a" if i < 3 else "b"]) for i in range(6)],
            )
        ],
    )
    chosen = plan(request)
    plan_task = TaskKey(dag_id="d", run_id="r", task_id="g.plan")
    lists = build_chunk_lists(chosen, task=plan_task, namespace="default")
    operations = build_operation_entries(chosen, lists)
    assert all("chunks" not in entry for entry in operations)
    task = TaskKey(dag_id="d", run_id="r", task_id="g.repartition")
    repartition = RepartitionOperator(task_id="repartition", operations=operations, image="rp:1")
    jobs = repartition.build_jobs(task, "default")
    assert len(jobs) == 2
    nodes = sorted(j["metadata"]["annotations"]["datalocality.io/planned-node"] for j in jobs)
    assert nodes == ["a", "b"]
    (source,) = jobs[0]["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"]
    assert source["configMap"]["name"] == lists.configmaps[0]["metadata"]["name"]
    assert source["configMap"]["items"][0]["key"] == "operation-0.json"
    again = RepartitionOperator(task_id="repartition", operations=operations, image="rp:1")
    assert [j["metadata"]["name"] for j in again.build_jobs(task, "default")] == [
        j["metadata"]["name"] for j in jobs
    ]  # a retry finds the same names and adopts
    assembly = AssemblyOperator(task_id="assembly", operations=operations, image="a:1")
    assert assembly.build_jobs(task, "default") == []
    broken = [{**operations[0], "kind": "shuffle"}]
    with pytest.raises(SpecError, match=r"^operations\[0\]\.kind"):
        RepartitionOperator(task_id="r", operations=broken, image="rp:1").build_jobs(task, "d")


def _entries() -> list[dict[str, Any]]:
    """A plan's operation entries (two repartition Jobs), built in memory."""
    from datalocality.kube.chunk_lists import build_chunk_lists
    from datalocality.kube.names import TaskKey
    from datalocality.model import Chunk, Consumer, Node, PlacementRequest, Topology
    from datalocality.operators.plan_store import build_operation_entries
    from datalocality.placement import plan

    request = PlacementRequest(
        topology=Topology(nodes=[Node(name="a"), Node(name="b")]),
        consumer=Consumer(replicas=2, partitioning="one-per-replica"),
        sources=[
            DataSource(
                system="s",
                name="d",
                chunks=[Chunk(id=f"c{i}", locations=["a" if i < 3 else "b"]) for i in range(6)],
            )
        ],
    )
    chosen = plan(request)
    key = TaskKey(dag_id="d", run_id="r", task_id="g.plan")
    lists = build_chunk_lists(chosen, task=key, namespace="default")
    return build_operation_entries(chosen, lists)


def test_job_operators_defer_by_default_and_the_config_switch(
    airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datalocality.operators import AssemblyOperator, RepartitionOperator

    assert RepartitionOperator(task_id="r", operations=[], image="i").deferrable is True
    monkeypatch.setenv("AIRFLOW__DATALOCALITY__DEFAULT_DEFERRABLE", "False")
    assert AssemblyOperator(task_id="a", operations=[], image="i").deferrable is False
    explicit = AssemblyOperator(task_id="a", operations=[], image="i", deferrable=True)
    assert explicit.deferrable is True


def test_job_operators_resume_with_the_names_or_raise_naming_the_failed_jobs(
    airflow_db: Path,
) -> None:
    from airflow.sdk.exceptions import AirflowException

    from datalocality.operators import RepartitionOperator

    op = RepartitionOperator(task_id="repartition", operations=[], image="rp:1")
    done = {
        "status": "success",
        "message": "2 operation(s) completed",
        "job_names": ["j-0", "j-1"],
        "namespace": "default",
        "jobs": {"j-0": {"succeeded": 1}, "j-1": {"succeeded": 1}},
    }
    assert op.execute_complete(_context(), done) == ["j-0", "j-1"]  # type: ignore[arg-type]
    failed = {
        "status": "error",
        "message": "Job default/j-1 failed (BackoffLimitExceeded: Job has reached the limit)",
        "job_names": ["j-0", "j-1"],
        "namespace": "default",
        "failed": ["j-1"],
    }
    with pytest.raises(
        AirflowException,
        match=r"^repartition job\(s\) failed: Job default/j-1 failed \(BackoffLimitExceeded: ",
    ):
        op.execute_complete(_context(), failed)  # type: ignore[arg-type]
    timeout = {"status": "timeout", "message": "Job(s) default/j-0: not done within 60 s"}
    with pytest.raises(AirflowException, match=r"^waiting for the repartition job\(s\): Job"):
        op.execute_complete(_context(), timeout)  # type: ignore[arg-type]
    refused = {"status": "error", "message": "Job default/j-0: the API server refused the read"}
    with pytest.raises(AirflowException, match=r"^waiting for .*refused the read$"):
        op.execute_complete(_context(), refused)  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="the trigger sent no event"):
        op.execute_complete(_context(), None)  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="the event names no Jobs"):
        op.execute_complete(_context(), {"status": "success", "message": "?"})  # type: ignore[arg-type]


def test_a_bad_poll_interval_is_refused_when_the_dag_is_parsed(airflow_db: Path) -> None:
    from datalocality.operators import RepartitionOperator

    with pytest.raises(SpecError, match=r"^job_poll_interval: must be a positive"):
        RepartitionOperator(
            task_id="repartition",
            operations=_entries(),
            image="rp:1",
            namespace="default",
            job_poll_interval=0,
            config_file="/nonexistent/kubeconfig",  # never read: nothing reaches a cluster
        )


def test_locality_pods_builds_plan_jobs_and_mapped_replicas(airflow_db: Path) -> None:
    from airflow.sdk import DAG

    from datalocality.operators import locality_pods

    with DAG("group_shape", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
        locality_pods(
            task_id="train",
            image="trainer:1",
            inputs=[DataInput(system="iceberg", name="db.events")],
            replicas=3,
            topology={"mode": "soft", "highest_tier_allowed": 1},
            config_file="/nonexistent/kubeconfig",
        )
    tasks = {t.task_id: t for t in dag.tasks}
    assert sorted(tasks) == [
        "train.assembly",
        "train.plan",
        "train.release",
        "train.repartition",
        "train.replica",
    ]
    assert tasks["train.replica"].upstream_task_ids == {"train.assembly", "train.plan"}
    release: Any = tasks["train.release"]
    assert release.is_teardown and release.upstream_task_ids == {"train.replica"}
    assert release.plan_task_id == "train.plan"
    assert release.job_task_ids == ["train.repartition", "train.assembly"]
    assert release.config_file == "/nonexistent/kubeconfig"  # the group's cluster access
    assert tasks["train.repartition"].upstream_task_ids == {"train.plan"}
    assert type(tasks["train.replica"]).__name__ == "MappedOperator"
    repartition: Any = tasks["train.repartition"]
    assert repartition.operations.key == "operations"  # a small XCom, not the plan
    plan_op: Any = tasks["train.plan"]
    assert plan_op.replicas == 3 and plan_op.topology == {"mode": "soft", "highest_tier_allowed": 1}


def test_hook_builds_resolvers_from_a_connection_and_masks_its_secrets(
    airflow_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    import anyio

    from datalocality.provider.hook import PASSWORD_ENV, DataLocalityHook
    from datalocality.resolvers.credentials import redact

    extra = {
        "hive": {
            "resolver": "static",
            "sources": [{"system": "hive", "dataSourceName": "clicks", "chunks": [{"id": "c"}]}],
        },
        "secrets": {"HIVE_TOKEN": "tok-very-secret"},
    }
    uri = json.dumps({"conn_type": "datalocality", "password": "pw-secret-1", "extra": extra})
    monkeypatch.setenv("AIRFLOW_CONN_LOCALITY", uri)
    hook = DataLocalityHook("locality")
    config, env = hook.get_resolver_settings()
    assert list(config) == ["hive"]
    assert env == {PASSWORD_ENV: "pw-secret-1", "HIVE_TOKEN": "tok-very-secret"}
    assert redact("token tok-very-secret and pw-secret-1") == "token *** and ***"
    resolvers = hook.get_resolver_set()
    source = anyio.run(resolvers.resolve, DataInput(system="hive", name="clicks"))
    assert [c.id for c in source.chunks] == ["c"]
    resolvers_file = tmp_path / "resolvers.yaml"
    resolvers_file.write_text("objectstore: {}\n", encoding="utf-8")
    merged, _ = DataLocalityHook(
        "locality", resolvers_config=str(resolvers_file)
    ).get_resolver_settings()
    assert sorted(merged) == ["hive", "objectstore"]


def test_importing_the_operators_package_loads_no_kubernetes_or_hera() -> None:
    from tests.test_layers import loaded_after

    loaded = loaded_after("import datalocality.operators, datalocality.provider.hook")
    assert not loaded & {"kubernetes", "hera"}


def test_every_task_reaches_the_same_cluster_by_default(airflow_db: Path) -> None:
    """One default connection: a DAG that names none plans, runs Jobs, waits and releases
    on the cluster KubernetesPodOperator runs its pods on."""
    import inspect

    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    from datalocality.operators import (
        AssemblyOperator,
        DataLocalityPlanOperator,
        DataLocalityReleaseOperator,
        RepartitionOperator,
        locality_pods,
    )
    from datalocality.provider.access import KubeAccess
    from datalocality.provider.hook import DataLocalityHook
    from datalocality.sensors import DataAvailableSensor
    from datalocality.sensors.base import ClusterSensor
    from datalocality.triggers.claims import DataSourceClaimBoundTrigger
    from datalocality.triggers.operations import OperationCompleteTrigger

    takers: list[Any] = [
        KubernetesPodOperator,
        DataLocalityPlanOperator,
        RepartitionOperator,
        AssemblyOperator,
        DataLocalityReleaseOperator,
        locality_pods,
        DataLocalityHook,
        ClusterSensor,  # the claim and operation sensors' base
        DataSourceClaimBoundTrigger,
        OperationCompleteTrigger,
        KubeAccess,
    ]
    defaults = {
        getattr(t, "__name__", t): inspect.signature(t).parameters["kubernetes_conn_id"].default
        for t in takers
    }
    assert set(defaults.values()) == {"kubernetes_default"}, defaults
    assert "kubernetes_conn_id" not in inspect.signature(DataAvailableSensor).parameters
