"""Karmada PropagationPolicy keeping a workload on the clusters the plan chose.

A new policy lists the clusters in ``clusterAffinity.clusterNames``. An existing policy is
patched the way Volcano Global patches ResourceBindings: every other known cluster is
added to ``clusterAffinity.exclude``, the user's own exclusions are kept, and ours are
recorded in an annotation so the next patch (or a revert) removes exactly what we added.
With several inputs, only clusters holding every locality-bound input remain.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from datalocality.errors import InfeasiblePlacement, SpecError
from datalocality.kube.names import (
    ANNOTATION_EXCLUDED_CLUSTERS,
    ANNOTATION_PLACEMENT_INJECTED,
    TaskKey,
    build_metadata,
    build_name,
    stamp,
)
from datalocality.model import DataSource, PlacementPlan
from datalocality.model.names import check_dns_label

PROPAGATION_POLICY_API_VERSION = "policy.karmada.io/v1alpha1"
EXCLUDED_ANNOTATION = ANNOTATION_EXCLUDED_CLUSTERS
INJECTED_ANNOTATION = ANNOTATION_PLACEMENT_INJECTED


def intersect_clusters(sources: Iterable[DataSource]) -> set[str] | None:
    """Clusters holding every source that names its clusters (None: no source does)."""
    common: set[str] | None = None
    for source in sources:
        if source.locality.clusters:
            clusters = set(source.locality.clusters)
            common = clusters if common is None else common & clusters
    return common


def plan_clusters(plan: PlacementPlan, sources: Sequence[DataSource] = ()) -> list[str]:
    """The clusters the workload must run in: the replicas' clusters, kept to those holding
    every input that requires locality; InfeasiblePlacement when none is left."""
    clusters = {r.cluster for r in plan.replicas if r.cluster} or {c.name for c in plan.clusters}
    required = intersect_clusters(s for s in sources if s.require_locality)
    if required is not None:
        if not required:
            raise InfeasiblePlacement("no cluster holds every input that requires locality")
        clusters &= required
        if not clusters:
            raise InfeasiblePlacement(
                f"the plan's clusters hold no copy of every locality-bound input {sorted(required)}"
            )
    return sorted(clusters)


def _check_clusters(clusters: Sequence[str]) -> list[str]:
    if not clusters:
        raise SpecError("clusters", list(clusters), "needs at least one cluster")
    return sorted(set(clusters))


def build_propagation_policy(
    *,
    task: TaskKey,
    namespace: str,
    clusters: Sequence[str],
    resource_selectors: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A PropagationPolicy placing the selected resources on ``clusters`` only, with the
    ConfigMaps they reference (``propagateDeps``: a replica pod's chunk lists).

    Each selector is Karmada's ResourceSelector: ``apiVersion``, ``kind`` and optionally
    ``namespace``, ``name`` and ``labelSelector`` (a LabelSelector object,
    ``{"matchLabels": {...}}``; Karmada's schema refuses a selector string).
    """
    check_dns_label("namespace", namespace)
    if not resource_selectors:
        raise SpecError("resource_selectors", [], "needs at least one selector")
    for i, selector in enumerate(resource_selectors):
        if not selector.get("apiVersion") or not selector.get("kind"):
            raise SpecError(f"resource_selectors[{i}]", dict(selector), "needs apiVersion and kind")
        labels = selector.get("labelSelector")
        if labels is not None and not isinstance(labels, Mapping):
            raise SpecError(
                f"resource_selectors[{i}].labelSelector",
                labels,
                'must be a LabelSelector object, {"matchLabels": {...}}',
            )
    manifest = {
        "apiVersion": PROPAGATION_POLICY_API_VERSION,
        "kind": "PropagationPolicy",
        "metadata": build_metadata(
            task, build_name(task, "propagation"), namespace, component="propagation"
        ),
        "spec": {
            "resourceSelectors": [dict(sorted(s.items())) for s in resource_selectors],
            "placement": {"clusterAffinity": {"clusterNames": _check_clusters(clusters)}},
            # the pods' chunk-list (and Vineyard) ConfigMaps go with them to the members
            "propagateDeps": True,
        },
    }
    return stamp(manifest)


def _ours(policy: Mapping[str, Any]) -> list[str]:
    raw = ((policy.get("metadata") or {}).get("annotations") or {}).get(EXCLUDED_ANNOTATION, "")
    return [c for c in str(raw).split(",") if c]


def _affinity(policy: dict[str, Any]) -> dict[str, Any]:
    placement = policy.setdefault("spec", {}).setdefault("placement", {})
    affinity: dict[str, Any] = placement.setdefault("clusterAffinity", {})
    return affinity


def patch_propagation_policy(
    existing: Mapping[str, Any], *, clusters: Sequence[str], known_clusters: Iterable[str]
) -> dict[str, Any] | None:
    """The policy excluding every known cluster but ``clusters`` (None if already so).

    User exclusions are kept; ours replace the ones recorded by an earlier patch.
    """
    wanted = set(_check_clusters(clusters))
    edited = copy.deepcopy(dict(existing))
    affinity = _affinity(edited)
    previous = set(_ours(existing))
    user = [c for c in affinity.get("exclude") or [] if c not in previous]
    if wanted <= set(user):
        raise InfeasiblePlacement(
            f"the policy's own exclusions rule out every cluster {sorted(wanted)}"
        )
    ours = sorted(set(known_clusters) - wanted - set(user))
    exclude = user + ours
    annotations = edited.setdefault("metadata", {}).setdefault("annotations", {})
    if exclude:
        affinity["exclude"] = exclude
    else:
        affinity.pop("exclude", None)
    annotations[EXCLUDED_ANNOTATION] = ",".join(ours)
    annotations[INJECTED_ANNOTATION] = "true"
    return None if edited == dict(existing) else edited


def revert_propagation_policy(existing: Mapping[str, Any]) -> dict[str, Any] | None:
    """The policy without the exclusions we recorded (None if we added none)."""
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    if INJECTED_ANNOTATION not in annotations and EXCLUDED_ANNOTATION not in annotations:
        return None
    previous = set(_ours(existing))
    edited = copy.deepcopy(dict(existing))
    affinity = _affinity(edited)
    kept = [c for c in affinity.get("exclude") or [] if c not in previous]
    if kept:
        affinity["exclude"] = kept
    else:
        affinity.pop("exclude", None)
    edited_annotations = edited["metadata"]["annotations"]
    edited_annotations.pop(EXCLUDED_ANNOTATION, None)
    edited_annotations.pop(INJECTED_ANNOTATION, None)
    return edited
