"""The kinds the provider reads and writes, and the REST paths that serve them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.names import GROUP
from datalocality.model.names import check_dns_label, check_dns_subdomain

CRD_VERSION = "v1alpha1"
CRD_API_VERSION = f"{GROUP}/{CRD_VERSION}"


@dataclass(frozen=True)
class Resource:
    """One kind: its apiVersion, plural and scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True
    status_subresource: bool = False

    @property
    def group(self) -> str:
        """The API group ('' for the core group)."""
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        """The REST path of the collection, an object, or an object's subresource; a
        namespace or name that is not one (``a/b``, ``..``) cannot reach another path."""
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        if self.namespaced:
            if not namespace:
                raise SpecError("namespace", namespace, f"{self.kind} is namespaced")
            base += f"/namespaces/{check_dns_label('namespace', namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{check_dns_subdomain('name', name)}"
            if subresource:
                base += f"/{subresource}"
        return base


RESOURCES: tuple[Resource, ...] = (
    Resource("v1", "ConfigMap", "configmaps"),
    Resource("v1", "Pod", "pods", status_subresource=True),
    Resource("batch/v1", "Job", "jobs", status_subresource=True),
    Resource(CRD_API_VERSION, "DataSourceClaim", "datasourceclaims", status_subresource=True),
    Resource(CRD_API_VERSION, "DataSource", "datasources", False, status_subresource=True),
    Resource(CRD_API_VERSION, "DataSourceSlice", "datasourceslices", False),
    Resource("scheduling.volcano.sh/v1beta1", "PodGroup", "podgroups", status_subresource=True),
    Resource("policy.karmada.io/v1alpha1", "PropagationPolicy", "propagationpolicies"),
    Resource(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False
    ),
)
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}


def resource_for(api_version: str, kind: str) -> Resource:
    """The resource serving ``kind`` in ``api_version``; SpecError for a kind we don't use."""
    found = _BY_KIND.get((api_version, kind))
    if found is None:
        raise SpecError("kind", f"{api_version}/{kind}", "is not a kind the provider manages")
    return found


def resource_of(manifest: Mapping[str, Any]) -> Resource:
    """The resource a manifest belongs to."""
    return resource_for(str(manifest.get("apiVersion", "")), str(manifest.get("kind", "")))


CONFIGMAPS = resource_for("v1", "ConfigMap")  # the chunk lists
JOBS = resource_for("batch/v1", "Job")  # the operations' Jobs: created, waited for, deleted
CLAIMS = resource_for(CRD_API_VERSION, "DataSourceClaim")
SOURCES = resource_for(CRD_API_VERSION, "DataSource")
SLICES = resource_for(CRD_API_VERSION, "DataSourceSlice")
NODES = Resource("v1", "Node", "nodes", namespaced=False)  # read for the topology
ALL_PODS = Resource("v1", "Pod", "pods", namespaced=False)  # listed across namespaces
