"""The real control plane for the tests of this directory: one per module (about 3 s to
start), each test in a fresh namespace enforcing the restricted Pod Security Standard, as
the provider's service account bound by ``deploy/rbac.yaml``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs

from datalocality.kube.claims import crd_manifests
from datalocality_testcluster import ControlPlane, start_control_plane
from datalocality_testcluster.tenancy import Tenant, provision_tenant
from tests.kube.conftest import api_client_for


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    with start_control_plane(None, crds=crd_manifests()) as plane:
        yield plane
        assert plane.errors == []


@pytest.fixture
def admin(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    api = control_plane.api_client()
    yield api
    api.close()


@pytest.fixture
def tenant(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Tenant]:
    with provision_tenant(control_plane, f"t-{uuid.uuid4().hex[:8]}", tmp_path) as made:
        yield made


@pytest.fixture
def provider(tenant: Tenant) -> Iterator[client.ApiClient]:
    """The provider's identity: the service account of ``deploy/rbac.yaml``."""
    api = api_client_for(tenant.kubeconfig_path)
    yield api
    api.close()
