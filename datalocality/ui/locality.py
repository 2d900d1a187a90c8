"""The Data Locality page's rows: DataSourceClaims and DataSources as the API read them.

Pure: objects and the time in, rows out. A claim's chunk count, bytes and locality are
its bound source's; its DAG run is the readable identity every object of a task carries
(:func:`~datalocality.kube.names.build_annotations`), and its link is that plan task's
Placement view.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from datetime import datetime
from typing import Any

from datalocality.kube.names import LABEL_DAG_ID, LABEL_RUN_ID, LABEL_TASK_ID

PHASES = ("Pending", "Bound", "Lost", "Released")
TaskPath = Callable[[str, str, str], str]  # (dag_id, run_id, task_id) -> a path under base


def _part(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _part(obj, "metadata")


def _age(obj: Mapping[str, Any], now: datetime) -> tuple[str, int | None]:
    created = str(_meta(obj).get("creationTimestamp") or "")
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created, None
    return created, max(0, int((now - moment).total_seconds()))


def _locality(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    locality = _part(spec, "locality")
    return {
        "clusters": list(locality.get("clusterNames") or []),
        "zones": list(locality.get("zones") or []),
        "nodes": list(locality.get("nodes") or []),
    }


def build_source_row(source: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One DataSource: phase, reclaim policy, chunks, bytes, slices, claims, locality, age."""
    spec, status = _part(source, "spec"), _part(source, "status")
    totals = _part(spec, "totals")
    created, age = _age(source, now)
    return {
        "name": str(_meta(source).get("name") or ""),
        "phase": str(status.get("phase") or "Available"),
        "reclaim_policy": str(spec.get("reclaimPolicy") or "Retain"),
        "chunk_count": int(totals.get("chunks") or 0),
        "bytes": int(totals.get("bytes") or 0),
        "slices": int(spec.get("slices") or 0),
        "claims": len(status.get("claimRefs") or []),
        "locality": _locality(spec),
        "created": created,
        "age_seconds": age,
    }


def build_claim_row(
    claim: Mapping[str, Any],
    sources: Mapping[str, Mapping[str, Any]],
    now: datetime,
    task_path: TaskPath,
) -> dict[str, Any]:
    """One DataSourceClaim with its bound source's figures and its plan task's link."""
    meta = _meta(claim)
    status, annotations = _part(claim, "status"), _part(meta, "annotations")
    bound = str(status.get("boundDataSource") or "")
    source = sources.get(bound, {})
    dag_id, run_id, task_id = (
        str(annotations.get(key) or "") for key in (LABEL_DAG_ID, LABEL_RUN_ID, LABEL_TASK_ID)
    )
    created, age = _age(claim, now)
    return {
        "name": str(meta.get("name") or ""),
        "namespace": str(meta.get("namespace") or ""),
        "phase": str(status.get("phase") or "Pending"),
        "source": bound,
        "reclaim_policy": source.get("reclaim_policy", ""),
        "chunk_count": source.get("chunk_count", 0),
        "bytes": source.get("bytes", 0),
        "locality": source.get("locality", {"clusters": [], "zones": [], "nodes": []}),
        "created": created,
        "age_seconds": age,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "placement_path": task_path(dag_id, run_id, task_id) if dag_id and run_id else "",
    }


def build_locality_page(
    claims: Iterable[Mapping[str, Any]],
    sources: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    task_path: TaskPath,
    readable_dags: Container[str],
    dag_id: str = "",
    phase: str = "",
) -> dict[str, Any]:
    """Claims of the DAGs the user may read (one DAG's, one phase's when asked) and the
    sources they are bound to; a source nobody readable claims is not shown."""
    source_rows = {row["name"]: row for row in (build_source_row(s, now) for s in sources)}
    rows = [build_claim_row(claim, source_rows, now, task_path) for claim in claims]
    rows = [row for row in rows if row["dag_id"] in readable_dags]
    dag_ids = sorted({row["dag_id"] for row in rows})
    shown = [
        row
        for row in rows
        if (not dag_id or row["dag_id"] == dag_id) and (not phase or row["phase"] == phase)
    ]
    shown.sort(key=lambda row: (row["dag_id"], row["run_id"], row["name"]))
    bound = {row["source"] for row in shown}
    return {
        "dag_ids": dag_ids,
        "claims": shown,
        "sources": [source_rows[name] for name in sorted(bound) if name in source_rows],
    }
