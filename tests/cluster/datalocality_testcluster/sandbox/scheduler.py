"""The binder: puts each pending pod on a node, as kube-scheduler's filters would allow.

Filters: ``spec.nodeSelector``; required node affinity (terms ORed; ``matchExpressions``
In, NotIn, Exists, DoesNotExist, Gt, Lt on node labels and ``matchFields`` on
``metadata.name`` ANDed within a term); taints with effect NoSchedule or NoExecute
against the pod's tolerations; ``spec.unschedulable``; and resource requests (cpu,
memory, ephemeral-storage, extended resources, and the pod count) against allocatable
minus what the non-terminated pods already bound to the node request.

Score: the sum of the weights of the preferred node-affinity terms a node matches,
then fewer untolerated PreferNoSchedule taints, then the node name. There is no
inter-pod affinity, topology spread, preemption or volume binding: those fields are
ignored. A pod that fits nowhere stays Pending with ``PodScheduled=False``, reason
``Unschedulable``, and a ``FailedScheduling`` event, and is retried on every change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.quantities import parse_quantity
from datalocality_testcluster.sandbox.selectors import requirement_matches
from datalocality_testcluster.sandbox.store import rfc3339

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.apiserver import ApiServer

Obj = dict[str, Any]
Resources = dict[str, Fraction]
TERMINAL = {"Succeeded", "Failed"}
DEFAULT_SCHEDULERS = ("default-scheduler",)
AFFINITY_MISMATCH = "node(s) didn't match Pod's node affinity/selector"


def _quantities(mapping: Mapping[str, Any] | None) -> Resources:
    out: Resources = {}
    for key, value in (mapping or {}).items():
        try:
            out[key] = parse_quantity(value)
        except ValueError:
            continue
    return out


def pod_requests(pod: Obj) -> Resources:
    """What a pod asks for: the sum over containers (limits stand in for missing
    requests), at least the largest init container, plus overhead and one pod slot."""
    spec = pod.get("spec") or {}

    def container(c: Obj) -> Resources:
        res = c.get("resources") or {}
        return {**_quantities(res.get("limits")), **_quantities(res.get("requests"))}

    total: Resources = {}
    for c in spec.get("containers") or []:
        for key, value in container(c).items():
            total[key] = total.get(key, Fraction(0)) + value
    for c in spec.get("initContainers") or []:
        for key, value in container(c).items():
            total[key] = max(total.get(key, Fraction(0)), value)
    for key, value in _quantities(spec.get("overhead")).items():
        total[key] = total.get(key, Fraction(0)) + value
    total["pods"] = Fraction(1)
    return total


def tolerates(tolerations: Iterable[Obj], taint: Obj) -> bool:
    """Whether some toleration matches the taint (key, value, effect, operator)."""
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator", "Equal") == "Exists":
            if not tol.get("key") or tol["key"] == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    """A node selector term: every expression and field requirement holds (empty: none)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    name_only = {"metadata.name": node["metadata"]["name"]}
    return all(requirement_matches(e, labels) for e in expressions) and all(
        requirement_matches(f, name_only) for f in fields
    )


def affinity_matches(pod: Obj, node: Obj) -> bool:
    """nodeSelector and required node affinity."""
    spec = pod.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    return terms is None or any(term_matches(t, node) for t in terms)


def preferred_score(pod: Obj, node: Obj) -> int:
    """Sum of the weights of the preferred node-affinity terms the node matches."""
    node_affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    preferred = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return sum(
        int(p.get("weight", 0)) for p in preferred if term_matches(p.get("preference") or {}, node)
    )


def _reasons(pod: Obj, node: Obj, used: Resources) -> list[str]:
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if (node.get("spec") or {}).get("unschedulable") and not tolerates(
        tolerations, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    ):
        return ["node(s) were unschedulable"]
    if not affinity_matches(pod, node):
        return [AFFINITY_MISMATCH]
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in {"NoSchedule", "NoExecute"} and not tolerates(tolerations, taint):
            text = (
                f"{taint.get('key')}: {taint['value']}" if taint.get("value") else taint.get("key")
            )
            return [f"node(s) had untolerated taint {{{text}}}"]
    status = node.get("status") or {}
    allocatable = _quantities(status.get("allocatable") or status.get("capacity"))
    reasons = []
    for key, want in sorted(pod_requests(pod).items()):
        if want <= 0:
            continue
        have = allocatable.get(key, Fraction(0)) - used.get(key, Fraction(0))
        if want > have:
            reasons.append("Too many pods" if key == "pods" else f"Insufficient {key}")
    return reasons


def choose_node(
    pod: Obj, nodes: list[Obj], usage: Mapping[str, Resources]
) -> tuple[str | None, str]:
    """The node for ``pod`` (None if none fits) and otherwise why, as the scheduler says it."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    feasible: list[tuple[int, int, str]] = []
    why: Counter[str] = Counter()
    for node in nodes:
        name = node["metadata"]["name"]
        reasons = _reasons(pod, node, usage.get(name, {}))
        why.update(reasons)
        if not reasons:
            soft = sum(
                1
                for t in (node.get("spec") or {}).get("taints") or []
                if t.get("effect") == "PreferNoSchedule" and not tolerates(tolerations, t)
            )
            feasible.append((-preferred_score(pod, node), soft, name))
    if feasible:
        return min(feasible)[2], ""
    details = ", ".join(f"{n} {reason}" for reason, n in sorted(why.items()))
    return None, f"0/{len(nodes)} nodes are available: {details or 'no nodes registered'}."


def set_condition(pod: Obj, type_: str, status: str, reason: str = "", message: str = "") -> None:
    """Set a pod condition, keeping lastTransitionTime when the status does not change."""
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    current = next((c for c in conditions if c.get("type") == type_), None)
    entry: Obj = {"type": type_, "status": status, "lastProbeTime": None}
    entry["lastTransitionTime"] = (
        current["lastTransitionTime"] if current and current.get("status") == status else rfc3339()
    )
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    if current is None:
        conditions.append(entry)
    else:
        conditions[conditions.index(current)] = entry


class Binder:
    """Binds pending pods whose ``schedulerName`` is one of ``scheduler_names``."""

    def __init__(self, api: ApiServer, scheduler_names: Iterable[str] = DEFAULT_SCHEDULERS) -> None:
        self.api = api
        self.scheduler_names = frozenset(scheduler_names)
        self.pods = api.rt("", "v1", "pods")

    def next_wakeup(self) -> float:
        """The binder only reacts to changes."""
        return float("inf")

    def run(self) -> None:
        """One pass over every pending pod, in priority then creation order."""
        nodes = self.api.store.objects(("", "nodes"))
        pods = self.api.store.objects(("", "pods"))
        usage: dict[str, Resources] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (pod.get("status") or {}).get("phase") not in TERMINAL:
                _add(usage.setdefault(node, {}), pod_requests(pod))
        pending = [p for p in pods if self._wants_binding(p)]
        pending.sort(
            key=lambda p: (
                -int(p["spec"].get("priority") or 0),
                int(p["metadata"]["resourceVersion"]),
            )
        )
        for pod in pending:
            self._place(pod, nodes, usage)

    def _wants_binding(self, pod: Obj) -> bool:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        return (
            not spec.get("nodeName")
            and status.get("phase", "Pending") == "Pending"
            and not pod["metadata"].get("deletionTimestamp")
            and spec.get("schedulerName", "default-scheduler") in self.scheduler_names
        )

    def _place(self, pod: Obj, nodes: list[Obj], usage: dict[str, Resources]) -> None:
        meta = pod["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        if pod["spec"].get("schedulingGates"):
            self.api.mutate(
                self.pods,
                namespace,
                name,
                lambda p: set_condition(
                    p,
                    "PodScheduled",
                    "False",
                    "SchedulingGated",
                    "Scheduling is blocked due to non-empty scheduling gates",
                ),
            )
            return
        node, message = choose_node(pod, nodes, usage)
        if node is not None:

            def bind(p: Obj) -> None:
                p["spec"]["nodeName"] = node
                set_condition(p, "PodScheduled", "True")

            bound = self.api.mutate(self.pods, namespace, name, bind)
            if bound is not None:
                _add(usage.setdefault(node, {}), pod_requests(pod))
                self.api.record_event(
                    bound,
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {namespace}/{name} to {node}",
                    "default-scheduler",
                )
            return
        previous: Obj = next(
            (
                c
                for c in (pod.get("status") or {}).get("conditions") or []
                if c.get("type") == "PodScheduled"
            ),
            {},
        )
        if previous.get("message") == message:
            return
        updated = self.api.mutate(
            self.pods,
            namespace,
            name,
            lambda p: set_condition(p, "PodScheduled", "False", "Unschedulable", message),
        )
        if updated is not None:
            self.api.record_event(
                updated, "Warning", "FailedScheduling", message, "default-scheduler"
            )


def _add(total: Resources, more: Resources) -> None:
    for key, value in more.items():
        total[key] = total.get(key, Fraction(0)) + value
