"""Airflow operators of the provider: plan, replica pods, producers, repartition/assembly jobs.

Names are imported on first use (as astronomer-cosmos does), so importing this package —
as Airflow's provider discovery does — loads neither kubernetes nor hera.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datalocality._lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "AssemblyOperator": "datalocality.operators.jobs",
    "CollectChunksOperator": "datalocality.operators.collect",
    "DataLocalityPlanOperator": "datalocality.operators.plan",
    "DataLocalityPodOperator": "datalocality.operators.pod",
    "DataLocalityReleaseOperator": "datalocality.operators.release",
    "ProduceChunksPodOperator": "datalocality.operators.produce",
    "RepartitionOperator": "datalocality.operators.jobs",
    "cluster_access": "datalocality.operators.access",
    "locality_pods": "datalocality.operators.group",
    "produce_chunks": "datalocality.operators.collect",
}

if TYPE_CHECKING:
    from datalocality.operators.access import cluster_access
    from datalocality.operators.collect import CollectChunksOperator, produce_chunks
    from datalocality.operators.group import locality_pods
    from datalocality.operators.jobs import AssemblyOperator, RepartitionOperator
    from datalocality.operators.plan import DataLocalityPlanOperator
    from datalocality.operators.pod import DataLocalityPodOperator
    from datalocality.operators.produce import ProduceChunksPodOperator
    from datalocality.operators.release import DataLocalityReleaseOperator

__all__ = [
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
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
