"""What tests read back from a cluster, the same way for the real control plane and the
embedded emulator: through the API, as an admin, never from a store behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

Obj = dict[str, Any]
VERSIONS = {
    "": "v1",
    "batch": "v1",
    "datalocality.io": "v1alpha1",
    "scheduling.volcano.sh": "v1beta1",
    "policy.karmada.io": "v1alpha1",
}


class Cluster(Protocol):
    """The part of ``ControlPlane`` and ``Sandbox`` that tests use."""

    @property
    def kubeconfig_path(self) -> Path: ...

    @property
    def errors(self) -> list[str]: ...

    def api_client(self) -> Any: ...


def list_objects(cluster: Cluster, group: str, plural: str, namespace: str = "") -> list[Obj]:
    """Every object of one kind (in one namespace, or all), as plain manifests."""
    version = VERSIONS[group]
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    api = cluster.api_client()
    try:
        data, _, _ = api.call_api(
            path,
            "GET",
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            response_types_map={200: "object"},
            _return_http_data_only=False,
        )
    finally:
        api.close()
    items: list[Obj] = list(data.get("items") or [])
    return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
