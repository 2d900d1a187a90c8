"""Every built-in manifest validates strictly, meets the restricted profile, and is pinned.

Goldens live in tests/kube/golden/; regenerate them with
``DATALOCALITY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/kube/test_manifests.py`` and review
the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from datalocality.kube.affinity import AffinityPolicy
from datalocality.kube.chunk_lists import build_chunk_lists
from datalocality.kube.claims import build_data_source, build_data_source_claim, crd_manifests
from datalocality.kube.jobs import JobTemplate, build_operation_jobs
from datalocality.kube.karmada import build_propagation_policy, plan_clusters
from datalocality.kube.names import build_claim_name, build_data_source_name, build_name
from datalocality.kube.pods import PodTemplate, build_replica_pods
from datalocality.kube.slices import build_slices
from datalocality.kube.volcano import build_pod_group, pod_group_name
from datalocality.model import DataSourceClaim
from datalocality_testcluster.sandbox.podsecurity import restricted_violations
from tests.kube.support import CONSUMER, INPUT, PLAN, PLAN_TASK, SOURCE, TASK, TOPOLOGY

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DATALOCALITY_UPDATE_GOLDEN") == "1"
NAMESPACE = "data"
SOURCE_UID = "3b0d4f52-6a8e-4f3c-9a51-0d5b1c2e7f90"  # as the API server would set it
TEMPLATE = PodTemplate(
    image="trainer:1",
    command=["python", "-m", "trainer"],
    env={"MODE": "train"},
    requests={"cpu": "500m", "memory": "1Gi"},
    limits={"memory": "2Gi"},
    run_as_user=1000,
)
# The ConfigMap a Vineyard operator writes for the consumer; the pods only name it.
VINEYARD_CONFIGMAP = build_name(TASK, "vineyard", "extract")


CHUNK_LISTS = build_chunk_lists(PLAN, task=PLAN_TASK, namespace=NAMESPACE)


def chunk_configmap() -> dict[str, Any]:
    (configmap,) = build_chunk_lists(PLAN, task=PLAN_TASK, namespace=NAMESPACE).configmaps
    return configmap


def replica_pods() -> list[dict[str, Any]]:
    return build_replica_pods(
        PLAN,
        task=TASK,
        namespace=NAMESPACE,
        topology=TOPOLOGY,
        template=TEMPLATE,
        chunk_lists=CHUNK_LISTS,
        policy=AffinityPolicy.for_consumer(CONSUMER),
        vineyard_configmap=VINEYARD_CONFIGMAP,
        pod_group=pod_group_name(TASK),
    )


def operation_jobs() -> list[dict[str, Any]]:
    return build_operation_jobs(
        PLAN,
        task=PLAN_TASK,
        namespace=NAMESPACE,
        template=JobTemplate(image="repartition:1", run_as_user=1000),
        chunk_lists=CHUNK_LISTS,
        topology=TOPOLOGY,
    )


def builtin_manifests() -> dict[str, dict[str, Any]]:
    manifests = {
        "configmap-chunk-lists": chunk_configmap(),
    }
    for pod in replica_pods():
        manifests[f"pod-replica-{pod['metadata']['labels']['datalocality.io/map-index']}"] = pod
    for index, job in enumerate(operation_jobs()):
        manifests[f"job-operation-{index}"] = job
    for crd in crd_manifests():
        manifests[f"crd-{crd['spec']['names']['singular']}"] = crd
    return manifests


def custom_manifests() -> dict[str, dict[str, Any]]:
    claim = DataSourceClaim(name=build_claim_name(TASK, INPUT), input=INPUT)
    (source_slice,) = build_slices(build_data_source_name(SOURCE), SOURCE_UID, SOURCE.chunks)
    return {
        "datasourceclaim": build_data_source_claim(claim, task=TASK, namespace=NAMESPACE),
        "datasource": build_data_source(build_data_source_name(SOURCE), SOURCE),
        "datasourceslice": source_slice,
        "podgroup": build_pod_group(CONSUMER, task=TASK, namespace=NAMESPACE),
        "propagationpolicy": build_propagation_policy(
            task=TASK,
            namespace=NAMESPACE,
            clusters=plan_clusters(PLAN, [SOURCE]),
            resource_selectors=[{"apiVersion": "batch/v1", "kind": "Job", "name": "train"}],
        ),
    }


BUILTIN = builtin_manifests()
ALL = {**BUILTIN, **custom_manifests()}


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_manifests_validate_strictly(name: str) -> None:
    kubernetes_validate.validate(BUILTIN[name], "1.33", strict=True)


@pytest.mark.parametrize("name", sorted(ALL))
def test_manifests_match_golden(name: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    text = yaml.safe_dump(ALL[name], sort_keys=True, width=100)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {path.name}; run with DATALOCALITY_UPDATE_GOLDEN=1"
    assert yaml.safe_load(path.read_text()) == ALL[name]


def test_no_golden_is_stale() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} == set(ALL)


def pod_specs() -> list[dict[str, Any]]:
    specs = [pod["spec"] for pod in replica_pods()]
    return specs + [job["spec"]["template"]["spec"] for job in operation_jobs()]


@pytest.mark.parametrize("spec", pod_specs(), ids=lambda s: s["containers"][0]["image"])
def test_pods_and_jobs_meet_the_restricted_profile(spec: dict[str, Any]) -> None:
    assert restricted_violations(spec) == []
    assert all("hostPath" not in volume for volume in spec["volumes"])


def test_restricted_check_catches_violations() -> None:
    spec = {
        "hostNetwork": True,
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "c",
                "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
                "ports": [{"containerPort": 80, "hostPort": 80}],
            }
        ],
    }
    problems = " ".join(restricted_violations(spec))
    for expected in (
        "hostNetwork",
        "hostPath",
        "privileged",
        "allowPrivilegeEscalation",
        "drop ALL",
        "SYS_ADMIN",
        "root",
        "seccomp",
        "hostPort",
    ):
        assert expected in problems


def test_every_object_carries_the_task_labels_and_readable_annotations() -> None:
    for name, manifest in ALL.items():
        if name.startswith(("crd-", "datasource")) and name != "datasourceclaim":
            continue
        meta = manifest["metadata"]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "datalocality", name
        assert meta["labels"]["datalocality.io/dag-id"] == "clickstream", name
        assert meta["annotations"]["datalocality.io/run-id"] == TASK.run_id, name
        assert meta["annotations"]["datalocality.io/spec-hash"], name
        assert len(meta["name"]) <= 63, name


def manifest_names() -> dict[str, str]:
    """Every built manifest's name, by golden key."""
    return {key: m["metadata"]["name"] for key, m in {**BUILTIN, **custom_manifests()}.items()}


def test_names_do_not_depend_on_the_process() -> None:
    # A retried task runs in another process (another string-hash seed): it must name
    # every object as the first try did, or it duplicates instead of adopting.
    code = (
        "import json; from tests.kube.test_manifests import manifest_names as m; "
        "print(json.dumps(m()))"
    )
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(done.stdout) == manifest_names(), seed
    assert replica_pods()[1]["metadata"]["name"] == build_name(TASK.for_replica(1), "replica")
