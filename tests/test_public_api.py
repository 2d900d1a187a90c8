"""The public API, pinned: a name added to or dropped from an ``__all__`` is a deliberate,
reviewed change (as httpx pins its exported members), and every pinned name is documented."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "datalocality": [
        "Chunk",
        "Consumer",
        "DataInput",
        "DataSource",
        "DataSourceClaim",
        "Node",
        "PlacementPlan",
        "PlacementRequest",
        "Topology",
        "TopologyConstraint",
        "plan",
    ],
    "datalocality.operators": [
        "AssemblyOperator",
        "CollectChunksOperator",
        "DataLocalityPlanOperator",
        "DataLocalityPodOperator",
        "DataLocalityReleaseOperator",
        "ProduceChunksPodOperator",
        "RepartitionOperator",
        "cluster_access",
        "locality_pods",
        "produce_chunks",
    ],
    "datalocality.sensors": [
        "DataAvailableSensor",
        "DataSourceClaimBoundSensor",
        "DataSourcePhaseSensor",
        "OperationCompleteSensor",
    ],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_exports_are_the_pinned_ones(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == PUBLIC[package]


@pytest.mark.parametrize(
    ("package", "name"), [(p, n) for p, names in sorted(PUBLIC.items()) for n in names]
)
def test_every_export_is_documented(package: str, name: str) -> None:
    value = getattr(importlib.import_module(package), name)
    assert (value.__doc__ or "").strip(), f"{package}.{name} has no docstring"
