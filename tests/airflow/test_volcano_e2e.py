"""dags/gang_trainer.py on the real control plane, with Volcano's published PodGroup CRD.

The apiserver validates the PodGroup the plan task writes against the CRD rendered from
``volcano.sh/apis`` (tests/cluster/.../build-binaries.sh). Volcano's scheduler cannot run
here (its module is not served): kube-scheduler's second profile, named ``volcano``,
binds the pods that name it (see controlplane.py), honouring their node affinity but not
the gang. The emulator has no Volcano CRD, so this runs on the real control plane only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from datalocality.kube.names import LABEL_RUN_ID, label_value
from datalocality.kube.volcano import GROUP_NAME_ANNOTATION, VOLCANO_SCHEDULER
from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.view import list_objects
from tests.airflow.support import handed_chunks, objects, replica_pods, run_dag

ZONE_A = {"worker-a1", "worker-a2", "worker-a3"}
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
GC_SECONDS = 120.0  # the garbage collector rescans new kinds every 30 s


def pod_groups(cluster: ProviderCluster) -> list[dict[str, Any]]:
    return list_objects(cluster, "scheduling.volcano.sh", "podgroups")


def test_gang_trainer_s_replicas_share_one_podgroup_that_the_release_removes(
    airflow_db: Path, kube: ProviderCluster
) -> None:
    kept = run_dag("gang_trainer", "gang_trainer.py")  # release not run: read the group
    (group,) = pod_groups(kube)
    assert group["spec"]["minMember"] == 3
    assert group["spec"]["minResources"] == {"cpu": "3", "memory": str(3 * 2 * 1024**3)}
    assert group["spec"]["queue"] == "default"
    assert group["spec"]["networkTopology"] == {"mode": "hard", "highestTierAllowed": 1}
    claims = objects(kube, "datalocality.io", "datasourceclaims")
    owners = group["metadata"]["ownerReferences"]
    assert [o["uid"] for o in owners] == [c["metadata"]["uid"] for c in claims]
    assert group["metadata"]["labels"][LABEL_RUN_ID] == label_value(kept.run_id)

    pods = replica_pods(kube, "train.replica")
    assert len(pods) == 3
    for pod in pods:
        assert pod["spec"]["schedulerName"] == VOLCANO_SCHEDULER
        assert pod["metadata"]["annotations"][GROUP_NAME_ANNOTATION] == group["metadata"]["name"]
        node = pod["spec"]["nodeName"]  # bound by the scheduler named volcano
        assert node == pod["metadata"]["annotations"]["datalocality.io/planned-node"]
        assert node in ZONE_A  # the hard one-zone rule: required affinity
        assert pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert len(handed_chunks(kube, pod)) == 2

    released = run_dag("gang_trainer", "gang_trainer.py", keep=False)
    assert released.run_id != kept.run_id
    deadline = time.monotonic() + GC_SECONDS
    names = [g["metadata"]["name"] for g in pod_groups(kube)]
    while len(names) > 1 and time.monotonic() < deadline:
        time.sleep(1.0)
        names = [g["metadata"]["name"] for g in pod_groups(kube)]
    assert names == [group["metadata"]["name"]]  # the second run's went with its claims
