"""The UI plugin's API inside Airflow's own API server app, on what a real run recorded.

``chunk_pipeline`` runs once with ``dag.test()`` on the embedded cluster (its release
teardown kept back, so the claims stay); Airflow's ``create_app()`` then serves the
plugin's app with its real auth manager, and each test asks it what the UI would.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from datalocality_testcluster.clusters import ProviderCluster, start_cluster
from tests.airflow.support import objects, run_dag, xcom_value

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

DAG_ID = "chunk_pipeline"


@pytest.fixture(scope="module")
def recorded(airflow_db: Path) -> Iterator[tuple[ProviderCluster, Any]]:
    """The embedded cluster and a finished run of chunk_pipeline on it."""
    with start_cluster("sandbox") as cluster, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATALOCALITY_KUBECONFIG", str(cluster.kubeconfig_path))
        run = run_dag(DAG_ID, "chunk_pipeline.py")
        yield cluster, run


@pytest.fixture(scope="module")
def api(recorded: tuple[ProviderCluster, Any]) -> Iterator[TestClient]:
    """Airflow's whole API server app (the plugin mounted by Airflow itself)."""
    from airflow.api_fastapi.app import create_app

    with warnings.catch_warnings():  # Starlette's test client warns that it prefers httpx2
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    cluster, _ = recorded
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATALOCALITY_KUBECONFIG", str(cluster.kubeconfig_path))
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "datalocality-ui-test-" + "0" * 64)
        with TestClient(create_app("all")) as client:
            yield client


def _token(role: str | None) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="u", role=role))
    return {"Authorization": f"Bearer {token}"}


ADMIN = "admin"


def _placement(
    api: TestClient, run: Any, task_id: str, map_index: int = -1, role: str | None = ADMIN
) -> Any:
    query = {"dag_id": DAG_ID, "run_id": run.run_id, "task_id": task_id, "map_index": map_index}
    return api.get("/datalocality/api/placement", params=query, headers=_token(role))


def test_no_credentials_get_401_and_a_user_without_a_role_403(
    api: TestClient, recorded: tuple[ProviderCluster, Any]
) -> None:
    """Neither endpoint answers cluster data to a caller Airflow does not authorise."""
    _, run = recorded
    query = {"dag_id": DAG_ID, "run_id": run.run_id, "task_id": "sessionize.plan"}
    assert api.get("/datalocality/api/placement", params=query).status_code == 401
    assert api.get("/datalocality/api/claims").status_code == 401
    assert _placement(api, run, "sessionize.plan", role=None).status_code == 403
    # the claims a role-less user may see: none (no DAG is readable to them)
    answer = api.get("/datalocality/api/claims", headers=_token(None))
    assert answer.status_code == 200 and answer.json()["claims"] == []


def test_the_plan_tasks_view_is_the_recorded_plan(
    api: TestClient, recorded: tuple[ProviderCluster, Any]
) -> None:
    """Replicas, totals and operations come from the plan XCom, the layout's nodes from
    the chunks' real locations, and the chunk lists' addresses stay out."""
    _, run = recorded
    answer = _placement(api, run, "sessionize.plan")
    assert answer.status_code == 200, answer.text
    view = answer.json()
    plan = xcom_value(DAG_ID, run.run_id, "sessionize.plan", key="plan")
    assert view["role"] == "plan" and view["highlight"] is None
    assert view["plan"]["replicas"] == plan["replicas"]
    assert view["plan"]["totals"] == plan["totals"] and plan["totals"]["chunks"] == 12
    assert len(view["plan"]["operations"]) == len(plan["operations"]) > 0
    assert "chunk_lists" not in view["plan"]
    held = {node["name"]: node["held_chunks"] for node in view["layout"]["nodes"]}
    assert held["worker-a1"] == 9 and held["worker-b1"] == 3  # where extract wrote them
    placed = sorted(i for node in view["layout"]["nodes"] for i in node["replicas"])
    assert placed == [r["index"] for r in plan["replicas"]]
    assert view["baseline"]["moved_bytes"] >= plan["totals"]["moved_bytes"]


def test_a_mapped_replica_and_a_producer_find_their_plan(
    api: TestClient, recorded: tuple[ProviderCluster, Any]
) -> None:
    """A replica's view highlights its own replica; a producer's plan is downstream."""
    _, run = recorded
    replica = _placement(api, run, "sessionize.replica", map_index=1).json()
    assert (replica["plan_task"], replica["role"]) == ("sessionize.plan", "replica")
    assert replica["highlight"] == {"replica": 1}
    producer = _placement(api, run, "extract.collect").json()
    assert (producer["plan_task"], producer["role"]) == ("sessionize.plan", "producer")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"task_id": "sessionize.nope"}, "places no data"),
        ({"run_id": "manual__never"}, "has no run 'manual__never'"),
        ({"dag_id": "nope"}, "DAG 'nope' has no run"),
    ],
)
def test_a_view_that_cannot_be_shown_is_a_404_saying_why(
    api: TestClient, recorded: tuple[ProviderCluster, Any], query: dict[str, str], words: str
) -> None:
    _, run = recorded
    params = {"dag_id": DAG_ID, "run_id": run.run_id, "task_id": "sessionize.plan", **query}
    answer = api.get("/datalocality/api/placement", params=params, headers=_token(ADMIN))
    assert answer.status_code == 404
    assert words in answer.json()["detail"]


def test_the_claims_page_lists_the_runs_claims_with_their_sources(
    api: TestClient, recorded: tuple[ProviderCluster, Any]
) -> None:
    """Each DataSourceClaim in the cluster is one row, with its bound source's figures
    and a link to its plan task's Placement tab; filtering by phase and DAG works."""
    cluster, run = recorded
    answer = api.get("/datalocality/api/claims", headers=_token(ADMIN))
    assert answer.status_code == 200, answer.text
    page = answer.json()
    mine = [c for c in page["claims"] if c["run_id"] == run.run_id]
    claims = [
        c
        for c in objects(cluster, "datalocality.io", "datasourceclaims")
        if c["metadata"]["annotations"]["datalocality.io/run-id"] == run.run_id
    ]
    assert sorted(c["name"] for c in mine) == sorted(c["metadata"]["name"] for c in claims)
    by_name = {c["metadata"]["name"]: c for c in claims}
    for row in mine:
        assert row["phase"] == by_name[row["name"]]["status"]["phase"] == "Bound"
        assert row["source"] == by_name[row["name"]]["status"]["boundDataSource"]
        assert row["chunk_count"] == 12 and row["bytes"] == 12 * 256 * 1024 * 1024
        assert row["placement_path"].startswith(f"dags/{DAG_ID}/runs/")
        assert row["placement_path"].endswith("/tasks/sessionize.plan/plugin/placement")
    assert {s["name"] for s in page["sources"]} >= {row["source"] for row in mine}
    lost = api.get("/datalocality/api/claims", params={"phase": "Lost"}, headers=_token(ADMIN))
    assert all(c["phase"] == "Lost" for c in lost.json()["claims"])
    other = api.get("/datalocality/api/claims", params={"dag_id": "x"}, headers=_token(ADMIN))
    assert other.json()["claims"] == []


def test_a_bad_phase_is_refused_naming_it(api: TestClient) -> None:
    answer = api.get("/datalocality/api/claims", params={"phase": "bound"}, headers=_token(ADMIN))
    assert answer.status_code == 422
    assert "phase 'bound'" in answer.json()["detail"]


def test_an_unreachable_cluster_is_one_line(
    api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kubeconfig pointing at a closed port: a 503 whose detail is one line."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv("DATALOCALITY_KUBECONFIG", str(path))
    answer = api.get("/datalocality/api/claims", headers=_token(ADMIN))
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert detail.startswith("cluster unreachable: ") and "\n" not in detail


def test_no_cluster_access_configured_is_one_line_too(
    api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API server given no kubeconfig nor connection: a 503 saying so, not a 500."""
    monkeypatch.delenv("DATALOCALITY_KUBECONFIG")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    answer = api.get("/datalocality/api/claims", headers=_token(ADMIN))
    assert answer.status_code == 503
    assert "no cluster access is configured" in answer.json()["detail"]


def test_the_bundle_is_served_without_credentials(api: TestClient) -> None:
    """The JavaScript holds no data, so the UI can load it like its own assets."""
    from datalocality.ui.api import BUNDLE, STATIC

    assert (STATIC / BUNDLE).exists(), "the bundle is not built: run `make ui`"
    answer = api.get(f"/datalocality/static/{BUNDLE}")
    assert answer.status_code == 200 and b"Data Locality" in answer.content
