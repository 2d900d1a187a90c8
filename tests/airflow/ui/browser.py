"""Driving the UI plugin's views in Debian's chromium with Playwright's sync API.

Playwright cannot download its own browsers here, so :func:`launch` starts the system's
``/usr/bin/chromium`` (``tests/cluster/datalocality_testcluster/install-chromium.sh``
installs it). The views are the Airflow UI's own pages, the plugin's React apps drawn
inside them: a task instance's **Placement** tab and the **Data Locality** page.
:func:`save_screenshots` takes a PNG of each, for ``make screenshots``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIRST_LOAD_MS = 30_000  # the UI's first page: its bundle, the plugin's bundle, the API
TIMEOUT_MS = 15_000  # anything after the first load
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
SCREENSHOT_VIEWPORT: ViewportSize = {"width": 1400, "height": 1800}
COOKIE = "_token"  # Airflow's UI keeps its JWT in this cookie

# What a drawn view shows when it could not draw its data.
FAILED = "[data-testid=error], [data-testid=cluster-unreachable]"
PLACEMENT_READY = "[data-testid=total-chunks]"
LOCALITY_READY = "[data-testid=claim-row], [data-testid=source-row], [data-testid=no-claims]"


def launch(playwright: Playwright) -> Browser:
    """Debian's chromium, headless (fails naming the installer when it is missing)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: run tests/cluster/datalocality_testcluster/install-chromium.sh"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    """A context on the API server: relative ``page.goto`` paths resolve against it."""
    context = browser.new_context(base_url=base_url.rstrip("/") + "/", viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def log_in(context: BrowserContext, username: str = "", password: str = "") -> str:
    """Log the context in through Airflow's simple auth manager; return the ``_token``.

    With a ``username``, through its login form (what a user does); without one, through
    ``/auth/token/login``, which only answers when every user is an admin
    (``[core] simple_auth_manager_all_admins``). Either sets the ``_token`` cookie.
    """
    page = context.new_page()
    try:
        if username:
            page.goto("auth/login", timeout=FIRST_LOAD_MS)
            page.locator("input[name=username]").fill(username)
            page.locator("input[name=password]").fill(password)
            page.locator("button[type=submit]").click()
            page.wait_for_url(lambda url: "/auth/" not in url, timeout=FIRST_LOAD_MS)
        else:
            page.goto("auth/token/login", timeout=FIRST_LOAD_MS)
    finally:
        page.close()
    tokens = [c.get("value", "") for c in context.cookies() if c.get("name") == COOKIE]
    if not tokens or not tokens[0]:
        raise AssertionError(f"logging in set no {COOKIE} cookie: {context.cookies()}")
    return tokens[0]


def placement_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The UI path of a task instance's Placement tab (each part percent-encoded)."""
    parts = [quote(p, safe="") for p in (dag_id, run_id, task_id)]
    path = f"dags/{parts[0]}/runs/{parts[1]}/tasks/{parts[2]}"
    if map_index >= 0:
        path += f"/mapped/{map_index}"
    return f"{path}/plugin/placement"


LOCALITY_PATH = "plugin/data-locality"


def open_view(page: Page, path: str, ready: str, timeout_ms: float = FIRST_LOAD_MS) -> None:
    """Go to a view and wait until it drew ``ready`` (raises with its text if it drew an
    error instead)."""
    page.goto(path, timeout=timeout_ms)
    page.locator(f"{ready}, {FAILED}").first.wait_for(timeout=timeout_ms)
    failed = page.locator(FAILED)
    if failed.count():
        raise AssertionError(f"{page.url} shows: {failed.first.inner_text()}")


def open_placement(page: Page, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> None:
    """A task instance's Placement tab, drawn."""
    open_view(page, placement_path(dag_id, run_id, task_id, map_index), PLACEMENT_READY)


def open_locality(page: Page) -> None:
    """The Data Locality page, drawn."""
    open_view(page, LOCALITY_PATH, LOCALITY_READY)


def latest_run_id(context: BrowserContext, dag_id: str) -> str:
    """The newest successful run of a DAG, asked of Airflow's REST API as the context."""
    answer = context.request.get(
        f"api/v2/dags/{quote(dag_id, safe='')}/dagRuns",
        params={"state": "success", "order_by": "-run_after", "limit": 1},
    )
    if not answer.ok:
        raise AssertionError(f"{answer.url}: {answer.status} {answer.text()[:300]}")
    runs: list[dict[str, Any]] = answer.json()["dag_runs"]
    if not runs:
        raise AssertionError(f"{dag_id} has no successful run to show")
    return str(runs[0]["dag_run_id"])


def screenshot_views(
    context: BrowserContext,
    out_dir: Path,
    *,
    dag_id: str,
    run_id: str,
    plan_task: str,
    replica_task: str,
    map_index: int = 1,
) -> list[Path]:
    """A full-page PNG of the plan task's Placement tab, replica ``map_index``'s and the
    Data Locality page, in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [
        (
            "placement-plan.png",
            placement_path(dag_id, run_id, plan_task),
            PLACEMENT_READY,
        ),
        (
            "placement-replica.png",
            placement_path(dag_id, run_id, replica_task, map_index),
            PLACEMENT_READY,
        ),
        ("data-locality.png", LOCALITY_PATH, LOCALITY_READY),
    ]
    written = []
    page = context.new_page()
    # The UI scrolls inside its own panes, not the page: a tall window shows each view whole.
    page.set_viewport_size(SCREENSHOT_VIEWPORT)
    try:
        for name, path, ready in shots:
            open_view(page, path, ready)
            target = out_dir / name
            page.screenshot(path=str(target), full_page=True)
            written.append(target)
    finally:
        page.close()
    return written


@contextmanager
def logged_in_context(
    base_url: str, username: str = "", password: str = ""
) -> Iterator[BrowserContext]:
    """A fresh chromium and a context logged in to the API server at ``base_url``."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = new_context(browser, base_url)
            log_in(context, username, password)
            yield context
        finally:
            browser.close()


def save_screenshots(
    base_url: str,
    out_dir: Path,
    *,
    dag_id: str = "chunk_pipeline",
    group: str = "sessionize",
    run_id: str = "",
    username: str = "",
    password: str = "",
) -> list[Path]:
    """A PNG of each of the three views of ``dag_id``'s newest successful run (or
    ``run_id``) on the Airflow at ``base_url``, written to ``out_dir``.

    ``group`` is the ``locality_pods`` task group (its ``.plan`` and ``.replica`` tasks).
    Without a ``username`` the server must let every user in as admin.
    """
    with logged_in_context(base_url, username, password) as context:
        return screenshot_views(
            context,
            Path(out_dir),
            dag_id=dag_id,
            run_id=run_id or latest_run_id(context, dag_id),
            plan_task=f"{group}.plan",
            replica_task=f"{group}.replica",
        )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tests.airflow.ui.browser BASE_URL OUT_DIR``: :func:`save_screenshots`."""
    parser = argparse.ArgumentParser(description=save_screenshots.__doc__)
    parser.add_argument("base_url", help="the Airflow API server, e.g. http://127.0.0.1:8080")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--dag-id", default="chunk_pipeline")
    parser.add_argument("--group", default="sessionize", help="the locality_pods task group")
    parser.add_argument("--run-id", default="", help="default: the newest successful run")
    parser.add_argument("--username", default="", help="default: all-admins mode")
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)
    for path in save_screenshots(
        args.base_url,
        args.out_dir,
        dag_id=args.dag_id,
        group=args.group,
        run_id=args.run_id,
        username=args.username,
        password=args.password,
    ):
        print(path)


if __name__ == "__main__":
    main()
