"""The Job controller: completion, parallelism, indexed jobs, backoffLimit, TTL."""

from __future__ import annotations

from typing import Any

from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from tests.sandbox.conftest import wait_for


def job(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    template = {
        "metadata": {"annotations": annotations or {}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "x:1"}]},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": template, **spec},
    }


def conditions(batch: client.BatchV1Api, name: str) -> dict[str, str]:
    """The Job's true conditions once it has a terminal one (Complete or Failed), else {}."""
    status = batch.read_namespaced_job_status(name, "default").status
    true = {c.type: c.reason for c in status.conditions or [] if c.status == "True"}
    return true if {"Complete", "Failed"} & true.keys() else {}


def test_a_finish_is_announced_before_the_pods_are_counted(batch: client.BatchV1Api) -> None:
    batch.create_namespaced_job("default", job("two-step"))

    def interim() -> client.V1JobStatus | None:
        status = batch.read_namespaced_job_status("two-step", "default").status
        types = {c.type for c in status.conditions or [] if c.status == "True"}
        return status if types == {"SuccessCriteriaMet"} else None

    first = wait_for(interim)
    assert not first.succeeded and first.uncounted_terminated_pods.succeeded
    assert "Complete" in wait_for(lambda: conditions(batch, "two-step"))
    final = batch.read_namespaced_job_status("two-step", "default").status
    assert final.succeeded == 1 and not final.uncounted_terminated_pods


def test_job_completes(batch: client.BatchV1Api, core: client.CoreV1Api) -> None:
    created = batch.create_namespaced_job("default", job("ok"))
    assert created.spec.selector.match_labels == {
        "batch.kubernetes.io/controller-uid": created.metadata.uid
    }
    assert "Complete" in wait_for(lambda: conditions(batch, "ok"))
    status = batch.read_namespaced_job("ok", "default").status
    assert (status.succeeded, status.active, status.failed) == (1, None, None)
    assert status.completion_time and status.start_time
    pods = core.list_namespaced_pod(
        "default", label_selector="batch.kubernetes.io/job-name=ok"
    ).items
    assert len(pods) == 1 and pods[0].metadata.owner_references[0].uid == created.metadata.uid
    assert pods[0].metadata.name.startswith("ok-") and pods[0].status.phase == "Succeeded"


def test_parallel_indexed_job(batch: client.BatchV1Api, core: client.CoreV1Api) -> None:
    batch.create_namespaced_job(
        "default", job("idx", completions=3, parallelism=2, completionMode="Indexed")
    )
    assert "Complete" in wait_for(lambda: conditions(batch, "idx"))
    assert batch.read_namespaced_job("idx", "default").status.completed_indexes == "0,1,2"
    pods = core.list_namespaced_pod("default", label_selector="job-name=idx").items
    indexes = sorted(
        p.metadata.annotations["batch.kubernetes.io/job-completion-index"] for p in pods
    )
    assert indexes == ["0", "1", "2"]
    env = {e.name: e.value for e in pods[0].spec.containers[0].env}
    assert (
        env["JOB_COMPLETION_INDEX"]
        == pods[0].metadata.labels["batch.kubernetes.io/job-completion-index"]
    )


def test_backoff_limit_fails_the_job(batch: client.BatchV1Api, core: client.CoreV1Api) -> None:
    failing = {"sandbox.datalocality.io/exit-code": "1"}
    batch.create_namespaced_job("default", job("bad", annotations=failing, backoffLimit=2))
    assert wait_for(lambda: conditions(batch, "bad")).get("Failed") == "BackoffLimitExceeded"
    assert batch.read_namespaced_job("bad", "default").status.failed == 3
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=bad").items
    assert "BackoffLimitExceeded" in {e.reason for e in events}


def test_active_deadline(batch: client.BatchV1Api) -> None:
    slow = {"sandbox.datalocality.io/run-seconds": "60"}
    batch.create_namespaced_job("default", job("slow", annotations=slow, activeDeadlineSeconds=1))
    assert wait_for(lambda: conditions(batch, "slow")).get("Failed") == "DeadlineExceeded"


def test_ttl_after_finished_deletes_job_and_pods(
    batch: client.BatchV1Api, core: client.CoreV1Api
) -> None:
    batch.create_namespaced_job("default", job("short", ttlSecondsAfterFinished=0))

    def gone() -> bool:
        try:
            batch.read_namespaced_job("short", "default")
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    wait_for(gone)
    wait_for(lambda: not core.list_namespaced_pod("default", label_selector="job-name=short").items)


def test_invalid_job_restart_policy_is_422(batch: client.BatchV1Api) -> None:
    body = job("always")
    body["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    try:
        batch.create_namespaced_job("default", body)
    except ApiException as exc:
        assert exc.status == 422
    else:
        raise AssertionError("accepted restartPolicy Always")
