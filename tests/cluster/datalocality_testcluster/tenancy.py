"""A namespace as a platform team would give one to the provider: the restricted Pod
Security Standard enforced, and the provider's service account bound to exactly the rights
``deploy/rbac.yaml`` grants, reached through a kubeconfig holding that account's token."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from datalocality_testcluster.controlplane import ControlPlane

RBAC = Path(__file__).resolve().parents[3] / "deploy" / "rbac.yaml"
SERVICE_ACCOUNT = "datalocality"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@dataclass(frozen=True)
class Tenant:
    """The namespace and the kubeconfig of the provider's service account in it."""

    namespace: str
    kubeconfig_path: Path


def rbac_documents(namespace: str, suffix: str = "") -> list[dict[str, Any]]:
    """``deploy/rbac.yaml`` retargeted at ``namespace`` (cluster-wide names get ``suffix``)."""
    documents = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    out = []
    for document in documents:
        doc = copy.deepcopy(document)
        meta = doc["metadata"]
        if doc["kind"] in {"ClusterRole", "ClusterRoleBinding"}:
            meta["name"] += suffix
        else:
            meta["namespace"] = namespace
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] += suffix
        for subject in doc.get("subjects") or []:
            subject["namespace"] = namespace
        out.append(doc)
    return out


def _create(api: client.ApiClient, doc: dict[str, Any]) -> None:
    rbac, core = client.RbacAuthorizationV1Api(api), client.CoreV1Api(api)
    kind, namespace = doc["kind"], doc["metadata"].get("namespace")
    if kind == "ServiceAccount":
        core.create_namespaced_service_account(namespace, doc)
    elif kind == "Role":
        rbac.create_namespaced_role(namespace, doc)
    elif kind == "RoleBinding":
        rbac.create_namespaced_role_binding(namespace, doc)
    elif kind == "ClusterRole":
        rbac.create_cluster_role(doc)
    elif kind == "ClusterRoleBinding":
        rbac.create_cluster_role_binding(doc)
    else:
        raise ValueError(f"deploy/rbac.yaml: unexpected kind {kind!r}")


@contextmanager
def provision_tenant(
    plane: ControlPlane, namespace: str, directory: Path, *, labels: dict[str, str] | None = None
) -> Iterator[Tenant]:
    """Create the namespace (or label an existing one, such as ``default``) and the RBAC,
    yield the tenant, delete what was created."""
    api = plane.api_client()
    core = client.CoreV1Api(api)
    documents = rbac_documents(namespace, suffix=f"-{namespace}")
    wanted = {**RESTRICTED, **(labels or {})}
    created = False
    try:
        try:
            core.create_namespace({"metadata": {"name": namespace, "labels": wanted}})
            created = True
        except ApiException as exc:
            if exc.status != 409:
                raise
            core.patch_namespace(namespace, {"metadata": {"labels": wanted}})
        for doc in documents:
            _create(api, doc)
        token = core.create_namespaced_service_account_token(
            SERVICE_ACCOUNT, namespace, {"spec": {"expirationSeconds": 24 * 3600}}
        ).status.token
        path = plane.kubeconfig_for_token(directory / f"{namespace}.kubeconfig", token, namespace)
        yield Tenant(namespace, path)
    finally:
        rbac = client.RbacAuthorizationV1Api(api)
        for doc in documents:
            try:
                if doc["kind"] == "ClusterRole":
                    rbac.delete_cluster_role(doc["metadata"]["name"])
                elif doc["kind"] == "ClusterRoleBinding":
                    rbac.delete_cluster_role_binding(doc["metadata"]["name"])
            except ApiException as exc:
                if exc.status != 404:
                    raise
        try:
            if created:
                core.delete_namespace(namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
        api.close()
