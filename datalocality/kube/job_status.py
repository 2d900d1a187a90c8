"""Whether a batch/v1 Job is done, still running or failed for good: the one rule, no I/O.

The job operators (when adopting and when waiting), OperationCompleteTrigger and so
OperationCompleteSensor all decide with :func:`job_outcome`. A Job is done when it has the
terminal ``Complete`` condition: ``SuccessCriteriaMet`` comes first, while the finished
pods still sit in ``uncountedTerminatedPods`` and ``succeeded`` does not count them yet.
It failed for good with ``Failed`` (or ``FailureTarget``, which the controller sets once
failure is certain): its pods ran out of retries or its deadline passed. A Job that does
not exist yet is pending. With several Jobs (:func:`combine`), success needs all of them
and any failure is the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from datalocality.outcome import Outcome

FAILED: Final = ("Failed", "FailureTarget")


def job_outcome(obj: Mapping[str, Any] | None, what: str) -> Outcome:
    """Success on Complete, a final error on Failed or FailureTarget, pending otherwise.

    ``what`` names the Job in the message (``Job ns/name``); details are its pod counts.
    """
    if obj is None:
        return Outcome("pending", f"{what} does not exist yet")
    status = obj.get("status") or {}
    conditions = {
        str(c.get("type")): c for c in status.get("conditions") or [] if c.get("status") == "True"
    }
    counts = {k: int(status.get(k) or 0) for k in ("active", "succeeded", "failed")}
    for kind in FAILED:
        if kind in conditions:
            cond = conditions[kind]
            reason = f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(": ")
            return Outcome("error", f"{what} failed ({reason or kind})", counts)
    if "Complete" in conditions:
        return Outcome("success", f"{what} completed", counts)
    if "SuccessCriteriaMet" in conditions:
        return Outcome("pending", f"{what} succeeded; its pods are being counted", counts)
    return Outcome(
        "pending",
        f"{what} is running: {counts['active']} active, {counts['succeeded']} succeeded, "
        f"{counts['failed']} failed",
        counts,
    )


def combine(outcomes: Sequence[tuple[str, Outcome]]) -> Outcome:
    """All succeeded → success; any error → one error naming each; else the first pending.

    An error's details list the failed Jobs under ``failed``; a success's give each Job's
    pod counts under ``jobs``.
    """
    errors = [(name, o) for name, o in outcomes if o.status == "error"]
    if errors:
        return Outcome(
            "error",
            "; ".join(o.message for _, o in errors),
            {"failed": [name for name, _ in errors]},
            transient=all(o.transient for _, o in errors),
        )
    pending = [o for _, o in outcomes if o.status == "pending"]
    if pending:
        done = len(outcomes) - len(pending)
        return Outcome("pending", f"{pending[0].message} ({done}/{len(outcomes)} done)")
    return Outcome(
        "success",
        f"{len(outcomes)} operation(s) completed",
        {"jobs": {name: o.details for name, o in outcomes}},
    )
