"""DataSourceClaimBoundTrigger against both clusters: Bound, timeout, API errors."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from datalocality.kube.claims import build_data_source_claim, with_phase
from datalocality.kube.client import KubeClient
from datalocality.kube.names import TaskKey
from datalocality.kube.resources import CLAIMS
from datalocality.model import DataInput, DataSourceClaim
from datalocality.triggers.claims import DataSourceClaimBoundTrigger
from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.sandbox import Sandbox
from tests.airflow_sensors.conftest import later, run_trigger

TASK = TaskKey(dag_id="dag", run_id="run-1", task_id="plan")


def make_claim(kube: KubeClient, name: str = "claim-a") -> dict[str, Any]:
    claim = DataSourceClaim.parse(
        {"name": name, "input": DataInput(system="iceberg", name="db.events")}
    )
    return kube.create_or_get(build_data_source_claim(claim, task=TASK, namespace="default")).object


def bind(kube: KubeClient, name: str = "claim-a", source: str = "ds-events") -> None:
    kube.modify(
        CLAIMS,
        name,
        lambda obj: with_phase(
            obj,
            "Bound",
            source,
            now=datetime.now(UTC),
            reason="Bound",
            message=f"bound to {source}",
        ),
        namespace="default",
        subresource="status",
    )


def trigger(access: dict[str, Any], **kwargs: Any) -> DataSourceClaimBoundTrigger:
    options: dict[str, Any] = {"poll_interval": 0.05, "timeout": 10.0, **access, **kwargs}
    return DataSourceClaimBoundTrigger(claim_name="claim-a", namespace="default", **options)


def test_claim_bound_later_fires_one_success_event(
    kube: KubeClient, access: dict[str, Any]
) -> None:
    make_claim(kube)
    writer = later(0.3, lambda: bind(kube))
    events = run_trigger(trigger(access))
    writer.join()
    assert events == [
        {
            "status": "success",
            "message": "DataSourceClaim default/claim-a is Bound to DataSource ds-events",
            "claim": "claim-a",
            "namespace": "default",
            "data_source": "ds-events",
        }
    ]


def test_claim_created_after_the_trigger_started(kube: KubeClient, access: dict[str, Any]) -> None:
    def create_and_bind() -> None:
        make_claim(kube)
        bind(kube)

    writer = later(0.2, create_and_bind)
    events = run_trigger(trigger(access))
    writer.join()
    assert [e["status"] for e in events] == ["success"]


def test_pending_claim_times_out_with_what_it_last_saw(
    kube: KubeClient, access: dict[str, Any]
) -> None:
    make_claim(kube)
    started = time.monotonic()
    events = run_trigger(trigger(access, timeout=0.5))
    assert time.monotonic() - started < 3
    assert len(events) == 1
    assert events[0]["status"] == "timeout"
    assert "not done within 0.5 s" in events[0]["message"]
    assert "is Pending" in events[0]["message"]


def test_missing_claim_times_out_saying_so(access: dict[str, Any]) -> None:
    (event,) = run_trigger(trigger(access, timeout=0.3))
    assert event["status"] == "timeout"
    assert "does not exist yet" in event["message"]


def test_forbidden_read_is_an_error_event_at_once(
    sandbox: Sandbox, kube: KubeClient, access: dict[str, Any]
) -> None:
    make_claim(kube)
    sandbox.faults.inject(verb="get", resource="datasourceclaims", code=403, times=100)
    (event,) = run_trigger(trigger(access))
    assert event["status"] == "error"
    assert "refused" in event["message"] and "403" in event["message"]
    assert event["claim"] == "claim-a"


def test_server_errors_are_polled_through_then_reported(
    sandbox: Sandbox, kube: KubeClient, access: dict[str, Any]
) -> None:
    make_claim(kube)
    sandbox.faults.inject(verb="get", resource="datasourceclaims", code=500, times=1000)
    (event,) = run_trigger(trigger(access, max_failures=2))
    assert event["status"] == "error"
    assert "ApiUnavailable" in event["message"] and "2 failures in a row" in event["message"]


def test_one_server_error_is_retried_and_the_wait_goes_on(
    sandbox: Sandbox, kube: KubeClient, access: dict[str, Any]
) -> None:
    make_claim(kube)
    bind(kube)
    sandbox.faults.inject(verb="get", resource="datasourceclaims", code=500, times=1)
    (event,) = run_trigger(trigger(access))
    assert event["status"] == "success"


def test_unreachable_cluster_is_an_error_event_not_an_exception(tmp_path: Any) -> None:
    (event,) = run_trigger(
        trigger({"kubernetes_conn_id": None, "config_file": str(tmp_path / "missing")})
    )
    assert event["status"] == "error"
    assert "DataSourceClaim default/claim-a" in event["message"]


def test_the_trigger_only_reads(sandbox: Sandbox, kube: KubeClient, access: dict[str, Any]) -> None:
    make_claim(kube)
    bind(kube)
    for verb in ("create", "update", "patch", "delete"):
        sandbox.faults.inject(verb=verb, code=418, times=1000)
    before = sandbox.store.ticks
    (event,) = run_trigger(trigger(access))
    assert event["status"] == "success"
    assert sandbox.store.ticks == before
    assert [f for f in sandbox.faults.fired if f[0] != "get"] == []


def test_serialize_round_trips_with_an_absolute_deadline(access: dict[str, Any]) -> None:
    original = trigger(access, timeout=30.0)
    path, kwargs = original.serialize()
    assert path == "datalocality.triggers.claims.DataSourceClaimBoundTrigger"
    rebuilt = DataSourceClaimBoundTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs["end_time"] == pytest.approx(time.time() + 30.0, abs=5)


def test_a_deadline_already_past_looks_once_then_times_out(
    access: dict[str, Any], kube: KubeClient
) -> None:
    make_claim(kube)
    (event,) = run_trigger(trigger(access, end_time=time.time() - 1))
    assert event["status"] == "timeout"
    assert event["message"].endswith("last seen: DataSourceClaim default/claim-a is Pending")


def test_a_deadline_already_past_still_sees_a_bound_claim(
    access: dict[str, Any], kube: KubeClient
) -> None:
    make_claim(kube)
    bind(kube)
    (event,) = run_trigger(trigger(access, end_time=time.time() - 1))
    assert event["status"] == "success", event


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", 0), ("poll_interval", -1), ("timeout", float("inf")), ("max_failures", 0)],
)
def test_bad_timing_is_refused_when_built(access: dict[str, Any], field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        trigger(access, **{field: value})


def test_cluster_access_through_a_kubernetes_connection(
    monkeypatch: pytest.MonkeyPatch, cluster: ProviderCluster, kube: KubeClient
) -> None:
    make_claim(kube)
    bind(kube)
    extra = {"kube_config_path": str(cluster.kubeconfig_path)}
    monkeypatch.setenv(
        "AIRFLOW_CONN_SANDBOX_KUBE", json.dumps({"conn_type": "kubernetes", "extra": extra})
    )
    (event,) = run_trigger(trigger({"kubernetes_conn_id": "sandbox_kube"}))
    assert event["status"] == "success", event
