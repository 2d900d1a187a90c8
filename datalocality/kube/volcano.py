"""A Volcano PodGroup for gang placement, with ``spec.networkTopology`` set directly.

LeaderWorkerSet's Volcano provider does not set the network topology and Volcano reads
it only from the PodGroup spec, so the provider writes it there: ``mode`` hard|soft and
``highestTierAllowed``. Volcano's tiers count HyperNode levels (1 is the lowest switch
tier), not ours (0 node, 1 zone, 2 region, 3 cluster); ``tier_map`` translates, by
default our zone -> 1 and region -> 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datalocality.errors import SpecError
from datalocality.kube.names import TaskKey, build_metadata, build_name, stamp
from datalocality.model import Consumer
from datalocality.model.names import check_dns_label

PODGROUP_API_VERSION = "scheduling.volcano.sh/v1beta1"
VOLCANO_SCHEDULER = "volcano"  # the schedulerName of pods Volcano's scheduler places
GROUP_NAME_ANNOTATION = "scheduling.k8s.io/group-name"  # a pod's PodGroup (Volcano's key)
SCHEDULERS = frozenset({"default-scheduler", VOLCANO_SCHEDULER})  # what a plan may name
DEFAULT_TIER_MAP: Mapping[int, int] = {0: 1, 1: 1, 2: 2, 3: 3}


def pod_group_name(task: TaskKey) -> str:
    """The PodGroup name of a consumer task instance (all its replicas share it)."""
    return build_name(task.for_replica(-1), "podgroup")


def _quantity(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{round(value * 1000)}m"


def build_pod_group(
    consumer: Consumer,
    *,
    task: TaskKey,
    namespace: str,
    queue: str = "default",
    priority_class: str = "",
    tier_map: Mapping[int, int] = DEFAULT_TIER_MAP,
) -> dict[str, Any]:
    """The PodGroup gang-scheduling every replica of ``consumer`` together.

    ``minMember`` is the replica count and ``minResources`` their summed requests. With
    no topology constraint, or one allowing any cluster (tier 4), no networkTopology is set.
    """
    check_dns_label("namespace", namespace)
    spec: dict[str, Any] = {"minMember": consumer.replicas, "queue": queue}
    requests = consumer.requests
    min_resources: dict[str, str] = {}
    if requests.cpu > 0:
        min_resources["cpu"] = _quantity(requests.cpu * consumer.replicas)
    if requests.memory > 0:
        min_resources["memory"] = str(requests.memory * consumer.replicas)
    if min_resources:
        spec["minResources"] = min_resources
    if priority_class:
        spec["priorityClassName"] = priority_class
    rule = consumer.topology
    if rule is not None and rule.highest_tier_allowed < 4:
        tier = tier_map.get(rule.highest_tier_allowed)
        if tier is None or tier < 1:
            raise SpecError(
                "tier_map", dict(tier_map), f"maps no Volcano tier for {rule.highest_tier_allowed}"
            )
        spec["networkTopology"] = {"mode": rule.mode, "highestTierAllowed": tier}
    manifest = {
        "apiVersion": PODGROUP_API_VERSION,
        "kind": "PodGroup",
        "metadata": build_metadata(
            task.for_replica(-1), pod_group_name(task), namespace, component="podgroup"
        ),
        "spec": spec,
    }
    return stamp(manifest)
