"""OperationCompleteTrigger against the Job controller of both clusters.

Its rule for a Job's outcome is :mod:`datalocality.kube.job_status`'s, tested on its own
in tests/kube/test_job_status.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from datalocality.kube.client import KubeClient
from datalocality.kube.security import container_security_context, pod_security_context
from datalocality.triggers.operations import OperationCompleteTrigger
from datalocality_testcluster.sandbox import Sandbox
from tests.airflow_sensors.conftest import later, run_trigger

EXIT = "sandbox.datalocality.io/exit-code"


def job(name: str, exit_code: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": {EXIT: str(exit_code)}},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": "work",
                            "image": "repartition:1",
                            "securityContext": container_security_context(),
                        }
                    ],
                },
            },
        },
    }


def trigger(access: dict[str, Any], names: list[str], **kwargs: Any) -> OperationCompleteTrigger:
    options: dict[str, Any] = {"poll_interval": 0.05, "timeout": 15.0, **access, **kwargs}
    return OperationCompleteTrigger(job_names=names, namespace="default", **options)


def test_completed_jobs_fire_success_with_pod_counts(
    kube: KubeClient, access: dict[str, Any]
) -> None:
    kube.create_or_get(job("repartition-a"))
    writer = later(0.2, lambda: kube.create_or_get(job("assembly-b")))
    (event,) = run_trigger(trigger(access, ["repartition-a", "assembly-b"]))
    writer.join()
    assert event["status"] == "success", event
    assert event["message"] == "2 operation(s) completed"
    assert event["jobs"]["repartition-a"] == {"active": 0, "succeeded": 1, "failed": 0}
    assert event["job_names"] == ["repartition-a", "assembly-b"]


def test_a_failed_job_ends_the_wait_with_an_error(kube: KubeClient, access: dict[str, Any]) -> None:
    kube.create_or_get(job("ok"))
    kube.create_or_get(job("broken", exit_code=3))
    (event,) = run_trigger(trigger(access, ["ok", "broken"]))
    assert event["status"] == "error"
    assert "Job default/broken failed" in event["message"]
    assert "BackoffLimitExceeded" in event["message"]
    assert event["failed"] == ["broken"]


def test_missing_job_times_out(access: dict[str, Any]) -> None:
    (event,) = run_trigger(trigger(access, ["never-created"], timeout=0.3))
    assert event["status"] == "timeout"
    assert "never-created does not exist yet" in event["message"]


def test_forbidden_is_an_error_event(sandbox: Sandbox, access: dict[str, Any]) -> None:
    sandbox.faults.inject(verb="get", resource="jobs", code=403, times=100)
    (event,) = run_trigger(trigger(access, ["x"]))
    assert event["status"] == "error" and "403" in event["message"]


def test_serialize_round_trips(access: dict[str, Any]) -> None:
    path, kwargs = trigger(access, ["a", "b"]).serialize()
    assert path == "datalocality.triggers.operations.OperationCompleteTrigger"
    assert OperationCompleteTrigger(**kwargs).serialize() == (path, kwargs)


def test_one_name_is_a_list_of_one_and_none_is_refused(access: dict[str, Any]) -> None:
    single = OperationCompleteTrigger(job_names="solo", namespace="default", **access)
    assert single.job_names == ["solo"]
    with pytest.raises(ValueError, match="job_names"):
        OperationCompleteTrigger(job_names=[], namespace="default", **access)
