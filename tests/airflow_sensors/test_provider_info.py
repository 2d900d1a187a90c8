"""get_provider_info(): valid against Airflow's own schema, honest, and cheap to import.

The last two tests need the ``apache_airflow_provider`` entry point in pyproject.toml (and
the package re-installed so its metadata carries it); until then they fail, on purpose.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # types-jsonschema is not a dev dependency
import pytest
from packaging.utils import canonicalize_name

from datalocality.provider import get_provider_info
from datalocality.provider.info import PACKAGE_NAME
from tests.airflow.support import airflow_cli_env, run_airflow

ENTRY_POINT = "datalocality.provider:get_provider_info"


@pytest.fixture(scope="module")
def info() -> dict[str, Any]:
    return get_provider_info()


def test_valid_against_the_schema_inside_the_installed_airflow(info: dict[str, Any]) -> None:
    schema = json.loads(
        resources.files("airflow").joinpath("provider_info.schema.json").read_text()
    )
    jsonschema.validate(info, schema)


def test_package_name_is_the_normalized_distribution_name(info: dict[str, Any]) -> None:
    dist = metadata.distribution(PACKAGE_NAME)
    assert info["package-name"] == canonicalize_name(dist.metadata["Name"])
    assert info["versions"][0] == dist.version


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_every_listed_module_and_class_exists(info: dict[str, Any]) -> None:
    for kind in ("operators", "sensors", "hooks", "triggers"):
        for entry in info[kind]:
            assert entry["integration-name"] in {
                i["integration-name"] for i in info["integrations"]
            }
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for path in info["extra-links"]:
        _import(path)
    for plugin in info.get("plugins", []):
        _import(plugin["plugin-class"])
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "datalocality"
    hook = _import(conn["hook-class-name"])
    assert hook.conn_type == conn["connection-type"]
    assert "ui-field-behaviour" in conn


def test_sensors_and_triggers_are_listed_by_stable_paths(info: dict[str, Any]) -> None:
    (sensors,) = info["sensors"]
    (triggers,) = info["triggers"]
    assert sensors["python-modules"] == [
        "datalocality.sensors.claims",
        "datalocality.sensors.data",
        "datalocality.sensors.operations",
    ]
    assert {
        _import(f"{m}.{c}").__module__
        for m, c in zip(
            triggers["python-modules"],
            ["DataSourceClaimBoundTrigger", "DataAvailableTrigger", "OperationCompleteTrigger"],
            strict=True,
        )
    } == set(triggers["python-modules"])


def test_config_defaults_are_what_the_code_falls_back_to(info: dict[str, Any]) -> None:
    from datalocality.sensors.base import default_deferrable, default_poll_interval

    options = info["config"]["datalocality"]["options"]
    assert options["default_deferrable"]["default"] == str(default_deferrable())
    assert float(options["default_poll_interval"]["default"]) == default_poll_interval()


def test_discovery_imports_neither_kubernetes_nor_hera_nor_airflow() -> None:
    code = (
        "import sys, datalocality.provider as p; p.get_provider_info(); "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'kubernetes', 'kubernetes_asyncio', 'hera', 'airflow', 'httpx', 'pydantic'}); "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_entry_point_is_declared_in_the_installed_metadata() -> None:
    points = [
        p
        for p in metadata.entry_points(group="apache_airflow_provider")
        if p.dist is not None and canonicalize_name(p.dist.name) == PACKAGE_NAME
    ]
    assert [p.value for p in points] == [ENTRY_POINT], (
        "declare [project.entry-points.apache_airflow_provider] provider_info = "
        f'"{ENTRY_POINT}" in pyproject.toml and re-install (uv sync)'
    )


def test_airflow_providers_list_shows_the_provider(tmp_path: Path) -> None:
    out = run_airflow(airflow_cli_env(tmp_path), "providers", "list", "--output", "json")
    start = out.stdout.index("[")
    listed = {row["package_name"]: row for row in json.loads(out.stdout[start:])}
    assert PACKAGE_NAME in listed, f"providers seen: {sorted(listed)}"
    assert listed[PACKAGE_NAME]["version"] == metadata.version(PACKAGE_NAME)


def test_airflow_accepts_our_hook_class_for_this_distribution_name(
    info: dict[str, Any],
) -> None:
    from airflow.providers_manager import _check_builtin_provider_prefix

    (conn,) = info["connection-types"]
    assert _check_builtin_provider_prefix(info["package-name"], conn["hook-class-name"])
