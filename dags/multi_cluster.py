"""Example 3: data that must stay in its cluster, placement rendered as a Karmada policy.

``/logs/clicks`` lives in cluster ``eu`` and requires locality (it may not be read from
another cluster). Against a Karmada control plane, whose API aggregates the member
clusters' nodes (labelled ``datalocality.io/cluster``), the plan keeps every replica in
``eu``; ``karmada_policy`` renders the PropagationPolicy that pins the replicas' pods to
the plan's clusters (pushed to XCom and logged as YAML), then one pod per replica runs.
Try it with ``datalocality-cluster sandbox up --inventory dags/data/multi_cluster_inventory.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from airflow.sdk import DAG, task

from datalocality import DataInput
from datalocality.kube.karmada import build_propagation_policy, plan_clusters
from datalocality.kube.names import LABEL_DAG_ID, TaskKey, label_value
from datalocality.operators import DataLocalityPlanOperator, DataLocalityPodOperator, cluster_access
from datalocality.operators.plan_store import plan_from_summary

RESOLVERS = str(Path(__file__).with_name("data") / "resolvers.yaml")


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
        **cluster_access(),
    )

    @task
    def karmada_policy(placement: dict[str, Any], **context: Any) -> dict[str, Any]:
        """The PropagationPolicy keeping the replicas' pods in the plan's clusters (from the
        plan's summary: the clusters need no chunk lists)."""
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
