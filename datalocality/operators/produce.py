"""ProduceChunksPodOperator: one producer replica's pod, which reports the chunks it wrote.

It is the mapped task of :func:`~datalocality.operators.collect.produce_chunks`: each
replica is its own task instance, so replicas run in parallel and, with
``deferrable=True``, defer like any KubernetesPodOperator (KPO's own launching, logs,
XCom sidecar and reattach). Its pod has ``DATALOCALITY_REPLICA`` in its env and a
``datalocality.io/replica`` label (KPO includes operator labels in its reattach
selector), and writes what it produced to ``/airflow/xcom/return.json``::

    {"chunks": [{"id": "part-00", "size": 268435456}, ...]}

The task pushes ``node`` (where its pod was bound) and returns
``{"index": i, "node": ..., "report": {...}}``; the collector task builds one DataSource
from every replica's entry (:func:`build_produced_source`). A retried replica's new try
replaces its XComs, so the collector reads only its latest report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s  # type: ignore[import-untyped]

from datalocality.errors import SpecError
from datalocality.kube.names import LABEL_REPLICA
from datalocality.model.names import check_label_key, check_label_value
from datalocality.model.produced import parse_report
from datalocality.operators.failures import final_failures
from datalocality.operators.rerun import RerunSafePodOperator
from datalocality.provider.links import PlacementPlanLink

if TYPE_CHECKING:
    from airflow.sdk import Context

OVERRIDE_KEYS = frozenset({"annotations", "node_selector", "env"})
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # what the apiserver accepts
REPLICA_ENV = "DATALOCALITY_REPLICA"


def check_producer_replica(replica: object, field: str = "replica") -> dict[str, Any]:
    """One producer replica ``{"index", "annotations"?, "node_selector"?, "env"?}``."""
    if not isinstance(replica, Mapping):
        raise SpecError(field, type(replica).__name__, "must be a mapping")
    index = replica.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise SpecError(f"{field}.index", index, "must be an integer >= 0")
    for key, value in replica.items():
        if key == "index":
            continue
        if key not in OVERRIDE_KEYS:
            raise SpecError(
                f"{field}.{key}", value, f"unknown key (one of {sorted(OVERRIDE_KEYS)})"
            )
        if not isinstance(value, Mapping):
            raise SpecError(f"{field}.{key}", value, "must be a mapping")
        for name, text in value.items():
            _check_override(f"{field}.{key}.{name}", key, name, text)
    return {k: (v if k == "index" else dict(v)) for k, v in replica.items()}


def _check_override(field: str, key: str, name: object, value: object) -> None:
    """One entry of an override: what the apiserver accepts in a pod (a label key and
    value in a node selector, a qualified name in annotations, an env var's name), and
    text values: a number here would reach the pod as a YAML/JSON type the API refuses."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise SpecError(field, value, "keys and values must be strings")
    if key == "env":  # any text is a value (a PEM, a multi-line config): only the name
        if not _ENV_NAME.match(name):
            raise SpecError(field, name, "must be an environment variable name ([-._a-zA-Z0-9])")
        return
    check_label_key(field, name)
    if key == "node_selector":
        check_label_value(field, value)


def build_producer_replicas(
    replicas: int, overrides: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Each replica's entry (its index and ``replica_overrides[i]``), checked at parse time."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise SpecError("replicas", replicas, "must be an integer >= 1")
    if isinstance(overrides, Mapping | str) or len(overrides) > replicas:
        raise SpecError("replica_overrides", overrides, f"must be a list of at most {replicas}")
    return [
        check_producer_replica(
            {**(overrides[i] if i < len(overrides) else {}), "index": i},
            f"replica_overrides[{i}]",
        )
        for i in range(replicas)
    ]


class ProduceChunksPodOperator(RerunSafePodOperator):
    """Run one producer replica's pod; return its chunk report with the pod's node.

    :param replica: ``{"index": i, "annotations", "node_selector", "env"}`` (all but the
        index optional), merged over the operator's; given by ``produce_chunks`` through
        ``expand``. Default: replica 0 with no overrides.
    Every other argument is KubernetesPodOperator's; ``do_xcom_push`` is always on.
    """

    operator_extra_links = (PlacementPlanLink(),)

    template_fields: Sequence[str] = (*KubernetesPodOperator.template_fields, "replica")

    def __init__(self, *, replica: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs["do_xcom_push"] = True
        super().__init__(**kwargs)
        self.replica = check_producer_replica(replica if replica is not None else {"index": 0})
        self.index: int = self.replica["index"]
        self.labels = {**self.labels, LABEL_REPLICA: str(self.index)}
        self.annotations = {**self.annotations, **self.replica.get("annotations", {})}
        self.node_selector = {**self.node_selector, **self.replica.get("node_selector", {})}

    def build_pod_request_obj(
        self, context: Context | None = None, *, dry_run: bool = False
    ) -> k8s.V1Pod:
        """KPO's pod with the replica's env (``DATALOCALITY_REPLICA`` and its overrides)."""
        pod = super().build_pod_request_obj(context, dry_run=dry_run)
        extra = {**self.replica.get("env", {}), REPLICA_ENV: str(self.index)}
        for container in pod.spec.containers:
            if container.name == self.base_container_name:
                kept = [e for e in container.env or [] if e.name not in extra]
                container.env = [
                    *kept,
                    *(k8s.V1EnvVar(name=k, value=str(v)) for k, v in extra.items()),
                ]
        return pod

    def execute(self, context: Context) -> dict[str, Any]:
        """KPO's run of the pod (it defers when deferrable); the replica's entry."""
        return self.entry(super().execute(context))

    def trigger_reentry(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """KPO's resumption after its trigger; the replica's entry."""
        return self.entry(super().trigger_reentry(context, event))

    def entry(self, report: object) -> dict[str, Any]:
        """``{"index", "node", "report"}``, the report checked (a bad one fails for good)."""
        with final_failures("xcom"):
            chunks = parse_report(report, self.node, f"replicas[{self.index}]")
        self.log.info(
            "replica %d ran on %s and reported %d chunks", self.index, self.node, len(chunks)
        )
        return {"index": self.index, "node": self.node, "report": report}
