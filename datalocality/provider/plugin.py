"""The Airflow plugin: registers what the UI needs from this provider.

Loaded through the ``airflow.plugins`` entry point, so it works under Airflow's default
settings (no plugins folder). Importing it imports only Airflow and the links module; the
FastAPI app (and with it the kube client) is built the first time the API server asks for
``fastapi_apps``, so the scheduler and workers pay nothing for it.

Two React apps from one bundle (``datalocality/ui/frontend``, built into ``ui/static``):
a **Placement** tab on every task instance and a **Data Locality** page in the navigation.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from datalocality.provider.links import PLACEMENT_ROUTE, PlacementPlanLink

URL_PREFIX = "/datalocality"
BUNDLE_URL = "datalocality/static/datalocality.js"  # relative: the UI resolves it on its base
PAGE_ROUTE = "data-locality"

REACT_APPS: list[dict[str, Any]] = [
    {
        "name": "Placement",
        "bundle_url": BUNDLE_URL,
        "destination": "task_instance",
        "url_route": PLACEMENT_ROUTE,
    },
    {
        "name": "Data Locality",
        "bundle_url": BUNDLE_URL,
        "destination": "nav",
        "url_route": PAGE_ROUTE,
        "category": "browse",
    },
]


@cache
def _fastapi_apps() -> list[dict[str, Any]]:
    api = importlib.import_module("datalocality.ui.api")
    return [{"app": api.build_app(), "url_prefix": URL_PREFIX, "name": "Data Locality API"}]


class DataLocalityPlugin(AirflowPlugin):
    """Data locality's UI pieces: the Placement tab, the Data Locality page, their API,
    and the extra link to the Placement tab."""

    name = "datalocality"
    operator_extra_links = [PlacementPlanLink()]  # noqa: RUF012 - AirflowPlugin's own API
    react_apps = REACT_APPS

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The API app, built on first use (Airflow reads this from a plugin instance)."""
        return _fastapi_apps()
