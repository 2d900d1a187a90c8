"""One recorded state for the browser tests: runs on the embedded cluster, a real API server.

The module's fixtures start the embedded cluster, run ``iceberg_trainer`` and
``chunk_pipeline`` on it with ``dag.test()`` (their releases kept back, so the claims
stay), then ``airflow api-server`` as a subprocess on the session's AIRFLOW_HOME and
SQLite database, and a chromium logged in to it. The server runs Airflow's simple auth
manager with one admin user and a known password (not ``simple_auth_manager_all_admins``,
whose middleware lets every request in, so that a request without credentials could not
be refused); the browser logs in through its login form. A failed test shows the end of
the server's log.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from datalocality_testcluster.clusters import ProviderCluster, start_cluster
from tests.airflow.conftest import AIRFLOW_ENV
from tests.airflow.support import AIRFLOW, airflow_cli_env, run_dag
from tests.airflow.ui.browser import launch, log_in, new_context

USERNAME = "admin"
PASSWORD = "datalocality-ui-test"  # a throwaway user of a throwaway server
JWT_SECRET = "datalocality-ui-test-secret"
STARTUP_S = 120.0
DAGS_RUN = {"iceberg_trainer": "iceberg_trainer.py", "chunk_pipeline": "chunk_pipeline.py"}


@dataclass(frozen=True)
class ApiServer:
    """A running ``airflow api-server``: where it answers and where it logs."""

    base_url: str
    log: Path

    def tail(self, lines: int = 60) -> str:
        """The end of its log."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class Recorded:
    """The embedded cluster and the run id of each DAG run on it."""

    cluster: ProviderCluster
    runs: dict[str, str]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def recorded(airflow_db: Path) -> Iterator[Recorded]:
    """The embedded cluster with a finished run of each example DAG on it."""
    with start_cluster("sandbox") as cluster, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATALOCALITY_KUBECONFIG", str(cluster.kubeconfig_path))
        runs = {dag_id: run_dag(dag_id, file).run_id for dag_id, file in DAGS_RUN.items()}
        # what the runs left unclosed (the pod operator's exec websocket) is collected
        # here, under this directory's warning filters, not later in another test
        gc.collect()
        yield Recorded(cluster, runs)
        assert cluster.errors == []


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, server: ApiServer) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"api-server exited {process.returncode}:\n{server.tail()}")
        try:
            if httpx.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)  # polling a port, not waiting for the page
    pytest.fail(f"api-server not healthy after {STARTUP_S:.0f} s:\n{server.tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server and whatever it started (its own process group)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker left behind, if any


@pytest.fixture(scope="module")
def api_server(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``airflow api-server`` on the session's database, reaching the embedded cluster."""
    root = tmp_path_factory.mktemp("api-server")
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({USERNAME: PASSWORD}), encoding="utf-8")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = airflow_cli_env(
        Path(AIRFLOW_ENV["AIRFLOW_HOME"]),
        **AIRFLOW_ENV,
        AIRFLOW__API__BASE_URL=base_url,
        AIRFLOW__API_AUTH__JWT_SECRET=JWT_SECRET,
        AIRFLOW__API__SECRET_KEY=JWT_SECRET,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USERNAME}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        DATALOCALITY_KUBECONFIG=str(recorded.cluster.kubeconfig_path),
        PYTHONWARNINGS="ignore",
    )
    server = ApiServer(base_url, root / "api-server.log")
    with server.log.open("wb") as out:
        process = subprocess.Popen(
            [str(AIRFLOW), "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended with it
        )
    try:
        _wait_healthy(process, base_url, server)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(recorded: Recorded) -> Iterator[Browser]:
    """Debian's chromium, headless; started after the runs, which it would break.

    Playwright's sync API keeps an asyncio loop running on this thread while it is open,
    and the plan task's ``asyncio.run`` refuses to run inside one (``Runner.run() cannot
    be called from a running event loop``).
    """
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def context(browser: Browser, api_server: ApiServer) -> Iterator[BrowserContext]:
    """A browser context logged in to the API server through its login form."""
    logged_in = new_context(browser, api_server.base_url)
    log_in(logged_in, USERNAME, PASSWORD)
    yield logged_in
    logged_in.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A fresh tab of the logged-in context."""
    tab = context.new_page()
    yield tab
    tab.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failure, the end of the API server's log under the test's report."""
    report = yield
    server = getattr(item, "funcargs", {}).get("api_server")
    if report.failed and isinstance(server, ApiServer) and server.log.exists():
        report.sections.append(("api-server log (end)", server.tail()))
    return report
