"""PollingTrigger's contract with a scripted check: one event, never raises, always ends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from datalocality.triggers.base import Outcome, PollingTrigger
from tests.airflow_sensors.conftest import run_trigger


class Scripted(PollingTrigger[Iterator[Outcome]]):
    """Answers from a script; ``close_fails`` makes close raise."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script: list[Outcome | Exception] = []
        self.close_fails = False

    def describe(self) -> str:
        return "scripted"

    def trigger_kwargs(self) -> dict[str, Any]:
        return {}

    async def open(self) -> Iterator[Outcome]:
        return iter([])

    async def close(self, session: Iterator[Outcome]) -> None:
        if self.close_fails:
            raise RuntimeError("close broke")

    async def check(self, session: Iterator[Outcome]) -> Outcome:
        step = self.script.pop(0) if self.script else Outcome("pending", "still waiting")
        if isinstance(step, Exception):
            raise step
        return step


def scripted(*steps: Outcome | Exception, **kwargs: Any) -> Scripted:
    trigger = Scripted(poll_interval=0.01, timeout=kwargs.pop("timeout", 5.0), **kwargs)
    trigger.script = list(steps)
    return trigger


def test_details_never_override_status_or_message() -> None:
    (event,) = run_trigger(scripted(Outcome("success", "done", {"status": "x", "message": "y"})))
    assert (event["status"], event["message"]) == ("success", "done")


def test_a_failing_close_does_not_turn_success_into_error() -> None:
    trigger = scripted(Outcome("success", "done"))
    trigger.close_fails = True
    assert [e["status"] for e in run_trigger(trigger)] == ["success"]


def test_an_unexpected_exception_is_one_error_event() -> None:
    (event,) = run_trigger(scripted(KeyError("bug")))
    assert event == {"status": "error", "message": "scripted: KeyError: 'bug'", "transient": True}


def test_transient_errors_reset_after_a_pending_answer() -> None:
    flaky = Outcome("error", "flaky", transient=True)
    done = Outcome("success", "done")
    pending = Outcome("pending", "p")
    steps = (flaky, flaky, pending, flaky, flaky, done)
    assert run_trigger(scripted(*steps))[0]["status"] == "success"
    (event,) = run_trigger(scripted(flaky, flaky, flaky, done))
    assert event == {
        "status": "error",
        "message": "flaky (3 failures in a row)",
        "transient": True,
    }


def test_a_final_error_ends_at_once_and_pending_ends_at_the_deadline() -> None:
    (event,) = run_trigger(scripted(Outcome("error", "no")))
    assert event["message"] == "no" and event["transient"] is False  # the task: no retry
    (event,) = run_trigger(scripted(timeout=0.1))
    assert event["status"] == "timeout"
    assert event["message"] == "scripted: not done within 0.1 s; last seen: still waiting"
