"""Async triggers the datalocality sensors defer to; each only reads and fires one event.

Class paths are stable because Airflow stores them with every deferred task:
``datalocality.triggers.claims.DataSourceClaimBoundTrigger``,
``datalocality.triggers.data.DataAvailableTrigger`` and
``datalocality.triggers.operations.OperationCompleteTrigger``. Importing this package
imports none of them (nor kubernetes), so listing it stays cheap.
"""

from __future__ import annotations
