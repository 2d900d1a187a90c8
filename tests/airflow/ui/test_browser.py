"""The UI plugin in a real browser: Airflow's own UI, served by a real API server, drawing
the plugin's React apps on what real runs recorded on the embedded cluster.

Each test reads what it expects from the source the plugin reads (the plan task's XComs,
the cluster's DataSourceClaims), never from the plugin's API, and compares it with what
chromium drew.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.airflow.support import objects, xcom_value
from tests.airflow.ui.browser import (
    COOKIE,
    latest_run_id,
    open_locality,
    open_placement,
    save_screenshots,
)
from tests.airflow.ui.conftest import Recorded
from tests.airflow.ui.server import PASSWORD, USERNAME, ApiServer

# (DAG, its locality_pods task group): the trainer reads a table, the pipeline what its
# producers wrote (and repartitions it: operations).
VIEWS = [("iceberg_trainer", "train"), ("chunk_pipeline", "sessionize")]


def _attrs(rows: Locator, *names: str) -> list[dict[str, str | None]]:
    """Some attributes of every element ``rows`` matches, in document order."""
    found: list[dict[str, str | None]] = rows.evaluate_all(
        "(els, names) => els.map(e => Object.fromEntries(names.map(n => [n, e.getAttribute(n)])))",
        list(names),
    )
    return found


def _plan(recorded: Recorded, dag_id: str, group: str, key: str = "plan") -> Any:
    return xcom_value(dag_id, recorded.runs[dag_id], f"{group}.plan", key=key)


def _by(rows: list[dict[str, str | None]], key: str) -> list[dict[str, str | None]]:
    return sorted(rows, key=lambda r: r[key] or "")


@pytest.mark.parametrize(("dag_id", "group"), VIEWS)
def test_the_plan_tasks_placement_tab_draws_the_recorded_plan(
    page: Page, recorded: Recorded, dag_id: str, group: str
) -> None:
    """The plan task's Placement tab draws the plan XCom's replicas and totals, the
    layout XCom's nodes (each replica's among them) and the bytes saved on the baseline."""
    plan = _plan(recorded, dag_id, group)
    layout = _plan(recorded, dag_id, group, "layout")
    baseline = _plan(recorded, dag_id, group, "baseline")
    open_placement(page, dag_id, recorded.runs[dag_id], f"{group}.plan")

    rows = page.locator("[data-testid=replica-row]")
    expect(rows).to_have_count(len(plan["replicas"]))
    columns = ("replica", "node", "chunks", "bytes", "local-bytes", "moved-bytes")
    fields = ("index", "node", "chunk_count", "bytes", "local_bytes", "moved_bytes")
    expected: list[dict[str, str | None]] = [
        {f"data-{c}": str(r[f]) for c, f in zip(columns, fields, strict=True)}
        for r in plan["replicas"]
    ]
    drawn = _attrs(rows, *(f"data-{c}" for c in columns))
    assert _by(drawn, "data-replica") == _by(expected, "data-replica")
    expect(page.locator("[data-testid=total-chunks]")).to_have_text(str(plan["totals"]["chunks"]))
    expect(page.locator("[data-testid=replica-row][data-highlighted=true]")).to_have_count(0)
    expect(page.locator("[data-testid=operation-row]")).to_have_count(len(plan["operations"]))

    nodes = page.locator("[data-testid=topology] [data-testid=node]")
    expect(nodes).to_have_count(len(layout["nodes"]))
    held = _attrs(nodes, "data-node", "data-held-bytes", "data-held-chunks", "data-replicas")
    assert _by(held, "data-node") == [
        {
            "data-node": n["name"],
            "data-held-bytes": str(n["held_bytes"]),
            "data-held-chunks": str(n["held_chunks"]),
            "data-replicas": ",".join(str(i) for i in n["replicas"]),
        }
        for n in sorted(layout["nodes"], key=lambda n: n["name"])
    ]
    assert {r["node"] for r in plan["replicas"]} <= {n["data-node"] for n in held}
    if baseline:
        saved = baseline["moved_bytes"] - plan["totals"]["moved_bytes"]
        expect(page.locator("[data-testid=bytes-saved]")).to_have_attribute(
            "data-bytes", str(saved)
        )


def test_a_mapped_replicas_placement_tab_highlights_its_own_row(
    page: Page, recorded: Recorded
) -> None:
    """Replica 1's Placement tab draws the same plan with replica 1's row highlighted."""
    dag_id, group = VIEWS[1]
    plan = _plan(recorded, dag_id, group)
    open_placement(page, dag_id, recorded.runs[dag_id], f"{group}.replica", map_index=1)
    expect(page.locator("[data-testid=replica-row]")).to_have_count(len(plan["replicas"]))
    highlighted = page.locator("[data-testid=replica-row][data-highlighted=true]")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_have_attribute("data-replica", "1")
    (one,) = [r for r in plan["replicas"] if r["index"] == 1]
    expect(highlighted).to_have_attribute("data-node", one["node"])


def _claims(recorded: Recorded) -> list[dict[str, str | None]]:
    """The cluster's DataSourceClaims as the page's rows would carry them."""
    found = objects(recorded.cluster, "datalocality.io", "datasourceclaims")
    rows: list[dict[str, str | None]] = [
        {
            "data-claim": c["metadata"]["name"],
            "data-phase": c["status"]["phase"],
            "data-source": c["status"].get("boundDataSource", ""),
        }
        for c in found
    ]
    return _by(rows, "data-claim")


def _sources(recorded: Recorded, names: set[str]) -> list[dict[str, str | None]]:
    """The cluster's DataSources of ``names``, with their chunks and bytes from their
    slices, as the page's source rows would carry them."""
    from datalocality.kube.slices import source_chunks

    cluster = recorded.cluster
    slices = objects(cluster, "datalocality.io", "datasourceslices")
    rows: list[dict[str, str | None]] = []
    for source in objects(cluster, "datalocality.io", "datasources"):
        if source["metadata"]["name"] in names:
            chunks = source_chunks(source, slices)
            rows.append(
                {
                    "data-source": source["metadata"]["name"],
                    "data-chunks": str(len(chunks)),
                    "data-bytes": str(sum(c.size for c in chunks)),
                }
            )
    return _by(rows, "data-source")


def test_the_data_locality_page_lists_the_clusters_claims(page: Page, recorded: Recorded) -> None:
    """The Data Locality page has one row per DataSourceClaim in the cluster (its phase and
    bound source) and one per bound DataSource; the phase filter keeps that phase's rows."""
    claims = _claims(recorded)
    assert len(claims) == len(recorded.runs)  # each DAG reads one input
    open_locality(page)
    rows = page.locator("[data-testid=claim-row]")
    expect(rows).to_have_count(len(claims))
    assert _by(_attrs(rows, "data-claim", "data-phase", "data-source"), "data-claim") == claims
    bound = {c["data-source"] or "" for c in claims}
    sources = page.locator("[data-testid=source-row]")
    expect(sources).to_have_count(len(bound))
    drawn = _attrs(sources, "data-source", "data-chunks", "data-bytes")
    assert _by(drawn, "data-source") == _sources(recorded, bound)

    phase = page.locator("[data-testid=phase-filter]")
    for wanted in ("Lost", "Bound"):
        phase.select_option(wanted)
        kept = [c for c in claims if c["data-phase"] == wanted]
        expect(page.locator(f"[data-testid=claim-row]:not([data-phase={wanted}])")).to_have_count(0)
        expect(rows).to_have_count(len(kept))
        if not kept:
            expect(page.locator("[data-testid=no-claims]")).to_be_visible()
    assert {c["data-phase"] for c in claims} == {"Bound"}  # Bound left every row


def test_the_api_refuses_a_request_without_credentials(
    api_server: ApiServer, context: BrowserContext, recorded: Recorded
) -> None:
    """Both endpoints answer 401/403 to a request with no credentials and 200 to the
    logged-in browser's cookie."""
    dag_id, group = VIEWS[0]
    query = {"dag_id": dag_id, "run_id": recorded.runs[dag_id], "task_id": f"{group}.plan"}
    endpoints = [("api/placement", query), ("api/claims", {})]
    (token,) = [c.get("value", "") for c in context.cookies() if c.get("name") == COOKIE]
    base_url = f"{api_server.base_url}/datalocality/"
    with (
        httpx.Client(base_url=base_url, timeout=30) as anonymous,
        httpx.Client(base_url=base_url, timeout=30, cookies={COOKIE: token}) as logged_in,
    ):
        for path, params in endpoints:
            refused = anonymous.get(path, params=params)
            assert refused.status_code in {401, 403}, (path, refused.status_code)
            allowed = logged_in.get(path, params=params)
            assert allowed.status_code == 200, (path, allowed.status_code, allowed.text[:300])


SCREENSHOTS_ENV = "DATALOCALITY_SCREENSHOTS"


def test_each_view_can_be_screenshot(
    api_server: ApiServer, context: BrowserContext, recorded: Recorded, tmp_path: Path
) -> None:
    """``save_screenshots`` (``make screenshots``) logs in on its own chromium, finds the
    newest run and writes a PNG of each of the three views."""
    dag_id, group = VIEWS[1]
    out_dir = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)  # `make screenshots` sets it
    out_dir.mkdir(parents=True, exist_ok=True)
    assert latest_run_id(context, dag_id) == recorded.runs[dag_id]
    # its own Playwright: the sync API allows one per thread, and this one has the tests'
    with ThreadPoolExecutor(1) as pool:
        written = pool.submit(
            save_screenshots,
            api_server.base_url,
            out_dir,
            dag_id=dag_id,
            group=group,
            username=USERNAME,
            password=PASSWORD,
        ).result(timeout=120)
    assert [p.name for p in written] == [
        "placement-plan.png",
        "placement-replica.png",
        "data-locality.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
