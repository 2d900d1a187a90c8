"""The one rule for a Job's outcome, over the statuses the Job controller writes.

The job operators, OperationCompleteTrigger and OperationCompleteSensor all decide with
it; the trigger's tests run it against both clusters' Job controllers.
"""

from __future__ import annotations

from typing import Any

import pytest

from datalocality.kube.job_status import combine, job_outcome
from datalocality.outcome import Outcome


def job(*conditions: tuple[str, str], **counts: int) -> dict[str, Any]:
    """A Job object with these (type, status) conditions and pod counts."""
    return {
        "metadata": {"name": "j", "namespace": "ns"},
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": f"{t}Reason", "message": f"{t} says so"}
                for t, s in conditions
            ],
            **counts,
        },
    }


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        (None, "pending", "Job ns/j does not exist yet"),
        ({"metadata": {"name": "j"}}, "pending", "Job ns/j is running: 0 active, 0 succeeded"),
        (job(active=1), "pending", "Job ns/j is running: 1 active, 0 succeeded, 0 failed"),
        (job(("Complete", "True"), succeeded=1), "success", "Job ns/j completed"),
        # the pods are not counted yet: succeeded is still 0, so not done
        (job(("SuccessCriteriaMet", "True")), "pending", "succeeded; its pods are being counted"),
        (job(("Complete", "False"), active=1), "pending", "is running: 1 active"),
        (
            job(("Failed", "True"), failed=3),
            "error",
            "Job ns/j failed (FailedReason: Failed says so)",
        ),
        (
            job(("FailureTarget", "True"), active=1),
            "error",
            "Job ns/j failed (FailureTargetReason: FailureTarget says so)",
        ),
        (job(("Failed", "True"), ("Complete", "True")), "error", "failed (FailedReason"),
        (job(("Failed", "False"), ("Complete", "True")), "success", "completed"),
    ],
    ids=[
        "missing",
        "no-status",
        "running",
        "complete",
        "success-criteria-met",
        "complete-false",
        "failed",
        "failure-target",
        "failed-wins",
        "failed-false",
    ],
)
def test_job_outcome(obj: dict[str, Any] | None, status: str, message: str) -> None:
    outcome = job_outcome(obj, "Job ns/j")
    assert outcome.status == status
    assert message in outcome.message
    assert not outcome.transient  # a Job's own failure does not pass by polling again


def test_job_outcome_details_are_the_pod_counts_and_a_bare_failure_names_its_kind() -> None:
    done = job_outcome(job(("Complete", "True"), succeeded=2, failed=1), "Job ns/j")
    assert done.details == {"active": 0, "succeeded": 2, "failed": 1}
    bare = {"status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}}
    assert job_outcome(bare, "Job ns/j").message == "Job ns/j failed (FailureTarget)"


def test_combine_reports_progress_and_every_error() -> None:
    ok, wait = Outcome("success", "a done", {"n": 1}), Outcome("pending", "b running")
    assert combine([("a", ok), ("b", wait)]).message == "b running (1/2 done)"
    bad = Outcome("error", "Job ns/c failed (X)")
    one = combine([("a", ok), ("b", wait), ("c", bad)])
    assert (one.status, one.message, one.details) == ("error", bad.message, {"failed": ["c"]})
    worse = Outcome("error", "Job ns/d failed (Y)")
    both = combine([("c", bad), ("a", ok), ("d", worse)])
    assert both.message == "Job ns/c failed (X); Job ns/d failed (Y)"
    assert both.details == {"failed": ["c", "d"]} and not both.transient
    assert combine([("a", ok)]).details == {"jobs": {"a": {"n": 1}}}
    assert combine([("a", ok)]).message == "1 operation(s) completed"
