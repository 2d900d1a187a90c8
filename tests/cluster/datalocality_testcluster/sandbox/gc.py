"""Garbage collection, foreground deletion, and the namespace and service-account controllers.

* An object whose every owner (by uid) is gone is deleted (background cascading), of
  every kind, custom resources included (a DataSource's slices).
* An object deleted with ``propagationPolicy: Foreground`` keeps the
  ``foregroundDeletion`` finalizer until its dependents are gone, then disappears.
* A namespace being deleted has its objects deleted, then is removed.
* Every active namespace gets a ``default`` ServiceAccount.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.apierrors import ApiError
from datalocality_testcluster.sandbox.resources import ResourceType

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.apiserver import ApiServer

Obj = dict[str, Any]
NAMESPACES = ("", "namespaces")


class GarbageCollector:
    """One pass of the garbage collector and the namespace controller."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api

    def next_wakeup(self) -> float:
        """The collector only reacts to changes."""
        return float("inf")

    def run(self) -> None:
        """Collect orphans, finish foreground deletions, empty terminating namespaces."""
        store = self.api.store
        terminating = {
            ns["metadata"]["name"]
            for ns in store.objects(NAMESPACES)
            if ns["metadata"].get("deletionTimestamp")
        }
        self._service_accounts(terminating)
        remaining: dict[str, int] = dict.fromkeys(terminating, 0)
        for storage in store.storages():
            rt = self.api.registry.by_storage(*storage)
            if rt is None or storage == NAMESPACES:
                continue
            for obj in store.metadata(storage):
                meta = obj["metadata"]
                namespace = meta.get("namespace", "")
                if namespace in terminating:
                    remaining[namespace] += 1
                    if not meta.get("deletionTimestamp"):
                        self._delete(rt, obj, "Background")
                    continue
                refs = meta.get("ownerReferences") or []
                if refs and all(store.by_uid(r.get("uid", "")) is None for r in refs):
                    self._delete(rt, obj, "Background")
                elif meta.get("deletionTimestamp") and "foregroundDeletion" in (
                    meta.get("finalizers") or []
                ):
                    self._foreground(rt, obj)
        for name, count in remaining.items():
            if count == 0:
                with store.lock:
                    old = store.get(NAMESPACES, "", name)
                    if old is not None and not old["metadata"].get("finalizers"):
                        store.remove(NAMESPACES, "", name)
                        namespaces = self.api.rt("", "v1", "namespaces")
                        for hook in self.api.hooks:
                            hook(namespaces, old, None)

    def _service_accounts(self, terminating: set[str]) -> None:
        """Every active namespace gets its ``default`` service account, as in a cluster."""
        accounts = self.api.rt("", "v1", "serviceaccounts")
        for ns in self.api.store.objects(NAMESPACES):
            name = ns["metadata"]["name"]
            if (
                name not in terminating
                and self.api.store.get(accounts.storage, name, "default") is None
            ):
                with contextlib.suppress(ApiError):
                    self.api.create(accounts, name, {"metadata": {"name": "default"}})

    def _delete(self, rt: ResourceType, obj: Obj, policy: str) -> None:
        with contextlib.suppress(ApiError):
            self.api.delete(
                rt,
                obj["metadata"].get("namespace"),
                obj["metadata"]["name"],
                {"propagationPolicy": policy},
            )

    def _foreground(self, rt: ResourceType, obj: Obj) -> None:
        dependents = self.api.dependents(obj["metadata"]["uid"])
        for storage, dep in dependents:
            dep_rt = self.api.registry.by_storage(*storage)
            if dep_rt is not None and not dep["metadata"].get("deletionTimestamp"):
                self._delete(dep_rt, dep, "Foreground")
        if not dependents:

            def release(o: Obj) -> None:
                o["metadata"]["finalizers"] = [
                    f for f in o["metadata"].get("finalizers") or [] if f != "foregroundDeletion"
                ]

            self.api.mutate(
                rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], release
            )
