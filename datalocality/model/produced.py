"""What producer replicas report (``{"chunks": [{"id", "size"}...]}``) as one DataSource.

Shared by the Airflow producers (:mod:`datalocality.operators.produce`) and the Argo plan
step (:mod:`datalocality.argo.plan_step`): a report's chunks are located on the node the
replica's pod ran on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datalocality.errors import SpecError
from datalocality.model.data import Chunk, DataSource, ReclaimPolicy


def parse_report(report: object, node: str, field: str) -> list[Chunk]:
    """The chunks one replica reported, located on the node its pod ran on."""
    raw = report.get("chunks") if isinstance(report, Mapping) else report
    if not isinstance(raw, list):
        raise SpecError(field, type(report).__name__, 'must be {"chunks": [{"id", "size"}...]}')
    chunks = []
    for index, item in enumerate(raw):
        entry = {"id": item} if isinstance(item, str) else dict(item)
        entry.setdefault("locations", [node] if node else [])
        try:
            chunks.append(Chunk.parse(entry))
        except SpecError as exc:
            raise SpecError(f"{field}.chunks[{index}].{exc.field}", exc.value, exc.reason) from None
    return chunks


def build_produced_source(
    reports: Sequence[tuple[str, object]],
    *,
    system: str,
    data_source_type: str,
    name: str,
    attributes: Mapping[str, str],
    reclaim_policy: ReclaimPolicy = "Delete",
) -> DataSource:
    """One DataSource from every replica's ``(node, report)``; chunk ids must be unique."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for index, (node, report) in enumerate(reports):
        for chunk in parse_report(report, node, f"replicas[{index}]"):
            if chunk.id in seen:
                raise SpecError(f"replicas[{index}].chunks", chunk.id, "duplicate chunk id")
            seen.add(chunk.id)
            chunks.append(chunk)
    return DataSource(
        system=system,
        name=name,
        data_source_type=data_source_type,
        attributes=dict(attributes),
        chunks=tuple(chunks),
        locality={"nodes": sorted({loc for c in chunks for loc in c.locations})},
        reclaim_policy=reclaim_policy,
    )
