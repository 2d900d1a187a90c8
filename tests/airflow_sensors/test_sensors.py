"""The sensors: deferral (trigger and kwargs), poke mode against the sandbox, resuming."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)

from datalocality.kube.client import KubeClient
from datalocality.sensors import (
    DataAvailableSensor,
    DataSourceClaimBoundSensor,
    OperationCompleteSensor,
)
from datalocality.sensors.base import DEFER_GRACE, default_deferrable
from datalocality.triggers.claims import DataSourceClaimBoundTrigger
from datalocality.triggers.data import DataAvailableTrigger
from datalocality.triggers.operations import OperationCompleteTrigger
from datalocality_testcluster.sandbox import Sandbox
from tests.airflow_sensors.test_claim_trigger import bind, make_claim
from tests.airflow_sensors.test_operation_trigger import job


def claim_sensor(access: dict[str, Any], **kwargs: Any) -> DataSourceClaimBoundSensor:
    return DataSourceClaimBoundSensor(
        task_id="wait_claim", claim_name="claim-a", namespace="default", **access, **kwargs
    )


def test_deferrable_by_default_and_the_config_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_deferrable() is True
    assert claim_sensor({}).deferrable is True
    monkeypatch.setenv("AIRFLOW__DATALOCALITY__DEFAULT_DEFERRABLE", "False")
    assert claim_sensor({}).deferrable is False
    assert claim_sensor({}, deferrable=True).deferrable is True


def test_claim_sensor_defers_to_its_trigger(access: dict[str, Any]) -> None:
    sensor = claim_sensor(access, timeout=120, poke_interval=7)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, DataSourceClaimBoundTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout.total_seconds() == 120 + DEFER_GRACE
    path, kwargs = trigger.serialize()
    assert path == "datalocality.triggers.claims.DataSourceClaimBoundTrigger"
    assert {k: v for k, v in kwargs.items() if k != "end_time"} == {
        "claim_name": "claim-a",
        "namespace": "default",
        **access,
        "cluster_context": None,
        "in_cluster": None,
        "poll_interval": 7.0,
        "timeout": 120.0,
        "max_failures": 3,
    }
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120


def test_data_sensor_defers_with_the_rendered_input(tmp_path: Path) -> None:
    sensor = DataAvailableSensor(
        task_id="wait_data",
        system="hive",
        name="db.events_{{ params.day }}",
        attributes={"partition": "{{ params.day }}"},
        resolvers={"hive": {"resolver": "static", "inventory": str(tmp_path / "inv.json")}},
        min_bytes="1Ki",
        min_chunks=2,
        params={"day": "2026-11-23"},
    )
    sensor.render_template_fields({"params": {"day": "2026-11-23"}})
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, DataAvailableTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["data_input"] == {
        "system": "hive",
        "dataSourceName": "db.events_2026-11-23",
        "dataSourceType": "table",
        "attributes": {"partition": "2026-11-23"},
        "requireLocality": False,
    }
    assert (kwargs["min_bytes"], kwargs["min_chunks"]) == (1024, 2)


def test_operation_sensor_defers_with_every_job(access: dict[str, Any]) -> None:
    sensor = OperationCompleteSensor(task_id="ops", job_names="repartition-1", **access)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context={})
    assert isinstance(deferred.value.trigger, OperationCompleteTrigger)
    assert deferred.value.trigger.job_names == ["repartition-1"]


def test_execute_complete_returns_success_and_raises_otherwise() -> None:
    sensor = claim_sensor({})
    ok = {"status": "success", "message": "bound", "data_source": "ds"}
    assert sensor.execute_complete({}, ok) == ok
    with pytest.raises(AirflowSensorTimeout, match="not done within"):
        sensor.execute_complete({}, {"status": "timeout", "message": "not done within 1 s"})
    with pytest.raises(AirflowException, match="403 Forbidden") as raised:
        sensor.execute_complete({}, {"status": "error", "message": "403 Forbidden"})
    assert not isinstance(raised.value, AirflowFailException)  # no flag: retryable
    down = {"status": "error", "message": "503 (3 failures in a row)", "transient": True}
    with pytest.raises(AirflowException, match="503") as raised:
        sensor.execute_complete({}, down)
    assert not isinstance(raised.value, AirflowFailException)
    refused = {"status": "error", "message": "no such table", "transient": False}
    with pytest.raises(AirflowFailException, match="no such table"):  # no retry
        sensor.execute_complete({}, refused)
    with pytest.raises(AirflowException, match="no event"):
        sensor.execute_complete({}, None)


def test_bad_arguments_fail_without_retries(access: dict[str, Any]) -> None:
    sensor = claim_sensor(access, timeout=0)
    with pytest.raises(AirflowFailException, match="timeout"):
        sensor.execute(context={})
    data = DataAvailableSensor(task_id="d", system="hive", name="t", min_bytes="lots")
    with pytest.raises(AirflowFailException, match="min_bytes"):
        data.execute(context={})


def test_claim_sensor_pokes_in_the_worker(kube: KubeClient, access: dict[str, Any]) -> None:
    sensor = claim_sensor(access, deferrable=False, poke_interval=0.05, timeout=5)
    make_claim(kube)
    assert sensor.poke({}) is False
    bind(kube)
    done = sensor.poke({})
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value == {
        "status": "success",
        "message": "DataSourceClaim default/claim-a is Bound to DataSource ds-events",
        "claim": "claim-a",
        "namespace": "default",
        "data_source": "ds-events",
    }  # the same payload as the deferred path's event
    assert sensor.execute({}) == done.xcom_value


def test_poke_raises_on_an_api_error(sandbox: Sandbox, access: dict[str, Any]) -> None:
    sensor = claim_sensor(access, deferrable=False)
    sandbox.faults.inject(verb="get", resource="datasourceclaims", code=403, times=10)
    with pytest.raises(AirflowException, match="403"):
        sensor.poke({})


def test_operation_sensor_pokes_until_the_job_completes(
    kube: KubeClient, access: dict[str, Any]
) -> None:
    kube.create_or_get(job("assembly-1"))
    sensor = OperationCompleteSensor(
        task_id="ops",
        job_names=["assembly-1"],
        deferrable=False,
        poke_interval=0.05,
        timeout=10,
        **access,
    )
    result = sensor.execute({})
    assert result["jobs"]["assembly-1"]["succeeded"] == 1


def test_data_sensor_pokes_and_times_out(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text("[]", encoding="utf-8")
    sensor = DataAvailableSensor(
        task_id="d",
        system="hive",
        name="db.events",
        resolvers={"hive": {"resolver": "static", "inventory": str(inventory)}},
        deferrable=False,
        poke_interval=0.05,
        timeout=0.2,
    )
    assert sensor.poke({}) is False
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})
    source = {"system": "hive", "dataSourceName": "db.events", "chunks": [{"id": "c", "size": 9}]}
    inventory.write_text(json.dumps([source]), encoding="utf-8")
    done = sensor.poke({})
    assert isinstance(done, PokeReturnValue) and done.xcom_value is not None
    assert done.xcom_value["bytes"] == 9


def test_poke_fails_for_good_on_unknown_resolver() -> None:
    # AirflowFailException: retrying cannot register a resolver
    sensor = DataAvailableSensor(task_id="d", system="nosuch", name="t", deferrable=False)
    with pytest.raises(AirflowFailException, match="UnknownResolver"):
        sensor.poke({})
