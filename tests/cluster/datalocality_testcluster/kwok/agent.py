"""The runtime agent: what a container runtime would do for kwok's simulated kubelets.

kwok moves pods through the Stages in ``stages.yaml`` but runs nothing. For every pod
scheduled to a kwok node, before kwok may start it (annotation ``prepared``), the agent:

* writes each container's log in the CRI format kwok's ``Logs`` serve, from the
  ``sandbox.datalocality.io/log`` annotation or a line naming the pod, node and chunks;
* writes ``xcom/return.json`` from ``sandbox.datalocality.io/xcom`` in the pod's
  directory, which an ``Exec`` makes the working directory of commands exec'd into it
  (``/airflow/xcom`` in kwok's root points at ``/proc/self/cwd/xcom``), run as a user id
  of the pod's own so that the sidecar's ``pgrep -u $(id -u)`` sees this pod only;
* for the KubernetesPodOperator's XCom sidecar, really runs its command (the shell loop
  that waits for SIGINT) inside kwok's namespaces as that user; when it exits, the pod is
  annotated ``sidecar-exited`` and kwok finishes the pod;
* carries ``run-seconds`` and ``exit-code`` over as the annotations the Stages read.

``Logs`` and ``Exec`` objects are owned by their pod, so the real garbage collector
removes them with it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client, watch  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from datalocality_testcluster.annotations import (
    EXIT_CODE,
    LOG,
    RUN_SECONDS,
    XCOM,
    expand,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
KWOK = "kwok.datalocality.io/"
PREPARED = KWOK + "prepared"
RUN_AFTER = KWOK + "run-after"
KWOK_EXIT_CODE = KWOK + "exit-code"
SIDECAR_EXITED = KWOK + "sidecar-exited"
SIDECAR = "airflow-xcom-sidecar"
CHUNKS_ENV = "DATALOCALITY_CHUNKS"
FIRST_UID = 20000
POD_USERS = 4000  # user ids FIRST_UID.. in kwok's /etc/passwd, reused round-robin
KWOK_GROUP, KWOK_VERSION = "kwok.x-k8s.io", "v1alpha1"


def write_pod_users(etc: Path) -> None:
    """kwok's /etc: what the shell tools need, and one user per pod id (kwok looks the
    Exec's runAsUser up by name before it runs a command)."""
    etc.mkdir(parents=True, exist_ok=True)
    for name in ("ld.so.cache", "nsswitch.conf", "hosts"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), etc / name)
    users = range(FIRST_UID, FIRST_UID + POD_USERS)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        + "".join(f"pod{u}:x:{u}:{u}:pod:/nonexistent:/usr/sbin/nologin\n" for u in users)
    )
    (etc / "group").write_text("root:x:0:\n" + "".join(f"pod{u}:x:{u}:\n" for u in users))


@dataclass
class _Pod:
    uid: int
    directory: Path
    sidecar: subprocess.Popen[bytes] | None = None


@dataclass
class RuntimeAgent:
    """Prepares pods for kwok; started and stopped by the control plane."""

    api: client.ApiClient
    root: Path  # kwok's root directory (its "/"), as seen from the machine
    kwok_pid: Callable[[], int]
    default_run_seconds: float = 0.2
    _pods: dict[str, _Pod] = field(default_factory=dict)
    _finished: set[tuple[str, str, str]] = field(default_factory=set)
    _gone: set[tuple[str, str]] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next_uid: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kwok-runtime-agent", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for state in list(self._pods.values()):
            self._end_sidecar(state)

    def container_finished(self, namespace: str, name: str, container: str) -> bool:
        """Whether the container has terminated (or its pod is gone): a log follow may end."""
        with self._lock:
            return (namespace, name, container) in self._finished or (
                namespace,
                name,
            ) in self._gone

    # -- the watch loop -------------------------------------------------------------

    def _run(self) -> None:
        core = client.CoreV1Api(self.api)
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    listed = core.list_pod_for_all_namespaces()
                    version = listed.metadata.resource_version
                    for pod in listed.items:
                        self._handle("ADDED", self.api.sanitize_for_serialization(pod))
                stream = watch.Watch().stream(
                    core.list_pod_for_all_namespaces,
                    resource_version=version,
                    timeout_seconds=2,
                    allow_watch_bookmarks=True,
                    _preload_content=False,
                )
                for event in stream:
                    obj = event["raw_object"]
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event["type"] in {"ADDED", "MODIFIED", "DELETED"}:
                        self._handle(event["type"], obj)
                    if self._stop.is_set():
                        break
            except ApiException as exc:
                if exc.status == 410:
                    version = ""
                    continue
                if not self._stop.is_set():
                    self._stop.wait(0.2)
            except Exception as exc:  # the agent must outlive one bad event
                if not self._stop.is_set():
                    log.exception("runtime agent")
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self._stop.wait(0.2)

    def _handle(self, kind: str, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        key = meta["uid"]
        ident = (meta["namespace"], meta["name"])
        if kind == "DELETED":
            with self._lock:
                self._gone.add(ident)
            state = self._pods.pop(key, None)
            if state is not None:
                self._end_sidecar(state)
                shutil.rmtree(state.directory, ignore_errors=True)
            return
        with self._lock:
            self._gone.discard(ident)
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if "terminated" in (status.get("state") or {}):
                    self._finished.add((*ident, status["name"]))
        annotations = meta.get("annotations") or {}
        if (
            key in self._pods
            or annotations.get(PREPARED) == "true"
            or not spec.get("nodeName")
            or meta.get("deletionTimestamp")
        ):
            return
        self._prepare(pod)

    # -- one pod --------------------------------------------------------------------

    def _prepare(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        namespace, name = meta["namespace"], meta["name"]
        annotations = meta.get("annotations") or {}
        uid = FIRST_UID + self._next_uid % POD_USERS
        self._next_uid += 1
        inside = Path("/var/pods") / f"{namespace}_{name}_{meta['uid'][:8]}"
        directory = self.root / inside.relative_to("/")
        (directory / "xcom").mkdir(parents=True, exist_ok=True)
        state = _Pod(uid, directory)
        self._pods[meta["uid"]] = state
        now = datetime.now(UTC)
        containers = spec.get("containers") or []
        for container in containers:
            text = self._log_text(pod, container)
            lines = text.splitlines() or [""]
            (directory / f"{container['name']}.log").write_text(
                "".join(
                    f"{_cri_time(now + timedelta(microseconds=i))} stdout F {line}\n"
                    for i, line in enumerate(lines)
                )
            )
        if XCOM in annotations:
            (directory / "xcom" / "return.json").write_text(annotations[XCOM])
        for path in [directory, *directory.rglob("*")]:
            shutil.chown(path, uid, uid)
        owner = [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": meta["uid"]}]
        custom = client.CustomObjectsApi(self.api)
        specs = {
            ("logs", "Logs"): {
                "logs": [
                    {"containers": [c["name"]], "logsFile": str(inside / f"{c['name']}.log")}
                    for c in containers
                ]
            },
            ("execs", "Exec"): {
                "execs": [
                    {
                        "local": {
                            "workDir": str(inside),
                            "securityContext": {"runAsUser": uid, "runAsGroup": uid},
                        }
                    }
                ]
            },
        }
        for (plural, kind), spec in specs.items():
            body = {
                "apiVersion": f"{KWOK_GROUP}/{KWOK_VERSION}",
                "kind": kind,
                "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner},
                "spec": spec,
            }
            try:
                custom.create_namespaced_custom_object(
                    KWOK_GROUP, KWOK_VERSION, namespace, plural, body
                )
            except ApiException as exc:
                if exc.status != 409:
                    raise
        sidecar = next((c for c in containers if c["name"] == SIDECAR), None)
        if sidecar is not None:
            state.sidecar = self._start_sidecar(sidecar, directory, uid, namespace, name)
        seconds = _number(annotations.get(RUN_SECONDS), self.default_run_seconds)
        code = int(_number(annotations.get(EXIT_CODE), 0))
        patch = {
            "metadata": {
                "annotations": {
                    PREPARED: "true",
                    RUN_AFTER: f"{max(seconds, 0.0):.3f}s",
                    KWOK_EXIT_CODE: str(code),
                }
            }
        }
        try:
            client.CoreV1Api(self.api).patch_namespaced_pod(name, namespace, patch)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _log_text(self, pod: Obj, container: Obj) -> str:
        env = {
            str(e.get("name")): str(e.get("value", ""))
            for e in container.get("env") or []
            if "value" in e
        }
        template = (pod["metadata"].get("annotations") or {}).get(LOG)
        if template is not None:
            return expand(template, env)
        meta = pod["metadata"]
        text = (
            f"pod {meta['namespace']}/{meta['name']} container {container['name']} "
            f"on node {pod['spec'].get('nodeName')} (simulated by kwok: no container ran)"
        )
        if CHUNKS_ENV in env:
            text += f" {CHUNKS_ENV}={env[CHUNKS_ENV]}"
        return text

    def _start_sidecar(
        self, container: Obj, directory: Path, uid: int, namespace: str, name: str
    ) -> subprocess.Popen[bytes]:
        """The sidecar's own command, run in kwok's PID and mount namespaces and root
        (nsenter opens the working directory before entering: the machine's path)."""
        argv = [*(container.get("command") or ["sh"]), *(container.get("args") or [])]
        process = subprocess.Popen(
            [
                "nsenter",
                f"--target={self.kwok_pid()}",
                "--pid",
                "--mount",
                "--root",
                f"--wd={directory}",
                f"--setuid={uid}",
                f"--setgid={uid}",
                *argv,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def exited() -> None:
            code = process.wait()
            if self._stop.is_set():
                return
            patch = {"metadata": {"annotations": {SIDECAR_EXITED: str(code)}}}
            try:
                client.CoreV1Api(self.api).patch_namespaced_pod(name, namespace, patch)
            except ApiException as exc:
                if exc.status != 404:
                    self.errors.append(f"sidecar exit of {namespace}/{name}: {exc.status}")

        threading.Thread(target=exited, name=f"sidecar-{name}", daemon=True).start()
        return process

    @staticmethod
    def _end_sidecar(state: _Pod) -> None:
        if state.sidecar is not None and state.sidecar.poll() is None:
            state.sidecar.kill()
            state.sidecar.wait(5)


def _cri_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _number(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default
