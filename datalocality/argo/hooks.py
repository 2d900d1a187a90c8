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
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from hera.shared import global_config
from hera.workflows import DAG, Container, Parameter, Script, Step, Steps, Task
from hera.workflows.models import Arguments as ModelArguments
from hera.workflows.models import EnvVar, PodSecurityContext, SecurityContext
from hera.workflows.models import Inputs as ModelInputs
from hera.workflows.models import Parameter as ModelParameter
from hera.workflows.steps import Parallel

from datalocality.argo.placement import (
    NODE_PARAMETER,
    PATCH_PARAMETER,
    PLACEMENT_ANNOTATION,
    REPLICA_PARAMETER,
    ArgoPlacement,
    placement_named,
)
from datalocality.errors import SpecError
from datalocality.kube.names import ANNOTATION_PLANNED_NODE, LABEL_REPLICA, build_labels
from datalocality.kube.objects import ETCD_REQUEST_BYTES
from datalocality.kube.security import container_security_context, pod_security_context

T = TypeVar("T", Container, Script)
PLACED_PARAMETERS = (REPLICA_PARAMETER, NODE_PARAMETER, PATCH_PARAMETER)
# A Workflow object holds each replica's patch twice (its task's argument and, once it
# runs, its node's inputs in status): half of etcd's limit is left for the rest.
WORKFLOW_PATCH_BYTES = ETCD_REQUEST_BYTES // 4
_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z]+)?")


def _reference(name: str) -> str:
    return f"{{{{inputs.parameters.{name}}}}}"


def placement_of(template: object, where: str) -> ArgoPlacement | None:
    """The placement a template object is tied to, if any."""
    annotations = getattr(template, "annotations", None) or {}
    name = annotations.get(PLACEMENT_ANNOTATION)
    return placement_named(name, where) if name is not None else None


def _with_inputs(inputs: Any, names: Sequence[str], where: str) -> Any:
    """``inputs`` (any form Hera takes) with an input parameter per name added."""
    ours = [ModelParameter(name=name) for name in names]
    if isinstance(inputs, ModelInputs):
        existing = list(inputs.parameters or [])
        merged: Any = inputs.model_copy(update={"parameters": existing + ours})
        taken = {p.name for p in existing}
    else:
        items = [] if inputs is None else list(inputs) if isinstance(inputs, list) else [inputs]
        taken = set()
        for item in items:
            if isinstance(item, (Parameter, ModelParameter)) and item.name:
                taken.add(item.name)
            elif isinstance(item, Mapping):
                taken.update(item)
        merged = [*items, *ours]
    clash = taken.intersection(names)
    if clash:
        raise SpecError(f"{where}.inputs", sorted(clash)[0], "is a parameter the plan sets")
    return merged


def _with_env(env: Any, shared: Sequence[Mapping[str, Any]], where: str) -> Any:
    """The template's env with the variables every replica shares appended."""
    items = [] if env is None else list(env) if isinstance(env, list) else [env]
    taken = {getattr(item, "name", None) for item in items}
    for variable in shared:
        if variable["name"] in taken:
            raise SpecError(f"{where}.env", variable["name"], "is a variable the plan sets")
    return [*items, *(EnvVar.model_validate(variable) for variable in shared)]


def place_template(template: T) -> T:
    """The hook body for ``Container`` and ``Script``."""
    where = f"templates[{template.name}]"
    placement = placement_of(template, where)
    if placement is None:
        return template
    if template.pod_spec_patch:
        raise SpecError(
            f"{where}.podSpecPatch", template.pod_spec_patch, "a placed template's is the plan's"
        )
    placed = copy.copy(template)
    placed.inputs = _with_inputs(template.inputs, PLACED_PARAMETERS, where)
    placed.pod_spec_patch = _reference(PATCH_PARAMETER)
    annotations = dict(template.annotations or {})
    del annotations[PLACEMENT_ANNOTATION]
    annotations[ANNOTATION_PLANNED_NODE] = _reference(NODE_PARAMETER)
    placed.annotations = annotations
    placed.labels = {
        **(template.labels or {}),
        **build_labels(placement.task, "replica"),
        LABEL_REPLICA: _reference(REPLICA_PARAMETER),
    }
    placed.env = _with_env(template.env, placement.shared_env, where)
    if placed.security_context is None:
        placed.security_context = SecurityContext.model_validate(container_security_context())
    if placed.pod_security_context is None:
        placed.pod_security_context = PodSecurityContext.model_validate(pod_security_context())
    return placed


def place_container(template: Container) -> Container:
    """A placed ``Container`` takes its replica's placement through parameters."""
    return place_template(template)


def place_script(template: Script) -> Script:
    """A placed ``Script`` (and ``@script`` function) takes its replica's placement."""
    return place_template(template)


def _with_arguments(arguments: Any, values: Mapping[str, str]) -> Any:
    ours = [ModelParameter(name=name, value=value) for name, value in values.items()]
    if isinstance(arguments, ModelArguments):
        return arguments.model_copy(update={"parameters": [*(arguments.parameters or []), *ours]})
    items = [] if arguments is None else arguments if isinstance(arguments, list) else [arguments]
    return [*items, *ours]


S = TypeVar("S", Task, Step)


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
        replica.arguments = _with_arguments(invocation.arguments, values)
        copies.append(replica)
    return copies


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

    return _TOKEN.sub(replace, depends)


def place_dag(dag: DAG) -> DAG:
    """The hook body for ``DAG``: placed tasks expanded, dependants rewired."""
    expanded: dict[str, list[Task]] = {}
    for task in dag.tasks:
        if isinstance(task, Task):
            where = f"templates[{dag.name}].tasks[{task.name}]"
            placement = placement_of(task.template, where)
            if placement is not None:
                expanded[task.name] = build_replica_invocations(task, placement, where)
    if not expanded:
        return dag
    names = {name: [t.name for t in copies] for name, copies in expanded.items()}
    tasks: list[Any] = []
    for task in dag.tasks:
        if isinstance(task, Task) and task.name in expanded:
            tasks.extend(expanded[task.name])
        elif isinstance(task, Task) and (task.depends or task.dependencies):
            rewired = copy.copy(task)
            if task.depends:
                rewired.depends = rewire_depends(task.depends, names)
            if task.dependencies:
                rewired.dependencies = [r for d in task.dependencies for r in names.get(d, [d])]
            tasks.append(rewired)
        else:
            tasks.append(task)
    placed = copy.copy(dag)
    placed.tasks = tasks
    return placed


def _expand_steps(group: Sequence[Any], where: str) -> list[Any]:
    """A parallel group with each placed step replaced by its replicas' steps."""
    out: list[Any] = []
    for step in group:
        placement = (
            placement_of(step.template, f"{where}[{step.name}]") if isinstance(step, Step) else None
        )
        if placement is None:
            out.append(step)
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


_HOOKS: tuple[Callable[..., Any], ...] = (place_container, place_script, place_dag, place_steps)


def register_hooks() -> None:
    """Register the hooks with Hera once (importing :mod:`datalocality.argo` does it)."""
    registered = global_config._pre_build_hooks or {}  # where Hera keeps them
    for hook in _HOOKS:
        kind = hook.__annotations__["return"]
        if hook not in registered.get(kind, []):
            global_config.register_pre_build_hook(hook)
