"""Argo example: a 3-replica trainer reads an Iceberg table, each replica where its files are.

The Argo twin of ``dags/iceberg_trainer.py``: ``warehouse.ml.events`` is resolved through
the same resolvers config (``dags/data/resolvers.yaml``, the static resolver standing in
for an Iceberg catalog) and planned on ``topology.yaml`` when the workflow is built, so
rendering it needs no network. The DAG's ``train`` task becomes ``train-0`` ..
``train-2``, each with its node affinity and its chunk list (a ConfigMap created before
the workflow)::

    python examples/argo/iceberg_trainer.py            # print the manifests
    python examples/argo/iceberg_trainer.py --write    # rewrite iceberg_trainer.yaml
    kubectl create -f examples/argo/iceberg_trainer.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from hera.workflows import DAG, Container, Workflow

from datalocality import DataInput
from datalocality.argo import ArgoPlacement
from datalocality.argo.manifests import build_manifests, write_or_print
from datalocality.argo.resolve import resolve_planned
from datalocality.model import Consumer, Topology

HERE = Path(__file__).resolve().parent
RESOLVERS = HERE.parents[1] / "dags" / "data" / "resolvers.yaml"
TOPOLOGY = HERE / "topology.yaml"
REQUESTS = {"cpu": "1", "memory": "2Gi"}


def build(namespace: str = "default") -> list[dict[str, Any]]:
    """The chunk-list ConfigMaps and the Workflow, for pods in ``namespace``."""
    planned = resolve_planned(
        [DataInput(system="iceberg", name="warehouse.ml.events")],
        Consumer.parse(
            {
                "name": "train",
                "replicas": 3,
                "requests": REQUESTS,
                "topology": {"mode": "soft", "highestTierAllowed": 1},
            }
        ),
        Topology.parse(yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))),
        resolvers_config=RESOLVERS,
    )
    placement = ArgoPlacement(name="train", namespace=namespace, planned=planned, requests=REQUESTS)
    with Workflow(
        generate_name="iceberg-trainer-", entrypoint="main", namespace=namespace
    ) as workflow:
        train = Container(
            name="train",
            image="trainer:1",
            command=["python", "-m", "trainer", "--chunks", "/etc/datalocality/chunks.json"],
            **placement.template_kwargs(),
        )
        with DAG(name="main"):
            train(name="train")
    return build_manifests(workflow, [placement])


if __name__ == "__main__":
    write_or_print(build(), Path(__file__), sys.argv[1:])
