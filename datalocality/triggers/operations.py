"""Wait until the repartition/assembly Jobs of a plan have finished.

An operation is a batch/v1 Job (see :mod:`datalocality.kube.jobs`). Whether it is done,
still running or failed for good is :func:`datalocality.kube.job_status.job_outcome`'s
rule, the one the job operators use too: ``Complete`` succeeds, ``Failed`` or
``FailureTarget`` fails, anything else (``SuccessCriteriaMet`` while the pods are being
counted, a Job that does not exist yet) is waited for. With several Jobs, success needs
all of them and the first poll that sees a failure ends the wait, naming every failed Job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.client import KubeClient
from datalocality.kube.job_status import combine, job_outcome
from datalocality.kube.resources import JOBS
from datalocality.outcome import Outcome
from datalocality.provider.access import KubeAccess
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.triggers.base import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT
from datalocality.triggers.kube import KubeTrigger, failure, read


class OperationCompleteTrigger(KubeTrigger):
    """Fires when every Job in ``job_names`` (in ``namespace``) completed, or one failed."""

    def __init__(
        self,
        *,
        job_names: Sequence[str],
        namespace: str,
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
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
