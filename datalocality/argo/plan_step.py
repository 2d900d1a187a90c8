"""The plan step of a workflow: plan a placed template once its producers have reported.

The Argo twin of the Airflow plan task, run as ``python -m datalocality.argo.plan_step``
in a :class:`~datalocality.argo.placement.RuntimePlacement`'s ``planImage``:

1. one DataSource from each producer's reports, each chunk on the node its replica ran on
   (``--report`` / ``--node`` pairs, in producer then replica order);
2. the ``inputs`` resolved through the placement's resolvers;
3. the cluster's nodes read (in-cluster service account), the consumer planned;
4. the chunk lists written as ConfigMaps owned by the Workflow (garbage-collected with it);
5. per replica its patch and node written to ``--out`` as ``patch-<i>`` and ``node-<i>``,
   which the template returns as output parameters (:func:`build_plan_template`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kubernetes import client as k8s  # type: ignore[import-untyped]  # no stubs
from kubernetes import config

from datalocality.argo.placement import (
    NODE_PARAMETER,
    PATCH_PARAMETER,
    ArgoPlacement,
    PlannedPlacement,
    RuntimePlacement,
    plan_ahead,
)
from datalocality.argo.producer import ArgoProducer
from datalocality.argo.resolve import resolve_sources
from datalocality.errors import DataLocalityError, PlacementError, SpecError
from datalocality.kube.chunk_lists import ChunkLists
from datalocality.kube.client import KubeClient, build_api_client_without_retries
from datalocality.kube.members import fetch_topology
from datalocality.model import DataSource, PlacementPlan, PlacementRequest
from datalocality.model.base import Spec
from datalocality.model.produced import build_produced_source
from datalocality.operators.entries import join_chunk_bases
from datalocality.operators.plan_report import baseline_summary, build_plan_report
from datalocality.operators.plan_store import build_plan_summary, put_chunk_lists
from datalocality.placement import plan

OUT_DIR = "/tmp/datalocality"  # an emptyDir of the plan step's pod
BASELINE_STRATEGY = "spread"  # what the Airflow plan task compares with, by default
WORKFLOW_API_VERSION = "argoproj.io/v1alpha1"


class PlanStepRequest(Spec):
    """What the plan step is given in its ``--request`` argument."""

    placement: RuntimePlacement

    @property
    def producers(self) -> tuple[ArgoProducer, ...]:
        """The producers whose replicas' reports the step reads, in argument order."""
        return self.placement.producers

    @property
    def report_count(self) -> int:
        """How many ``--report`` arguments the step takes (every producer replica's)."""
        return sum(p.replicas for p in self.producers)


def build_produced_sources(
    request: PlanStepRequest, reports: Sequence[tuple[str, str]]
) -> list[DataSource]:
    """One DataSource per producer from its replicas' ``(node, report JSON)``."""
    if len(reports) != request.report_count:
        raise SpecError("reports", len(reports), f"expected {request.report_count}")
    sources, start = [], 0
    for producer in request.producers:
        mine = reports[start : start + producer.replicas]
        start += producer.replicas
        parsed = []
        for index, (node, text) in enumerate(mine):
            try:
                parsed.append((node, json.loads(text)))
            except ValueError:
                field = f"producers.{producer.name}.replicas[{index}].report"
                raise SpecError(field, text, "is not JSON") from None
        sources.append(
            build_produced_source(
                parsed,
                system=producer.system,
                data_source_type=producer.data_source_type,
                name=producer.data_source_name,
                attributes=producer.attributes,
            )
        )
    return sources


def build_workflow_owner(name: str, uid: str) -> dict[str, Any]:
    """The ownerReference naming the Workflow (its chunk lists go when it is deleted)."""
    return {"apiVersion": WORKFLOW_API_VERSION, "kind": "Workflow", "name": name, "uid": uid}


def run_plan_step(
    request: PlanStepRequest,
    reports: Sequence[tuple[str, str]],
    *,
    client: KubeClient,
    workflow: tuple[str, str],
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Plan, write the chunk lists, and return the output parameters' values by name
    (``patch-<i>``, ``node-<i>``); ``workflow`` is the Workflow's (name, uid)."""
    placement = request.placement
    sources = build_produced_sources(request, reports)
    if placement.inputs:
        sources += resolve_sources(placement.inputs, placement.resolvers, env)
    topology = fetch_topology(client)
    planned = plan_ahead(
        PlacementRequest(
            topology=topology, consumer=placement.consumer, sources=join_chunk_bases(sources)
        ),
        placement.strategy,
    )
    if planned.plan.operations:
        kinds = sorted({op.kind for op in planned.plan.operations})
        raise SpecError(
            "consumer",
            placement.consumer.name,
            f"its plan needs {len(planned.plan.operations)} operations ({', '.join(kinds)}); "
            "a plan made in the workflow runs none: plan ahead (ArgoPlacement) and give "
            "their templates, or read the chunks as they are (partitioning: any)",
        )
    name, uid = workflow
    placed = ArgoPlacement(
        name=placement.name,
        namespace=placement.namespace,
        planned=planned,
        requests=placement.requests,
        run_id=uid,
    )
    put_chunk_lists(client, placed.chunk_lists, placed.task, [build_workflow_owner(name, uid)])
    print(
        build_step_report(planned, placed.chunk_lists), flush=True
    )  # the step's log: every decision explained
    outputs: dict[str, str] = {}
    for index, values in enumerate(placed.replica_arguments(shared_on_template=False)):
        outputs[f"patch-{index}"] = values[PATCH_PARAMETER]
        outputs[f"node-{index}"] = values[NODE_PARAMETER]
    return outputs


def build_step_report(planned: PlannedPlacement, lists: ChunkLists) -> str:
    """The plan task's placement report: per replica its node, chunks and bytes, next to a
    locality-blind placement's (``spread``), then the plan's notes."""
    try:
        blind: PlacementPlan | None = plan(planned.request, BASELINE_STRATEGY)
    except PlacementError:
        blind = None  # a comparison only: never fails the step
    report = build_plan_report(build_plan_summary(planned.plan, lists), baseline_summary(blind))
    notes = "".join(f"\nplan note: {note}" for note in planned.plan.notes)
    return f"placement:\n{report}{notes}"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The step's command line (as :func:`build_plan_template` writes it)."""
    parser = argparse.ArgumentParser(prog="python -m datalocality.argo.plan_step")
    parser.add_argument("--request", required=True, help="the PlanStepRequest, JSON")
    parser.add_argument("--report", action="append", default=[], help="a replica's report")
    parser.add_argument("--node", action="append", default=[], help="where it ran")
    parser.add_argument("--workflow-name", required=True)
    parser.add_argument("--workflow-uid", required=True)
    parser.add_argument("--out", default=OUT_DIR, help="where the outputs are written")
    return parser.parse_args(list(argv))


def build_step_request(text: str) -> PlanStepRequest:
    """The ``--request`` JSON as a PlanStepRequest (SpecError naming the field)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise SpecError("--request", text, "is not JSON") from None
    return PlanStepRequest.parse(data)


def write_outputs(outputs: Mapping[str, str], out: Path) -> None:
    """Each output in its own file, as Argo's ``valueFrom.path`` reads them."""
    out.mkdir(parents=True, exist_ok=True)
    for name, value in outputs.items():
        (out / name).write_text(value, encoding="utf-8")


def main(argv: Sequence[str] | None = None, client: KubeClient | None = None) -> int:
    """The container's entry point; ``client`` replaces the in-cluster one (tests)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        request = build_step_request(args.request)
        if len(args.report) != len(args.node):
            raise SpecError("--node", len(args.node), f"one per --report ({len(args.report)})")
        if client is None:
            client = _in_cluster_client()
        outputs = run_plan_step(
            request,
            list(zip(args.node, args.report, strict=True)),
            client=client,
            workflow=(args.workflow_name, args.workflow_uid),
            env=os.environ,
        )
    except DataLocalityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_outputs(outputs, Path(args.out))
    return 0


def _in_cluster_client() -> KubeClient:
    """A KubeClient over the pod's service account (no urllib3 retries)."""
    config.load_incluster_config()
    return KubeClient(build_api_client_without_retries(k8s.ApiClient()))


if __name__ == "__main__":
    sys.exit(main())
