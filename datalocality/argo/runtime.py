"""Templates of planning inside the workflow: the producers' and the plan step's.

A producer's template reports its chunks as an output parameter; a
:class:`RuntimePlacement` gets a plan step's template taking every producer replica's
report and node and returning each replica's patch and node. What the DAG's tasks become
is :mod:`datalocality.argo.tasks`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from hera.workflows import Container, EmptyDirVolume, Parameter, Script, SecretEnvFrom
from hera.workflows.models import (
    EnvVar,
    ObjectFieldSelector,
    PodSecurityContext,
    SecurityContext,
    ValueFrom,
)
from hera.workflows.models import EnvVarSource as ModelEnvVarSource
from hera.workflows.models import Inputs as ModelInputs
from hera.workflows.models import Parameter as ModelParameter

from datalocality.argo.placement import (
    REPLICA_PARAMETER,
    RuntimePlacement,
)
from datalocality.argo.plan_step import OUT_DIR, PlanStepRequest
from datalocality.argo.producer import (
    PRODUCER_ANNOTATION,
    REPORT_DIR,
    REPORT_PARAMETER,
    REPORT_PATH,
    ArgoProducer,
)
from datalocality.errors import SpecError
from datalocality.kube.names import LABEL_COMPONENT, LABEL_MANAGED_BY, LABEL_REPLICA, MANAGED_BY
from datalocality.kube.security import build_container_context, build_pod_context

T = TypeVar("T", Container, Script)
PLAN_COMMAND = ("python", "-m", "datalocality.argo.plan_step")


def reference(name: str) -> str:
    """How a template refers to its input parameter ``name``."""
    return f"{{{{inputs.parameters.{name}}}}}"


def report_names(producer: ArgoProducer, index: int) -> tuple[str, str]:
    return f"report-{producer.name}-{index}", f"node-{producer.name}-{index}"


def _as_dict(model: Any) -> dict[str, Any] | None:
    return None if model is None else dict(model.model_dump(by_alias=True, exclude_none=True))


def restricted_contexts(template: T) -> None:
    """Meet the restricted profile in every context field ``template`` leaves unset (the
    user's own kept), as the Airflow pods do (:mod:`datalocality.kube.security`)."""
    container = build_container_context(_as_dict(template.security_context))
    template.security_context = SecurityContext.model_validate(container)
    pod = build_pod_context(_as_dict(template.pod_security_context))
    template.pod_security_context = PodSecurityContext.model_validate(pod)


def with_inputs(inputs: Any, names: Sequence[str], where: str) -> Any:
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


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def place_producer_template(template: T, producer: ArgoProducer, where: str) -> T:
    """A producer's template: its replica index in, its report out, where it can write."""
    placed = copy.copy(template)
    placed.inputs = with_inputs(template.inputs, [REPLICA_PARAMETER], where)
    report = Parameter(name=REPORT_PARAMETER, value_from=ValueFrom(path=REPORT_PATH))
    placed.outputs = [*_as_list(template.outputs), report]
    placed.env = [
        *_as_list(template.env),
        EnvVar(name="DATALOCALITY_REPLICA", value=reference(REPLICA_PARAMETER)),
        EnvVar(name="DATALOCALITY_REPORT", value=REPORT_PATH),
        EnvVar(
            name="NODENAME",
            value_from=ModelEnvVarSource(field_ref=ObjectFieldSelector(field_path="spec.nodeName")),
        ),
    ]
    placed.volumes = [
        *_as_list(template.volumes),
        EmptyDirVolume(name="datalocality-report", mount_path=REPORT_DIR),
    ]
    annotations = dict(template.annotations or {})
    del annotations[PRODUCER_ANNOTATION]
    placed.annotations = annotations or None
    placed.labels = {
        **(template.labels or {}),
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: "producer",
        LABEL_REPLICA: reference(REPLICA_PARAMETER),
    }
    restricted_contexts(placed)
    return placed


def build_plan_template(placement: RuntimePlacement) -> Container:
    """The plan step's template: every producer replica's report and node in, each
    replica's patch and node out (files of an emptyDir, returned as output parameters)."""
    producers = placement.producers
    request = PlanStepRequest(placement=placement)
    args = [
        "--request",
        json.dumps(request.model_dump(mode="json", by_alias=True), separators=(",", ":")),
        "--workflow-name",
        "{{workflow.name}}",
        "--workflow-uid",
        "{{workflow.uid}}",
        "--out",
        OUT_DIR,
    ]
    inputs = []
    for producer in producers:
        for index in range(producer.replicas):
            report, node = report_names(producer, index)
            inputs += [Parameter(name=report), Parameter(name=node)]
            args += ["--report", reference(report), "--node", reference(node)]
    outputs = [
        Parameter(name=f"{kind}-{index}", value_from=ValueFrom(path=f"{OUT_DIR}/{kind}-{index}"))
        for index in range(placement.consumer.replicas)
        for kind in ("patch", "node")
    ]
    template = Container(
        name=placement.plan_template,
        image=placement.plan_image,
        command=list(PLAN_COMMAND),
        args=args,
        inputs=inputs or None,
        outputs=outputs,
        volumes=[EmptyDirVolume(name="datalocality-out", mount_path=OUT_DIR)],
        service_account_name=placement.service_account or None,
        env_from=[SecretEnvFrom(name=placement.secret_env)] if placement.secret_env else None,
        labels={LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: "plan"},
    )
    restricted_contexts(template)
    return template
