"""Sensors that wait for data, claims and plan operations; deferrable by default.

``DataSourceClaimBoundSensor`` and ``DataSourcePhaseSensor``
(:mod:`~datalocality.sensors.claims`),
``DataAvailableSensor`` (:mod:`~datalocality.sensors.data`) and
``OperationCompleteSensor`` (:mod:`~datalocality.sensors.operations`). Each defers to
the trigger of the same name in :mod:`datalocality.triggers` unless ``deferrable=False``
(the default comes from ``[datalocality] default_deferrable``, itself True), in which case
``poke`` runs that trigger's single check in the worker. Imported lazily, so importing
this package loads neither airflow nor kubernetes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datalocality._lazy import lazy_attributes

_LAZY: dict[str, str] = {
    "DataAvailableSensor": "datalocality.sensors.data",
    "DataSourceClaimBoundSensor": "datalocality.sensors.claims",
    "DataSourcePhaseSensor": "datalocality.sensors.claims",
    "OperationCompleteSensor": "datalocality.sensors.operations",
}

if TYPE_CHECKING:
    from datalocality.sensors.claims import DataSourceClaimBoundSensor, DataSourcePhaseSensor
    from datalocality.sensors.data import DataAvailableSensor
    from datalocality.sensors.operations import OperationCompleteSensor

__all__ = [
    "DataAvailableSensor",
    "DataSourceClaimBoundSensor",
    "DataSourcePhaseSensor",
    "OperationCompleteSensor",
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
