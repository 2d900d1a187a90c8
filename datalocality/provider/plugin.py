"""The Airflow plugin: registers what the UI needs from this provider.

Loaded through the ``airflow.plugins`` entry point, so it works under Airflow's default
settings (no plugins folder). It imports only Airflow and the links module: no kubernetes
or hera, so the API server and scheduler pay nothing for it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from datalocality.provider.links import PlacementPlanLink


class DataLocalityPlugin(AirflowPlugin):
    """Data locality's UI pieces: the placement-plan extra link for now."""

    name = "datalocality"
    operator_extra_links = [PlacementPlanLink()]  # noqa: RUF012 - AirflowPlugin's own API
