"""Planning inside the workflow: producers, the plan step's template and task, the replicas.

Every value a task passes must be one its template declares, and every output a replica
takes must be one the plan step writes; bad declarations are errors naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hera.workflows import DAG, Container, Steps, Workflow, WorkflowTemplate

from datalocality.argo import ArgoProducer, RuntimePlacement
from datalocality.argo.placement import NODE_PARAMETER, PATCH_PARAMETER
from datalocality.argo.plan_step import (
    OUT_DIR,
    PlanStepRequest,
    build_produced_sources,
    build_step_request,
    main,
)
from datalocality.argo.producer import REPORT_PARAMETER
from datalocality.argo.schema import check_workflow
from datalocality.errors import SpecError
from datalocality.model import Consumer, DataInput
from tests.argo.support import arguments_of, load_example, templates_by_name

INPUT = re.compile(r"\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}")


def consumer(replicas: int = 3) -> Consumer:
    return Consumer.parse({"name": "read", "replicas": replicas})


def runtime(producers: tuple[ArgoProducer, ...], **fields: Any) -> RuntimePlacement:
    return RuntimePlacement(
        name="read", consumer=consumer(), producers=producers, plan_image="p:1", **fields
    )


def test_the_plan_step_takes_every_producer_report_and_gives_every_replica_its_values() -> None:
    (workflow,) = load_example("chunk_pipeline").build()
    check_workflow(workflow)
    templates = templates_by_name(workflow)
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    assert sorted(tasks) == [
        "extract-0",
        "extract-1",
        "sessionize-0",
        "sessionize-1",
        "sessionize-2",
        "sessionize-plan",
    ]
    plan_task = tasks["sessionize-plan"]
    assert plan_task["depends"] == "(extract-0 && extract-1)"
    plan = templates[plan_task["template"]]
    declared = {p["name"] for p in plan["inputs"]["parameters"]}
    assert set(arguments_of(plan_task)) == declared
    assert set(INPUT.findall(json.dumps(plan["container"]["args"]))) == declared
    for index in (0, 1):
        values = arguments_of(plan_task)
        assert values[f"report-extract-{index}"] == (
            f"{{{{tasks.extract-{index}.outputs.parameters.{REPORT_PARAMETER}}}}}"
        )
        assert values[f"node-extract-{index}"] == f"{{{{tasks.extract-{index}.hostNodeName}}}}"
    outputs = {p["name"]: p["valueFrom"]["path"] for p in plan["outputs"]["parameters"]}
    assert all(path.startswith(OUT_DIR + "/") for path in outputs.values())
    taken = re.compile(r"\{\{tasks\.sessionize-plan\.outputs\.parameters\.([a-z0-9-]+)\}\}")
    for index in range(3):
        replica = tasks[f"sessionize-{index}"]
        assert replica["depends"] == "sessionize-plan"
        values = arguments_of(replica)
        for parameter in (NODE_PARAMETER, PATCH_PARAMETER):
            (name,) = taken.findall(values[parameter])
            assert name in outputs
    # the producer writes its report where its output parameter is read from
    extract = templates["extract"]
    env = {e["name"]: e.get("value") for e in extract["container"]["env"]}
    (report,) = extract["outputs"]["parameters"]
    assert (
        report["name"] == REPORT_PARAMETER
        and report["valueFrom"]["path"] == env["DATALOCALITY_REPORT"]
    )
    # what the step is given parses back into the placement it was built from
    request = build_step_request(plan["container"]["args"][1])
    assert request.placement.name == "sessionize" and request.report_count == 2


def test_a_producer_no_task_runs_is_an_error_naming_it() -> None:
    producer = ArgoProducer(name="write", replicas=2)
    placement = runtime((producer,))
    with Workflow(name="w", entrypoint="main") as w:
        read = Container(name="read", image="r:1", **placement.template_kwargs())
        with DAG(name="main"):
            read(name="read")
    with pytest.raises(SpecError, match=r"tasks\[read\]\.producers: no task of this DAG.*'write'"):
        w.to_dict()


def test_a_plan_made_in_the_workflow_needs_a_dag() -> None:
    placement = runtime((ArgoProducer(name="write", replicas=1),))
    with Workflow(name="w", entrypoint="s") as w:
        read = Container(name="read", image="r:1", **placement.template_kwargs())
        with Steps(name="s"):
            read(name="read")
    with pytest.raises(SpecError, match="in the workflow, or one with operations, needs a DAG"):
        w.to_dict()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"producers": ()}, r"inputs: a placed template reads inputs or producers"),
        ({"strategy": "nearest"}, r"strategy: unknown strategy"),
        ({"planImage": ""}, r"planImage"),
        ({"resolvers": {"iceberg": {"resolver": "nope"}}}, r"iceberg"),
        (
            {"resolvers": {"iceberg": {"resolver": "iceberg", "catalog": {"password": "x"}}}},
            r"iceberg",
        ),
    ],
)
def test_bad_runtime_placements_are_refused_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    base: dict[str, Any] = {
        "name": "read",
        "consumer": consumer(),
        "producers": (ArgoProducer(name="write", replicas=1),),
        "planImage": "p:1",
    }
    with pytest.raises(SpecError, match=message):
        RuntimePlacement.parse({**base, **fields})


def test_reports_become_one_source_per_producer_with_each_chunk_where_it_ran() -> None:
    producer = ArgoProducer(name="write", replicas=2, source_name="parts")
    request = PlanStepRequest(placement=runtime((producer,)))
    reports = [
        ("worker-a1", json.dumps({"chunks": [{"id": "p-0", "size": 10}]})),
        ("worker-b1", json.dumps({"chunks": [{"id": "p-1", "size": 20}, "p-2"]})),
    ]
    (source,) = build_produced_sources(request, reports)
    assert source.name == "parts" and source.system == "argo"
    assert [(c.id, c.size, c.locations) for c in source.chunks] == [
        ("p-0", 10, ("worker-a1",)),
        ("p-1", 20, ("worker-b1",)),
        ("p-2", 1, ("worker-b1",)),  # a bare id: size 1, as for the Airflow producers
    ]
    with pytest.raises(SpecError, match=r"producers\.write\.replicas\[1\]\.report: is not JSON"):
        build_produced_sources(request, [reports[0], ("worker-b1", "{oops")])
    with pytest.raises(SpecError, match=r"reports: expected 2"):
        build_produced_sources(request, reports[:1])
    duplicate = ("worker-b1", json.dumps({"chunks": ["p-0"]}))
    with pytest.raises(SpecError, match=r"replicas\[1\]\.chunks: duplicate chunk id"):
        build_produced_sources(request, [reports[0], duplicate])


def test_the_step_refuses_a_bad_request_before_it_touches_the_cluster(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the cluster was used: {name}")

    args = ["--request", "{not json", "--workflow-name", "w", "--workflow-uid", "u"]
    assert main(args, client=Untouchable()) == 1  # type: ignore[arg-type]
    assert "--request: is not JSON" in capsys.readouterr().err
    good = PlanStepRequest(placement=runtime((ArgoProducer(name="write", replicas=2),)))
    args[1] = good.model_dump_json(by_alias=True)
    assert main([*args, "--report", "{}"], client=Untouchable()) == 1  # type: ignore[arg-type]
    assert "--node: one per --report" in capsys.readouterr().err


def test_a_workflow_template_gets_its_plan_steps_template_too() -> None:
    producer = ArgoProducer(name="write", replicas=1)
    placement = runtime((producer,))
    with WorkflowTemplate(name="reusable", entrypoint="main") as w:
        write = Container(name="write", image="w:1", **producer.template_kwargs())
        read = Container(name="read", image="r:1", **placement.template_kwargs())
        with DAG(name="main"):
            write(name="write") >> read(name="read")  # type: ignore[operator]
    built = w.to_dict()
    assert built["kind"] == "WorkflowTemplate"
    assert "read-plan" in templates_by_name(built)
    tasks = [t["name"] for t in templates_by_name(built)["main"]["dag"]["tasks"]]
    assert tasks == ["write-0", "read-plan", "read-0", "read-1", "read-2"]


def test_the_plan_step_gets_the_resolvers_secrets_from_a_secret_not_the_workflow() -> None:
    producer = ArgoProducer(name="write", replicas=1)
    config = {"iceberg": {"resolver": "iceberg", "catalog": {"uri": "https://catalog.example"}}}
    placement = runtime(
        (producer,),
        inputs=(DataInput(system="iceberg", name="db.events"),),
        resolvers=config,
        secret_env="lake-credentials",
    )
    with Workflow(name="w", entrypoint="main") as w:
        write = Container(name="write", image="w:1", **producer.template_kwargs())
        read = Container(name="read", image="r:1", **placement.template_kwargs())
        with DAG(name="main"):
            write(name="write") >> read(name="read")  # type: ignore[operator]
    plan = templates_by_name(w.to_dict())["read-plan"]
    assert plan["container"]["envFrom"] == [{"secretRef": {"name": "lake-credentials"}}]
    request = build_step_request(plan["container"]["args"][1])
    assert request.placement.resolvers == config
    with pytest.raises(SpecError, match=r"secret_env: must be an RFC 1123 subdomain"):
        runtime((producer,), secret_env="Not_A_Name")
