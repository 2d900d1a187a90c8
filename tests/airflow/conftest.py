"""An Airflow home for the whole session, an embedded cluster per test, narrow warning filters.

Airflow reads ``AIRFLOW_HOME`` and ``AIRFLOW__*`` when it is first imported, so they are
set when this conftest is imported (before any test imports airflow); the session fixture
``airflow_db`` runs ``airflow db migrate`` on SQLite there and removes the directory at
the end of the session. Test modules import airflow inside tests only.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from datalocality_testcluster.clusters import KINDS, Kind, ProviderCluster, start_cluster
from tests.airflow.support import airflow_home_env

_HOME = Path(
    os.environ.get("DATALOCALITY_TEST_AIRFLOW_HOME")
    or tempfile.mkdtemp(prefix="datalocality-airflow-")
)
os.environ["DATALOCALITY_TEST_AIRFLOW_HOME"] = str(_HOME)
AIRFLOW_ENV = airflow_home_env(_HOME)
os.environ.update(AIRFLOW_ENV)

# Warnings raised by libraries while a DAG runs in-process, none of them ours to fix:
# Starlette's test client (Airflow's in-process execution API), deprecations inside
# airflow and kubernetes, and the exec websocket that websocket-client leaves open when
# the server closes first (KubernetesPodOperator's XCom sidecar).
WARNING_FILTERS = (
    "ignore::starlette.exceptions.StarletteDeprecationWarning",
    "ignore::DeprecationWarning:airflow.*",
    "ignore::DeprecationWarning:kubernetes.*",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Add the warning filters to the tests of this directory only."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            for spec in WARNING_FILTERS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what importing Airflow does to logging (root handler, httpx at WARNING).

    Tests elsewhere capture httpx's debug lines with caplog; Airflow, first imported by a
    test here, would otherwise silence them for the rest of the session.
    """
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """``airflow db migrate`` on SQLite in the session's AIRFLOW_HOME (removed afterwards)."""
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    yield _HOME


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the session's Airflow home, whether or not a test used it."""
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(params=KINDS)
def cluster(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProviderCluster]:
    """The demo inventory with our CRDs, on the real control plane (restricted namespace,
    the provider's service account) and on the emulator; the example DAGs find it via
    DATALOCALITY_KUBECONFIG."""
    yield from _provider_cluster(request.param, monkeypatch)


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderCluster]:
    """:func:`cluster` on the real control plane only (what the emulator lacks: Volcano's
    CRD, the audit log)."""
    yield from _provider_cluster("kube", monkeypatch)


def _provider_cluster(kind: Kind, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderCluster]:
    with start_cluster(kind) as running:
        monkeypatch.setenv("DATALOCALITY_KUBECONFIG", str(running.kubeconfig_path))
        yield running
        assert running.errors == []
