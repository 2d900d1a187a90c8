"""The Job controller: pods from a Job's template until it completes or gives up.

Each active Job gets up to ``parallelism`` pods (named ``<job>-xxxxx``, labelled
``batch.kubernetes.io/job-name`` and ``batch.kubernetes.io/controller-uid`` (and the
legacy ``job-name``/``controller-uid``), owned by the Job with ``controller: true``).
``completionMode: Indexed`` gives each pod its index (annotation and label
``batch.kubernetes.io/job-completion-index``, env ``JOB_COMPLETION_INDEX``). Status
counts active, ready, succeeded and failed pods; ``SuccessCriteriaMet`` once enough pods
succeeded, then (on the next pass, once counted) ``Complete``; ``FailureTarget`` then
``Failed`` when failed pods exceed ``backoffLimit`` (reason ``BackoffLimitExceeded``) or
``activeDeadlineSeconds`` passes (``DeadlineExceeded``), deleting the active pods.
``ttlSecondsAfterFinished`` deletes a finished Job and its pods. Not emulated: the
exponential back-off between retries, ``podFailurePolicy``, ``successPolicy``,
``backoffLimitPerIndex``, and ``suspend`` beyond not creating pods.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.apierrors import ApiError
from datalocality_testcluster.sandbox.store import rfc3339

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.apiserver import ApiServer

Obj = dict[str, Any]
INDEX = "batch.kubernetes.io/job-completion-index"
COUNT_DELAY = 0.3  # seconds between SuccessCriteriaMet/FailureTarget and Complete/Failed


@dataclass
class _Track:
    started: float
    finished: float | None = None
    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    done_indexes: set[int] = field(default_factory=set)
    criteria_met: float | None = None  # when the interim condition was written


class JobController:
    """Reconciles every Job with its pods."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.jobs = api.rt("batch", "v1", "jobs")
        self.pods = api.rt("", "v1", "pods")
        self._track: dict[str, _Track] = {}
        self._wakeup = math.inf

    def next_wakeup(self) -> float:
        """The monotonic time of the next deadline or TTL expiry (inf if none)."""
        return self._wakeup

    def run(self) -> None:
        """One pass over every Job."""
        self._wakeup = math.inf
        jobs = self.api.store.objects(self.jobs.storage)
        pods = self.api.store.objects(self.pods.storage)
        for job in jobs:
            uid = job["metadata"]["uid"]
            owned = [
                p
                for p in pods
                if any(
                    r.get("uid") == uid and r.get("controller")
                    for r in p["metadata"].get("ownerReferences") or []
                )
            ]
            self._reconcile(job, owned)
        live = {j["metadata"]["uid"] for j in jobs}
        for uid in [u for u in self._track if u not in live]:
            del self._track[uid]

    def _reconcile(self, job: Obj, pods: list[Obj]) -> None:
        meta, spec = job["metadata"], job.get("spec") or {}
        track = self._track.setdefault(meta["uid"], _Track(time.monotonic()))
        conditions = {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}
        if any(conditions.get(t, {}).get("status") == "True" for t in ("Complete", "Failed")):
            self._expire(job, track)
            return
        if spec.get("suspend"):
            return
        indexed = spec.get("completionMode") == "Indexed"
        active = []
        for pod in pods:
            phase, pod_uid = (pod.get("status") or {}).get("phase"), pod["metadata"]["uid"]
            if phase == "Succeeded":
                track.succeeded.add(pod_uid)
                if indexed:
                    track.done_indexes.add(
                        int((pod["metadata"].get("annotations") or {}).get(INDEX, "-1"))
                    )
            elif phase == "Failed":
                track.failed.add(pod_uid)
            elif not pod["metadata"].get("deletionTimestamp"):
                active.append(pod)
        completions = spec.get("completions")
        succeeded = len(track.done_indexes) if indexed else len(track.succeeded)
        failure = None
        if len(track.failed) > int(spec.get("backoffLimit", 6)):
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and failure is None:
            if time.monotonic() >= track.started + float(deadline):
                failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
            else:
                self._wakeup = min(self._wakeup, track.started + float(deadline))
        complete = (
            succeeded >= completions
            if completions is not None
            else bool(track.succeeded) and not active
        )
        if failure or complete:
            for pod in active:
                self._delete_pod(pod)
            active = []
        elif completions is None or succeeded + len(active) < completions:
            active += self._create_pods(job, active, succeeded, track)
        self._write_status(
            job,
            active,
            track,
            succeeded=succeeded,
            failure=failure,
            complete=complete and not failure,
        )

    def _create_pods(self, job: Obj, active: list[Obj], succeeded: int, track: _Track) -> list[Obj]:
        spec = job["spec"]
        completions = spec.get("completions")
        want = int(spec.get("parallelism", 1))
        if completions is not None:
            want = min(want, int(completions) - succeeded)
        indexes: list[int | None] = [None] * max(0, want - len(active))
        if spec.get("completionMode") == "Indexed" and completions is not None:
            busy = {int((p["metadata"].get("annotations") or {}).get(INDEX, "-1")) for p in active}
            free = [
                i for i in range(int(completions)) if i not in busy and i not in track.done_indexes
            ]
            indexes = list(free[: len(indexes)])
        created = []
        for index in indexes:
            try:
                pod = self.api.create(
                    self.pods, job["metadata"]["namespace"], self._pod(job, index)
                )
            except ApiError as exc:
                self.api.record_event(
                    job,
                    "Warning",
                    "FailedCreate",
                    f"Error creating: {exc.message}",
                    "job-controller",
                )
                break
            created.append(pod)
            self.api.record_event(
                job,
                "Normal",
                "SuccessfulCreate",
                f"Created pod: {pod['metadata']['name']}",
                "job-controller",
            )
        return created

    def _pod(self, job: Obj, index: int | None) -> Obj:
        meta, template = job["metadata"], copy.deepcopy(job["spec"].get("template") or {})
        pod_meta = template.get("metadata") or {}
        labels = dict(pod_meta.get("labels") or {})
        annotations = dict(pod_meta.get("annotations") or {})
        spec = template.get("spec") or {}
        prefix = f"{meta['name']}-"
        if index is not None:
            prefix = f"{meta['name']}-{index}-"
            labels[INDEX] = annotations[INDEX] = str(index)
            spec.setdefault("hostname", f"{meta['name']}-{index}")
            for container in spec.get("containers") or []:
                container.setdefault("env", []).append(
                    {"name": "JOB_COMPLETION_INDEX", "value": str(index)}
                )
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": prefix,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner],
            },
            "spec": spec,
        }

    def _delete_pod(self, pod: Obj) -> None:
        with contextlib.suppress(ApiError):
            self.api.delete(self.pods, pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _write_status(
        self,
        job: Obj,
        active: list[Obj],
        track: _Track,
        *,
        succeeded: int,
        failure: tuple[str, str] | None,
        complete: bool,
    ) -> None:
        """Counts and conditions; a finish takes two writes, as in the real controller.

        The first write adds ``SuccessCriteriaMet`` (or ``FailureTarget``) with the
        finished pods still in ``uncountedTerminatedPods`` and the counts as before; a pass
        ``COUNT_DELAY`` later counts them and adds the terminal ``Complete`` (or ``Failed``).
        """
        ready = sum(1 for p in active if (p.get("status") or {}).get("phase") == "Running")
        finished = failure is not None or complete
        interim = False
        if finished:
            if track.criteria_met is None:
                track.criteria_met = time.monotonic()
            due = track.criteria_met + COUNT_DELAY
            interim = time.monotonic() < due
            if interim:
                self._wakeup = min(self._wakeup, due)

        def update(j: Obj) -> None:
            status = j.setdefault("status", {})
            status.setdefault("startTime", rfc3339())
            status["active"], status["ready"], status["terminating"] = len(active), ready, 0
            if interim:
                status["uncountedTerminatedPods"] = {
                    k: sorted(v)
                    for k, v in (("succeeded", track.succeeded), ("failed", track.failed))
                    if v
                }
            else:
                status.pop("uncountedTerminatedPods", None)
                status["succeeded"], status["failed"] = succeeded, len(track.failed)
                if j["spec"].get("completionMode") == "Indexed":
                    status["completedIndexes"] = ",".join(
                        str(i) for i in sorted(track.done_indexes)
                    )
            for key in ("active", "succeeded", "failed"):
                if key in status and not status[key]:
                    del status[key]
            if finished:
                now = rfc3339()
                reason, message = failure or (
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                )
                kinds = (
                    ("FailureTarget", "Failed") if failure else ("SuccessCriteriaMet", "Complete")
                )
                had = {c.get("type"): c for c in status.get("conditions") or []}
                status["conditions"] = [
                    had.get(t)
                    or {
                        "type": t,
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastProbeTime": now,
                        "lastTransitionTime": now,
                    }
                    for t in kinds[: 1 if interim else 2]
                ]
                if complete and not interim:
                    status["completionTime"] = now

        updated = self.api.mutate(
            self.jobs, job["metadata"]["namespace"], job["metadata"]["name"], update
        )
        if updated is not None and finished and not interim:
            track.finished = time.monotonic()
            if failure:
                self.api.record_event(updated, "Warning", failure[0], failure[1], "job-controller")
            else:
                self.api.record_event(
                    updated, "Normal", "Completed", "Job completed", "job-controller"
                )
            self._expire(updated, track)

    def _expire(self, job: Obj, track: _Track) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        if track.finished is None:
            track.finished = time.monotonic()
        due = track.finished + float(ttl)
        if time.monotonic() < due:
            self._wakeup = min(self._wakeup, due)
            return
        with contextlib.suppress(ApiError):
            self.api.delete(
                self.jobs,
                job["metadata"]["namespace"],
                job["metadata"]["name"],
                {"propagationPolicy": "Background"},
            )
