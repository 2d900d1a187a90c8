"""Wait until the repartition/assembly Jobs of a plan have finished.

An operation is a batch/v1 Job (see :mod:`datalocality.kube.jobs`). It is done when the
Job has the terminal ``Complete`` condition: ``SuccessCriteriaMet`` comes first, while the
finished pods still sit in ``uncountedTerminatedPods`` and ``succeeded`` does not count
them yet. It failed for good with ``Failed`` (or ``FailureTarget``, which the controller
sets once failure is certain): its pods ran out of retries or its deadline passed. A Job
that does not exist yet is waited for. With several Jobs, success needs all of them
and the first failure ends the wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import Obj
from datalocality.kube.resources import JOBS
from datalocality.triggers.base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    Outcome,
)
from datalocality.triggers.kube import KubeAccess, KubeTrigger, failure, read

_FAILED = ("Failed", "FailureTarget")


def job_outcome(obj: Obj | None, what: str) -> Outcome:
    """Success on Complete, a final error on Failed or FailureTarget, pending otherwise."""
    if obj is None:
        return Outcome("pending", f"{what} does not exist yet")
    status = obj.get("status") or {}
    conditions = {
        str(c.get("type")): c for c in status.get("conditions") or [] if c.get("status") == "True"
    }
    counts = {k: int(status.get(k) or 0) for k in ("active", "succeeded", "failed")}
    for kind in _FAILED:
        if kind in conditions:
            cond = conditions[kind]
            reason = f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(": ")
            return Outcome("error", f"{what} failed ({reason})", counts)
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
    """All succeeded → success; the first error → error; else the first still pending."""
    for _, outcome in outcomes:
        if outcome.status == "error":
            return outcome
    pending = [o for _, o in outcomes if o.status == "pending"]
    if pending:
        done = len(outcomes) - len(pending)
        return Outcome("pending", f"{pending[0].message} ({done}/{len(outcomes)} done)")
    return Outcome(
        "success",
        f"{len(outcomes)} operation(s) completed",
        {"jobs": {name: o.details for name, o in outcomes}},
    )


class OperationCompleteTrigger(KubeTrigger):
    """Fires when every Job in ``job_names`` (in ``namespace``) completed, or one failed."""

    def __init__(
        self,
        *,
        job_names: Sequence[str],
        namespace: str,
        kubernetes_conn_id: str | None = "kubernetes_default",
        config_file: str | None = None,
        cluster_context: str | None = None,
        in_cluster: bool | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        end_time: float | None = None,
        max_failures: int = 3,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval,
            timeout=timeout,
            end_time=end_time,
            max_failures=max_failures,
        )
        if isinstance(job_names, str):
            job_names = [job_names]
        if not job_names or not all(isinstance(n, str) and n for n in job_names):
            raise SpecError("job_names", job_names, "give at least one Job name")
        self.job_names = list(job_names)
        self.namespace = namespace
        self.access = KubeAccess(kubernetes_conn_id, config_file, cluster_context, in_cluster)

    def describe(self) -> str:
        """``Job(s) namespace/a, b``."""
        return f"Job(s) {self.namespace}/{', '.join(self.job_names)}"

    def trigger_kwargs(self) -> dict[str, Any]:
        """Jobs, namespace and cluster access."""
        return {"job_names": self.job_names, "namespace": self.namespace, **self.access.kwargs()}

    def identity(self) -> dict[str, Any]:
        """Jobs and namespace."""
        return {"job_names": self.job_names, "namespace": self.namespace}

    async def check(self, session: KubeClient) -> Outcome:
        """Read every Job once."""
        outcomes: list[tuple[str, Outcome]] = []
        for name in self.job_names:
            what = f"Job {self.namespace}/{name}"
            try:
                obj = await read(session, JOBS, name, self.namespace)
            except Exception as exc:
                return failure(what, exc)
            outcomes.append((name, job_outcome(obj, what)))
        return combine(outcomes)
