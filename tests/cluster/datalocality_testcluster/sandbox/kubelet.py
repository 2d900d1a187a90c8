"""The fake kubelet: moves bound pods through their phases and makes up their logs.

No container is ever run. A pod bound to a node of the inventory becomes Running
``start_seconds`` after binding (container statuses started and ready, ``podIP``,
``hostIP``, ``startTime``) and its containers terminate ``run_seconds`` later; the pod
ends Succeeded when every exit code is 0, Failed otherwise. Annotations on the pod
steer this (prefix ``sandbox.datalocality.io/``):

* ``exit-code``: the exit code of every container (default ``0``);
* ``run-seconds``: how long the containers "run" (default from the timing);
* ``log``: the log text, with ``$(VAR)`` expanded from the container's environment;
  the default is one line naming the pod, its node and ``DATALOCALITY_CHUNKS`` if set;
* ``xcom``: what ``/airflow/xcom/return.json`` holds, for the KubernetesPodOperator's
  XCom sidecar (see :mod:`datalocality_testcluster.sandbox.execs`).

Pods with ``restartPolicy: Always`` and no ``run-seconds`` keep running until deleted;
the XCom sidecar (``airflow-xcom-sidecar``) runs until its kill command is exec'd. A
container whose config map or secret is missing waits (``CreateContainerConfigError``,
or ``ContainerCreating`` for volumes) until the object exists.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.environment import (
    MissingReference,
    container_env,
    expand,
    missing_volume,
)
from datalocality_testcluster.sandbox.scheduler import set_condition
from datalocality_testcluster.sandbox.store import rfc3339, utc_now

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.apiserver import ApiServer

Obj = dict[str, Any]
PREFIX = "sandbox.datalocality.io/"
SIDECAR = "airflow-xcom-sidecar"
CHUNKS_ENV = "DATALOCALITY_CHUNKS"


@dataclass(frozen=True)
class KubeletTiming:
    """How long the emulated phases take, in seconds."""

    start_seconds: float = 0.5
    run_seconds: float = 2.0


@dataclass
class _Run:
    started: float  # monotonic
    wall: datetime


class Kubelet:
    """One kubelet for every node of the inventory."""

    def __init__(self, api: ApiServer, timing: KubeletTiming) -> None:
        self.api = api
        self.timing = timing
        self.pods = api.rt("", "v1", "pods")
        self._bound: dict[str, float] = {}
        self._runs: dict[str, _Run] = {}
        self._ips: dict[str, int] = {}
        self.killed_sidecars: set[str] = set()
        self._wakeup = math.inf

    def next_wakeup(self) -> float:
        """The monotonic time of the next transition due (inf if none)."""
        return self._wakeup

    def run(self) -> None:
        """One pass over the pods bound to known nodes."""
        self._wakeup = math.inf
        nodes = {n["metadata"]["name"]: n for n in self.api.store.objects(("", "nodes"))}
        live: set[str] = set()
        for pod in self.api.store.objects(("", "pods")):
            uid, node = pod["metadata"]["uid"], (pod.get("spec") or {}).get("nodeName")
            live.add(uid)
            if node in nodes and (pod.get("status") or {}).get("phase") not in {
                "Succeeded",
                "Failed",
            }:
                self._step(pod, nodes[node])
        for table in (self._bound, self._runs):
            for uid in [u for u in table if u not in live]:
                del table[uid]

    def _due(self, at: float) -> bool:
        if time.monotonic() >= at:
            return True
        self._wakeup = min(self._wakeup, at)
        return False

    def _step(self, pod: Obj, node: Obj) -> None:
        uid = pod["metadata"]["uid"]
        if pod["metadata"].get("deletionTimestamp"):
            self._finish(pod, 137)
            return
        run = self._runs.get(uid)
        if run is None:
            bound = self._bound.setdefault(uid, time.monotonic())
            if self._due(bound + self.timing.start_seconds):
                self._start(pod, node)
            return
        duration = _annotation_float(pod, "run-seconds")
        if duration is None:
            if pod["spec"].get("restartPolicy") == "Always":
                return
            duration = self.timing.run_seconds
        if self._due(run.started + duration) or uid in self.killed_sidecars:
            self._finish(pod, _exit_code(pod))

    def _start(self, pod: Obj, node: Obj) -> None:
        meta = pod["metadata"]
        problem, reason = missing_volume(self.api.store, pod), "ContainerCreating"
        if problem is None:
            try:
                for container in pod["spec"].get("containers") or []:
                    container_env(self.api.store, pod, container)
            except MissingReference as exc:
                problem, reason = str(exc), "CreateContainerConfigError"
        if problem is not None:
            self._wait(pod, reason, problem)
            return
        now, wall = time.monotonic(), utc_now()
        self._runs[meta["uid"]] = _Run(now, wall)
        node_name = node["metadata"]["name"]
        host_ip = _address(node)
        self._ips[node_name] = self._ips.get(node_name, 1) + 1
        index = sorted(n["metadata"]["name"] for n in self.api.store.objects(("", "nodes"))).index(
            node_name
        )
        pod_ip = f"10.244.{index}.{self._ips[node_name] % 250 + 2}"
        stamp = rfc3339(wall)

        def start(p: Obj) -> None:
            status = p.setdefault("status", {})
            status.update(
                {
                    "phase": "Running",
                    "hostIP": host_ip,
                    "hostIPs": [{"ip": host_ip}],
                    "podIP": pod_ip,
                    "podIPs": [{"ip": pod_ip}],
                    "startTime": stamp,
                }
            )
            status["initContainerStatuses"] = [
                _status(p, c, {"terminated": _terminated(p, c, 0, stamp, stamp)})
                for c in p["spec"].get("initContainers") or []
            ]
            status["containerStatuses"] = [
                _status(p, c, {"running": {"startedAt": stamp}}, ready=True)
                for c in p["spec"].get("containers") or []
            ]
            for type_ in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"):
                set_condition(p, type_, "True")

        started = self.api.mutate(self.pods, meta["namespace"], meta["name"], start)
        if started is not None:
            names = ", ".join(c["name"] for c in pod["spec"].get("containers") or [])
            self.api.record_event(
                started,
                "Normal",
                "Started",
                f"Started container(s) {names} (emulated: nothing runs)",
                "kubelet",
            )

    def _wait(self, pod: Obj, reason: str, message: str) -> None:
        current = [
            s.get("state", {}).get("waiting", {})
            for s in (pod.get("status") or {}).get("containerStatuses") or []
        ]
        if current and current[0].get("message") == message:
            self._wakeup = min(self._wakeup, time.monotonic() + 0.5)  # retry as the kubelet does
            return

        def wait(p: Obj) -> None:
            p.setdefault("status", {})["containerStatuses"] = [
                _status(p, c, {"waiting": {"reason": reason, "message": message}})
                for c in p["spec"].get("containers") or []
            ]

        updated = self.api.mutate(
            self.pods, pod["metadata"]["namespace"], pod["metadata"]["name"], wait
        )
        if updated is not None:
            event = "FailedMount" if reason == "ContainerCreating" else "Failed"
            self.api.record_event(updated, "Warning", event, message, "kubelet")

    def _finish(self, pod: Obj, code: int) -> None:
        uid = pod["metadata"]["uid"]
        killed = uid in self.killed_sidecars or pod["metadata"].get("deletionTimestamp")
        run = self._runs.get(uid)
        started = rfc3339(run.wall) if run else rfc3339()
        finished = rfc3339()

        def finish(p: Obj) -> None:
            statuses = []
            before = {s["name"]: s for s in (p.get("status") or {}).get("containerStatuses") or []}
            for c in p["spec"].get("containers") or []:
                if "terminated" in (before.get(c["name"]) or {}).get("state", {}):
                    statuses.append(before[c["name"]])
                elif c["name"] == SIDECAR and not killed:
                    statuses.append(_status(p, c, {"running": {"startedAt": started}}, ready=True))
                else:
                    exit_code = 0 if c["name"] == SIDECAR and code != 137 else code
                    statuses.append(
                        _status(
                            p, c, {"terminated": _terminated(p, c, exit_code, started, finished)}
                        )
                    )
            status = p.setdefault("status", {})
            status["containerStatuses"] = statuses
            if any("running" in s["state"] for s in statuses):
                return
            failed = any(s["state"]["terminated"]["exitCode"] != 0 for s in statuses)
            status["phase"] = "Failed" if failed else "Succeeded"
            for type_ in ("ContainersReady", "Ready"):
                set_condition(p, type_, "False", "PodCompleted")

        self.api.mutate(self.pods, pod["metadata"]["namespace"], pod["metadata"]["name"], finish)

    def container_state(self, pod: Obj, container: str) -> str:
        """``waiting``, ``running`` or ``terminated`` for one container of a stored pod."""
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == container:
                return str(next(iter(status.get("state") or {"waiting": {}})))
        return "waiting"

    def logs(self, pod: Obj, container: str) -> list[tuple[datetime, str]]:
        """The made-up log lines of one container, with the time each was written."""
        run = self._runs.get(pod["metadata"]["uid"])
        if run is None or container == SIDECAR:
            return []
        spec = next(
            (c for c in pod["spec"].get("containers") or [] if c["name"] == container), None
        )
        if spec is None:
            return []
        try:
            env = container_env(self.api.store, pod, spec)
        except MissingReference:
            env = {}
        template = (pod["metadata"].get("annotations") or {}).get(PREFIX + "log")
        if template is None:
            node = pod["spec"].get("nodeName")
            meta = pod["metadata"]
            text = (
                f"pod {meta['namespace']}/{meta['name']} container {container} "
                f"on node {node} (emulated: no container ran)"
            )
            if CHUNKS_ENV in env:
                text += f" {CHUNKS_ENV}={env[CHUNKS_ENV]}"
        else:
            text = expand(template, env)
        lines = text.splitlines() or [""]
        return [(run.wall + timedelta(microseconds=i), line) for i, line in enumerate(lines)]


def _address(node: Obj) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address"))
    return "10.0.0.1"


def _status(pod: Obj, container: Obj, state: Obj, ready: bool = False) -> Obj:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": f"sandbox://{container.get('image', '')}",
        "containerID": f"sandbox://{pod['metadata']['uid']}/{container['name']}",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 0,
        "state": state,
        "lastState": {},
    }


def _terminated(pod: Obj, container: Obj, code: int, started: str, finished: str) -> Obj:
    return {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "startedAt": started,
        "finishedAt": finished,
        "containerID": f"sandbox://{pod['metadata']['uid']}/{container['name']}",
    }


def _annotation_float(pod: Obj, key: str) -> float | None:
    value = (pod["metadata"].get("annotations") or {}).get(PREFIX + key)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _exit_code(pod: Obj) -> int:
    value = _annotation_float(pod, "exit-code")
    return int(value) if value is not None else 0
