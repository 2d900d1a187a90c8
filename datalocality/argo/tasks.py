"""What a placed DAG task (or step) becomes: its replicas, operations, producers, plan step.

For a plan made ahead of time, ``t`` becomes ``t-<kind>-<k>`` (the plan's operations)
then ``t-0`` .. ``t-M``; a producer's task becomes ``p-0`` .. ``p-N``; for a plan made in
the workflow (:mod:`datalocality.argo.runtime`)::

    <producer>-0 .. <producer>-N   each reports its chunks (output parameter) and node
          └──► t-plan              the plan step: every report and hostNodeName in
                 └──► t-0 .. t-M   each replica takes its patch and node from t-plan

What depended on ``t`` depends on its replicas (:func:`rewire_depends`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from hera.workflows import Parameter, Step, Task
from hera.workflows.models import Arguments as ModelArguments
from hera.workflows.models import Parameter as ModelParameter

from datalocality.argo.placement import (
    NODE_PARAMETER,
    PATCH_PARAMETER,
    REPLICA_PARAMETER,
    ArgoPlacement,
    RuntimePlacement,
)
from datalocality.argo.producer import REPORT_PARAMETER, ArgoProducer
from datalocality.argo.registry import operation_template
from datalocality.argo.runtime import report_names
from datalocality.errors import SpecError
from datalocality.kube.objects import ETCD_REQUEST_BYTES

S = TypeVar("S", Task, Step)
DEPENDS_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z]+)?")  # a task (and result) in depends
# A Workflow object holds each replica's patch twice (its task's argument and, once it
# runs, its node's inputs in status): half of etcd's limit is left for the rest.
WORKFLOW_PATCH_BYTES = ETCD_REQUEST_BYTES // 4


def with_arguments(arguments: Any, values: Mapping[str, str]) -> Any:
    """A task's ``arguments`` (any form Hera takes) with a parameter per value added."""
    ours = [ModelParameter(name=name, value=value) for name, value in values.items()]
    if isinstance(arguments, ModelArguments):
        return arguments.model_copy(update={"parameters": [*(arguments.parameters or []), *ours]})
    items = [] if arguments is None else arguments if isinstance(arguments, list) else [arguments]
    return [*items, *ours]


def build_replica_invocations(invocation: S, placement: ArgoPlacement, where: str) -> list[S]:
    """One copy of a task (or step) per replica, ``<name>-<index>``, passing its values."""
    if invocation.with_items is not None or invocation.with_param is not None:
        raise SpecError(
            f"{where}.withItems", invocation.name, "a placed template's replicas are its loop"
        )
    arguments = placement.replica_arguments()
    patch_bytes = sum(len(values[PATCH_PARAMETER]) for values in arguments)
    if patch_bytes > WORKFLOW_PATCH_BYTES:
        raise SpecError(
            f"{where}.replicas",
            len(arguments),
            f"their patches take {patch_bytes} bytes, over the {WORKFLOW_PATCH_BYTES} one "
            "Workflow object can carry: plan fewer replicas per workflow",
        )
    copies = []
    for index, values in enumerate(arguments):
        replica = copy.copy(invocation)
        replica.name = f"{invocation.name}-{index}"
        replica.arguments = with_arguments(invocation.arguments, values)
        copies.append(replica)
    return copies


def build_operation_tasks(task: Task, placement: ArgoPlacement, where: str) -> list[Task]:
    """One task per operation of the plan, ``<name>-<kind>-<index>``, running the template
    given by :meth:`ArgoPlacement.operation_kwargs` with the operation's values."""
    operations = placement.planned.plan.operations
    tasks = []
    for index, (operation, values) in enumerate(
        zip(operations, placement.operation_arguments(), strict=True)
    ):
        template = operation_template(placement.registry_key, operation.kind)
        if template is None:
            count = sum(op.kind == operation.kind for op in operations)
            raise SpecError(
                f"{where}.operations",
                operation.kind,
                f"the plan has {count}: give their template with "
                f"placement.operation_kwargs({operation.kind!r}, name=...)",
            )
        tasks.append(
            Task(
                name=f"{task.name}-{operation.kind}-{index}",
                template=template,
                arguments=with_arguments(None, values),
                depends=task.depends,
                dependencies=task.dependencies,
            )
        )
    return tasks


def rewire_depends(depends: str, expanded: Mapping[str, Sequence[str]]) -> str:
    """``depends`` with each expanded task replaced by all of its replicas."""

    def replace(match: re.Match[str]) -> str:
        name, _, result = match.group(0).partition(".")
        if name not in expanded:
            return match.group(0)
        joiner, suffix = " && ", f".{result}" if result else ""
        if result == "AnySucceeded":
            joiner, suffix = " || ", ".Succeeded"
        elif result == "AllFailed":
            suffix = ".Failed"
        return "(" + joiner.join(f"{replica}{suffix}" for replica in expanded[name]) + ")"

    return DEPENDS_TOKEN.sub(replace, depends)


def build_producer_tasks(task: Task, producer: ArgoProducer, where: str) -> list[Task]:
    """One task per producer replica, ``<name>-<index>``."""
    if task.with_items is not None or task.with_param is not None:
        raise SpecError(f"{where}.withItems", task.name, "a producer's replicas are its loop")
    copies = []
    for index in range(producer.replicas):
        replica = copy.copy(task)
        replica.name = f"{task.name}-{index}"
        replica.arguments = with_arguments(task.arguments, {REPLICA_PARAMETER: str(index)})
        copies.append(replica)
    return copies


def build_runtime_tasks(
    task: Task,
    placement: RuntimePlacement,
    producer_tasks: Mapping[str, tuple[str, Sequence[str]]],
    depends: str | None,
    where: str,
) -> list[Task]:
    """The plan step's task and one task per replica taking the step's outputs.

    ``producer_tasks`` maps each producer to the DAG task running it and that task's
    replicas; ``depends`` is the placed task's own (rewired later with the DAG's); the
    plan step also waits for each producer it reads that ``depends`` does not name."""
    if task.with_items is not None or task.with_param is not None:
        raise SpecError(f"{where}.withItems", task.name, "its replicas are its loop")
    plan_name = f"{task.name}-plan"
    arguments: dict[str, str] = {}
    named = {token.partition(".")[0] for token in DEPENDS_TOKEN.findall(depends or "")}
    waits = []
    for producer in placement.producers:
        if producer.name not in producer_tasks:
            raise SpecError(
                f"{where}.producers", producer.name, "no task of this DAG runs that producer"
            )
        producer_task, replica_tasks = producer_tasks[producer.name]
        for index, replica_task in enumerate(replica_tasks):
            report, node = report_names(producer, index)
            outputs = f"tasks.{replica_task}.outputs.parameters"
            arguments[report] = f"{{{{{outputs}.{REPORT_PARAMETER}}}}}"
            arguments[node] = f"{{{{tasks.{replica_task}.hostNodeName}}}}"
        if producer_task not in named:
            waits.append(producer_task)
    plan_depends = " && ".join([f"({depends})"] if depends and waits else [depends or ""])
    plan_depends = " && ".join(x for x in [plan_depends, *waits] if x)
    plan_task = Task(
        name=plan_name,
        template=placement.plan_template,
        arguments=[Parameter(name=k, value=v) for k, v in arguments.items()] or None,
        depends=plan_depends or None,
    )
    replicas = []
    for index in range(placement.consumer.replicas):
        replica = copy.copy(task)
        replica.name = f"{task.name}-{index}"
        replica.depends = plan_name
        replica.dependencies = None
        outputs = f"tasks.{plan_name}.outputs.parameters"
        replica.arguments = with_arguments(
            task.arguments,
            {
                REPLICA_PARAMETER: str(index),
                NODE_PARAMETER: f"{{{{{outputs}.node-{index}}}}}",
                PATCH_PARAMETER: f"{{{{{outputs}.patch-{index}}}}}",
            },
        )
        replicas.append(replica)
    return [plan_task, *replicas]
