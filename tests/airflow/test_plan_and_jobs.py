"""The plan, producer and job operators' pure parts, their failures, and the task group."""

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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"inputs": [{"system": "s"}]}, r"inputs\[0\]\.dataSourceName: Field required"),
        ({"replicas": 0}, r"replicas: must be an integer >= 1 \(got 0\)"),
        ({"topology": {"mode": "strict"}}, r"topology\.mode: must be exactly 'hard' or 'soft'"),
    ],
)
def test_bad_arguments_fail_the_task_without_retry(
    airflow_db: Path, arguments: dict[str, Any], message: str
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from datalocality.operators import DataLocalityPlanOperator

    options: dict[str, Any] = {"inputs": [DataInput(system="s", name="n")], **arguments}
    op = DataLocalityPlanOperator(task_id="plan", **options)
    with pytest.raises(AirflowFailException, match=message):
        op.execute(_context())  # type: ignore[arg-type]


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
    from datalocality.operators.produce import build_produced_source

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
    assert sorted(tasks) == ["train.assembly", "train.plan", "train.repartition", "train.replica"]
    assert tasks["train.replica"].upstream_task_ids == {"train.assembly", "train.plan"}
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
