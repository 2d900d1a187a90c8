"""Argo Workflows' real workflow-controller on the real control plane: one plane (with
datalocality's CRDs, as in tests/realkube) and one controller per module (about 4 s and
3 s to start), managing a namespace that enforces the restricted Pod Security Standard and
holds the provider's service account (``provision_tenant``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from datalocality.kube.claims import crd_manifests
from datalocality_testcluster import ControlPlane, start_control_plane
from datalocality_testcluster.argo import ArgoController, start_argo
from datalocality_testcluster.tenancy import Tenant, provision_tenant


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    with start_control_plane(None, crds=crd_manifests()) as plane:
        yield plane
        assert plane.errors == []


@pytest.fixture(scope="module")
def argo_tenant(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tenant]:
    """The namespace the controller manages, and the provider's kubeconfig in it."""
    namespace = f"argo-{uuid.uuid4().hex[:8]}"
    with provision_tenant(control_plane, namespace, tmp_path_factory.mktemp("argo")) as tenant:
        yield tenant


@pytest.fixture(scope="module")
def argo(control_plane: ControlPlane, argo_tenant: Tenant) -> Iterator[ArgoController]:
    with start_argo(control_plane, argo_tenant.namespace) as controller:
        yield controller
