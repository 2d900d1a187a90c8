"""A producer template: its replicas report the chunks they wrote, for a plan in the workflow.

The Argo twin of :class:`~datalocality.operators.ProduceChunksPodOperator`: each replica
is its own task (``<name>-<index>``, ``DATALOCALITY_REPLICA`` in its env) and writes
``{"chunks": [{"id": ..., "size": ...}, ...]}`` to :data:`REPORT_PATH`; Argo returns it
as the output parameter :data:`REPORT_PARAMETER`, and the plan step of a downstream
placement reads every replica's report with the node the replica ran on
(``{{tasks.<task>.hostNodeName}}``) and builds one DataSource from them
(:func:`~datalocality.model.produced.build_produced_source`, as the Airflow collector does).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from datalocality.argo.registry import register, registered
from datalocality.errors import SpecError
from datalocality.kube.names import digest
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label, check_replicas

PRODUCER_ANNOTATION = "datalocality.io/argo-producer"
REPORT_PARAMETER = "datalocality_chunks"
REPORT_DIR = "/tmp/datalocality"  # an emptyDir: the restricted root filesystem may be read-only
REPORT_PATH = f"{REPORT_DIR}/chunks.json"


class ArgoProducer(Spec):
    """Producer replicas and the DataSource their reports make."""

    name: str
    replicas: int
    system: str = "argo"
    data_source_type: str = Field(default="chunks", alias="dataSourceType")
    source_name: str = Field(default="", alias="sourceName")
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_dns_label("", value)

    @field_validator("replicas", mode="before")
    @classmethod
    def _replicas(cls, value: object) -> int:
        return check_replicas(value)

    @property
    def data_source_name(self) -> str:
        """The produced DataSource's name: ``sourceName``, else the producer's."""
        return self.source_name or self.name

    @property
    def registry_key(self) -> str:
        """Its name and a digest of what it holds."""
        return f"{self.name}-{digest(self.model_dump_json())}"

    def template_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Container``/``Script``/``@script`` making it this
        producer's template (registered, so the build hooks find it by name)."""
        return {"annotations": {PRODUCER_ANNOTATION: register(self)}}


def producer_named(key: str, where: str) -> ArgoProducer:
    """The producer registered under ``key`` (``where`` names the template that asked)."""
    found = registered(key, f"{where}.annotations[{PRODUCER_ANNOTATION}]")
    if not isinstance(found, ArgoProducer):
        raise SpecError(f"{where}.annotations[{PRODUCER_ANNOTATION}]", key, "is not a producer")
    return found
