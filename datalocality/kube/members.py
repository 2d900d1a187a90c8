"""Topologies read from clusters (one, or each Karmada member), and the policy on the host.

A Karmada control plane does not list its members' nodes; each member's own apiserver
does. So the plan reads every member's nodes and pods, each node in the cluster named by
the member (Karmada's Cluster name), and the PropagationPolicy that keeps the replicas in
the plan's clusters is written to the Karmada apiserver: created, adopted on a retry, or
brought up to date when a rerun of the same task planned other clusters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from datalocality.errors import ApiRejected, ObjectConflict, ObjectNotFound, SpecError
from datalocality.kube.names import ANNOTATION_RUN_KEY, ANNOTATION_SPEC_HASH
from datalocality.kube.objects import name_of, namespace_of
from datalocality.kube.resources import ALL_PODS, NODES, resource_of
from datalocality.kube.topology import build_topology
from datalocality.model import Node, Topology
from datalocality.model.names import check_dns_label

if TYPE_CHECKING:
    from datalocality.kube.client import KubeClient

Obj = dict[str, Any]


def fetch_topology(client: KubeClient, cluster: str = "") -> Topology:
    """The nodes and the requests of the pods on them, as a placement Topology."""
    nodes, _ = client.list(NODES)
    pods, _ = client.list(ALL_PODS)
    return build_topology(nodes, pods, cluster=cluster)


def fetch_member_topology(members: Mapping[str, KubeClient]) -> Topology:
    """One Topology of every member's schedulable nodes, each in its member's cluster.

    A node name two members share is refused naming both (a placement must name one node).
    """
    if not members:
        raise SpecError("member_clusters", {}, "needs at least one member cluster")
    nodes: list[Node] = []
    owner: dict[str, str] = {}
    for cluster, client in sorted(members.items()):
        check_dns_label("member_clusters", cluster)
        for node in fetch_topology(client, cluster).nodes:
            if node.name in owner:
                raise SpecError(
                    f"member_clusters.{cluster}",
                    node.name,
                    f"node name also in member {owner[node.name]}: names must be unique",
                )
            owner[node.name] = cluster
            nodes.append(node.model_copy(update={"cluster": cluster}))
    return Topology(nodes=nodes)


def apply_propagation_policy(client: KubeClient, policy: Obj) -> Obj:
    """Create the policy on the Karmada apiserver, adopt it on a retry, or replace its
    spec when the same task of the same run wrote another; a cluster without Karmada's
    CRD is a clear ApiRejected."""
    try:
        return client.create_or_get(policy).object
    except ObjectNotFound as exc:
        raise ApiRejected(
            exc.status,
            exc.reason,
            f"the cluster serves no {policy['apiVersion']} PropagationPolicy: point the"
            " plan's cluster access at the Karmada apiserver",
        ) from exc
    except ObjectConflict:
        pass  # ours from an earlier try with another plan, or someone else's: read it
    want = policy["metadata"]["annotations"]

    def replace(current: Obj) -> Obj | None:
        have = (current.get("metadata") or {}).get("annotations") or {}
        if have.get(ANNOTATION_RUN_KEY) != want[ANNOTATION_RUN_KEY]:
            raise ObjectConflict(
                f"PropagationPolicy {namespace_of(policy)}/{name_of(policy)} exists and is not"
                " this task's; left untouched"
            )
        if have.get(ANNOTATION_SPEC_HASH) == want[ANNOTATION_SPEC_HASH]:
            return None
        meta = current["metadata"]
        annotations = {**have, ANNOTATION_SPEC_HASH: want[ANNOTATION_SPEC_HASH]}
        return {**current, "metadata": {**meta, "annotations": annotations}, "spec": policy["spec"]}

    resource = resource_of(policy)
    return client.modify(resource, name_of(policy), replace, namespace=namespace_of(policy))
