"""Release what one run of a plan task left in the cluster: claims, chunk lists, Jobs.

``locality_pods``' teardown task calls :func:`release_run` once the replicas are done,
whether they succeeded or not. First the run's chunk-list ConfigMaps (owned by its claims
too, so deleting the claims by hand removes them as well) and the Jobs of its operation
tasks; then, for each claim of the plan task instance, the DataSources' references to it
(:func:`datalocality.binding.release` decides; a ``Delete`` source left unreferenced is
deleted, its slices after it by garbage collection) and the claim after them. So a
release killed half-way leaves claims the next try finds and finishes, never a reference
to a claim that is gone. Every step finds what is left by label: a second run of a
finished release does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datalocality.binding import DeleteSource
from datalocality.kube.binder import release_binding
from datalocality.kube.chunk_lists import chunk_list_selector
from datalocality.kube.claims import CLAIM_COMPONENT
from datalocality.kube.client import KubeClient
from datalocality.kube.names import TaskKey, selector
from datalocality.kube.objects import Obj, name_of
from datalocality.kube.resources import CLAIMS, CONFIGMAPS, JOBS, Resource


@dataclass(frozen=True)
class Released:
    """What one release removed (names; empty when an earlier try had done it all)."""

    claims: tuple[str, ...] = ()
    deleted_sources: tuple[str, ...] = ()
    configmaps: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the task log."""
        parts = [
            f"{len(self.claims)} claim(s)",
            f"{len(self.deleted_sources)} DataSource(s) deleted by their reclaim policy",
            f"{len(self.configmaps)} chunk-list ConfigMap(s)",
            f"{len(self.jobs)} Job(s)",
        ]
        return "released " + ", ".join(parts)


def build_owner_references(claims: Sequence[Obj]) -> list[dict[str, object]]:
    """ownerReferences naming the run's claims: the chunk lists live as long as any does."""
    return [
        {
            "apiVersion": CLAIMS.api_version,
            "kind": CLAIMS.kind,
            "name": name_of(claim),
            "uid": str(claim["metadata"]["uid"]),
        }
        for claim in sorted(claims, key=name_of)
        if (claim.get("metadata") or {}).get("uid")
    ]


def release_run(
    client: KubeClient,
    namespace: str,
    plan_task: TaskKey,
    job_tasks: Sequence[TaskKey] = (),
) -> Released:
    """Release the claims of ``plan_task`` (one run of a plan task), delete its chunk-list
    ConfigMaps and the Jobs of ``job_tasks``; what was removed."""
    configmaps = _delete_all(client, CONFIGMAPS, namespace, chunk_list_selector(plan_task))
    jobs: list[str] = []
    for job_task in job_tasks:
        jobs.extend(_delete_all(client, JOBS, namespace, selector(job_task)))
    claims, deleted = [], []
    listed, _ = client.list(
        CLAIMS, namespace, label_selector=selector(plan_task, component=CLAIM_COMPONENT)
    )
    for claim in sorted(listed, key=name_of):
        name = name_of(claim)
        for action in release_binding(client, namespace, name):
            if isinstance(action, DeleteSource):
                deleted.append(action.name)
        client.delete(CLAIMS, name, namespace)
        claims.append(name)
    return Released(tuple(claims), tuple(deleted), tuple(configmaps), tuple(jobs))


def _delete_all(client: KubeClient, resource: Resource, namespace: str, labels: str) -> list[str]:
    """Delete every object of ``resource`` matching ``labels`` (a Job's pods with it)."""
    listed, _ = client.list(resource, namespace, label_selector=labels)
    names = sorted(map(name_of, listed))
    for name in names:
        client.delete(resource, name, namespace)
    return names
