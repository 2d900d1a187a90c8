"""Hera pre-build hooks: a placed template takes the plan's values, its task becomes replicas.

Hera dispatches a hook by the exact class of the object it builds (the hook's return
annotation, so this module must not use ``from __future__ import annotations``). Each hook
returns a copy and leaves the user's objects as they were, so building twice gives the
same workflow.

* ``Container`` and ``Script`` (the ``@script`` decorator builds a ``Script``): a template
  carrying :data:`PLACEMENT_ANNOTATION` gets three input parameters (replica, node,
  patch), ``podSpecPatch: {{inputs.parameters.datalocality_patch}}``, the provider's
  labels and annotations, and the restricted security contexts when it sets none.
* ``DAG`` and ``Steps``: a task (step) calling a placed template becomes one task per
  replica, ``<name>-<index>``, each passing its replica's values; in a DAG, what depended
  on the task depends on every replica.
"""

# ruff: noqa: I002 - no postponed annotations: Hera keys hooks by the return annotation's class
import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from hera.shared import global_config
from hera.workflows import (
    DAG,
    Container,
    CronWorkflow,
    Script,
    Step,
    Steps,
    Task,
    Workflow,
    WorkflowTemplate,
)
from hera.workflows.models import EnvVar
from hera.workflows.steps import Parallel

from datalocality.argo.placement import (
    ARGO_DAG_ID,
    NODE_PARAMETER,
    OPERATION_ANNOTATION,
    PATCH_PARAMETER,
    PLACEMENT_ANNOTATION,
    REPLICA_PARAMETER,
    ArgoPlacement,
    Placement,
    RuntimePlacement,
    placement_named,
)
from datalocality.argo.producer import PRODUCER_ANNOTATION, ArgoProducer, producer_named
from datalocality.argo.runtime import (
    build_plan_template,
    place_producer_template,
    reference,
    restricted_contexts,
    with_inputs,
)
from datalocality.argo.tasks import (
    build_operation_tasks,
    build_producer_tasks,
    build_replica_invocations,
    build_runtime_tasks,
    rewire_depends,
)
from datalocality.errors import SpecError
from datalocality.kube.names import (
    ANNOTATION_PLANNED_NODE,
    LABEL_REPLICA,
    LABEL_RUN_ID,
    TaskKey,
    build_labels,
)

T = TypeVar("T", Container, Script)
PLACED_PARAMETERS = (REPLICA_PARAMETER, NODE_PARAMETER, PATCH_PARAMETER)


def placement_of(template: object, where: str) -> Placement | None:
    """The placement a template object is tied to, if any."""
    annotations = getattr(template, "annotations", None) or {}
    name = annotations.get(PLACEMENT_ANNOTATION)
    return placement_named(name, where) if name is not None else None


def _with_env(env: Any, shared: Sequence[Mapping[str, Any]], where: str) -> Any:
    """The template's env with the variables every replica shares appended."""
    items = [] if env is None else list(env) if isinstance(env, list) else [env]
    taken = {getattr(item, "name", None) for item in items}
    for variable in shared:
        if variable["name"] in taken:
            raise SpecError(f"{where}.env", variable["name"], "is a variable the plan sets")
    return [*items, *(EnvVar.model_validate(variable) for variable in shared)]


def producer_of(template: object, where: str) -> ArgoProducer | None:
    """The producer a template object is tied to, if any."""
    annotations = getattr(template, "annotations", None) or {}
    name = annotations.get(PRODUCER_ANNOTATION)
    return producer_named(name, where) if name is not None else None


def _replica_labels(placement: Placement, component: str) -> dict[str, str]:
    """A replica's (or operation's) pod labels: its task's (a runtime plan's run is the
    workflow's uid)."""
    if isinstance(placement, ArgoPlacement):
        labels = build_labels(placement.task, component)
    else:
        task = TaskKey(dag_id=ARGO_DAG_ID, run_id="-", task_id=placement.name)
        labels = {**build_labels(task, component), LABEL_RUN_ID: "{{workflow.uid}}"}
    return {**labels, LABEL_REPLICA: reference(REPLICA_PARAMETER)}


def place_template(template: T) -> T:
    """The hook body for ``Container`` and ``Script``."""
    where = f"templates[{template.name}]"
    producer = producer_of(template, where)
    placement = placement_of(template, where)
    annotations = template.annotations or {}
    operations = annotations.get(OPERATION_ANNOTATION)
    if sum(x is not None for x in (producer, placement, operations)) > 1:
        raise SpecError(f"{where}.annotations", template.name, "a producer, placed, or operations")
    if producer is not None:
        return place_producer_template(template, producer, where)
    if operations is not None:
        found = placement_named(operations, where)
        return _placed_copy(template, found, OPERATION_ANNOTATION, "operation", where)
    if placement is None:
        return template
    return _placed_copy(template, placement, PLACEMENT_ANNOTATION, "replica", where)


def _placed_copy(
    template: T, placement: Placement, annotation: str, component: str, where: str
) -> T:
    """A copy of ``template`` taking its pod's placement from the plan's parameters."""
    if template.pod_spec_patch:
        raise SpecError(
            f"{where}.podSpecPatch", template.pod_spec_patch, "a placed template's is the plan's"
        )
    placed = copy.copy(template)
    placed.inputs = with_inputs(template.inputs, PLACED_PARAMETERS, where)
    placed.pod_spec_patch = reference(PATCH_PARAMETER)
    annotations = dict(template.annotations or {})
    del annotations[annotation]
    annotations[ANNOTATION_PLANNED_NODE] = reference(NODE_PARAMETER)
    placed.annotations = annotations
    placed.labels = {**(template.labels or {}), **_replica_labels(placement, component)}
    if isinstance(placement, ArgoPlacement) and component == "replica":
        placed.env = _with_env(template.env, placement.shared_env, where)  # once, not per patch
    restricted_contexts(placed)
    return placed


def place_container(template: Container) -> Container:
    """A placed ``Container`` takes its replica's placement through parameters."""
    return place_template(template)


def place_script(template: Script) -> Script:
    """A placed ``Script`` (and ``@script`` function) takes its replica's placement."""
    return place_template(template)


def place_dag(dag: DAG) -> DAG:
    """The hook body for ``DAG``: producers and placed tasks expanded, dependants rewired."""
    where = f"templates[{dag.name}].tasks"
    tasks: list[Task] = [t for t in dag.tasks if isinstance(t, Task)]
    expanded: dict[str, list[Task]] = {}
    producer_tasks: dict[str, tuple[str, list[str]]] = {}
    runtime: dict[str, RuntimePlacement] = {}
    leading: dict[str, int] = {}  # the tasks an expansion runs before the replicas
    for task in tasks:
        here = f"{where}[{task.name}]"
        producer = producer_of(task.template, here)
        placement = placement_of(task.template, here)
        if producer is not None:
            if producer.name in producer_tasks:
                raise SpecError(
                    here, producer.name, "another task of this DAG runs a producer so named"
                )
            expanded[task.name] = build_producer_tasks(task, producer, here)
            producer_tasks[producer.name] = (task.name, [t.name for t in expanded[task.name]])
        elif isinstance(placement, ArgoPlacement):
            operations = build_operation_tasks(task, placement, here)
            replicas = build_replica_invocations(task, placement, here)
            if operations:  # every replica starts once every operation is done
                for replica in replicas:
                    replica.depends = " && ".join(t.name for t in operations)
                    replica.dependencies = None
            expanded[task.name] = [*operations, *replicas]
            leading[task.name] = len(operations)
        elif isinstance(placement, RuntimePlacement):
            runtime[task.name] = placement
    if not expanded and not runtime:
        return dag
    for task in tasks:
        if task.name in runtime:
            depends = task.depends or " && ".join(task.dependencies or []) or None
            here = f"{where}[{task.name}]"
            expanded[task.name] = build_runtime_tasks(
                task, runtime[task.name], producer_tasks, depends, here
            )
            leading[task.name] = 1  # its plan step
    # what depended on a placed task waits for its replicas
    names = {
        name: [t.name for t in copies[leading.get(name, 0) :]] for name, copies in expanded.items()
    }
    placed_tasks: list[Any] = []
    for item in dag.tasks:
        members: list[Any] = expanded.get(item.name, [item]) if isinstance(item, Task) else [item]
        placed_tasks += [_rewired(m, names) if isinstance(m, Task) else m for m in members]
    placed = copy.copy(dag)
    placed.tasks = placed_tasks
    return placed


def _rewired(task: Task, names: Mapping[str, Sequence[str]]) -> Task:
    """``task`` with what it depends on rewired to the replicas of expanded tasks."""
    if not task.depends and not task.dependencies:
        return task
    rewired = copy.copy(task)
    if task.depends:
        rewired.depends = rewire_depends(task.depends, names)
    if task.dependencies:
        rewired.dependencies = [r for d in task.dependencies for r in names.get(d, [d])]
    return rewired


def _expand_steps(group: Sequence[Any], where: str) -> list[Any]:
    """A parallel group with each placed step replaced by its replicas' steps."""
    out: list[Any] = []
    for step in group:
        placement = (
            placement_of(step.template, f"{where}[{step.name}]") if isinstance(step, Step) else None
        )
        if isinstance(step, Step) and producer_of(step.template, f"{where}[{step.name}]"):
            raise SpecError(f"{where}[{step.name}]", step.name, "producers run in a DAG")
        if placement is None:
            out.append(step)
        elif isinstance(placement, RuntimePlacement) or placement.planned.plan.operations:
            raise SpecError(
                f"{where}[{step.name}]",
                step.name,
                "a plan made in the workflow, or one with operations, needs a DAG",
            )
        else:
            out.extend(build_replica_invocations(step, placement, f"{where}[{step.name}]"))
    return out


def place_steps(steps: Steps) -> Steps:
    """The hook body for ``Steps``: a placed step becomes a parallel group of replicas."""
    where = f"templates[{steps.name}].steps"
    groups: list[Any] = []
    changed = False
    for item in steps.sub_steps:
        if isinstance(item, Step):
            expanded = _expand_steps([item], where)
            changed |= expanded != [item]
            groups.append(expanded if expanded != [item] else item)
        elif isinstance(item, (Parallel, list)):
            members = item.sub_steps if isinstance(item, Parallel) else item
            expanded = _expand_steps(members, where)
            changed |= expanded != list(members)
            groups.append(expanded if expanded != list(members) else item)
        else:
            groups.append(item)
    if not changed:
        return steps
    placed = copy.copy(steps)
    placed.sub_steps = groups
    return placed


W = TypeVar("W", bound=Workflow)


def _with_plan_templates(workflow: W) -> W:
    """The hook body for ``Workflow``: the plan step's template of each runtime placement."""
    added: dict[str, Any] = {}
    names = {getattr(t, "name", None) for t in workflow.templates}
    for template in workflow.templates:
        where = f"templates[{getattr(template, 'name', '')}]"
        placement = placement_of(template, where)
        if isinstance(placement, RuntimePlacement) and placement.plan_template not in names:
            added[placement.plan_template] = build_plan_template(placement)
    if not added:
        return workflow
    placed = copy.copy(workflow)
    placed.templates = [*workflow.templates, *added.values()]
    return placed


def place_workflow(workflow: Workflow) -> Workflow:
    """The hook body for ``Workflow``: the plan step's template of each runtime placement."""
    return _with_plan_templates(workflow)


def place_workflow_template(workflow: WorkflowTemplate) -> WorkflowTemplate:
    """A ``WorkflowTemplate`` gets its plan steps' templates as a ``Workflow`` does."""
    return _with_plan_templates(workflow)


def place_cron_workflow(workflow: CronWorkflow) -> CronWorkflow:
    """A ``CronWorkflow`` gets its plan steps' templates as a ``Workflow`` does."""
    return _with_plan_templates(workflow)


_HOOKS: tuple[Callable[..., Any], ...] = (
    place_container,
    place_script,
    place_dag,
    place_steps,
    place_workflow,
    place_workflow_template,
    place_cron_workflow,
)


def register_hooks() -> None:
    """Register the hooks with Hera once (importing :mod:`datalocality.argo` does it)."""
    registered = global_config._pre_build_hooks or {}  # where Hera keeps them
    for hook in _HOOKS:
        kind = hook.__annotations__["return"]
        if hook not in registered.get(kind, []):
            global_config.register_pre_build_hook(hook)
