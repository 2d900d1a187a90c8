"""What the UI shows of a placement, and the one way to read it back from XCom.

The plan task pushes :func:`build_placement_layout` as its ``layout`` XCom beside ``plan``
and ``baseline`` (:mod:`.plan_store`): per node the bytes and chunks it holds and the
replicas placed on it, and the biggest node-to-node moves. Sized by nodes, not chunks:
idle nodes are counted per zone, and moves past :data:`MAX_FLOWS` are summed. The UI
plugin reads every view through :func:`read_placement`, so this module owns the XCom
layout; both are pure (the XCom reader is passed in).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from datalocality.errors import PlacementNotRecorded
from datalocality.kube.chunk_lists import ChunkLists
from datalocality.model import DataSource, PlacementPlan, Topology
from datalocality.model.topology import TIER_NAMES
from datalocality.operators.plan_report import baseline_summary
from datalocality.operators.plan_store import build_plan_summary

MAX_FLOWS = 200  # node-to-node moves drawn one by one; the rest are summed
XCOM_KEYS = ("plan", "baseline", "layout")

PLAN_TASK = "DataLocalityPlanOperator"
# What each of the provider's operators is to its plan, by Airflow task type.
ROLES: Mapping[str, Literal["replica", "operation", "producer", "release"]] = {
    "DataLocalityPodOperator": "replica",
    "RepartitionOperator": "operation",
    "AssemblyOperator": "operation",
    "ProduceChunksPodOperator": "producer",
    "CollectChunksOperator": "producer",
    "DataLocalityReleaseOperator": "release",
}

ReadXCom = Callable[[str, str], Any]  # (task_id, key) -> the plan task's value or None


def _where(topology: Topology) -> dict[str, dict[str, str]]:
    """Cluster, region and zone of every node, and of every ``zone:``, ``region:`` and
    ``cluster:`` location (data known only by domain is drawn in its domain)."""
    where: dict[str, dict[str, str]] = {}
    for node in topology.nodes:
        place = {"cluster": node.cluster, "region": node.region, "zone": node.zone}
        where[node.name] = place
        where.setdefault(f"zone:{node.zone}", place)
        where.setdefault(f"region:{node.region}", {**place, "zone": ""})
        where.setdefault(f"cluster:{node.cluster}", {**place, "region": "", "zone": ""})
    return where


def build_placement_layout(
    topology: Topology, sources: Iterable[DataSource], plan: PlacementPlan
) -> dict[str, Any]:
    """The ``layout`` XCom: nodes holding data or replicas, idle nodes per zone, moves."""
    held_bytes: Counter[str] = Counter()
    held_chunks: Counter[str] = Counter()
    for source in sources:
        for chunk in source.chunks:
            for location in chunk.locations:
                held_bytes[location] += chunk.size
                held_chunks[location] += 1
    placed: defaultdict[str, list[int]] = defaultdict(list)
    for replica in plan.replicas:
        placed[replica.node].append(replica.index)
    where = _where(topology)
    shown_set = set(held_bytes) | set(placed)
    shown = sorted(shown_set)
    nodes = [
        {
            "name": name,
            **where.get(name, {"cluster": "", "region": "", "zone": ""}),
            "held_bytes": held_bytes[name],
            "held_chunks": held_chunks[name],
            "replicas": placed.get(name, []),
        }
        for name in shown
    ]
    idle: Counter[tuple[str, str, str]] = Counter(
        (n.cluster, n.region, n.zone) for n in topology.nodes if n.name not in shown_set
    )
    moves: Counter[tuple[str, str, int]] = Counter()
    counts: Counter[tuple[str, str, int]] = Counter()
    for transfer in plan.transfers:
        key = (transfer.from_node, transfer.to_node, transfer.tier)
        moves[key] += transfer.bytes
        counts[key] += 1
    ranked = sorted(moves.items(), key=lambda item: (-item[1], item[0]))
    return {
        "nodes": nodes,
        "idle_nodes": [
            {"cluster": c, "region": r, "zone": z, "count": count}
            for (c, r, z), count in sorted(idle.items())
        ],
        "flows": [
            {"from": src, "to": dst, "tier": tier, "bytes": size, "chunks": counts[src, dst, tier]}
            for (src, dst, tier), size in ranked[:MAX_FLOWS]
        ],
        "other_flow_bytes": sum(size for _, size in ranked[MAX_FLOWS:]),
    }


def build_plan_xcoms(
    chosen: PlacementPlan,
    chunk_lists: ChunkLists,
    baseline: PlacementPlan | None,
    topology: Topology,
    sources: Iterable[DataSource],
) -> dict[str, Any]:
    """Every XCom the plan task pushes besides its return value, by key: the summary
    (``plan``), the job tasks' ``operations``, the ``baseline`` and the ``layout``."""
    summary = build_plan_summary(chosen, chunk_lists)
    return {
        "plan": summary,
        "operations": summary["operations"],
        "baseline": baseline_summary(baseline),
        "layout": build_placement_layout(topology, sources, chosen),
    }


def _nearest_plan(dag: Any, task_id: str, direction: str) -> str | None:
    """The nearest plan task up (or down) the DAG from ``task_id``, breadth first."""
    seen = {task_id}
    queue = deque(sorted(getattr(dag.get_task(task_id), direction)))
    while queue:
        current = queue.popleft()
        if current in seen:
            continue
        seen.add(current)
        task = dag.get_task(current)
        if getattr(task, "task_type", "") == PLAN_TASK:
            return str(current)
        queue.extend(sorted(getattr(task, direction)))
    return None


def find_plan_task(dag: Any, task_id: str) -> tuple[str, str] | None:
    """The plan task a task's placement comes from and the task's role in it (``plan``,
    ``replica``, ``operation``, ``producer``); None for a task not of this provider.

    Works on a live DAG and on the API server's serialized one: only ``task_type`` and
    the upstream and downstream task ids are read."""
    if not dag.has_task(task_id):
        return None
    task_type = getattr(dag.get_task(task_id), "task_type", "")
    if task_type == PLAN_TASK:
        return task_id, "plan"
    role = ROLES.get(task_type)
    if role is None:
        return None
    direction = "downstream_task_ids" if role == "producer" else "upstream_task_ids"
    found = _nearest_plan(dag, task_id, direction)
    return (found, role) if found else None


def read_placement(
    dag: Any, *, run_id: str, task_id: str, map_index: int, read_xcom: ReadXCom
) -> dict[str, Any]:
    """One task instance's Placement view: its plan task's plan, baseline and layout,
    and which replica or operation is its own. PlacementNotRecorded says why not."""
    found = find_plan_task(dag, task_id)
    if found is None:
        raise PlacementNotRecorded(f"task {task_id!r} of DAG {dag.dag_id!r} places no data")
    plan_task, role = found
    values = {key: read_xcom(plan_task, key) for key in XCOM_KEYS}
    if not isinstance(values["plan"], Mapping):
        raise PlacementNotRecorded(
            f"plan task {plan_task!r} has recorded no plan in run {run_id!r} (not run yet?)"
        )
    highlight = None
    if role in ("replica", "operation") and map_index >= 0:
        highlight = {role: map_index}
    return {
        "dag_id": dag.dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "plan_task": plan_task,
        "role": role,
        "highlight": highlight,
        "tier_names": list(TIER_NAMES),
        "plan": {k: v for k, v in values["plan"].items() if k != "chunk_lists"},
        "baseline": values["baseline"] if isinstance(values["baseline"], Mapping) else {},
        "layout": values["layout"] if isinstance(values["layout"], Mapping) else {},
    }
