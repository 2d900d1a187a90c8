"""What every datalocality trigger shares: a deadline, a poll loop, and exactly one event.

A trigger polls a condition (``check``) until it holds, it fails for good, or the deadline
passes, then yields one :class:`~airflow.triggers.base.TriggerEvent` whose payload is a
flat JSON dict with ``status`` (``success``, ``timeout`` or ``error``) and ``message``, plus
what the condition reported; an ``error`` also says whether it may pass (``transient``),
so the resumed task fails for good, or lets its retries apply, as a poke would. ``run``
never raises: anything unexpected becomes an ``error`` event, so the task, not the
triggerer, decides what to do with it.

The deadline is absolute (``end_time``, seconds since the epoch, computed when the trigger
is built and serialized with it): a triggerer restart re-creates the trigger with the same
deadline instead of starting the wait over. A trigger that starts at or after its deadline
(a busy triggerer picked it up late) still looks once, within ``FIRST_LOOK_GRACE``, so the
event says what it saw rather than "not checked yet", and a condition that already holds
succeeds. A failure that may pass (``transient``) is
polled through up to ``max_failures`` times in a row before it becomes the event.
The same ``check`` serves a sensor's ``poke`` through :meth:`PollingTrigger.check_now`.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final, Generic, Literal, TypeVar

import anyio
from airflow.triggers.base import BaseTrigger, TriggerEvent

from datalocality.errors import SpecError
from datalocality.outcome import CheckStatus, Outcome

FIRST_LOOK_GRACE: Final = 30.0
"""Seconds a trigger started at or past its deadline gets to open its session and look once."""

# Outcome and CheckStatus live in datalocality.outcome (the kube rules return them too)
# and are re-exported here, where the triggers' checks import them.
__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "CheckStatus",
    "EventStatus",
    "Outcome",
    "PollingTrigger",
    "event_payload",
]

S = TypeVar("S")
EventStatus = Literal["success", "timeout", "error"]
DEFAULT_TIMEOUT: Final = 3600.0
DEFAULT_POLL_INTERVAL: Final = 10.0


def event_payload(status: EventStatus, message: str, *parts: Mapping[str, Any]) -> dict[str, Any]:
    """The flat payload every datalocality trigger fires: details, then status and message."""
    payload: dict[str, Any] = {"status": status, "message": message}
    for part in parts:
        payload.update((k, v) for k, v in part.items() if k not in ("status", "message"))
    return payload


def check_seconds(name: str, value: float) -> float:
    """A poll interval or timeout: a finite number of seconds > 0 (SpecError naming it)."""
    try:
        number = float(value)
    except OverflowError:
        raise SpecError(name, value, "must be a positive number of seconds") from None
    if not math.isfinite(number) or number <= 0:
        raise SpecError(name, value, "must be a positive number of seconds")
    return number


class PollingTrigger(BaseTrigger, Generic[S]):
    """Poll ``check`` until it succeeds, fails for good, or ``end_time`` passes.

    Subclasses give ``describe`` (what is awaited, for messages), ``trigger_kwargs`` (their
    own constructor arguments), ``open``/``close`` (a session reused by every poll: an API
    client, a resolver set) and ``check``.
    """

    def __init__(
        self,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        end_time: float | None = None,
        max_failures: int = 3,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.poll_interval = check_seconds("poll_interval", poll_interval)
        self.timeout = check_seconds("timeout", timeout)
        self.end_time = float(end_time) if end_time is not None else time.time() + self.timeout
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
            raise SpecError("max_failures", max_failures, "must be an integer >= 1")
        self.max_failures = max_failures

    # -- what subclasses provide -------------------------------------------------------

    @abstractmethod
    def describe(self) -> str:
        """What is awaited, e.g. ``DataSourceClaim team/input-1``."""

    @abstractmethod
    def trigger_kwargs(self) -> dict[str, Any]:
        """The subclass's own constructor arguments (JSON-serializable)."""

    @abstractmethod
    async def open(self) -> S:
        """Build the session every poll reuses (may raise: the event says why)."""

    @abstractmethod
    async def close(self, session: S) -> None:
        """Release the session."""

    @abstractmethod
    async def check(self, session: S) -> Outcome:
        """Look once; never waits for the condition itself."""

    # -- the Airflow contract ----------------------------------------------------------

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and every argument, so the triggerer rebuilds an equal trigger."""
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}", {
            **self.trigger_kwargs(),
            "poll_interval": self.poll_interval,
            "timeout": self.timeout,
            "end_time": self.end_time,
            "max_failures": self.max_failures,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event; never raises (cancellation excepted)."""
        yield TriggerEvent(await self.wait())  # type: ignore[no-untyped-call]

    async def wait(self) -> dict[str, Any]:
        """Poll until done; the payload of the one event ``run`` fires."""
        try:
            return await self._wait()
        except Exception as exc:  # a trigger must not raise: the task decides
            return {  # unexpected: the task's retries may get past it
                **event_payload(
                    "error", f"{self.describe()}: {type(exc).__name__}: {exc}", self.identity()
                ),
                "transient": True,
            }

    async def check_now(self) -> Outcome:
        """One check with a fresh session (a sensor's ``poke``); exceptions propagate."""
        session = await self.open()
        try:
            return await self.check(session)
        finally:
            await self._close_quietly(session)

    def identity(self) -> dict[str, Any]:
        """Identifying fields repeated in every event (e.g. name and namespace)."""
        return {}

    # -- internals ---------------------------------------------------------------------

    async def _close_quietly(self, session: S) -> None:
        """Close the session even when cancelled; a failing close is logged, not raised."""
        with anyio.CancelScope(shield=True):
            try:
                await self.close(session)
            except Exception as exc:
                self.log.warning("%s: closing failed: %s", self.describe(), exc)

    async def _wait(self) -> dict[str, Any]:
        failures = 0
        last = "not checked yet"
        with anyio.move_on_after(max(self.end_time - time.time(), FIRST_LOOK_GRACE)) as scope:
            session = await self.open()
            try:
                while True:
                    outcome = await self.check(session)
                    if outcome.status == "success":
                        return event_payload(
                            "success", outcome.message, self.identity(), outcome.details
                        )
                    if outcome.status == "error":
                        failures += 1
                        if not outcome.transient or failures >= self.max_failures:
                            tries = f" ({failures} failures in a row)" if failures > 1 else ""
                            payload = event_payload(
                                "error", outcome.message + tries, self.identity(), outcome.details
                            )
                            return {**payload, "transient": outcome.transient}
                    else:
                        failures = 0
                    last = outcome.message
                    self.log.info("%s", last)
                    left = self.end_time - time.time()
                    # after the first look the deadline is the trigger's own again
                    scope.deadline = min(scope.deadline, anyio.current_time() + left)
                    await anyio.sleep(max(0.0, min(self.poll_interval, left)))
            finally:
                await self._close_quietly(session)
        return event_payload(
            "timeout",
            f"{self.describe()}: not done within {self.timeout:g} s; last seen: {last}",
            self.identity(),
        )
