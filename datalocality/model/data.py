"""Data dependencies: chunks, the DataInput a task declares, DataSource and DataSourceClaim.

Field names follow Volcano Global's data-dependency proposal (system, dataSourceType,
dataSourceName, attributes, workload; locality, reclaimPolicy, claimRefs, boundClaims,
conditions), extended with chunks and ``observedAt``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from datalocality.errors import SpecError
from datalocality.model.base import Spec
from datalocality.model.names import check_text
from datalocality.model.quantities import parse_bytes

ChunkKind = Literal["chunk", "stream"]
ReclaimPolicy = Literal["Retain", "Delete"]
ClaimPhase = Literal["Pending", "Bound", "Lost"]
LOCATION_PREFIXES = ("zone:", "region:", "cluster:")

Size = Annotated[int, BeforeValidator(lambda v: parse_bytes("", v))]
# An identity a user or resolver wrote: any printable text, no control characters
# (a newline would forge a log line, or break a header or label it reaches).
Text = Annotated[str, AfterValidator(lambda v: check_text("", v))]


class Chunk(Spec):
    """A piece of data: id, size in bytes, where copies sit, and whether it is a stream part.

    A location is a node name, or ``zone:NAME`` / ``region:NAME`` / ``cluster:NAME`` when a
    resolver only knows the domain (an object-store bucket in a zone, say). No location means
    the data is outside every known domain.
    """

    id: str = Field(min_length=1, max_length=253)
    size: Size = 1
    locations: tuple[str, ...] = ()
    kind: ChunkKind = "chunk"

    @field_validator("locations")
    @classmethod
    def _locations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for loc in value:
            if not loc or (":" in loc and not loc.startswith(LOCATION_PREFIXES)):
                raise SpecError("", loc, "must be a node name or zone:/region:/cluster:NAME")
        return tuple(sorted(set(value)))


class Locality(Spec):
    """Where a data source lives, as coarse as the resolver knows it."""

    clusters: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()


class DataInput(Spec):
    """What a task declares it reads; resolved into a DataSource.

    ``require_locality`` makes the source's clusters a hard constraint (Volcano Global's
    cluster affinity); otherwise locality is only preferred through placement cost.
    """

    system: Text = Field(min_length=1)
    name: Text = Field(min_length=1, alias="dataSourceName")
    data_source_type: Text = Field(default="table", min_length=1, alias="dataSourceType")
    attributes: dict[Text, Text] = Field(default_factory=dict)
    require_locality: bool = Field(default=False, alias="requireLocality", strict=True)

    @property
    def key(self) -> str:
        """A readable identity: system/type/name plus sorted attributes."""
        attrs = ",".join(f"{k}={v}" for k, v in sorted(self.attributes.items()))
        return f"{self.system}/{self.data_source_type}/{self.name}" + (f"?{attrs}" if attrs else "")


class Condition(Spec):
    """A Kubernetes-style status condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = Field(default=None, alias="lastTransitionTime")


class DataSource(Spec):
    """A resolved data source: identity, locality, chunks, and its lifecycle fields.

    ``chunk_base`` is the location its chunk ids are relative to (an ``s3://``, ``hdfs://``
    or ``file://`` URI), so a consumer opens ``<chunkBase>/<id>``; empty when the ids are
    not paths (Vineyard objects, Amoro partitions) or are whole locations already.
    """

    system: Text = Field(min_length=1)
    name: Text = Field(min_length=1, alias="dataSourceName")
    data_source_type: Text = Field(default="table", min_length=1, alias="dataSourceType")
    attributes: dict[Text, Text] = Field(default_factory=dict)
    locality: Locality = Locality()
    chunks: tuple[Chunk, ...] = ()
    chunk_base: str = Field(default="", alias="chunkBase")
    require_locality: bool = Field(default=False, alias="requireLocality", strict=True)
    reclaim_policy: ReclaimPolicy = Field(default="Retain", alias="reclaimPolicy")
    observed_at: datetime | None = Field(default=None, alias="observedAt")
    claim_refs: tuple[str, ...] = Field(default=(), alias="claimRefs")

    @classmethod
    def for_input(cls, data_input: DataInput, **fields: object) -> DataSource:
        """A DataSource carrying the identity of ``data_input`` plus resolved fields."""
        identity = {
            "system": data_input.system,
            "name": data_input.name,
            "data_source_type": data_input.data_source_type,
            "attributes": dict(data_input.attributes),
            "require_locality": data_input.require_locality,
        }
        return cls.model_validate({**identity, **fields})

    @property
    def key(self) -> str:
        """Same identity string as the DataInput it answers."""
        attrs = ",".join(f"{k}={v}" for k, v in sorted(self.attributes.items()))
        return f"{self.system}/{self.data_source_type}/{self.name}" + (f"?{attrs}" if attrs else "")

    @property
    def total_bytes(self) -> int:
        """Bytes over all chunks."""
        return sum(chunk.size for chunk in self.chunks)


class WorkloadRef(Spec):
    """The workload a claim is made for (here: a DAG task)."""

    api_version: str = Field(default="airflow.apache.org/v1", alias="apiVersion")
    kind: str = "TaskInstance"
    name: str = ""
    namespace: str = "default"


class DataSourceClaim(Spec):
    """A task's claim on a data source; Bound once a DataSource references it."""

    name: str = Field(min_length=1)
    input: DataInput
    workload: WorkloadRef = WorkloadRef()
    phase: ClaimPhase = "Pending"
    bound_data_source: str = Field(default="", alias="boundDataSource")
    conditions: tuple[Condition, ...] = ()
