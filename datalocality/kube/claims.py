"""The DataSourceClaim and DataSource custom resources: CRDs, builders, parsers, status edits.

A DataSource object holds a source's identity, locality and totals; its chunks are in
DataSourceSlices (:mod:`datalocality.kube.slices`), so what is parsed back here carries
no chunks (:mod:`datalocality.kube.publish` reads them).

Builders turn model objects into manifests; parsers turn objects read from the API back
into the binding states of :mod:`datalocality.binding`; the ``with_*`` functions are the
read-modify-write edits the client applies (each returns the edited copy, or None when
the object already says so, so a retried write is a no-op).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml

from datalocality.binding import ClaimState, SourceState, claim_ref
from datalocality.errors import SpecError
from datalocality.kube.names import (
    ANNOTATION_INPUT,
    ANNOTATION_SOURCE_KEY,
    LABEL_MANAGED_BY,
    LABEL_SYSTEM,
    MANAGED_BY,
    TaskKey,
    build_metadata,
    identity_hash,
    label_value,
    stamp,
)
from datalocality.kube.resources import CLAIMS, CRD_API_VERSION
from datalocality.kube.slices import SLICE_KIND, SOURCE_KIND, SlicedChunks, slice_chunks, summarize
from datalocality.model import DataSource, DataSourceClaim
from datalocality.model.names import check_dns_label, check_dns_subdomain

CLAIM_KIND = CLAIMS.kind
_CRD_FILES = {
    CLAIM_KIND: "datasourceclaims.yaml",
    SOURCE_KIND: "datasources.yaml",
    SLICE_KIND: "datasourceslices.yaml",
}


CLAIM_COMPONENT = "claim"  # the component label of every DataSourceClaim


@cache
def _load_crd(kind: str) -> dict[str, Any]:
    text = resources.files("datalocality.kube").joinpath("crds", _CRD_FILES[kind]).read_text()
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def crd_manifests() -> list[dict[str, Any]]:
    """Our CustomResourceDefinitions (apiextensions.k8s.io/v1), fresh copies."""
    return [copy.deepcopy(_load_crd(kind)) for kind in _CRD_FILES]


def crd_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of ``DataSourceClaim``, ``DataSource`` or ``DataSourceSlice``."""
    if kind not in _CRD_FILES:
        raise SpecError("kind", kind, f"must be one of {sorted(_CRD_FILES)}")
    schema: dict[str, Any] = _load_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return copy.deepcopy(schema)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, as Kubernetes writes timestamps."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_data_source_claim(
    claim: DataSourceClaim, *, task: TaskKey, namespace: str
) -> dict[str, Any]:
    """The DataSourceClaim object for a task instance's claim (status is the server's)."""
    check_dns_subdomain("claim.name", claim.name)
    check_dns_label("namespace", namespace)
    data_input = claim.input
    spec: dict[str, Any] = {
        "system": data_input.system,
        "dataSourceType": data_input.data_source_type,
        "dataSourceName": data_input.name,
        "attributes": dict(sorted(data_input.attributes.items())),
        "requireLocality": data_input.require_locality,
        "workload": claim.workload.model_dump(by_alias=True),
    }
    manifest = {
        "apiVersion": CRD_API_VERSION,
        "kind": CLAIM_KIND,
        "metadata": build_metadata(
            task,
            claim.name,
            namespace,
            component=CLAIM_COMPONENT,
            labels={LABEL_SYSTEM: label_value(data_input.system)},
            annotations={ANNOTATION_INPUT: data_input.key},
        ),
        "spec": spec,
    }
    return stamp(manifest)


def build_data_source(
    name: str, source: DataSource, sliced: SlicedChunks | None = None
) -> dict[str, Any]:
    """The cluster-scoped DataSource object for a resolved source (claim refs are status).

    Its spec hash is the identity hash, so a concurrent creator of the same identity
    adopts it even though its chunks were observed at another moment. ``sliced`` is
    ``slice_chunks(name, source.chunks)``, when the caller has it already.
    """
    check_dns_label("name", name)
    manifest = {
        "apiVersion": CRD_API_VERSION,
        "kind": SOURCE_KIND,
        "metadata": {
            "name": name,
            "labels": {
                LABEL_MANAGED_BY: MANAGED_BY,
                LABEL_SYSTEM: label_value(source.system),
            },
            "annotations": {ANNOTATION_SOURCE_KEY: source.key},
        },
        "spec": source_spec(source, sliced or slice_chunks(name, source.chunks)),
    }
    return stamp(manifest, identity_hash(source))


def source_spec(source: DataSource, sliced: SlicedChunks) -> dict[str, Any]:
    """The DataSource spec: Volcano Global's field names, observedAt, and the chunks'
    summary (their hash, how many slices hold them, their totals)."""
    spec: dict[str, Any] = {
        "system": source.system,
        "type": source.data_source_type,
        "name": source.name,
        "attributes": dict(sorted(source.attributes.items())),
        "requireLocality": source.require_locality,
        "reclaimPolicy": source.reclaim_policy,
        "locality": {
            "clusterNames": sorted(source.locality.clusters),
            "zones": sorted(source.locality.zones),
            "nodes": sorted(source.locality.nodes),
        },
        **({"chunkBase": source.chunk_base} if source.chunk_base else {}),
        "chunksHash": sliced.chunks_hash,
        "slices": sliced.count,
        "totals": summarize(source.chunks),
    }
    if source.observed_at is not None:
        spec["observedAt"] = format_time(source.observed_at)
    return spec


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise SpecError("metadata.name", meta, "an object read from the API needs a name")
    return meta


def claim_state(obj: dict[str, Any]) -> ClaimState:
    """A DataSourceClaim object as the binding model sees it."""
    meta = _meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    claim = DataSourceClaim.parse(
        {
            "name": meta["name"],
            "input": {
                "system": spec.get("system"),
                "dataSourceType": spec.get("dataSourceType"),
                "dataSourceName": spec.get("dataSourceName"),
                "attributes": spec.get("attributes") or {},
                "requireLocality": bool(spec.get("requireLocality", False)),
            },
            "workload": spec.get("workload") or {},
            "phase": status.get("phase") or "Pending",
            "boundDataSource": status.get("boundDataSource") or "",
            "conditions": status.get("conditions") or [],
        }
    )
    return ClaimState(str(meta.get("namespace") or "default"), claim)


def source_state(obj: dict[str, Any]) -> SourceState:
    """A DataSource object as the binding model sees it (deleting = deletionTimestamp set;
    no chunks: they are in its slices)."""
    meta = _meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    locality = spec.get("locality") or {}
    source = DataSource.parse(
        {
            "system": spec.get("system"),
            "dataSourceType": spec.get("type"),
            "dataSourceName": spec.get("name"),
            "attributes": spec.get("attributes") or {},
            "requireLocality": bool(spec.get("requireLocality", False)),
            "reclaimPolicy": spec.get("reclaimPolicy") or "Retain",
            "locality": {
                "clusters": locality.get("clusterNames") or [],
                "zones": locality.get("zones") or [],
                "nodes": locality.get("nodes") or [],
            },
            "observedAt": spec.get("observedAt"),
            "chunkBase": spec.get("chunkBase") or "",
            "claimRefs": [
                claim_ref(ref["namespace"], ref["name"]) for ref in status.get("claimRefs") or []
            ],
        }
    )
    return SourceState(
        meta["name"],
        source,
        bool(meta.get("deletionTimestamp")),
        lost=status.get("phase") == "Lost",
    )


def _split_ref(ref: str) -> tuple[str, str]:
    namespace, sep, name = ref.partition("/")
    if not sep or not namespace or not name:
        raise SpecError("ref", ref, "a claim reference is 'namespace/name'")
    return namespace, name


def with_claim_ref(obj: dict[str, Any], ref: str, uid: str = "") -> dict[str, Any] | None:
    """The DataSource with ``ref`` in status.claimRefs (None if already there)."""
    namespace, name = _split_ref(ref)
    refs = list((obj.get("status") or {}).get("claimRefs") or [])
    if any(r.get("namespace") == namespace and r.get("name") == name for r in refs):
        return None
    entry = {"apiVersion": CRD_API_VERSION, "kind": CLAIM_KIND, "namespace": namespace}
    entry["name"] = name
    if uid:
        entry["uid"] = uid
    return _with_refs(obj, [*refs, entry])


def without_claim_ref(obj: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """The DataSource without ``ref`` in status.claimRefs (None if it was not there)."""
    namespace, name = _split_ref(ref)
    refs = list((obj.get("status") or {}).get("claimRefs") or [])
    kept = [r for r in refs if (r.get("namespace"), r.get("name")) != (namespace, name)]
    return None if len(kept) == len(refs) else _with_refs(obj, kept)


def _with_refs(obj: dict[str, Any], refs: list[dict[str, Any]]) -> dict[str, Any]:
    edited = copy.deepcopy(obj)
    status = edited.setdefault("status", {})
    status["claimRefs"] = sorted(refs, key=lambda r: (r["namespace"], r["name"]))
    status["boundClaims"] = len(refs)
    return edited


def with_phase(
    obj: dict[str, Any],
    phase: str,
    source_name: str,
    *,
    now: datetime,
    reason: str,
    message: str,
) -> dict[str, Any] | None:
    """The claim with ``phase`` on ``source_name`` and a matching Bound condition.

    None when the claim already says exactly that (the transition time is kept then).
    """
    status = obj.get("status") or {}
    bound = "True" if phase == "Bound" else "False"
    conditions = _with_condition(status, "Bound", bound, reason=reason, message=message, now=now)
    if (
        status.get("phase") == phase
        and status.get("boundDataSource", "") == source_name
        and conditions is None
    ):
        return None
    edited = copy.deepcopy(obj)
    new_status = edited.setdefault("status", {})
    new_status["phase"] = phase
    new_status["boundDataSource"] = source_name
    if conditions is not None:
        new_status["conditions"] = conditions
    return edited


def with_source_phase(
    obj: dict[str, Any], phase: str, *, now: datetime, message: str
) -> dict[str, Any] | None:
    """The DataSource with status ``phase`` (Available or Lost) and an Available
    condition saying why; None when it says so already."""
    status = obj.get("status") or {}
    available = "True" if phase == "Available" else "False"
    reason = "DataFound" if phase == "Available" else "DataGone"
    conditions = _with_condition(
        status, "Available", available, reason=reason, message=message, now=now
    )
    if status.get("phase", "Available") == phase and conditions is None:
        return None
    edited = copy.deepcopy(obj)
    new_status = edited.setdefault("status", {})
    new_status["phase"] = phase
    if conditions is not None:
        new_status["conditions"] = conditions
    return edited


def _with_condition(
    status: dict[str, Any], kind: str, value: str, *, reason: str, message: str, now: datetime
) -> list[dict[str, Any]] | None:
    """``status.conditions`` with condition ``kind`` set so (None: it says so already); the
    transition time moves only when the condition's status changes."""
    conditions = list(status.get("conditions") or [])
    old = next((c for c in conditions if c.get("type") == kind), None)
    if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (
        value,
        reason,
        message,
    ):
        return None
    kept = old is not None and old.get("status") == value
    condition = {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": old.get("lastTransitionTime", format_time(now))
        if old is not None and kept
        else format_time(now),
    }
    return [*(c for c in conditions if c.get("type") != kind), condition]


def with_resolved(
    obj: dict[str, Any], source: DataSource, sliced: SlicedChunks | None = None
) -> dict[str, Any] | None:
    """The DataSource with the freshly resolved spec (identity and reclaim policy kept);
    None when it says so already. ``sliced`` as for :func:`build_data_source`."""
    current = obj.get("spec") or {}
    fresh = source_spec(source, sliced or slice_chunks(str(obj["metadata"]["name"]), source.chunks))
    fresh["reclaimPolicy"] = current.get("reclaimPolicy", fresh["reclaimPolicy"])
    if fresh == current:
        return None
    edited = copy.deepcopy(obj)
    edited["spec"] = fresh
    return edited
