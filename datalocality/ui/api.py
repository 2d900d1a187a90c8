"""The plugin's FastAPI app: placement views and the Data Locality page's data, and the
bundle that draws them.

Mounted by Airflow's API server under the plugin's ``URL_PREFIX``. Every data endpoint depends on
Airflow's own authentication (the UI's ``_token`` cookie or a Bearer token) and its
authorisation: a placement needs read access to the DAG's XComs, and the claims shown are
those of DAGs the user may read. Plans are read only through
:func:`~datalocality.operators.placement_view.read_placement`, claims only through the
provider's hook; a cluster that cannot be reached is one line in a 503.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.staticfiles import StaticFiles

from datalocality.errors import DataLocalityError, PlacementNotRecorded
from datalocality.operators.placement_view import read_placement
from datalocality.ui.locality import PHASES, build_locality_page
from datalocality.ui.sources import (
    fetch_claim_objects,
    open_dag_run_reader,
    placement_path,
    readable_dag_ids,
)

STATIC = Path(__file__).parent / "static"
BUNDLE = "datalocality.js"
CLUSTER_ERRORS = (DataLocalityError, OSError)  # what "the cluster cannot be reached" means


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def build_app(
    *,
    fetch_claims: Callable[[], tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]
    | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The app; ``fetch_claims`` (namespace, claims, sources) is the cluster seam."""
    app = FastAPI(title="Data Locality", docs_url=None, redoc_url=None, openapi_url=None)
    read_claims = fetch_claims or fetch_claim_objects

    @app.get(
        "/api/placement",
        dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.XCOM))],
    )
    def placement(
        dag_id: Annotated[str, Query(min_length=1, max_length=250)],
        run_id: Annotated[str, Query(min_length=1, max_length=250)],
        task_id: Annotated[str, Query(min_length=1, max_length=250)],
        map_index: Annotated[int, Query(ge=-1)] = -1,
    ) -> dict[str, Any]:
        """One task instance's Placement view (404 naming why there is none)."""
        try:
            with open_dag_run_reader(dag_id, run_id) as (dag, read_xcom):
                return read_placement(
                    dag, run_id=run_id, task_id=task_id, map_index=map_index, read_xcom=read_xcom
                )
        except PlacementNotRecorded as exc:
            raise HTTPException(status_code=404, detail=_one_line(exc)) from None

    @app.get("/api/claims")
    def claims(
        user: GetUserDep,
        dag_id: Annotated[str, Query(max_length=250)] = "",
        phase: Annotated[str, Query(max_length=20)] = "",
    ) -> dict[str, Any]:
        """The claims of the DAGs the user may read, with their sources (503: cluster down)."""
        if phase and phase not in PHASES:
            raise HTTPException(
                status_code=422, detail=f"phase {phase!r}: use one of {', '.join(PHASES)}"
            )
        readable = readable_dag_ids(user)
        try:
            namespace, claim_objects, source_objects = read_claims()
        except CLUSTER_ERRORS as exc:
            raise HTTPException(
                status_code=503, detail=f"cluster unreachable: {_one_line(exc)}"
            ) from None
        page = build_locality_page(
            claim_objects,
            source_objects,
            now=clock(),
            task_path=placement_path,
            readable_dags=readable,
            dag_id=dag_id,
            phase=phase,
        )
        return {"namespace": namespace, **page}

    # The bundle is built by `make` (datalocality/ui/frontend); missing, it answers 404.
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    return app
