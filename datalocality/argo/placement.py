"""What a Hera template declares it reads, and the plan applied to it at build time.

An :class:`ArgoPlacement` is the Argo counterpart of the Airflow plan task's arguments:
the consumer (replicas, requests, topology constraint, partitioning) and, for a plan made
ahead of time, a :class:`PlannedPlacement` (the request with its resolved sources and the
cluster's topology, and the plan). Building the workflow then needs no network: every
replica's node affinity, env and chunk-list volume is derived from the plan with the
same builders the Airflow operators use (:func:`build_replica_entries`).

A template is tied to its placement by one annotation naming it
(:meth:`ArgoPlacement.template_kwargs`), which works alike for ``Container``, ``Script``
and the ``@script`` decorator; the pre-build hooks of :mod:`datalocality.argo.hooks`
look the placement up by that name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from datalocality.cli import load_request
from datalocality.errors import SpecError
from datalocality.kube.chunk_lists import ChunkLists, build_chunk_lists
from datalocality.kube.names import TaskKey, digest
from datalocality.model import PlacementPlan, PlacementRequest
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label
from datalocality.operators.entries import build_replica_chunk_volume, build_replica_entries
from datalocality.placement import plan

# The annotation a placed template carries until its hook replaces it: the placement name.
PLACEMENT_ANNOTATION = "datalocality.io/argo-placement"
# The input parameters a placed template gets; each replica's task passes its values.
# Underscores: Hera's inline scripts load every input parameter into a Python variable.
PATCH_PARAMETER = "datalocality_patch"
NODE_PARAMETER = "datalocality_node"
REPLICA_PARAMETER = "datalocality_replica"
MAIN_CONTAINER = "main"  # Argo's name for a Container's or Script's container
ARGO_DAG_ID = "argo"  # TaskKey.dag_id of every Argo placement (its labels say so)


class PlannedPlacement(Spec):
    """A plan made ahead of time with what it was made from (sources and topology)."""

    request: PlacementRequest
    plan: PlacementPlan

    @model_validator(mode="after")
    def _plan_fits_request(self) -> PlannedPlacement:
        wanted = self.request.consumer.replicas
        if len(self.plan.replicas) != wanted:
            raise SpecError(
                "plan.replicas", len(self.plan.replicas), f"the request asks for {wanted}"
            )
        nodes = self.request.topology.by_name
        for replica in self.plan.replicas:
            if replica.node not in nodes:
                field = f"plan.replicas[{replica.index}].node"
                raise SpecError(field, replica.node, "is not a node of the request's topology")
        known = {c.id for c in self.request.chunks}
        for replica in self.plan.replicas:
            for chunk in replica.chunks:
                if chunk not in known:
                    field = f"plan.replicas[{replica.index}].chunks"
                    raise SpecError(field, chunk, "is not a chunk of the request's sources")
        return self

    @cached_property
    def key(self) -> str:
        """A digest of the plan: chunk-list ConfigMaps of another plan get other names."""
        return digest(json.dumps(self.plan.to_json_dict(), sort_keys=True))


def plan_ahead(request: PlacementRequest, strategy: str = "optimal") -> PlannedPlacement:
    """Plan ``request`` now (pure: the request holds the sources and the topology)."""
    return PlannedPlacement(request=request, plan=plan(request, strategy))


def load_planned(
    request_file: str | Path, plan_file: str | Path | None = None, strategy: str = "optimal"
) -> PlannedPlacement:
    """A request file (as ``datalocality plan`` reads) and the plan ``datalocality plan -o
    json`` printed for it; without ``plan_file`` the request is planned here."""
    request = load_request(str(request_file))  # the CLI's bounded reader (size, depth)
    if plan_file is None:
        return plan_ahead(request, strategy)
    path = Path(plan_file)
    if not path.is_file():
        raise SpecError("plan_file", str(plan_file), "no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise SpecError("plan_file", str(plan_file), f"not JSON: {exc}") from None
    return PlannedPlacement(request=request, plan=PlacementPlan.model_validate(data))


class ArgoPlacement(Spec):
    """A placed Hera template: its name, the namespace its pods run in and its plan."""

    name: str
    namespace: str = "default"
    planned: PlannedPlacement
    requests: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return check_dns_label("", value)

    @property
    def task(self) -> TaskKey:
        """The identity of the placement's objects (ConfigMaps, labels)."""
        return TaskKey(dag_id=ARGO_DAG_ID, run_id=self.planned.key, task_id=self.name)

    @cached_property
    def chunk_lists(self) -> ChunkLists:
        """Every replica's chunk list as ConfigMaps (to create before the workflow runs)."""
        return build_chunk_lists(self.planned.plan, task=self.task, namespace=self.namespace)

    def configmaps(self) -> list[dict[str, Any]]:
        """The chunk-list ConfigMaps the replica pods mount, as manifests."""
        return [dict(manifest) for manifest in self.chunk_lists.configmaps]

    @cached_property
    def entries(self) -> list[dict[str, Any]]:
        """One entry per replica, exactly as the Airflow plan task returns them."""
        request = self.planned.request
        return [
            entry["replica"]
            for entry in build_replica_entries(
                self.planned.plan,
                topology=request.topology,
                consumer=request.consumer,
                chunk_lists=self.chunk_lists,
                namespace=self.namespace,
                resources={"requests": dict(self.requests)} if self.requests else None,
                sources=request.sources,
            )
        ]

    @cached_property
    def shared_env(self) -> list[dict[str, Any]]:
        """The env every replica has alike: set once on the template, not in each patch."""
        first, *rest = self.entries
        return [e for e in first["env"] if all(e in entry["env"] for entry in rest)]

    def replica_arguments(self) -> list[dict[str, str]]:
        """Per replica, the values of the placed template's parameters."""
        shared = frozenset(e["name"] for e in self.shared_env)
        return [
            {
                REPLICA_PARAMETER: str(entry["index"]),
                NODE_PARAMETER: str(entry["node"]),
                PATCH_PARAMETER: json.dumps(
                    build_replica_patch(entry, leave_out=shared), separators=(",", ":")
                ),
            }
            for entry in self.entries
        ]

    def template_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Container``/``Script``/``@script`` tying it to this
        placement (registered here, so the build hooks find it by name)."""
        register_placement(self)
        return {"annotations": {PLACEMENT_ANNOTATION: self.name}}


def build_replica_patch(
    entry: Mapping[str, Any], leave_out: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The ``podSpecPatch`` of one replica: its affinity, its chunk-list volume and, on the
    main container, its env (but the variables named in ``leave_out``), mount and requests
    (a strategic merge by name)."""
    volume, mount = build_replica_chunk_volume(entry)
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER,
        "env": [e for e in entry["env"] if e["name"] not in leave_out],
        "volumeMounts": [mount],
    }
    if entry.get("resources"):
        container["resources"] = dict(entry["resources"])
    return {"affinity": dict(entry["affinity"]), "volumes": [volume], "containers": [container]}


_PLACEMENTS: dict[str, ArgoPlacement] = {}


def register_placement(placement: ArgoPlacement) -> None:
    """Make ``placement`` findable by name; a different one under a used name is refused."""
    known = _PLACEMENTS.get(placement.name)
    if known is not None and known is not placement and known != placement:
        raise SpecError("name", placement.name, "another placement already has this name")
    _PLACEMENTS[placement.name] = placement


def placement_named(name: str, where: str) -> ArgoPlacement:
    """The registered placement ``name`` (``where`` names the template that asked)."""
    try:
        return _PLACEMENTS[name]
    except KeyError:
        raise SpecError(
            f"{where}.annotations[{PLACEMENT_ANNOTATION}]",
            name,
            "no such placement: use ArgoPlacement.template_kwargs() to place a template",
        ) from None
