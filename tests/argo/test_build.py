"""Building a Hera workflow with a placed template: no network, the Airflow plan's pieces.

Each replica's task must carry what the Airflow plan task would give its mapped pod (the
same affinity, env and chunk-list volume), the pod Argo makes from it must pass strict
Kubernetes validation and the restricted profile, and the workflow must pass a strict
schema of Argo's Workflow.

No ``from __future__ import annotations``: Hera reads a ``@script`` function's annotations
as classes.
"""

# ruff: noqa: I002 - see above
import json
from pathlib import Path

import kubernetes_validate
import pytest
from hera.workflows import DAG, Container, Parameter, Steps, Workflow, script
from hera.workflows.models import SecurityContext

from datalocality.argo import ArgoPlacement, PlannedPlacement, load_planned, plan_ahead
from datalocality.argo.placement import NODE_PARAMETER, PATCH_PARAMETER, REPLICA_PARAMETER
from datalocality.argo.schema import check_workflow
from datalocality.argo.tasks import WORKFLOW_PATCH_BYTES, rewire_depends
from datalocality.cli import main as cli_main
from datalocality.errors import SpecError
from datalocality.kube.chunk_lists import read_chunk_list
from datalocality.kube.names import ANNOTATION_PLANNED_NODE, LABEL_REPLICA
from datalocality.model import PlacementPlan
from datalocality.operators.entries import build_replica_entries
from datalocality_testcluster.sandbox.podsecurity import restricted_violations
from tests.argo.support import (
    affinity_node,
    argo_pod,
    arguments_of,
    placement_of,
    request_of,
    templates_by_name,
)


def pipeline(placement: ArgoPlacement) -> Workflow:
    with Workflow(generate_name="scan-", entrypoint="main", namespace="ml") as w:
        pipeline_dag(placement)
    return w


def pipeline_dag(placement: ArgoPlacement) -> None:
    """prep >> train (placed) >> report, inside the current Workflow."""
    prep = Container(name="prep", image="busybox:1.36")
    train = Container(
        name="train",
        image="trainer:1",
        command=["train"],
        inputs=[Parameter(name="epochs", default="2")],
        **placement.template_kwargs(),
    )
    report = Container(name="report", image="busybox:1.36")
    with DAG(name="main"):
        a = prep(name="prep")
        b = train(name="train", arguments={"epochs": "3"})
        c = report(name="report")
        a >> b >> c  # type: ignore[operator]  # Hera's >> is untyped for these


def test_each_replica_is_a_task_on_its_planned_node_with_the_airflow_plans_pieces() -> None:
    placement = placement_of()
    built = pipeline(placement).to_dict()
    check_workflow(built)
    plan = placement.planned.plan
    tasks = {t["name"]: t for t in templates_by_name(built)["main"]["dag"]["tasks"]}
    replicas = [f"train-{i}" for i in range(len(plan.replicas))]
    assert sorted(tasks) == sorted(["prep", "report", *replicas])
    request = placement.planned.request
    airflow = build_replica_entries(
        plan,
        topology=request.topology,
        consumer=request.consumer,
        chunk_lists=placement.chunk_lists,
        namespace="ml",
        sources=request.sources,
    )
    lists = {cm["metadata"]["name"]: cm["data"] for cm in placement.configmaps()}
    template = templates_by_name(built)["train"]
    for replica, entry in zip(plan.replicas, airflow, strict=True):
        task = tasks[f"train-{replica.index}"]
        args = arguments_of(task)
        assert args["epochs"] == "3" and task["depends"] == "prep"
        assert args[NODE_PARAMETER] == replica.node
        assert args[REPLICA_PARAMETER] == str(replica.index)
        patch = json.loads(args[PATCH_PARAMETER])
        assert patch["affinity"] == entry["replica"]["affinity"]
        pod = argo_pod(template, args)
        main = pod["spec"]["containers"][0]
        by_name = {e["name"]: e for e in main["env"]}  # shared ones come from the template
        assert by_name == {e["name"]: e for e in entry["replica"]["env"]}
        assert main["command"] == ["train"]
        kubernetes_validate.validate(pod, "1.33", strict=True)
        assert restricted_violations(pod["spec"]) == []
        assert pod["metadata"]["labels"][LABEL_REPLICA] == str(replica.index)
        # the list the pod mounts is the replica's chunks, read back from the ConfigMaps
        ref = placement.chunk_lists.replicas[replica.index]
        assert read_chunk_list(ref, lists) == list(replica.chunks)
    assert tasks["report"]["depends"] == "(" + " && ".join(replicas) + ")"
    assert template["podSpecPatch"] == f"{{{{inputs.parameters.{PATCH_PARAMETER}}}}}"
    assert template["metadata"]["annotations"][ANNOTATION_PLANNED_NODE].startswith("{{")
    assert [p["name"] for p in template["inputs"]["parameters"]] == [
        "epochs",
        REPLICA_PARAMETER,
        NODE_PARAMETER,
        PATCH_PARAMETER,
    ]


def test_building_twice_gives_the_same_workflow_and_leaves_the_users_objects_alone() -> None:
    placement = placement_of()
    workflow = pipeline(placement)
    first = workflow.to_dict()
    assert workflow.to_dict() == first
    dag = next(t for t in workflow.templates if isinstance(t, DAG))
    assert [t.name for t in dag.tasks] == ["prep", "train", "report"]
    train = next(t for t in workflow.templates if isinstance(t, Container) and t.name == "train")
    assert train.pod_spec_patch is None and train.security_context is None


def test_templates_without_a_placement_build_as_hera_builds_them() -> None:
    with Workflow(name="plain", entrypoint="main") as w:
        c = Container(name="c", image="busybox:1.36")
        with DAG(name="main"):
            c(name="a") >> c(name="b")  # type: ignore[operator]
    built = w.to_dict()
    text = json.dumps(built)
    assert "datalocality" not in text and "podSpecPatch" not in text
    assert [t["name"] for t in templates_by_name(built)["main"]["dag"]["tasks"]] == ["a", "b"]


def test_script_decorator_and_steps_are_placed_too() -> None:
    placement = placement_of("scan")

    @script(image="python:3.12", **placement.template_kwargs())
    def scan(limit: int = 3) -> None:
        print(limit)

    with Workflow(generate_name="s-", entrypoint="steps", namespace="ml") as w:
        prep = Container(name="prep", image="busybox:1.36")
        with Steps(name="steps"):
            prep(name="p")
            scan(name="s")
    built = w.to_dict()
    check_workflow(built)
    groups = templates_by_name(built)["steps"]["steps"]
    count = len(placement.planned.plan.replicas)
    assert [s["name"] for s in groups[0]] == ["p"]
    assert [s["name"] for s in groups[1]] == [f"s-{i}" for i in range(count)]
    template = templates_by_name(built)["scan"]
    for step in groups[1]:
        pod = argo_pod(template, arguments_of(step))
        kubernetes_validate.validate(pod, "1.33", strict=True)
        assert restricted_violations(pod["spec"]) == []
        node = arguments_of(step)[NODE_PARAMETER]
        assert affinity_node(pod["spec"]["affinity"]) == node


@pytest.mark.parametrize(
    ("depends", "expected"),
    [
        ("train", "(train-0 && train-1)"),
        ("prep && train.Succeeded", "prep && (train-0.Succeeded && train-1.Succeeded)"),
        ("train.AnySucceeded || x", "(train-0.Succeeded || train-1.Succeeded) || x"),
        ("train.AllFailed", "(train-0.Failed && train-1.Failed)"),
        ("trainer && pre-train", "trainer && pre-train"),
    ],
)
def test_what_depended_on_a_placed_task_depends_on_its_replicas(
    depends: str, expected: str
) -> None:
    assert rewire_depends(depends, {"train": ["train-0", "train-1"]}) == expected


def test_a_placed_template_refuses_what_the_plan_sets() -> None:
    placement = placement_of("clash")
    with Workflow(name="w", entrypoint="main") as w:
        t = Container(
            name="t", image="x:1", pod_spec_patch='{"a":1}', **placement.template_kwargs()
        )
        with DAG(name="main"):
            t(name="t")
    with pytest.raises(SpecError, match=r"templates\[t\]\.podSpecPatch"):
        w.to_dict()
    with Workflow(name="w", entrypoint="main") as w2:
        t = Container(
            name="t",
            image="x:1",
            inputs=[Parameter(name=NODE_PARAMETER)],
            **placement.template_kwargs(),
        )
        with DAG(name="main"):
            t(name="t")
    with pytest.raises(SpecError, match=r"templates\[t\]\.inputs.*datalocality_node"):
        w2.to_dict()
    with Workflow(name="w", entrypoint="main") as w3:
        t = Container(name="t", image="x:1", **placement.template_kwargs())
        with DAG(name="main"):
            t(name="t", with_items=[1, 2])
    with pytest.raises(SpecError, match=r"tasks\[t\]\.withItems"):
        w3.to_dict()


def test_an_unknown_placement_name_is_an_error_naming_the_template() -> None:
    with Workflow(name="w", entrypoint="main") as w:
        t = Container(name="t", image="x:1", annotations={"datalocality.io/argo-placement": "no"})
        with DAG(name="main"):
            t(name="t")
    with pytest.raises(SpecError, match=r"argo-placement\]: nothing is registered under it"):
        w.to_dict()


def test_two_workflows_may_each_place_a_template_of_the_same_name() -> None:
    small, other = placement_of("same"), placement_of("same", request_of("small", replicas=2))
    first, second = pipeline(small).to_dict(), pipeline(other).to_dict()
    tasks = [
        [t["name"] for t in templates_by_name(built)["main"]["dag"]["tasks"]]
        for built in (first, second)
    ]
    assert tasks == [
        ["prep", "train-0", "train-1", "train-2", "train-3", "report"],
        ["prep", "train-0", "train-1", "report"],
    ]


def test_a_plan_that_does_not_fit_its_request_is_refused() -> None:
    planned = plan_ahead(request_of())
    fewer = planned.plan.model_copy(update={"replicas": planned.plan.replicas[:-1]})
    with pytest.raises(SpecError, match=r"plan\.replicas.*the request asks for 4"):
        PlannedPlacement(request=planned.request, plan=fewer)
    moved = planned.plan.replicas[0].model_copy(update={"node": "nowhere"})
    elsewhere = planned.plan.model_copy(update={"replicas": (moved, *planned.plan.replicas[1:])})
    with pytest.raises(SpecError, match=r"plan\.replicas\[0\]\.node.*nowhere"):
        PlannedPlacement(request=planned.request, plan=elsewhere)


def test_100000_chunks_stay_in_configmaps_and_the_workflow_stays_small() -> None:
    request = request_of("small", chunks=100_000, nodes=40, replicas=50, pods_per_node=8)
    placement = placement_of("big", request)
    built = pipeline(placement).to_dict()
    size = len(json.dumps(built, separators=(",", ":")))
    assert size < WORKFLOW_PATCH_BYTES, size  # ids are in the ConfigMaps, not the workflow
    assert sum(len(r.chunks) for r in placement.planned.plan.replicas) == 100_000
    assert all(
        len(json.dumps(cm["data"])) < 1024 * 1024 for cm in placement.configmaps()
    )  # each under the ConfigMap limit


def test_too_many_replicas_for_one_workflow_is_an_error_naming_the_field() -> None:
    request = request_of("small", chunks=2_000, nodes=200, replicas=1_000, pods_per_node=8)
    placement = placement_of("huge", request)
    with pytest.raises(
        SpecError, match=r"tasks\[train\]\.replicas: their patches take \d+ bytes.*\(got 1000\)"
    ):
        pipeline(placement).to_dict()


def repartitioned(name: str) -> ArgoPlacement:
    """A plan that needs repartitions: one partition per replica of 100 chunks."""
    request = request_of()
    consumer = request.consumer.model_copy(update={"partitioning": "one-per-replica"})
    planned = plan_ahead(request.model_copy(update={"consumer": consumer}))
    assert planned.plan.operations, "the request must need operations"
    return ArgoPlacement(name=name, namespace="ml", planned=planned)


def test_a_plans_operations_run_first_each_on_its_node_with_its_chunk_list() -> None:
    placement = repartitioned("merged")
    with Workflow(generate_name="r-", entrypoint="main", namespace="ml") as w:
        Container(image="merge:1", **placement.operation_kwargs("repartition", "merge"))
        pipeline_dag(placement)
    built = w.to_dict()
    check_workflow(built)
    templates = templates_by_name(built)
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    operations = placement.planned.plan.operations
    op_tasks = [f"train-repartition-{i}" for i in range(len(operations))]
    replicas = [f"train-{i}" for i in range(len(placement.planned.plan.replicas))]
    assert sorted(tasks) == sorted(["prep", "report", *op_tasks, *replicas])
    lists = {cm["metadata"]["name"]: cm["data"] for cm in placement.configmaps()}
    for operation, name in zip(operations, op_tasks, strict=True):
        task = tasks[name]
        assert task["template"] == "merge" and task["depends"] == "prep"
        pod = argo_pod(templates["merge"], arguments_of(task))
        kubernetes_validate.validate(pod, "1.33", strict=True)
        assert restricted_violations(pod["spec"]) == []
        assert affinity_node(pod["spec"]["affinity"]) == operation.node
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["DATALOCALITY_OPERATION"] == "repartition"
        assert env["DATALOCALITY_REPLICA"] == str(operation.replica)
        ref = placement.chunk_lists.operations[op_tasks.index(name)]
        assert read_chunk_list(ref, lists) == list(operation.chunks)
    for name in replicas:
        assert tasks[name]["depends"] == " && ".join(op_tasks)
    assert tasks["report"]["depends"] == "(" + " && ".join(replicas) + ")"


def test_operations_without_their_template_are_an_error_naming_the_kind() -> None:
    placement = repartitioned("unmerged")
    with Workflow(generate_name="r-", entrypoint="main", namespace="ml") as w:
        pipeline_dag(placement)
    with pytest.raises(SpecError, match=r"tasks\[train\]\.operations.*operation_kwargs"):
        w.to_dict()


def test_a_plan_printed_by_the_cli_is_applied_as_it_was_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = Path(__file__).resolve().parents[2] / "examples" / "clickstream.yaml"
    assert cli_main(["plan", str(request), "--strategy", "spread", "-o", "json"]) == 0
    saved = tmp_path / "plan.json"
    saved.write_text(capsys.readouterr().out)
    planned = load_planned(request, saved)
    assert planned.plan.strategy == "spread"  # applied, not planned again
    assert planned.plan == PlacementPlan.model_validate(json.loads(saved.read_text()))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SpecError, match=r"plan_file.*not JSON"):
        load_planned(request, broken)
    with pytest.raises(SpecError, match=r"plan_file.*no such file"):
        load_planned(request, tmp_path / "missing.json")


def test_a_templates_own_security_context_is_kept_and_completed_to_restricted() -> None:
    placement = placement_of("own-context")
    with Workflow(name="w", entrypoint="main", namespace="ml") as w:
        t = Container(
            name="t",
            image="x:1",
            security_context=SecurityContext(run_as_user=4242, read_only_root_filesystem=True),
            **placement.template_kwargs(),
        )
        with DAG(name="main"):
            t(name="t")
    built = w.to_dict()
    template = templates_by_name(built)["t"]
    context = template["container"]["securityContext"]
    assert context["runAsUser"] == 4242 and context["readOnlyRootFilesystem"] is True
    task = templates_by_name(built)["main"]["dag"]["tasks"][0]
    assert restricted_violations(argo_pod(template, arguments_of(task))["spec"]) == []


def test_a_plan_with_operations_in_steps_is_refused_not_run_without_them() -> None:
    placement = repartitioned("stepped")
    with Workflow(generate_name="r-", entrypoint="steps", namespace="ml") as w:
        Container(image="merge:1", **placement.operation_kwargs("repartition", "merge"))
        train = Container(name="train", image="t:1", **placement.template_kwargs())
        with Steps(name="steps"):
            train(name="train")
    with pytest.raises(SpecError, match=r"steps\[train\].*one with operations, needs a DAG"):
        w.to_dict()
