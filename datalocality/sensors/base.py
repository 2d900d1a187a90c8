"""The behaviour the datalocality sensors share: defer by default, poke with the same check.

A sensor builds its trigger from its (rendered) fields. Deferrable, it defers to that
trigger at once, with the sensor's ``timeout`` as the trigger's absolute deadline and a
grace period on the deferral itself, so the trigger's own ``timeout`` event (with what it
last saw) normally arrives before Airflow's deferral timeout. Not deferrable, ``poke`` runs
the trigger's single check in the worker. Either way success returns the event's details
(pushed to XCom), a timeout raises AirflowSensorTimeout (no retries, as a poking sensor's
timeout) and an error raises AirflowException with the message (retries apply); bad
arguments raise AirflowFailException naming the field. Nothing here touches the network
or a connection before ``execute``.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import timedelta
from typing import Any, Final

import anyio
from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from datalocality.errors import ResolverConfigError, SpecError, UnknownResolver
from datalocality.model.names import check_dns_label
from datalocality.provider.access import ClusterAccess
from datalocality.provider.info import CONFIG_SECTION, KUBERNETES_CONN_ID
from datalocality.triggers.base import PollingTrigger, event_payload

DEFER_GRACE: Final = 60.0


def default_deferrable() -> bool:
    """``[datalocality] default_deferrable``; True when unset.

    Deliberately not ``[operators] default_deferrable``, whose Airflow default (False)
    would make these wait-only sensors hold a worker slot unless every user opted in.
    """
    return conf.getboolean(CONFIG_SECTION, "default_deferrable", fallback=True)


def default_poll_interval() -> float:
    """``[datalocality] default_poll_interval`` seconds; 30 when unset."""
    return conf.getfloat(CONFIG_SECTION, "default_poll_interval", fallback=30.0)


class TriggerSensor(BaseSensorOperator):
    """A sensor whose condition is a :class:`PollingTrigger`'s check."""

    def __init__(
        self,
        *,
        deferrable: bool | None = None,
        poke_interval: timedelta | float | None = None,
        **kwargs: Any,
    ) -> None:
        if poke_interval is None:
            poke_interval = default_poll_interval()
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)

    @abstractmethod
    def build_trigger(self) -> PollingTrigger[Any]:
        """The trigger for the rendered fields (raises SpecError on bad ones)."""

    def _trigger(self) -> PollingTrigger[Any]:
        try:
            return self.build_trigger()
        except SpecError as exc:
            raise AirflowFailException(f"{self.task_id}: {exc}") from exc

    def execute(self, context: Context) -> Any:
        """Defer to the trigger, or poke in the worker when not deferrable."""
        if not self.deferrable:
            return super().execute(context)
        trigger = self._trigger()
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=trigger.timeout + DEFER_GRACE),
        )
        return None  # pragma: no cover - defer() raises TaskDeferred

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One check; done → the payload the trigger's event would carry, as XCom."""
        trigger = self._trigger()
        try:
            outcome = anyio.run(trigger.check_now)
        except (SpecError, ResolverConfigError, UnknownResolver) as exc:
            raise AirflowFailException(
                f"{trigger.describe()}: {type(exc).__name__}: {exc}"
            ) from exc
        if outcome.status == "error":  # a bad name or config fails for good, no retry
            raise (AirflowException if outcome.transient else AirflowFailException)(outcome.message)
        self.log.info("%s", outcome.message)
        if outcome.status == "success":
            payload = event_payload("success", outcome.message, trigger.identity(), outcome.details)
            return PokeReturnValue(True, payload)
        return False

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: return the event on success, raise otherwise."""
        if not isinstance(event, dict):
            raise AirflowException(f"{self.task_id}: the trigger sent no event ({event!r})")
        status, message = event.get("status"), str(event.get("message", ""))
        if status == "success":
            self.log.info("%s", message)
            return event
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        message = message or f"{self.task_id}: trigger reported {status!r}"
        # a bad name or config fails for good, as in poke; an event from before the flag
        # (a trigger serialized by an older provider) stays retryable
        raise (AirflowException if event.get("transient", True) else AirflowFailException)(message)


class ClusterSensor(ClusterAccess, TriggerSensor):
    """A TriggerSensor that reads the cluster, with KubernetesPodOperator's access options."""

    def __init__(
        self,
        *,
        namespace: str = "default",
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        cluster_context: str | None = None,
        in_cluster: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.cluster_context = cluster_context
        self.in_cluster = in_cluster

    def trigger_common(self) -> dict[str, Any]:
        """Namespace, cluster access and timing, as every cluster trigger takes them
        (the namespace checked once rendered, before any request)."""
        check_dns_label("namespace", self.namespace)
        return {
            "namespace": self.namespace,
            **self.access.kwargs(),
            "poll_interval": self.poke_interval,
            "timeout": self.timeout,
        }
