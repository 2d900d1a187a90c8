"""The builders and the binding rules load without the kubernetes client, Airflow or Hera."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import datalocality.kube
from tests.test_layers import loaded_after

BUILDERS = (
    "affinity",
    "binder",
    "claims",
    "configmaps",
    "job_status",
    "jobs",
    "karmada",
    "names",
    "objects",
    "pods",
    "resources",
    "security",
    "slices",
    "volcano",
)


def test_builders_import_no_adapter_library() -> None:
    statement = "; ".join(
        f"import datalocality.kube.{name}" for name in BUILDERS if name != "binder"
    )
    loaded = loaded_after(statement)
    assert not loaded & {"kubernetes", "airflow", "hera", "httpx"}


def test_binding_is_core() -> None:
    assert not loaded_after("import datalocality.binding") & {
        "kubernetes",
        "airflow",
        "hera",
        "httpx",
    }


# The I/O modules: the client and what does its reads and writes through it.
CLIENT_USERS = {"client", "binder", "publish", "release"}


def test_only_the_client_loads_kubernetes() -> None:
    package = Path(datalocality.kube.__file__).parent
    modules = {m.name for m in pkgutil.iter_modules([str(package)])}
    assert modules > CLIENT_USERS
    loading = {m for m in modules if "kubernetes" in loaded_after(f"import datalocality.kube.{m}")}
    assert loading == CLIENT_USERS
