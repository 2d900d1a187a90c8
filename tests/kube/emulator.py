"""The kube tests' view of the embedded emulator (``datalocality_testcluster.sandbox``).

The client under test talks to the sandbox over real HTTP. The tests also act as "another
actor" (a rival writer, a finalizer finishing, a user deleting a source): those moves go
straight to the sandbox's storage, in process, so they happen exactly when the test says.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from datalocality.kube.claims import build_data_source, crd_manifests
from datalocality.kube.resources import RESOURCES, SLICES, SOURCES, Resource
from datalocality.kube.slices import build_slices
from datalocality.model import DataSource
from datalocality_testcluster.sandbox import KubeletTiming, Sandbox, start_sandbox
from datalocality_testcluster.sandbox.apierrors import ApiError
from datalocality_testcluster.sandbox.faults import Fault
from datalocality_testcluster.sandbox.resources import ResourceType
from datalocality_testcluster.sandbox.store import rfc3339

Obj = dict[str, Any]
Key = tuple[str, str, str]  # "apiVersion/plural", namespace, name
NAMESPACES = ("data", "other")
NODES = {
    "nodes": [
        {"name": "node-a", "zone": "zone-a", "region": "eu"},
        {"name": "node-b", "zone": "zone-b", "region": "eu"},
    ]
}
FAST = KubeletTiming(start_seconds=0.05, run_seconds=0.1)
# Kinds whose objects the tests count (CRDs are the sandbox's setup, not the client's work).
MANAGED = tuple(r for r in RESOURCES if r.kind != "CustomResourceDefinition")


def start_emulator() -> Sandbox:
    """A sandbox with our CRDs preloaded and the test namespaces created."""
    sandbox = start_sandbox(NODES, timing=FAST, crds=crd_manifests())
    namespaces = sandbox.api.rt("", "v1", "namespaces")
    for name in NAMESPACES:
        sandbox.api.create(namespaces, None, {"metadata": {"name": name}})
    return sandbox


class EmulatedApi:
    """Faults, direct reads and out-of-band writes on a running sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def _rt(self, resource: Resource) -> ResourceType:
        group, _, version = resource.api_version.rpartition("/")
        return self.sandbox.api.rt(group, version, resource.plural)

    # -- faults and history -----------------------------------------------------------

    def inject(self, verb: str | None = None, resource: str | None = None, **kwargs: Any) -> Fault:
        """Queue a fault (``Faults.inject``'s arguments)."""
        return self.sandbox.faults.inject(verb, resource, **kwargs)

    # -- reads ------------------------------------------------------------------------

    def stored(self, resource: Resource, name: str, namespace: str = "") -> Obj | None:
        """The object as the API serves it, or None."""
        try:
            return self.sandbox.api.get(self._rt(resource), namespace or None, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list_of(self, resource: Resource) -> list[Obj]:
        """Every object of a kind (all namespaces)."""
        rt = self._rt(resource)
        return self.sandbox.api.select(rt, None, None, None)

    @property
    def objects(self) -> dict[Key, Obj]:
        """A snapshot of every object of the kinds the provider manages."""
        out: dict[Key, Obj] = {}
        for resource in MANAGED:
            group, _, version = resource.api_version.rpartition("/")
            if self.sandbox.api.registry.get(group, version, resource.plural) is None:
                continue  # a CRD (Volcano, Karmada) this sandbox does not serve
            for obj in self.list_of(resource):
                meta = obj["metadata"]
                key = (f"{resource.api_version}/{resource.plural}", meta.get("namespace", ""))
                out[(*key, meta["name"])] = obj
        return out

    # -- another actor's writes -------------------------------------------------------

    def put_object(self, resource: Resource, obj: Obj) -> Obj:
        """Store ``obj`` as given (status, deletionTimestamp and all), bumping its version."""
        rt = self._rt(resource)
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if resource.namespaced else ""
        old = self.stored(resource, meta["name"], namespace)
        if old is not None:
            for key in ("uid", "creationTimestamp"):
                meta.setdefault(key, old["metadata"][key])
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339())
        meta.pop("resourceVersion", None)
        return self.sandbox.api.store.put(rt.storage, new)

    def put_source(self, name: str, source: DataSource, *, slices: bool = True) -> Obj:
        """Store a DataSource as another writer would, with its slices (or without:
        written by hand, or before slices, or by a writer that died half-way)."""
        stored = self.put_object(SOURCES, build_data_source(name, source))
        if slices:
            for made in build_slices(name, stored["metadata"]["uid"], source.chunks):
                self.put_object(SLICES, made)
        return stored

    def remove_object(self, resource: Resource, name: str, namespace: str = "") -> None:
        """Delete an object outright (its finalizers done), as another actor would."""
        removed = self.sandbox.api.store.remove(self._rt(resource).storage, namespace, name)
        assert removed is not None, f"{resource.kind} {namespace}/{name} was not there"
