"""Airflow operators of the provider: plan, replica pods, producers, repartition/assembly jobs.

Names are imported on first use (as astronomer-cosmos does), so importing this package —
as Airflow's provider discovery does — loads neither kubernetes nor hera.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "AssemblyOperator": "datalocality.operators.jobs",
    "DataLocalityPlanOperator": "datalocality.operators.plan",
    "DataLocalityPodOperator": "datalocality.operators.pod",
    "ProduceChunksPodOperator": "datalocality.operators.produce",
    "RepartitionOperator": "datalocality.operators.jobs",
    "cluster_access": "datalocality.operators.access",
    "locality_pods": "datalocality.operators.group",
}

if TYPE_CHECKING:
    from datalocality.operators.access import cluster_access
    from datalocality.operators.group import locality_pods
    from datalocality.operators.jobs import AssemblyOperator, RepartitionOperator
    from datalocality.operators.plan import DataLocalityPlanOperator
    from datalocality.operators.pod import DataLocalityPodOperator
    from datalocality.operators.produce import ProduceChunksPodOperator

__all__ = [
    "AssemblyOperator",
    "DataLocalityPlanOperator",
    "DataLocalityPodOperator",
    "ProduceChunksPodOperator",
    "RepartitionOperator",
    "cluster_access",
    "locality_pods",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'datalocality.operators' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
