"""The Argo examples: their committed manifests are what the scripts build, and valid.

Regenerate them with ``python examples/argo/<name>.py --write`` (never in CI)."""

from __future__ import annotations

import kubernetes_validate
import yaml

from datalocality.argo.manifests import dump_manifests
from datalocality.argo.placement import NODE_PARAMETER
from datalocality.argo.schema import check_workflow
from datalocality.kube.topology import build_topology
from datalocality.model import Topology
from datalocality_testcluster.sandbox.inventory import load_inventory
from datalocality_testcluster.sandbox.podsecurity import restricted_violations
from tests.argo.support import (
    EXAMPLES,
    affinity_node,
    argo_pod,
    arguments_of,
    load_example,
    templates_by_name,
)

SCRIPTS = ("iceberg_trainer", "chunk_pipeline")


def test_the_examples_topology_is_the_embedded_clusters() -> None:
    inventory = load_inventory(None)
    saved = Topology.parse(yaml.safe_load((EXAMPLES / "topology.yaml").read_text()))
    assert saved == build_topology(inventory.nodes, inventory.reserved_pods)


def test_committed_manifests_are_what_the_scripts_build() -> None:
    for name in SCRIPTS:
        built = load_example(name).build()
        committed = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
        assert dump_manifests(built, f"examples/argo/{name}.py") == committed, (
            f"examples/argo/{name}.yaml is stale: run python examples/argo/{name}.py --write"
        )


def test_each_examples_workflow_and_replica_pods_validate_strictly() -> None:
    for name in SCRIPTS:
        *configmaps, workflow = load_example(name).build()
        check_workflow(workflow)
        for configmap in configmaps:
            kubernetes_validate.validate(configmap, "1.33", strict=True)
        templates = templates_by_name(workflow)
        tasks = [
            t for template in templates.values() for t in template.get("dag", {}).get("tasks", [])
        ]
        placed = [t for t in tasks if NODE_PARAMETER in arguments_of(t)]
        assert placed, name
        # a plan made in the workflow: the step's outputs, known when it has run
        placed = [t for t in placed if not arguments_of(t)[NODE_PARAMETER].startswith("{{")]
        for task in placed:
            pod = argo_pod(templates[task["template"]], arguments_of(task))
            kubernetes_validate.validate(pod, "1.33", strict=True)
            assert restricted_violations(pod["spec"]) == []
            assert affinity_node(pod["spec"]["affinity"]) == arguments_of(task)[NODE_PARAMETER]
