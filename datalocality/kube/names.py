"""Deterministic names, labels and annotations for every object the provider creates.

A retried task must find the object its first try created instead of making a second one,
so every name is a pure function of the task instance (dag id, run id, task id, map index)
and of what the object is for. Names are RFC 1123 labels (at most 63 characters) with a
readable prefix and a hash; labels carry values Kubernetes accepts (hashed when the raw
value is not a valid label value) and annotations carry the readable originals.

>>> run = "manual__2026-11-01T10:00:00+00:00"
>>> task = TaskKey(dag_id="clickstream", run_id=run, task_id="train")
>>> build_name(task, "claim", "iceberg/table/warehouse.ml.events")
'train-claim-2d9341774881'
>>> build_labels(task)["datalocality.io/run-id"]
'manual-2026-11-01t10-00-00-00-00-7713b8618d71'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from datalocality.model import DataInput, DataSource
from datalocality.model.base import Spec

GROUP = "datalocality.io"
MANAGED_BY = "datalocality"

LABEL_DAG_ID = "datalocality.io/dag-id"
LABEL_TASK_ID = "datalocality.io/task-id"
LABEL_RUN_ID = "datalocality.io/run-id"
LABEL_MAP_INDEX = "datalocality.io/map-index"
LABEL_COMPONENT = "datalocality.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_SYSTEM = "datalocality.io/system"
LABEL_DATA_SOURCE = "datalocality.io/data-source"  # on a DataSourceSlice: the source it holds

ANNOTATION_RUN_KEY = "datalocality.io/run-key"
ANNOTATION_SPEC_HASH = "datalocality.io/spec-hash"
ANNOTATION_INPUT = "datalocality.io/input"
ANNOTATION_SOURCE_KEY = "datalocality.io/source-key"

LABEL_REPLICA = "datalocality.io/replica"  # on a producer's pods: the replica index
ANNOTATION_PLANNED_NODE = "datalocality.io/planned-node"  # on replica pods and operation Jobs
ANNOTATION_CHUNK_COUNT = "datalocality.io/chunk-count"  # on replica pods
# on a Karmada PropagationPolicy: the clusters we excluded, and that we injected a placement
ANNOTATION_EXCLUDED_CLUSTERS = "datalocality.io/excluded-clusters"
ANNOTATION_PLACEMENT_INJECTED = "datalocality.io/placement-injected"

# Set on nodes by the cluster's operators, read when building the topology.
LABEL_CLUSTER = "datalocality.io/cluster"
LABEL_NODE_TYPE = "datalocality.io/node-type"
# How busy a node is, 0..1, as whatever watches the gateways writes it (Datashim-style
# caches report their own load; Kubernetes has no such field).
ANNOTATION_LOAD = "datalocality.io/load"
TAINT_GATEWAY = "datalocality.io/gateway"

# Annotations create-or-get compares before adopting an object that already exists.
ADOPTION_ANNOTATIONS = (ANNOTATION_RUN_KEY, ANNOTATION_SPEC_HASH)

MAX_NAME = 63
MAX_SUBDOMAIN = 253
HASH_LENGTH = 12
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NOT_NAME = re.compile(r"[^a-z0-9]+")


class TaskKey(Spec):
    """One Airflow task instance: the identity every name and label is derived from."""

    dag_id: str = Field(min_length=1, max_length=250)
    run_id: str = Field(min_length=1, max_length=250)
    task_id: str = Field(min_length=1, max_length=250)
    map_index: int = Field(default=-1, ge=-1, strict=True)

    @property
    def run_key(self) -> str:
        """A hash identifying the task instance; stored on objects to decide adoption."""
        return digest(self.dag_id, self.run_id, self.task_id, str(self.map_index))

    def for_replica(self, index: int) -> TaskKey:
        """The key of one mapped task instance (one per replica) of this task."""
        return self.model_copy(update={"map_index": index})


def digest(*parts: str, length: int = HASH_LENGTH) -> str:
    """A stable hex digest of the parts (JSON-encoded, so no two part lists collide)."""
    encoded = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:length]


def sanitize(text: str, max_length: int = MAX_NAME) -> str:
    """Lowercase ``text`` and squeeze it into RFC 1123 label characters (may return '')."""
    cleaned = _NOT_NAME.sub("-", text.lower()).strip("-")
    return cleaned[:max_length].rstrip("-")


def _with_hash(readable: str, hashed: str, fallback: str) -> str:
    prefix = sanitize(readable, MAX_NAME - len(hashed) - 1) or fallback
    return f"{prefix}-{hashed}"


def build_name(task: TaskKey, kind: str, part: str = "") -> str:
    """The name of one object of ``kind`` for a task instance (``part`` tells siblings apart).

    ``<task-id>-<kind>-<hash>``: the hash covers dag id, run id, task id, map index, kind
    and part; the readable prefix is cut to keep the whole name within 63 characters.
    """
    kind_part = sanitize(kind, 20) or "obj"
    hashed = digest(task.dag_id, task.run_id, task.task_id, str(task.map_index), kind, part)
    room = MAX_NAME - len(kind_part) - len(hashed) - 2
    prefix = sanitize(task.task_id, room) or "task"
    return f"{prefix}-{kind_part}-{hashed}"


def build_claim_name(task: TaskKey, data_input: DataInput) -> str:
    """The DataSourceClaim a task instance makes for one of its inputs."""
    return build_name(task, "claim", data_input.key)


def identity_hash(source: DataInput | DataSource) -> str:
    """Hash of a data source's identity: system, type, name and attributes."""
    attributes = json.dumps(dict(sorted(source.attributes.items())), separators=(",", ":"))
    return digest(source.system, source.data_source_type, source.name, attributes)


def build_data_source_name(source: DataInput | DataSource) -> str:
    """The DataSource created by dynamic binding: readable identity plus its hash.

    System, type and name are sanitised to RFC 1123 (Volcano Global's unsanitised names
    break on ``_`` and capitals). The hash covers the attributes and also the raw
    identity, so two identities that sanitise alike ("My_Table", "my-table") still differ.
    """
    readable = f"{source.system}-{source.data_source_type}-{source.name}"
    return _with_hash(readable, identity_hash(source), "source")


def build_slice_name(source_name: str, generation: str, index: int) -> str:
    """The DataSourceSlice ``index`` of a source's chunks: ``<source>-<generation>-<index>``.

    ``generation`` tells one set of slices from the next (see ``datalocality.kube.slices``);
    the source's name (itself a DNS subdomain) is cut, never the rest, to stay within 253.
    """
    suffix = f"-{sanitize(generation, MAX_NAME) or 'g'}-{index}"
    prefix = source_name[: MAX_SUBDOMAIN - len(suffix)].rstrip("-.") or "source"
    return prefix + suffix


def label_value(raw: str) -> str:
    """``raw`` if Kubernetes accepts it as a label value, else a readable prefix and hash."""
    if len(raw) <= MAX_NAME and _LABEL_VALUE.match(raw):
        return raw
    return _with_hash(raw, digest(raw), "value")


def is_label_value(value: str) -> bool:
    """True when Kubernetes accepts ``value`` as a label value."""
    return len(value) <= MAX_NAME and bool(_LABEL_VALUE.match(value))


def build_labels(task: TaskKey, component: str = "") -> dict[str, str]:
    """The labels every object of a task instance carries (selectable, hashed as needed)."""
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_DAG_ID: label_value(task.dag_id),
        LABEL_TASK_ID: label_value(task.task_id),
        LABEL_RUN_ID: label_value(task.run_id),
    }
    if task.map_index >= 0:  # "-1" is not a label value; unmapped tasks go without
        labels[LABEL_MAP_INDEX] = str(task.map_index)
    if component:
        labels[LABEL_COMPONENT] = label_value(component)
    return labels


def build_annotations(task: TaskKey, **extra: str) -> dict[str, str]:
    """The readable task identity plus the run key used for adoption."""
    return {
        LABEL_DAG_ID: task.dag_id,
        LABEL_TASK_ID: task.task_id,
        LABEL_RUN_ID: task.run_id,
        LABEL_MAP_INDEX: str(task.map_index),
        ANNOTATION_RUN_KEY: task.run_key,
        **extra,
    }


def build_metadata(
    task: TaskKey,
    name: str,
    namespace: str | None,
    *,
    component: str = "",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """ObjectMeta for an object of a task instance (``namespace=None``: cluster-scoped)."""
    meta: dict[str, Any] = {
        "name": name,
        "labels": {**build_labels(task, component), **(labels or {})},
        "annotations": {**build_annotations(task), **(annotations or {})},
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def selector(task: TaskKey, *, component: str = "", per_instance: bool = True) -> str:
    """A label selector matching the objects of a task instance (or of all its instances)."""
    labels = build_labels(task, component)
    if not per_instance:
        labels.pop(LABEL_MAP_INDEX, None)
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def spec_hash(manifest: Mapping[str, Any]) -> str:
    """Hash of everything but metadata and status: two manifests with it equal are the same."""
    body = {k: v for k, v in manifest.items() if k not in ("metadata", "status")}
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def stamp(manifest: dict[str, Any], hashed: str | None = None) -> dict[str, Any]:
    """Record the spec hash (computed, or ``hashed``) in the manifest's annotations."""
    meta = manifest.setdefault("metadata", {})
    meta.setdefault("annotations", {})[ANNOTATION_SPEC_HASH] = hashed or spec_hash(manifest)
    return manifest
