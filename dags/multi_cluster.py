"""Example 3: data that must stay in its cluster, pinned there by a Karmada policy.

``/logs/clicks`` lives in cluster ``eu`` and requires locality (it may not be read from
another cluster), so the plan keeps every replica in ``eu``; ``karmada_policy`` builds the
PropagationPolicy that pins the replicas' pods to the plan's clusters and applies it to
the plan's cluster, the Karmada apiserver (created, adopted on a retry, updated when a
rerun planned other clusters; on a cluster that serves no Karmada CRD it is only rendered,
and said so), then one pod per replica runs.

A Karmada apiserver lists no member nodes: set ``DATALOCALITY_KARMADA_MEMBERS`` to JSON
``{"eu": "/path/eu.kubeconfig", "us": "/path/us.kubeconfig"}`` and the plan reads each
member's nodes from its own apiserver. Without it the plan's cluster's nodes are read,
labelled ``datalocality.io/cluster``; try that with
``datalocality-cluster sandbox up --inventory dags/data/multi_cluster_inventory.yaml``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import DAG, task

from datalocality import DataInput
from datalocality.errors import ApiRejected
from datalocality.kube.karmada import build_propagation_policy, plan_clusters
from datalocality.kube.members import apply_propagation_policy
from datalocality.kube.names import LABEL_DAG_ID, TaskKey, label_value
from datalocality.operators import DataLocalityPlanOperator, DataLocalityPodOperator, cluster_access
from datalocality.operators.plan_store import plan_from_summary
from datalocality.provider.access import KubeAccess
from datalocality.provider.hook import DataLocalityHook

RESOLVERS = str(Path(__file__).with_name("data") / "resolvers.yaml")
MEMBERS = {
    name: KubeAccess(None, config_file=path, in_cluster=False).kwargs()
    for name, path in json.loads(os.environ.get("DATALOCALITY_KARMADA_MEMBERS", "{}")).items()
}


with DAG(
    "multi_cluster",
    schedule=None,
    catchup=False,
    tags=["datalocality", "example", "karmada"],
    doc_md=__doc__,
):
    plan = DataLocalityPlanOperator(
        task_id="plan",
        inputs=[DataInput(system="hdfs", data_source_type="directory", name="/logs/clicks")],
        replicas=2,
        requests={"cpu": "1", "memory": "1Gi"},
        resolvers_config=RESOLVERS,
        member_clusters=MEMBERS or None,
        **cluster_access(),
    )

    @task
    def karmada_policy(placement: dict[str, Any], **context: Any) -> dict[str, Any]:
        """The PropagationPolicy keeping the replicas' pods in the plan's clusters (from the
        plan's summary: the clusters need no chunk lists), applied to the Karmada apiserver."""
        ti = context["ti"]
        key = TaskKey(dag_id=ti.dag_id, run_id=context["run_id"], task_id=ti.task_id)
        policy = build_propagation_policy(
            task=key,
            namespace="default",
            clusters=plan_clusters(plan_from_summary(placement)),
            resource_selectors=[
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "labelSelector": {"matchLabels": {LABEL_DAG_ID: label_value(ti.dag_id)}},
                }
            ],
        )
        print(yaml.safe_dump(policy, sort_keys=False))
        client = DataLocalityHook(access=KubeAccess(**cluster_access())).get_kube_client()
        try:
            stored = apply_propagation_policy(client, policy)
            print(f"applied PropagationPolicy default/{stored['metadata']['name']}")
        except ApiRejected as exc:
            if exc.status != 404:
                raise
            print(f"rendered only: {exc}")  # not a Karmada apiserver
        finally:
            client.api.close()
        return policy

    rendered = karmada_policy(plan.output["plan"])
    pods = DataLocalityPodOperator.partial(
        task_id="replica",
        image="reader:1",
        on_finish_action="keep_pod",
        startup_check_interval_seconds=1,
        **cluster_access(),
    ).expand_kwargs(plan.output)
    rendered >> pods
