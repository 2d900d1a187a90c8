"""One recorded state for the browser tests: runs on the embedded cluster, a real API server.

The module's fixtures start the embedded cluster, run ``iceberg_trainer`` and
``chunk_pipeline`` on it with ``dag.test()`` (their releases kept back, so the claims
stay), then ``airflow api-server`` as a subprocess on the session's AIRFLOW_HOME and
SQLite database (:mod:`.server`: one admin user, a known password), and a chromium
logged in to it through the login form. A failed test shows the end of the server's log.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from datalocality_testcluster.clusters import ProviderCluster, start_cluster
from tests.airflow.conftest import AIRFLOW_ENV
from tests.airflow.support import run_dag
from tests.airflow.ui.browser import launch, log_in, new_context
from tests.airflow.ui.server import PASSWORD, USERNAME, ApiServer, run_api_server

DAGS_RUN = {"iceberg_trainer": "iceberg_trainer.py", "chunk_pipeline": "chunk_pipeline.py"}


@dataclass(frozen=True)
class Recorded:
    """The embedded cluster and the run id of each DAG run on it."""

    cluster: ProviderCluster
    runs: dict[str, str]


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


@pytest.fixture(scope="module")
def api_server(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``airflow api-server`` on the session's database, reaching the embedded cluster."""
    root = tmp_path_factory.mktemp("api-server")
    with run_api_server(AIRFLOW_ENV, recorded.cluster.kubeconfig_path, root) as server:
        yield server


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
