"""Clusters for datalocality's tests and demo, outside the product wheel.

* :func:`start_control_plane`: a real Kubernetes control plane (etcd, kube-apiserver,
  kube-scheduler, kube-controller-manager) built from Go modules, with kwok simulating the
  kubelets.
"""

from __future__ import annotations

from datalocality_testcluster.controlplane import ControlPlane, binaries, start_control_plane

__all__ = ["ControlPlane", "binaries", "start_control_plane"]
