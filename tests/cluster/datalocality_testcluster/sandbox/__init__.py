"""An embedded Kubernetes API emulator for tests and the demo. **It runs no containers.**

``start_sandbox(inventory)`` serves the Kubernetes REST API over plain HTTP on
``127.0.0.1`` (a free port) and writes a kubeconfig, so that the official ``kubernetes``
client and Airflow's KubernetesPodOperator talk to it as to a cluster. Behind the API:

* storage with one resourceVersion counter, 409 AlreadyExists/Conflict, the status
  subresource, finalizers and deletionTimestamp, owner references and cascading
  deletion, label and field selectors, and watches with 410 Gone;
* built-in kinds (namespaces, nodes, pods, configmaps, secrets, services,
  serviceaccounts, events, persistentvolumeclaims, batch/v1 jobs, coordination leases,
  CustomResourceDefinitions) and every CRD created at run time;
* nodes from an inventory (:mod:`~datalocality_testcluster.sandbox.inventory`);
* a binder honouring nodeSelector, node affinity, taints and resource requests
  (:mod:`~datalocality_testcluster.sandbox.scheduler`);
* a fake kubelet that moves pods Pending → Running → Succeeded/Failed and makes up
  their logs (:mod:`~datalocality_testcluster.sandbox.kubelet`), and a Job controller
  (:mod:`~datalocality_testcluster.sandbox.jobs`);
* fault injection (:mod:`~datalocality_testcluster.sandbox.faults`).

It is an honest emulator, not a cluster: no image is pulled, no process runs, no
network exists between pods, and what the pods "print" is made up from their
annotations and environment. See the README section "The embedded cluster (emulated)".
"""

from __future__ import annotations

from datalocality_testcluster.sandbox.cluster import Sandbox, start_sandbox
from datalocality_testcluster.sandbox.inventory import (
    Inventory,
    InventoryError,
    demo_inventory_path,
    load_inventory,
)
from datalocality_testcluster.sandbox.kubelet import KubeletTiming

__all__ = [
    "Inventory",
    "InventoryError",
    "KubeletTiming",
    "Sandbox",
    "demo_inventory_path",
    "load_inventory",
    "start_sandbox",
]
