"""Argo example: producers write chunks, a step of the workflow plans the consumer on them.

The Argo twin of ``dags/chunk_pipeline.py``. ``extract`` runs as two producer tasks
(``extract-0``, ``extract-1``); each writes its parts and reports them as
``{"chunks": [{"id": ..., "size": ...}]}`` in ``$DATALOCALITY_REPORT``, which Argo returns
as an output parameter. ``sessionize-plan`` then runs the provider's plan step (in
``PLAN_IMAGE``, an image with the provider installed, as the ``datalocality`` service
account of ``deploy/rbac.yaml``): one DataSource from both reports, each chunk on the
node its producer ran on (``{{tasks.extract-0.hostNodeName}}``), the cluster's nodes
read, the three replicas planned and their chunk lists written as ConfigMaps owned by
the Workflow. ``sessionize-0`` .. ``sessionize-2`` take their node affinity and chunk
list from the step's outputs::

    python examples/argo/chunk_pipeline.py            # print the workflow
    python examples/argo/chunk_pipeline.py --write    # rewrite chunk_pipeline.yaml
    kubectl create -f examples/argo/chunk_pipeline.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hera.workflows import DAG, Container, Workflow

from datalocality.argo import ArgoProducer, RuntimePlacement
from datalocality.argo.manifests import build_manifests, write_or_print
from datalocality.model import Consumer

PLAN_IMAGE = "registry.example.com/airflow-provider-datalocality:0.1.0"
SERVICE_ACCOUNT = "datalocality"  # deploy/rbac.yaml's


def build(namespace: str = "default") -> list[dict[str, Any]]:
    """The Workflow (its chunk lists are written by its plan step), for ``namespace``."""
    extract = ArgoProducer(name="extract", replicas=2, source_name="clickstream-parts")
    sessionize = RuntimePlacement(
        name="sessionize",
        namespace=namespace,
        consumer=Consumer.parse(
            {"name": "sessionize", "replicas": 3, "requests": {"cpu": "500m", "memory": "1Gi"}}
        ),
        producers=(extract,),
        plan_image=PLAN_IMAGE,
        service_account=SERVICE_ACCOUNT,
    )
    with Workflow(
        generate_name="chunk-pipeline-", entrypoint="main", namespace=namespace
    ) as workflow:
        writer = Container(
            name="extract",
            image="etl:1",
            command=["etl", "--parts", "6", "--report", "$(DATALOCALITY_REPORT)"],
            **extract.template_kwargs(),
        )
        reader = Container(
            name="sessionize",
            image="sessionize:1",
            command=["sessionize", "--chunks", "/etc/datalocality/chunks.json"],
            **sessionize.template_kwargs(),
        )
        with DAG(name="main"):
            writer(name="extract") >> reader(name="sessionize")  # type: ignore[operator]
    return build_manifests(workflow, [])


if __name__ == "__main__":
    write_or_print(build(), Path(__file__), sys.argv[1:])
