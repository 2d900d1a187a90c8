"""Clusters for datalocality's tests and demo, outside the product wheel.

* :func:`start_control_plane`: a real Kubernetes control plane (etcd, kube-apiserver,
  kube-scheduler, kube-controller-manager) built from Go modules, with kwok simulating the
  kubelets.
* :func:`start_argo`: Argo Workflows' workflow-controller (built from its Go module) on
  such a control plane, managing one namespace.
"""

from __future__ import annotations

from datalocality_testcluster.argo import ArgoController, start_argo
from datalocality_testcluster.controlplane import ControlPlane, binaries, start_control_plane

__all__ = ["ArgoController", "ControlPlane", "binaries", "start_argo", "start_control_plane"]
