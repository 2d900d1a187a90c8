"""What the builders decide: affinity terms and weights, env and files, jobs, gangs, clusters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datalocality.errors import InfeasiblePlacement, SpecError
from datalocality.kube.affinity import AffinityPolicy, build_affinity, tier_fractions
from datalocality.kube.chunk_lists import build_chunk_lists, build_chunk_volume
from datalocality.kube.jobs import JobTemplate, build_operation_job
from datalocality.kube.karmada import (
    EXCLUDED_ANNOTATION,
    build_propagation_policy,
    intersect_clusters,
    patch_propagation_policy,
    plan_clusters,
    revert_propagation_policy,
)
from datalocality.kube.names import build_labels
from datalocality.kube.pods import (
    PodTemplate,
    build_pod_with_replica,
    build_replica_additions,
    build_replica_env,
    build_replica_pod,
)
from datalocality.kube.security import DEFAULT_RUN_AS_USER, build_restricted_pod
from datalocality.kube.volcano import build_pod_group
from datalocality.model import (
    Consumer,
    DataSource,
    Locality,
    PlacementPlan,
    ReplicaPlacement,
    TopologyConstraint,
)
from tests.kube.support import CONSUMER, PLAN, PLAN_TASK, SOURCE, TASK, TOPOLOGY

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def terms(affinity: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str, int]]]:
    node = affinity["nodeAffinity"]
    required = [
        (e["key"], e["values"][0])
        for t in node.get(REQUIRED, {}).get("nodeSelectorTerms", [])
        for e in t["matchExpressions"]
    ]
    preferred = [
        (
            p["preference"]["matchExpressions"][0]["key"],
            p["preference"]["matchExpressions"][0]["values"][0],
            p["weight"],
        )
        for p in node.get(PREFERRED, [])
    ]
    return required, preferred


def test_hard_default_pins_the_hostname() -> None:
    required, preferred = terms(build_affinity(PLAN.replicas[0], TOPOLOGY, plan=PLAN))
    assert required == [("kubernetes.io/hostname", "node-a1")]
    assert preferred == []


def test_hostname_label_wins_over_node_name() -> None:
    required, _ = terms(build_affinity(PLAN.replicas[2], TOPOLOGY, plan=PLAN))
    assert required == [("kubernetes.io/hostname", "ip-10-0-0-2")]


def test_hard_zone_requires_the_zone_and_prefers_the_node() -> None:
    policy = AffinityPolicy(tier=1)
    required, preferred = terms(
        build_affinity(PLAN.replicas[0], TOPOLOGY, plan=PLAN, policy=policy)
    )
    assert required == [("topology.kubernetes.io/zone", "zone-a")]
    assert preferred == [("kubernetes.io/hostname", "node-a1", 100)]


def test_soft_weights_follow_fluid_scaled_by_the_plan() -> None:
    soft = AffinityPolicy(mode="soft")
    _, local = terms(build_affinity(PLAN.replicas[0], TOPOLOGY, plan=PLAN, policy=soft))
    assert [w for *_, w in local] == [100, 50, 20]
    # Replica 1 has half its bytes on its node, the other half in its region.
    _, half = terms(build_affinity(PLAN.replicas[1], TOPOLOGY, plan=PLAN, policy=soft))
    assert [w for *_, w in half] == [50, 25, 20]
    unscaled = AffinityPolicy(mode="soft", scale_by_plan=False)
    _, flat = terms(build_affinity(PLAN.replicas[1], TOPOLOGY, plan=PLAN, policy=unscaled))
    assert [w for *_, w in flat] == [100, 50, 20]


def test_policy_from_the_consumer_constraint() -> None:
    def policy(mode: str, tier: int) -> AffinityPolicy:
        rule = TopologyConstraint(mode=mode, highest_tier_allowed=tier)
        return AffinityPolicy.for_consumer(Consumer(topology=rule))

    assert AffinityPolicy.for_consumer(Consumer()) == AffinityPolicy()
    assert policy("hard", 1) == AffinityPolicy(tier=1)
    assert policy("hard", 3).mode == "soft"
    assert policy("soft", 0).mode == "soft"


@given(
    st.sampled_from(["node-a1", "node-a2", "node-b1", "node-c1"]),
    st.integers(min_value=0, max_value=10),
    st.integers(min_value=0, max_value=10),
    st.sampled_from(["hard", "soft"]),
    st.integers(min_value=0, max_value=2),
)
def test_affinity_always_admits_the_planned_node(
    node: str, local: int, moved: int, mode: str, tier: int
) -> None:
    replica = ReplicaPlacement(
        index=0, node=node, bytes=local + moved, local_bytes=local, moved_bytes=moved
    )
    affinity = build_affinity(replica, TOPOLOGY, policy=AffinityPolicy(mode=mode, tier=tier))
    required, preferred = terms(affinity)
    planned = TOPOLOGY.by_name[node]
    labels = {
        "kubernetes.io/hostname": planned.labels.get("kubernetes.io/hostname", node),
        "topology.kubernetes.io/zone": planned.zone,
        "topology.kubernetes.io/region": planned.region,
    }
    assert all(labels[key] == value for key, value in required)
    assert all(labels[key] == value and 1 <= weight <= 100 for key, value, weight in preferred)
    assert (mode == "hard") == bool(required)
    assert all(0.0 <= f <= 1.0 for f in tier_fractions(replica, None))


def test_affinity_rejects_unknown_nodes_and_modes() -> None:
    with pytest.raises(SpecError, match=r"replica\.node"):
        build_affinity(ReplicaPlacement(index=0, node="nowhere"), TOPOLOGY)
    with pytest.raises(SpecError, match="mode"):
        AffinityPolicy(mode="HARD")
    with pytest.raises(SpecError, match="tier"):
        AffinityPolicy(tier=3)


LISTS = build_chunk_lists(PLAN, task=PLAN_TASK, namespace="data")


def test_replica_env_and_file_carry_the_chunks() -> None:
    env = {e["name"]: e for e in build_replica_env(PLAN, 0, LISTS.replicas[0])}
    (configmap,) = LISTS.configmaps
    name = configmap["metadata"]["name"]
    assert env["DATALOCALITY_CHUNKS"]["valueFrom"] == {
        "configMapKeyRef": {"name": name, "key": "replica-0.env"}
    }
    assert configmap["data"]["replica-0.env"] == "part-00,part-01"
    assert env["DATALOCALITY_CHUNK_COUNT"]["value"] == "2"
    assert env["DATALOCALITY_CHUNK_FILES"]["value"] == "1"
    assert env["DATALOCALITY_CHUNKS_FILE"]["value"] == "/etc/datalocality/chunks.json"
    assert env["DATALOCALITY_REPLICAS"]["value"] == "3"
    assert env["NODENAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert json.loads(configmap["data"]["replica-0.json"]) == ["part-00", "part-01"]
    assert json.loads(configmap["data"]["operation-1.json"]) == ["part-02", "part-03"]


def test_pods_are_told_where_their_chunk_ids_point() -> None:
    table = DataSource(system="iceberg", name="db.events", chunk_base="s3://lake/db/events")
    other = DataSource(system="vineyard", name="frame", data_source_type="object")

    def env_of(*sources: DataSource) -> dict[str, str]:
        built = build_replica_env(PLAN, 0, LISTS.replicas[0], sources)
        return {e["name"]: e["value"] for e in built if "value" in e}

    one = env_of(table)
    assert one["DATALOCALITY_CHUNK_BASE"] == "s3://lake/db/events"
    assert json.loads(one["DATALOCALITY_SOURCES"]) == [
        {
            "system": "iceberg",
            "dataSourceType": "table",
            "dataSourceName": "db.events",
            "chunkBase": "s3://lake/db/events",
        }
    ]
    # two inputs of different bases: no single base to join, each source says its own
    two = env_of(table, other)
    assert "DATALOCALITY_CHUNK_BASE" not in two
    assert [s["chunkBase"] for s in json.loads(two["DATALOCALITY_SOURCES"])] == [
        "s3://lake/db/events",
        "",
    ]
    assert "DATALOCALITY_SOURCES" not in env_of()  # a plan without inputs (tests, CLI)


def test_long_chunk_lists_go_to_files_only_and_huge_ones_to_shards() -> None:
    ids = [f"chunk-{i:06d}-{'x' * 40}" for i in range(2000)]
    plan = PLAN.model_copy(
        update={"replicas": (ReplicaPlacement(index=0, node="node-a1", chunks=ids),)}
    )
    (ref,) = build_chunk_lists(plan, task=PLAN_TASK, namespace="data").replicas
    names = {e["name"] for e in build_replica_env(plan, 0, ref)}
    assert "DATALOCALITY_CHUNKS" not in names and "DATALOCALITY_CHUNKS_FILE" in names
    big = PLAN.model_copy(
        update={"replicas": (ReplicaPlacement(index=0, node="node-a1", chunks=ids * 12),)}
    )
    (ref,) = build_chunk_lists(big, task=PLAN_TASK, namespace="data").replicas
    env = {e["name"]: e.get("value") for e in build_replica_env(big, 0, ref)}
    assert ref.shards == 3 and env["DATALOCALITY_CHUNK_FILES"] == "3"
    assert "DATALOCALITY_CHUNKS_FILE" not in env and "DATALOCALITY_CHUNKS" not in env
    with pytest.raises(SpecError, match="namespace"):
        build_chunk_lists(PLAN, task=PLAN_TASK, namespace="Data")


def test_pod_template_refuses_bad_input() -> None:
    with pytest.raises(SpecError, match="DATALOCALITY_CHUNKS"):
        PodTemplate(image="x", env={"DATALOCALITY_CHUNKS": "a"})
    with pytest.raises(SpecError, match="cpu"):
        PodTemplate(image="x", requests={"cpu": "lots"})
    with pytest.raises(SpecError, match="image"):
        PodTemplate(image="")
    with pytest.raises(SpecError, match="index"):
        build_replica_pod(
            PLAN,
            7,
            task=TASK,
            namespace="data",
            topology=TOPOLOGY,
            template=PodTemplate(image="x"),
            chunk_list=LISTS.replicas[0],
        )
    with pytest.raises(SpecError, match="namespace"):
        build_replica_pod(
            PLAN,
            0,
            task=TASK,
            namespace="Data_NS",
            topology=TOPOLOGY,
            template=PodTemplate(image="x"),
            chunk_list=LISTS.replicas[0],
        )


def replica_additions(**options: Any) -> dict[str, Any]:
    """What replica 0 of PLAN adds to a pod."""
    return build_replica_additions(
        node="node-a1",
        chunk_count=2,
        affinity=build_affinity(PLAN.replicas[0], TOPOLOGY, plan=PLAN),
        env=build_replica_env(PLAN, 0, LISTS.replicas[0]),
        chunk_volume=build_chunk_volume(LISTS.replicas[0]),
        **options,
    )


def user_pod() -> dict[str, Any]:
    """A pod as a user (or KubernetesPodOperator) wrote it, before any replica."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"team": "ml"}, "annotations": {"note": "x"}},
        "spec": {
            "affinity": {"podAffinity": {}},
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "datalocality-chunks", "emptyDir": {}},
            ],
            "containers": [
                {"name": "sidecar", "image": "s:1"},
                {
                    "name": "main",
                    "image": "m:1",
                    "env": [
                        {"name": "MODE", "value": "train"},
                        {"name": "DATALOCALITY_REPLICA", "value": "9"},
                    ],
                    "resources": {"limits": {"cpu": "1"}},
                    "securityContext": {"readOnlyRootFilesystem": True},
                },
            ],
        },
    }


def test_replica_merge_puts_the_plan_over_the_user_pod_and_keeps_the_rest() -> None:
    pod = user_pod()
    before = json.dumps(pod, sort_keys=True)
    merged = build_pod_with_replica(
        pod, replica_additions(task=TASK.for_replica(0)), container_name="main"
    )
    assert json.dumps(pod, sort_keys=True) == before  # the input is not edited
    spec = merged["spec"]
    assert spec["affinity"] == build_affinity(PLAN.replicas[0], TOPOLOGY, plan=PLAN)
    volume, mount = build_chunk_volume(LISTS.replicas[0])
    assert spec["volumes"] == [{"name": "scratch", "emptyDir": {}}, volume]
    sidecar, main = spec["containers"]
    names = [e["name"] for e in main["env"]]
    assert names[0] == "MODE" and names.count("DATALOCALITY_REPLICA") == 1
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["DATALOCALITY_REPLICA"] == "0"
    assert main["volumeMounts"] == [mount] and "volumeMounts" not in sidecar
    assert main["resources"] == {"limits": {"cpu": "1"}}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert sidecar["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["runAsUser"] == DEFAULT_RUN_AS_USER
    meta = merged["metadata"]
    assert meta["labels"] == {"team": "ml", **build_labels(TASK.for_replica(0), "replica")}
    assert meta["annotations"]["note"] == "x"
    assert meta["annotations"]["datalocality.io/planned-node"] == "node-a1"
    assert meta["annotations"]["datalocality.io/chunk-count"] == "2"
    assert meta["annotations"]["datalocality.io/run-key"] == TASK.for_replica(0).run_key
    assert "schedulerName" not in spec


def test_replica_merge_sets_resources_group_and_vineyard_only_when_asked() -> None:
    pod = user_pod()
    del pod["spec"]["containers"][1]["resources"]
    requests = {"requests": {"cpu": "500m"}}
    additions = replica_additions(
        resources=requests, pod_group="train-podgroup-1", vineyard_configmap="vineyard-cm"
    )
    merged = build_pod_with_replica(pod, additions, container_name="nope")
    spec = merged["spec"]
    first, main = spec["containers"]  # an unknown container name means the first one
    assert first["resources"] == requests and "resources" not in main
    assert first["envFrom"] == [{"configMapRef": {"name": "vineyard-cm"}}]
    assert spec["schedulerName"] == "volcano"
    assert merged["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == ("train-podgroup-1")
    assert merged["metadata"]["labels"] == {"team": "ml"}  # no task, no task labels
    again = build_pod_with_replica(merged, additions, container_name="nope")
    assert again == merged  # merging twice changes nothing
    with pytest.raises(SpecError, match=r"^pod_group: .*'Bad_Group'"):
        replica_additions(pod_group="Bad_Group")
    with pytest.raises(SpecError, match=r"^spec\.containers"):
        build_pod_with_replica({"spec": {"containers": []}}, additions)


def test_restricted_pod_completes_the_user_contexts_and_is_idempotent() -> None:
    bare = {"spec": {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}]}}
    once = build_restricted_pod(bare)
    assert build_restricted_pod(once) == once
    assert once["spec"]["securityContext"]["runAsUser"] == DEFAULT_RUN_AS_USER
    assert once["spec"]["initContainers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    chosen = {"spec": {"securityContext": {"runAsUser": 1000}, "containers": [{"name": "c"}]}}
    context = build_restricted_pod(chosen)["spec"]["securityContext"]
    assert context == {
        "runAsUser": 1000,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    group = {"spec": {"securityContext": {"fsGroup": 2000}, "containers": []}}
    context = build_restricted_pod(group)["spec"]["securityContext"]
    assert context["fsGroup"] == 2000 and context["runAsUser"] == DEFAULT_RUN_AS_USER


def test_template_pod_is_the_replica_merge() -> None:
    template = PodTemplate(image="x:1", env={"MODE": "a"}, run_as_user=1000)
    pod = build_replica_pod(
        PLAN,
        0,
        task=TASK,
        namespace="data",
        topology=TOPOLOGY,
        template=template,
        chunk_list=LISTS.replicas[0],
    )
    base = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod["metadata"]["name"], "namespace": "data"},
        "spec": template.pod_spec(template.container([], [])),
    }
    merged = build_pod_with_replica(base, replica_additions(task=TASK.for_replica(0)))
    del pod["metadata"]["annotations"]["datalocality.io/spec-hash"]
    assert pod == merged
    assert pod["spec"]["securityContext"]["fsGroup"] == 1000


def test_operation_jobs_are_bounded_and_pinned() -> None:
    template = JobTemplate(
        image="op:1", backoff_limit=1, active_deadline_seconds=60, ttl_seconds_after_finished=30
    )
    job = build_operation_job(
        PLAN.operations[0],
        0,
        task=PLAN_TASK,
        namespace="data",
        template=template,
        chunk_list=LISTS.operations[0],
    )
    spec = job["spec"]
    assert (
        spec["backoffLimit"],
        spec["activeDeadlineSeconds"],
        spec["ttlSecondsAfterFinished"],
    ) == (1, 60, 30)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["affinity"]["nodeAffinity"][REQUIRED]["nodeSelectorTerms"][0]["matchExpressions"][0][
        "values"
    ] == ["node-a1"]
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["DATALOCALITY_OPERATION"] == "repartition" and env["DATALOCALITY_REPLICA"] == "0"
    assert env["DATALOCALITY_CHUNK_COUNT"] == "2"
    with pytest.raises(SpecError, match="index"):
        build_operation_job(
            PLAN.operations[0],
            -1,
            task=PLAN_TASK,
            namespace="data",
            template=template,
            chunk_list=LISTS.operations[0],
        )
    with pytest.raises(SpecError, match="backoffLimit"):
        JobTemplate(image="op:1", backoffLimit=-1)  # type: ignore[call-arg]  # the alias, named in the error
    with pytest.raises(SpecError, match="memory"):
        JobTemplate(image="op:1", limits={"memory": "-1Gi"})


def test_pod_group_sets_network_topology_only_when_constrained() -> None:
    group = build_pod_group(CONSUMER, task=TASK, namespace="data", queue="ml")
    assert group["spec"]["networkTopology"] == {"mode": "hard", "highestTierAllowed": 2}
    assert group["spec"]["minMember"] == 3 and group["spec"]["queue"] == "ml"
    free = build_pod_group(Consumer(replicas=2), task=TASK, namespace="data")
    assert "networkTopology" not in free["spec"]
    soft = Consumer(replicas=2, topology=TopologyConstraint(mode="soft", highest_tier_allowed=0))
    assert build_pod_group(soft, task=TASK, namespace="data")["spec"]["networkTopology"] == {
        "mode": "soft",
        "highestTierAllowed": 1,
    }
    with pytest.raises(SpecError, match="tier_map"):
        build_pod_group(CONSUMER, task=TASK, namespace="data", tier_map={1: 1})


def sourced(clusters: tuple[str, ...], require: bool = True) -> DataSource:
    return SOURCE.model_copy(
        update={"locality": Locality(clusters=clusters), "require_locality": require}
    )


def multi_cluster_plan(*clusters: str) -> PlacementPlan:
    replicas = tuple(
        ReplicaPlacement(index=i, node="node-a1", cluster=c) for i, c in enumerate(clusters)
    )
    return PLAN.model_copy(update={"replicas": replicas})


def test_clusters_of_several_inputs_intersect() -> None:
    plan = multi_cluster_plan("prod", "edge", "dr")
    inputs = [sourced(("prod", "edge")), sourced(("edge", "dr", "prod"))]
    assert intersect_clusters(inputs) == {"prod", "edge"}
    assert plan_clusters(plan, inputs) == ["edge", "prod"]
    # An input that does not require locality does not narrow the placement.
    assert plan_clusters(plan, [sourced(("prod",), require=False)]) == ["dr", "edge", "prod"]
    with pytest.raises(InfeasiblePlacement):
        plan_clusters(plan, [sourced(("prod",)), sourced(("edge",))])
    with pytest.raises(InfeasiblePlacement):
        plan_clusters(multi_cluster_plan("dr"), [sourced(("prod",))])


def test_patching_a_policy_keeps_user_exclusions_and_reverts_ours() -> None:
    user_policy = build_propagation_policy(
        task=TASK,
        namespace="data",
        clusters=["prod", "edge", "dr"],
        resource_selectors=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}],
    )
    user_policy["spec"]["placement"]["clusterAffinity"]["exclude"] = ["legacy"]
    known = ["prod", "edge", "dr", "legacy", "lab"]
    patched = patch_propagation_policy(user_policy, clusters=["prod"], known_clusters=known)
    assert patched is not None
    affinity = patched["spec"]["placement"]["clusterAffinity"]
    assert affinity["exclude"] == ["legacy", "dr", "edge", "lab"]
    assert patched["metadata"]["annotations"][EXCLUDED_ANNOTATION] == "dr,edge,lab"
    assert patch_propagation_policy(patched, clusters=["prod"], known_clusters=known) is None
    moved = patch_propagation_policy(patched, clusters=["edge"], known_clusters=known)
    assert moved is not None
    assert moved["spec"]["placement"]["clusterAffinity"]["exclude"] == [
        "legacy",
        "dr",
        "lab",
        "prod",
    ]
    reverted = revert_propagation_policy(moved)
    assert reverted is not None
    assert reverted["spec"]["placement"]["clusterAffinity"]["exclude"] == ["legacy"]
    assert EXCLUDED_ANNOTATION not in reverted["metadata"]["annotations"]
    assert revert_propagation_policy(reverted) is None
    with pytest.raises(InfeasiblePlacement):
        patch_propagation_policy(user_policy, clusters=["legacy"], known_clusters=known)


def test_propagation_policy_refuses_empty_input() -> None:
    with pytest.raises(SpecError, match="clusters"):
        build_propagation_policy(
            task=TASK,
            namespace="data",
            clusters=[],
            resource_selectors=[{"apiVersion": "v1", "kind": "Pod"}],
        )
    with pytest.raises(SpecError, match="resource_selectors"):
        build_propagation_policy(
            task=TASK, namespace="data", clusters=["a"], resource_selectors=[{"kind": "Pod"}]
        )
