"""One way for end-to-end tests to get a cluster: the real control plane or the emulator.

``start_cluster("kube")`` starts the real control plane and makes its ``default``
namespace what a platform team would hand over (restricted Pod Security, the provider's
service account bound by ``deploy/rbac.yaml``); the provider's tasks get that account's
kubeconfig, the test reads back as admin. ``start_cluster("sandbox")`` is the embedded
emulator, where both are the same.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kubernetes.client import CoreV1Api  # type: ignore[import-untyped]

from datalocality.kube.claims import crd_manifests
from datalocality_testcluster.controlplane import start_control_plane
from datalocality_testcluster.sandbox import KubeletTiming, start_sandbox
from datalocality_testcluster.tenancy import RESTRICTED, provision_tenant
from datalocality_testcluster.view import Cluster

Kind = Literal["kube", "sandbox"]
KINDS: tuple[Kind, ...] = ("kube", "sandbox")
FAST = KubeletTiming(start_seconds=0.05, run_seconds=0.2)


@dataclass(frozen=True)
class ProviderCluster:
    """A running cluster: the provider's kubeconfig, and admin access for the test."""

    kind: Kind
    kubeconfig_path: Path  # what the provider's tasks use
    admin: Cluster

    @property
    def errors(self) -> list[str]:
        return self.admin.errors

    def api_client(self) -> Any:
        """An admin ApiClient (close it after use)."""
        return self.admin.api_client()


@contextmanager
def start_cluster(
    kind: Kind, inventory: Any = None, *, run_seconds: float = 0.2
) -> Iterator[ProviderCluster]:
    """The cluster of one kind with our CRDs; stopped and removed on exit."""
    if kind == "sandbox":
        timing = KubeletTiming(start_seconds=0.05, run_seconds=run_seconds)
        with start_sandbox(inventory, timing=timing, crds=crd_manifests()) as sandbox:
            with sandbox.api_client() as api:  # restricted, as on the real control plane
                CoreV1Api(api).patch_namespace("default", {"metadata": {"labels": RESTRICTED}})
            yield ProviderCluster(kind, sandbox.kubeconfig_path, sandbox)
        return
    with (
        start_control_plane(
            inventory, crds=crd_manifests(), default_run_seconds=run_seconds
        ) as plane,
        tempfile.TemporaryDirectory(prefix="datalocality-tenant-") as directory,
        provision_tenant(plane, "default", Path(directory)) as tenant,
    ):
        yield ProviderCluster(kind, tenant.kubeconfig_path, plane)
