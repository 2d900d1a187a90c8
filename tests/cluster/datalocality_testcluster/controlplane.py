"""A real Kubernetes control plane on loopback, started from Python.

``start_control_plane(inventory)`` runs etcd, kube-apiserver (RBAC, token
authentication, a service-account issuer, PodSecurity admission), kube-controller-manager
(job, node lifecycle, garbage collector, ttl-after-finished, namespace, service accounts,
root CA publisher, pod GC), kube-scheduler, and kwok for the nodes of the inventory, the
way envtest and kwokctl's binary runtime do. Binaries come from ``build-binaries.sh`` (built
from Go modules once, cached outside the repository).

What is simulated: the kubelets. kwok keeps nodes Ready and moves pods through the Stages
of ``kwok/stages.yaml``; the runtime agent writes what containers would print or return;
no container runs. kwok runs in its own PID and mount namespaces, chrooted, so commands
exec'd into pods (the XCom sidecar's ``kill``) reach no process of the machine.

Everything is stopped and removed on exit, also after a failure, SIGINT or SIGTERM; the
children die with the Python process even if it is SIGKILLed (parent-death signal).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client  # type: ignore[import-untyped]
from kubernetes import config as kube_config

from datalocality_testcluster.kwok.agent import RuntimeAgent, write_pod_users
from datalocality_testcluster.kwok.front import KubeletFront
from datalocality_testcluster.pki import create_pki
from datalocality_testcluster.processes import (
    Component,
    ComponentError,
    free_port,
    start_component,
    wait_until,
)
from datalocality_testcluster.sandbox.inventory import load_inventory

Obj = dict[str, Any]
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
CONTROLLERS = (
    "job-controller",
    "node-lifecycle-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "pod-garbage-collector-controller",
)
SERVICE_CIDR = "10.96.0.0/24"
POD_CIDR = "10.244.0.0/16"


def _here() -> Path:
    return Path(str(resources.files("datalocality_testcluster")))


def binaries(build: bool = True) -> Path:
    """The directory of the built binaries; builds them first when missing."""
    script = _here() / "build-binaries.sh"
    args = ["bash", str(script)] + ([] if build else ["--print"])
    done = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise ComponentError(f"build-binaries.sh failed with code {done.returncode}")
    return Path(done.stdout.strip().splitlines()[-1])


AUDIT_LOG = "audit.log"
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}


@dataclass(frozen=True)
class AuditedRequest:
    """One request the apiserver's audit log recorded (stage ResponseComplete)."""

    user: str
    verb: str
    group: str
    resource: str  # with its subresource: "pods/exec"
    namespace: str
    code: int


@dataclass
class ControlPlane:
    """A running control plane: its kubeconfig, an admin ApiClient, its start-up times."""

    workdir: Path
    server: str
    kubeconfig_path: Path
    ca_path: Path
    admin_token: str
    timings: dict[str, float] = field(default_factory=dict)
    components: list[Component] = field(default_factory=list)
    agent: RuntimeAgent | None = None

    def api_client(self) -> client.ApiClient:
        """An admin ApiClient without urllib3 retries (close it after use)."""
        configuration = client.Configuration()
        kube_config.load_kube_config(
            config_file=str(self.kubeconfig_path), client_configuration=configuration
        )
        configuration.retries = False
        return client.ApiClient(configuration)

    def audited_requests(self) -> list[AuditedRequest]:
        """What service accounts asked of the apiserver so far, from its audit log."""
        found: list[AuditedRequest] = []
        log = self.workdir / AUDIT_LOG
        for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if event.get("stage") != "ResponseComplete" or not ref.get("resource"):
                continue  # a non-resource URL (/api, /version) is not an RBAC rule's
            resource = ref["resource"] + (
                f"/{ref['subresource']}" if ref.get("subresource") else ""
            )
            found.append(
                AuditedRequest(
                    user=event["user"]["username"],
                    verb=event["verb"],
                    group=ref.get("apiGroup", ""),
                    resource=resource,
                    namespace=ref.get("namespace", ""),
                    code=int((event.get("responseStatus") or {}).get("code", 0)),
                )
            )
        return found

    def kubeconfig_for_token(self, path: Path, token: str, namespace: str = "default") -> Path:
        """A kubeconfig for another identity (a service account's token)."""
        path.write_text(yaml.safe_dump(_kubeconfig(self.server, self.ca_path, token, namespace)))
        return path

    @property
    def errors(self) -> list[str]:
        """What went wrong behind the API (the runtime agent's failures)."""
        return list(self.agent.errors) if self.agent else []

    def check_alive(self) -> None:
        for component in self.components:
            component.check_alive()


def _kubeconfig(server: str, ca: Path, token: str, namespace: str = "default") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [
            {
                "name": "local",
                "context": {"cluster": "local", "user": "user", "namespace": namespace},
            }
        ],
        "current-context": "local",
    }


def _get(url: str, ca: Path | None = None, token: str = "") -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


def _node_objects(inventory: Any) -> tuple[list[Obj], list[Obj]]:
    """The inventory's nodes for kwok: kwok sets addresses (127.0.0.1), conditions and the
    kubelet port, so those are left out; capacity and allocatable stay."""
    loaded = load_inventory(inventory)
    nodes = []
    for node in loaded.nodes:
        meta = dict(node["metadata"])
        meta["annotations"] = {**(meta.get("annotations") or {}), KWOK_NODE_ANNOTATION: "fake"}
        status = {k: node["status"][k] for k in ("capacity", "allocatable") if k in node["status"]}
        nodes.append({**node, "metadata": meta, "status": status})
    return nodes, loaded.reserved_pods


@contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM ends the ``with`` block like SIGINT does, so everything is still cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if previous in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def start_control_plane(
    inventory: str | Path | Mapping[str, Any] | list[Any] | None = None,
    *,
    crds: list[Obj] | None = None,
    default_run_seconds: float = 0.2,
    build: bool = True,
) -> Iterator[ControlPlane]:
    """Start everything, yield the running control plane, stop and remove it all."""
    nodes = _node_objects(inventory)  # a bad inventory fails before anything starts
    if os.geteuid() != 0:
        raise ComponentError(
            "the control plane runs kwok in its own PID and mount namespaces "
            "(unshare, mount, chroot, nsenter): run it as root"
        )
    bin_dir = binaries(build)
    workdir = Path(tempfile.mkdtemp(prefix="datalocality-kube-"))
    stops: list[Callable[[], None]] = []  # what was started, stopped in reverse order
    with signals_raise():
        try:
            yield _start(
                bin_dir=bin_dir,
                workdir=workdir,
                stops=stops,
                inventory=nodes,
                crds=crds,
                default_run_seconds=default_run_seconds,
            )
        finally:
            for stop in reversed(stops):
                stop()
            shutil.rmtree(workdir, ignore_errors=True)


def _start(
    *,
    bin_dir: Path,
    workdir: Path,
    stops: list[Callable[[], None]],
    inventory: tuple[list[Obj], list[Obj]],
    crds: list[Obj] | None,
    default_run_seconds: float,
) -> ControlPlane:
    began = time.monotonic()
    components: list[Component] = []

    def started(component: Component) -> Component:
        components.append(component)
        stops.append(component.stop)
        return component

    timings: dict[str, float] = {}
    logs = workdir / "logs"
    logs.mkdir()
    pki = create_pki(workdir / "pki", ["kube-apiserver", "kwok"])
    token = secrets.token_hex(16)
    tokens = workdir / "tokens.csv"
    tokens.write_text(f'{token},admin,admin,"system:masters"\n')
    # every request a service account makes, at Metadata level (no bodies): what the
    # provider really asks the apiserver for (tests/airflow/test_least_privilege_e2e.py)
    audit_policy = workdir / "audit-policy.yaml"
    audit_policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    tokens.chmod(0o600)

    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd = started(
        start_component(
            "etcd",
            [
                bin_dir / "etcd",
                "--name=default",
                f"--data-dir={workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            logs,
        )
    )
    timings["etcd"] = wait_until(
        etcd,
        lambda: b"true" in _get(f"http://127.0.0.1:{etcd_port}/health")[1],
        30,
        "healthy",
    )

    cert, key = pki.serving("kube-apiserver")
    apiserver = started(
        start_component(
            "kube-apiserver",
            [
                bin_dir / "kube-apiserver",
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={workdir / 'apiserver-certs'}",
                f"--tls-cert-file={cert}",
                f"--tls-private-key-file={key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--enable-admission-plugins=PodSecurity,NamespaceLifecycle,ServiceAccount",
                "--kubelet-preferred-address-types=InternalIP",
                "--allow-privileged=false",
                "--profiling=false",
                "--event-ttl=1h",
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={workdir / AUDIT_LOG}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--v=0",
            ],
            logs,
        )
    )
    server = f"https://127.0.0.1:{api_port}"
    timings["kube-apiserver"] = wait_until(
        apiserver,
        lambda: _get(f"{server}/readyz", pki.ca_cert, token)[0] == 200,
        120,
        "ready",
    )
    kubeconfig = workdir / "admin.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(_kubeconfig(server, pki.ca_cert, token)))
    kubeconfig.chmod(0o600)

    controller_manager = started(
        start_component(
            "kube-controller-manager",
            [
                bin_dir / "kube-controller-manager",
                f"--kubeconfig={kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                "--leader-elect=false",
                "--secure-port=0",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
                "--concurrent-job-syncs=10",
                "--v=0",
            ],
            logs,
        )
    )
    started(
        start_component(
            "kube-scheduler",
            [
                bin_dir / "kube-scheduler",
                f"--config={_scheduler_config(workdir, kubeconfig)}",
                "--secure-port=0",
                "--v=0",
            ],
            logs,
        )
    )

    plane = ControlPlane(workdir, server, kubeconfig, pki.ca_cert, token, timings, components)
    api = plane.api_client()
    # the caller's CRDs with kwok's, early: the apiserver delays their creates for a while
    # after they are Established (see _wait_creates_undelayed), while the rest starts
    applied = [_load(p) for p in sorted((bin_dir.parent / "crds").glob("*.yaml"))] + list(
        crds or []
    )
    _apply_crds(api, applied)

    root = workdir / "kwok-root"
    (root / "kwok").mkdir(parents=True)
    (root / "var" / "pods").mkdir(parents=True)
    write_pod_users(root / "etc")
    inside = Path("/kwok")
    for source, name in (
        (pki.ca_cert, "ca.crt"),
        (pki.serving("kwok")[0], "kwok.crt"),
        (pki.serving("kwok")[1], "kwok.key"),
        (bin_dir / "kwok", "kwok"),
        (_here() / "kwok" / "stages.yaml", "stages.yaml"),
    ):
        shutil.copy2(source, root / "kwok" / name)
    (root / "kwok" / "kubeconfig").write_text(
        yaml.safe_dump(_kubeconfig(server, inside / "ca.crt", token))
    )
    kwok_port, front_port = free_port(), free_port()
    kwok_argv: list[str | Path] = [
        # one OS thread: kwok 0.8.0's CEL setup (easycel 0.6.0) writes a package-level map
        # unguarded from every controller's first Stage.init, and two inits at once end it
        # with "fatal error: concurrent map writes" (seen once starting the nodes)
        "env",
        "GOMAXPROCS=1",
        "unshare",
        "--pid",
        "--fork",
        "--mount",
        "--kill-child",
        "sh",
        _here() / "kwok" / "jail.sh",
        root,
        inside / "kwok",
        f"--kubeconfig={inside / 'kubeconfig'}",
        f"--config={inside / 'stages.yaml'}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
        "--node-ip=127.0.0.1",
        f"--node-port={front_port}",
        f"--server-address=127.0.0.1:{kwok_port}",
        f"--tls-cert-file={inside / 'kwok.crt'}",
        f"--tls-private-key-file={inside / 'kwok.key'}",
        "--enable-crds=Exec,Logs",
        "--node-lease-duration-seconds=40",
        f"--cidr={POD_CIDR}",
    ]
    kwok = started(start_component("kwok", kwok_argv, logs))
    running = {"kwok": kwok}  # the agent asks for kwok's pid: the restarted one's, if any
    agent = RuntimeAgent(api, root, lambda: _kwok_pid(running["kwok"]), default_run_seconds)
    plane.agent = agent
    front = KubeletFront(
        front_port,
        kwok_port,
        pki.serving("kwok")[0],
        pki.serving("kwok")[1],
        pki.ca_cert,
        agent.container_finished,
    )
    front.start()
    stops.append(front.stop)

    nodes, reserved = inventory
    core = client.CoreV1Api(api)
    for node in nodes:
        core.create_node(node)
    for attempt in range(KWOK_STARTS):
        try:
            timings["nodes ready (kwok)"] = wait_until(
                kwok, lambda: _nodes_ready(core, len(nodes)), 60, "managing the nodes"
            )
            break
        except ComponentError:
            # the same race, if one thread still met it: kwok dies before any pod exists,
            # so a new kwok takes over the nodes; anything else is raised
            if attempt + 1 == KWOK_STARTS or not _died_of_the_cel_race(kwok):
                raise
            components.remove(kwok)
            kwok = started(start_component(f"kwok-{attempt + 2}", kwok_argv, logs))
            running["kwok"] = kwok
    agent.start()
    stops.append(agent.stop)
    timings["service accounts"] = wait_until(
        controller_manager,
        lambda: bool(core.list_namespaced_service_account("default").items),
        60,
        "creating the default service account",
    )
    for pod in reserved:
        core.create_namespaced_pod(pod["metadata"]["namespace"], pod)
    _wait_creates_undelayed(api, applied)
    timings["total"] = time.monotonic() - began
    return plane


KWOK_STARTS = 3  # kwok started again only when it died of its CEL setup race at start-up


def _died_of_the_cel_race(component: Component) -> bool:
    """Whether kwok exited with Go's fatal concurrent map access (the easycel race)."""
    log = component.log.read_text(errors="replace") if component.log.exists() else ""
    fatal = "concurrent map" in log or "internal/runtime/maps.fatal" in log
    return component.process.poll() is not None and fatal


def _kwok_pid(component: Component) -> int:
    """kwok's own pid (unshare -> jail.sh, PID 1 of the namespace -> kwok)."""
    pid = component.process.pid
    for _ in range(2):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if not children:
            raise ComponentError(f"kwok has not started:\n{component.tail()}")
        pid = int(children[0])
    return pid


def _nodes_ready(core: client.CoreV1Api, count: int) -> bool:
    ready = 0
    for node in core.list_node().items:
        conditions = {c.type: c.status for c in (node.status.conditions or [])}
        endpoint = node.status.daemon_endpoints
        taints = {t.key for t in node.spec.taints or []}
        if (
            conditions.get("Ready") == "True"
            and endpoint
            and endpoint.kubelet_endpoint.port
            and "node.kubernetes.io/not-ready" not in taints
        ):
            ready += 1
    return ready == count


def _load(path: Path) -> Obj:
    loaded: Obj = yaml.safe_load(path.read_text())
    return loaded


def _scheduler_config(workdir: Path, kubeconfig: Path) -> Path:
    """kube-scheduler's configuration: the default profile, and one named ``volcano`` that
    stands in for Volcano's scheduler (whose module the proxy does not serve): it places
    ``schedulerName: volcano`` pods by the same filters (node affinity included), without
    Volcano's gang and network-topology semantics."""
    path = workdir / "kube-scheduler.yaml"
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig), "qps": 200, "burst": 400},
        "leaderElection": {"leaderElect": False},
        "profiles": [{"schedulerName": "default-scheduler"}, {"schedulerName": "volcano"}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# kube-apiserver sleeps 2 s in every create of a custom resource whose CRD became
# Established less than 2 s ago (apiextensions-apiserver's customresource_handler.go, for
# HA consistency, kubernetes#99199): a test's first creates would stall past its client's
# short timeout and land after it gave up. lastTransitionTime has whole seconds: +1.
CREATE_DELAY_AFTER_ESTABLISHED = 2.0 + 1.0


def _wait_creates_undelayed(api: client.ApiClient, crds: list[Obj]) -> None:
    """Wait until no CRD of ``crds`` is recent enough for the apiserver to delay creates."""
    extensions = client.ApiextensionsV1Api(api)
    latest = None
    for crd in crds:
        got = extensions.read_custom_resource_definition(crd["metadata"]["name"])
        for condition in got.status.conditions or []:
            if condition.type == "Established" and condition.last_transition_time:
                when = condition.last_transition_time
                latest = when if latest is None or when > latest else latest
    if latest is not None:
        age = (datetime.now(UTC) - latest).total_seconds()
        time.sleep(max(0.0, CREATE_DELAY_AFTER_ESTABLISHED - age))


def _apply_crds(api: client.ApiClient, crds: list[Obj]) -> None:
    """Create the CRDs and wait until each is Established."""
    extensions = client.ApiextensionsV1Api(api)
    for crd in crds:
        extensions.create_custom_resource_definition(crd)
    deadline = time.monotonic() + 30
    for crd in crds:
        name = crd["metadata"]["name"]
        while True:
            got = extensions.read_custom_resource_definition(name)
            if any(
                c.type == "Established" and c.status == "True"
                for c in (got.status.conditions or [])
            ):
                break
            if time.monotonic() > deadline:
                raise ComponentError(f"CRD {name} not Established: {got.status}")
            time.sleep(0.05)
    # Established is not served yet: until its watch cache is ready the apiserver answers
    # 429 "storage is (re)initializing". Wait for a list to succeed.
    custom = client.CustomObjectsApi(api)
    for crd in crds:
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))
        while True:
            try:
                custom.list_cluster_custom_object(spec["group"], version, spec["names"]["plural"])
                break
            except client.exceptions.ApiException as exc:
                if exc.status != 429 or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
