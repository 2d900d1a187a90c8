"""The sandbox as one object: API server, binder, kubelet and controllers on a loopback port."""

from __future__ import annotations

import importlib
import math
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from datalocality_testcluster.sandbox.apiserver import ApiServer
from datalocality_testcluster.sandbox.crds import CrdController
from datalocality_testcluster.sandbox.faults import Faults
from datalocality_testcluster.sandbox.gc import GarbageCollector
from datalocality_testcluster.sandbox.inventory import Inventory, load_inventory
from datalocality_testcluster.sandbox.jobs import JobController
from datalocality_testcluster.sandbox.kubeconfig import write_kubeconfig
from datalocality_testcluster.sandbox.kubelet import Kubelet, KubeletTiming
from datalocality_testcluster.sandbox.resources import Registry
from datalocality_testcluster.sandbox.scheduler import DEFAULT_SCHEDULERS, Binder
from datalocality_testcluster.sandbox.server import Context, SandboxHTTPServer
from datalocality_testcluster.sandbox.store import Store

Obj = dict[str, Any]
InventorySource = str | Path | Mapping[str, Any] | list[Any] | Inventory | None
CrdSource = str | Path | Mapping[str, Any]


def _crd_documents(source: CrdSource) -> list[Obj]:
    if isinstance(source, Mapping):
        return [dict(source)]
    text = Path(source).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


class Sandbox:
    """An emulated Kubernetes cluster on ``127.0.0.1``; use :func:`start_sandbox`.

    Runs no containers: pods are bound to the inventory's nodes and then moved through
    their phases by a fake kubelet (see :mod:`datalocality_testcluster.sandbox`).
    """

    def __init__(
        self,
        inventory: InventorySource = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timing: KubeletTiming | None = None,
        scheduler_names: Iterable[str] = DEFAULT_SCHEDULERS,
        crds: Iterable[CrdSource] = (),
        kubeconfig_path: str | Path | None = None,
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.store = Store()
        self.api = ApiServer(self.store, Registry(), seed)
        self.crd_controller = CrdController(self.api)
        self.kubelet = Kubelet(self.api, timing or KubeletTiming())
        self.binder = Binder(self.api, scheduler_names)
        self.jobs = JobController(self.api)
        self.gc = GarbageCollector(self.api)
        self.faults = Faults()
        self.errors: list[str] = []  # controller failures (a bug if not empty)
        self.verbose = verbose
        self._address = (host, port)
        self._kubeconfig = Path(kubeconfig_path) if kubeconfig_path else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: SandboxHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        loaded = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
        for node in loaded.nodes:
            self.api.create(self.api.rt("", "v1", "nodes"), None, node)
        for pod in loaded.reserved_pods:
            self.api.create(self.api.rt("", "v1", "pods"), pod["metadata"]["namespace"], pod)
        crd_type = self.api.rt("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for source in crds:
            for doc in _crd_documents(source):
                self.api.create(crd_type, None, doc)

    # lifecycle -----------------------------------------------------------

    def start(self) -> Sandbox:
        """Serve on the loopback port, start the controllers, write the kubeconfig."""
        if self._server is not None:
            return self
        self._server = SandboxHTTPServer(
            self._address, Context(self.api, self.kubelet, self.faults, self.verbose, self.errors)
        )
        if self._kubeconfig is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="datalocality-sandbox-")
            self._kubeconfig = Path(self._tmp.name) / "kubeconfig"
        write_kubeconfig(self._kubeconfig, self.url)
        for target, name in (
            (self._serve, "api"),
            (self._control_loop, "controllers"),
        ):
            thread = threading.Thread(target=target, name=f"sandbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving, end open streams and connections, remove a temporary kubeconfig."""
        self.store.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # access --------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def kubeconfig_path(self) -> Path:
        """The kubeconfig written at start."""
        if self._kubeconfig is None or self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._kubeconfig

    def api_client(self) -> Any:
        """A new ``kubernetes.client.ApiClient`` for this sandbox (close it, or use ``with``)."""
        client: Any = importlib.import_module("kubernetes.client")
        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``predicate()`` holds, re-checking after every change."""
        end = time.monotonic() + timeout
        while not predicate():
            left = end - time.monotonic()
            if left <= 0:
                return False
            seen = self.store.ticks
            self.store.wait_change(seen, min(left, 0.2))
        return True

    def compact(self) -> int:
        """Drop the watch history, so that older resourceVersions get 410 Gone."""
        return self.store.compact()

    # threads -------------------------------------------------------------

    def _serve(self) -> None:
        assert self._server is not None
        self._server.serve_forever(poll_interval=0.05)

    def _control_loop(self) -> None:
        controllers = (self.gc, self.binder, self.kubelet, self.jobs)
        while not self.store.closed:
            before = self.store.ticks
            for controller in controllers:
                try:
                    controller.run()
                except Exception:
                    self.errors.append(traceback.format_exc())
                    if self.verbose:
                        traceback.print_exc()
            if self.store.ticks != before:
                continue  # our own writes may call for another pass
            wake = min(c.next_wakeup() for c in controllers)
            timeout = 1.0 if math.isinf(wake) else max(0.0, min(wake - time.monotonic(), 1.0))
            self.store.wait_change(before, timeout)


def start_sandbox(inventory: InventorySource = None, **options: Any) -> Sandbox:
    """Start a sandbox (inventory: a path, parsed YAML, an Inventory, or None for the demo).

    Use as a context manager to stop it: ``with start_sandbox("nodes.yaml") as sandbox:``.
    Options are those of :class:`Sandbox`.
    """
    return Sandbox(inventory, **options).start()
