"""DataSourcePhaseTrigger and DataSourcePhaseSensor against both clusters: a source whose
data a refresh found gone fires the Lost wait; found again, the Available wait; a poking
sensor reads the same check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from datalocality.kube.claims import with_source_phase
from datalocality.kube.client import KubeClient
from datalocality.kube.publish import publish_data_source
from datalocality.kube.resources import SOURCES
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.sensors import DataSourcePhaseSensor
from datalocality.triggers.claims import DataSourcePhaseTrigger
from tests.airflow_sensors.conftest import later, run_trigger

NAME = "ds-vanishing"
GONE = "db.vanishing not found after 4 attempts: the data of DataSource ds-vanishing is gone"


def publish(kube: KubeClient) -> None:
    source = DataSource.for_input(
        DataInput(system="iceberg", name="db.vanishing"),
        chunks=[Chunk(id="part-0", size=1, locations=["node-a"])],
    )
    publish_data_source(kube, NAME, source)


def set_phase(kube: KubeClient, phase: str, message: str) -> None:
    kube.modify(
        SOURCES,
        NAME,
        lambda o: with_source_phase(o, phase, now=datetime.now(UTC), message=message),
        subresource="status",
    )


def trigger(access: dict[str, Any], phase: str) -> DataSourcePhaseTrigger:
    options: dict[str, Any] = {"poll_interval": 0.05, "timeout": 10.0, **access}
    return DataSourcePhaseTrigger(data_source_name=NAME, phase=phase, **options)


def test_lost_then_available_again(kube: KubeClient, access: dict[str, Any]) -> None:
    publish(kube)
    writer = later(0.3, lambda: set_phase(kube, "Lost", GONE))
    events = run_trigger(trigger(access, "Lost"))
    writer.join()
    assert events == [
        {
            "status": "success",
            "message": f"DataSource {NAME} is Lost (DataGone: {GONE})",
            "data_source": NAME,
            "phase": "Lost",
            "reason": "DataGone",
        }
    ]

    writer = later(0.3, lambda: set_phase(kube, "Available", "the data was found again"))
    events = run_trigger(trigger(access, "Available"))
    writer.join()
    assert [(e["status"], e["phase"], e["reason"]) for e in events] == [
        ("success", "Available", "DataFound")
    ]


def test_a_source_never_lost_is_available_and_times_out_waiting_for_lost(
    kube: KubeClient, access: dict[str, Any]
) -> None:
    publish(kube)
    (available,) = run_trigger(trigger(access, "Available"))
    assert (available["status"], available["phase"]) == ("success", "Available")
    waiting = DataSourcePhaseTrigger(
        data_source_name=NAME, phase="Lost", poll_interval=0.05, timeout=0.5, **access
    )
    (timeout,) = run_trigger(waiting)
    assert timeout["status"] == "timeout"
    assert f"DataSource {NAME} is Available" in timeout["message"]


def test_the_poking_sensor_reads_the_same_check(kube: KubeClient, access: dict[str, Any]) -> None:
    publish(kube)
    sensor = DataSourcePhaseSensor(
        task_id="wait_lost", data_source_name=NAME, deferrable=False, **access
    )
    assert sensor.poke(context={}) is False
    set_phase(kube, "Lost", GONE)
    done: Any = sensor.poke(context={})
    assert done.is_done and done.xcom_value["phase"] == "Lost"


def test_a_bad_phase_fails_the_task_naming_it(access: dict[str, Any]) -> None:
    sensor = DataSourcePhaseSensor(
        task_id="wait", data_source_name=NAME, phase="Gone", deferrable=False, **access
    )
    with pytest.raises(AirflowFailException, match="phase: must be one of"):
        sensor.poke(context={})
