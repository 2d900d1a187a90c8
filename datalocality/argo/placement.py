"""What a Hera template declares it reads, and the plan applied to it at build time.

An :class:`ArgoPlacement` is the Argo counterpart of the Airflow plan task's arguments:
the consumer (replicas, requests, topology constraint, partitioning) and, for a plan made
ahead of time, a :class:`PlannedPlacement` (the request with its resolved sources and the
cluster's topology, and the plan). Building the workflow then needs no network: every
replica's node affinity, env and chunk-list volume is derived from the plan with the
same builders the Airflow operators use (:func:`build_replica_entries`).

A template is tied to its placement by one annotation holding its key
(:meth:`ArgoPlacement.template_kwargs`), which works alike for ``Container``, ``Script``
and the ``@script`` decorator; the pre-build hooks of :mod:`datalocality.argo.hooks`
look the placement up by it (:mod:`datalocality.argo.registry`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from datalocality.argo.producer import ArgoProducer
from datalocality.argo.registry import register, register_operation_template, registered
from datalocality.cli import load_request
from datalocality.errors import SpecError, UnknownResolver
from datalocality.kube.chunk_lists import ChunkLists, build_chunk_lists, build_chunk_volume
from datalocality.kube.jobs import build_operation_affinity, build_operation_env
from datalocality.kube.names import TaskKey, digest
from datalocality.model import Consumer, DataInput, PlacementPlan, PlacementRequest
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label, check_dns_subdomain
from datalocality.operators.entries import build_replica_chunk_volume, build_replica_entries
from datalocality.placement import plan, strategy_names
from datalocality.resolvers.service import ResolverSet

# The annotation a placed template carries until its hook replaces it: the placement's key.
PLACEMENT_ANNOTATION = "datalocality.io/argo-placement"
OPERATION_ANNOTATION = "datalocality.io/argo-operation"  # on a template running operations
# The input parameters a placed template gets; each replica's task passes its values.
# Underscores: Hera's inline scripts load every input parameter into a Python variable.
PATCH_PARAMETER = "datalocality_patch"
NODE_PARAMETER = "datalocality_node"
REPLICA_PARAMETER = "datalocality_replica"
MAIN_CONTAINER = "main"  # Argo's name for a Container's or Script's container
ARGO_DAG_ID = "argo"
OperationKind = Literal[
    "repartition", "assembly"
]  # TaskKey.dag_id of every Argo placement (its labels say so)


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
    """A placed Hera template: its name, the namespace its pods run in and its plan.

    ``run_id`` (default: a digest of the plan) is part of the chunk-list ConfigMaps'
    names: the plan step of a workflow sets the workflow's uid, so two runs never share
    (nor garbage-collect) each other's lists."""

    name: str
    namespace: str = "default"
    planned: PlannedPlacement
    requests: dict[str, str] = Field(default_factory=dict)
    run_id: str = Field(default="", alias="runId")

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return check_dns_label("", value)

    @property
    def registry_key(self) -> str:
        """Its name and a digest of what it holds (the plan's digest stands for the plan)."""
        rest = self.model_dump_json(exclude={"planned"})
        return f"{self.name}-{digest(rest, self.planned.key)}"

    @property
    def task(self) -> TaskKey:
        """The identity of the placement's objects (ConfigMaps, labels)."""
        run_id = self.run_id or self.planned.key
        return TaskKey(dag_id=ARGO_DAG_ID, run_id=run_id, task_id=self.name)

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

    def replica_arguments(self, shared_on_template: bool = True) -> list[dict[str, str]]:
        """Per replica, the values of the placed template's parameters; the shared env is
        left out of each patch when the template has it (a plan made ahead of time)."""
        shared = (
            frozenset(e["name"] for e in self.shared_env) if shared_on_template else frozenset()
        )
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
        return {"annotations": {PLACEMENT_ANNOTATION: register(self)}}

    def operation_kwargs(self, kind: OperationKind, name: str) -> dict[str, Any]:
        """Keyword arguments making template ``name`` run this plan's ``kind`` operations
        (repartition or assembly): one task per operation, before the replicas."""
        key = register(self)
        register_operation_template(key, kind, name)
        return {"name": name, "annotations": {OPERATION_ANNOTATION: key}}

    def operation_arguments(self) -> list[dict[str, str]]:
        """Per operation of the plan, in plan order, its template's parameters' values:
        pinned to its node (as the Airflow operators' Jobs), its chunk list and env."""
        topology = self.planned.request.topology
        refs = self.chunk_lists.operations
        arguments = []
        for index, (operation, ref) in enumerate(
            zip(self.planned.plan.operations, refs, strict=True)
        ):
            volume, mount = build_chunk_volume(ref)
            container = {
                "name": MAIN_CONTAINER,
                "env": build_operation_env(operation, ref),
                "volumeMounts": [mount],
            }
            patch = {
                "affinity": build_operation_affinity(operation, topology),
                "volumes": [volume],
                "containers": [container],
            }
            arguments.append(
                {
                    REPLICA_PARAMETER: str(index),
                    NODE_PARAMETER: operation.node,
                    PATCH_PARAMETER: json.dumps(patch, separators=(",", ":")),
                }
            )
        return arguments


class RuntimePlacement(Spec):
    """A placed template planned by a step of the workflow, once its inputs exist.

    The plan step (:mod:`datalocality.argo.plan_step`, run in ``planImage``: an image with
    this provider installed) builds one DataSource from the ``producers``' reports,
    resolves the ``inputs`` through ``resolvers`` (a resolvers config: it travels in the
    workflow, so credentials only as SecretRefs to env the step gets from the Secret
    ``secretEnv``), reads the cluster's nodes, plans
    ``consumer`` and writes the chunk lists; each replica's task takes its values from
    the step's output parameters."""

    name: str
    namespace: str = "default"
    consumer: Consumer
    inputs: tuple[DataInput, ...] = ()
    producers: tuple[ArgoProducer, ...] = ()
    plan_image: str = Field(alias="planImage", min_length=1)
    resolvers: dict[str, Any] = Field(default_factory=dict)
    strategy: str = "optimal"
    requests: dict[str, str] = Field(default_factory=dict)
    service_account: str = Field(default="", alias="serviceAccount")
    secret_env: str = Field(default="", alias="secretEnv")

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return check_dns_label("", value)

    @field_validator("service_account", "secret_env")
    @classmethod
    def _dns_subdomain(cls, value: str) -> str:
        return check_dns_subdomain("", value) if value else value

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        if value not in strategy_names():
            raise SpecError("", value, f"unknown strategy; choose one of {strategy_names()}")
        return value

    @field_validator("resolvers")
    @classmethod
    def _resolvers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for system, raw in value.items():
            try:  # the system's resolver built now: SpecError names system.field
                ResolverSet.from_config({system: raw})
            except UnknownResolver as exc:
                raise SpecError(f"{system}.resolver", raw.get("resolver"), str(exc)) from None
        return value

    @model_validator(mode="after")
    def _reads_something(self) -> RuntimePlacement:
        if not self.inputs and not self.producers:
            raise SpecError("inputs", [], "a placed template reads inputs or producers' chunks")
        return self

    @property
    def registry_key(self) -> str:
        """Its name and a digest of what it holds."""
        return f"{self.name}-{digest(self.model_dump_json())}"

    @property
    def plan_template(self) -> str:
        """The name of the plan step's template (and of its task, after the placed one)."""
        return f"{self.name}-plan"

    def template_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Container``/``Script``/``@script`` tying it to this
        placement (registered here, so the build hooks find it by name)."""
        return {"annotations": {PLACEMENT_ANNOTATION: register(self)}}


Placement = ArgoPlacement | RuntimePlacement


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


def placement_named(key: str, where: str) -> Placement:
    """The placement registered under ``key`` (``where`` names the template that asked)."""
    found = registered(key, f"{where}.annotations[{PLACEMENT_ANNOTATION}]")
    if not isinstance(found, ArgoPlacement | RuntimePlacement):
        raise SpecError(f"{where}.annotations[{PLACEMENT_ANNOTATION}]", key, "is not a placement")
    return found
