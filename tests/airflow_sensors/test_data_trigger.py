"""DataAvailableTrigger against the static resolver: appears, too small, missing, broken."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datalocality.errors import DataSourceNotFound, ResolverUnavailable, UnknownResolver
from datalocality.model import DataSource
from datalocality.triggers.data import (
    DataAvailableTrigger,
    data_outcome,
    polling_config,
    resolution_failure,
)
from tests.airflow_sensors.conftest import later, run_trigger

INPUT = {"system": "hive", "dataSourceType": "table", "dataSourceName": "db.events"}


def source(*sizes: int) -> dict[str, Any]:
    return {
        **INPUT,
        "chunks": [
            {"id": f"c{i}", "size": size, "locations": [f"n{i % 2 + 1}"]}
            for i, size in enumerate(sizes)
        ],
    }


def write_inventory(path: Path, *sources: dict[str, Any]) -> None:
    path.write_text(json.dumps(list(sources)), encoding="utf-8")


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.json"
    write_inventory(path)
    return path


def trigger(inventory: Path, **kwargs: Any) -> DataAvailableTrigger:
    options: dict[str, Any] = {
        "data_input": INPUT,
        "resolvers": {"hive": {"resolver": "static", "inventory": str(inventory)}},
        "poll_interval": 0.05,
        "timeout": 10.0,
        **kwargs,
    }
    return DataAvailableTrigger(**options)


def test_data_that_appears_fires_success_with_its_size(inventory: Path) -> None:
    writer = later(0.3, lambda: write_inventory(inventory, source(100, 200, 300)))
    (event,) = run_trigger(trigger(inventory, min_chunks=2))
    writer.join()
    assert event["status"] == "success"
    assert event["message"] == "hive/table/db.events has 600 bytes in 3 chunk(s)"
    assert (event["bytes"], event["chunks"], event["nodes"]) == (600, 3, ["n1", "n2"])
    assert event["data_input"]["dataSourceName"] == "db.events"


def test_missing_data_source_times_out(inventory: Path) -> None:
    (event,) = run_trigger(trigger(inventory, timeout=0.3))
    assert event["status"] == "timeout"
    assert "not found yet" in event["message"]


def test_too_little_data_is_waited_for(inventory: Path) -> None:
    write_inventory(inventory, source(100, 200))
    (event,) = run_trigger(trigger(inventory, min_bytes=1000, timeout=0.3))
    assert event["status"] == "timeout"
    assert "waiting for at least 1000 bytes" in event["message"]


def test_unknown_system_is_an_error_at_once() -> None:
    (event,) = run_trigger(
        DataAvailableTrigger(data_input={**INPUT, "system": "nosuch"}, timeout=10.0)
    )
    assert event["status"] == "error"
    assert "UnknownResolver" in event["message"]


def test_bad_resolver_config_is_an_error_event() -> None:
    (event,) = run_trigger(
        DataAvailableTrigger(
            data_input=INPUT, resolvers={"hive": {"resolver": "static"}}, timeout=10.0
        )
    )
    assert event["status"] == "error"
    assert "inventory" in event["message"]


def test_resolvers_from_a_datalocality_connection(
    monkeypatch: pytest.MonkeyPatch, inventory: Path
) -> None:
    write_inventory(inventory, source(5))
    extra = {"hive": {"resolver": "static", "inventory": str(inventory)}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_DL_SENSORS", json.dumps({"conn_type": "datalocality", "extra": extra})
    )
    (event,) = run_trigger(
        DataAvailableTrigger(data_input=INPUT, datalocality_conn_id="dl_sensors", timeout=10.0)
    )
    assert event["status"] == "success", event


def test_serialize_round_trips(inventory: Path) -> None:
    path, kwargs = trigger(inventory, min_bytes=10, min_chunks=1).serialize()
    assert path == "datalocality.triggers.data.DataAvailableTrigger"
    assert DataAvailableTrigger(**kwargs).serialize() == (path, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"data_input": {"system": "hive"}}, "dataSourceName"),
        ({"min_bytes": -1}, "min_bytes"),
        ({"min_chunks": 1.5}, "min_chunks"),
    ],
)
def test_bad_arguments_are_refused_when_built(
    inventory: Path, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        trigger(inventory, **kwargs)


def test_outcome_rules() -> None:
    found = DataSource.parse(source(10, 20))
    assert data_outcome(found, None, None).status == "success"
    assert data_outcome(found, 30, 2).status == "success"
    short = data_outcome(found, 31, 3)
    assert short.status == "pending"
    assert short.message.endswith("waiting for at least 31 bytes and 3 chunks")
    assert resolution_failure("d", DataSourceNotFound("gone")).status == "pending"
    assert not resolution_failure("d", UnknownResolver("x")).transient
    assert resolution_failure("d", ResolverUnavailable("down")).transient
    with pytest.raises(KeyError):
        resolution_failure("d", KeyError("bug"))


def test_polling_config_keeps_one_system_and_turns_the_cache_off() -> None:
    config = {"hive": {"resolver": "static", "cache_ttl": 60}, "other": {}}
    assert polling_config(config, "hive") == {"hive": {"resolver": "static", "cacheTtl": 0}}
    assert polling_config({}, "objectstore") == {"objectstore": {"cacheTtl": 0}}
    with pytest.raises(ValueError, match="hive"):
        polling_config({"hive": "nope"}, "hive")
