"""REST semantics of the emulated API server, independent of HTTP.

Create (generateName, uid, creationTimestamp, 409 AlreadyExists, namespace must exist),
get, list with label and field selectors and limit/continue, update (409 Conflict on a
stale resourceVersion; no-op updates keep the resourceVersion), the three patch types,
the status subresource (the main resource ignores status, ``/status`` ignores the rest),
``metadata.generation``, delete with preconditions, finalizers (deletionTimestamp, the
object stays until its finalizers are gone) and propagation policies, and watch.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import copy
import json
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from datalocality_testcluster.sandbox import admission
from datalocality_testcluster.sandbox.apierrors import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    not_found,
)
from datalocality_testcluster.sandbox.patch import apply_patch
from datalocality_testcluster.sandbox.resources import Registry, ResourceType
from datalocality_testcluster.sandbox.selectors import parse_field_selector, parse_label_selector
from datalocality_testcluster.sandbox.store import StorageKey, Store, rfc3339
from datalocality_testcluster.sandbox.watches import event_for, watch

Obj = dict[str, Any]
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
RETURNS_DELETED_OBJECT = {("", "pods")}
ORPHAN_BY_DEFAULT = {("batch", "jobs")}
NAMESPACES = ("", "namespaces")
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
Hook = Callable[[ResourceType, Obj | None, Obj | None], None]


def _strip(rt: ResourceType, obj: Obj) -> Obj:
    """An object as served under ``rt``'s version."""
    obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind
    return obj


class ApiServer:
    """The verbs of the Kubernetes API over a :class:`Store`."""

    def __init__(self, store: Store, registry: Registry, seed: int = 0) -> None:
        self.store = store
        self.registry = registry
        self._random = random.Random(seed)
        self.hooks: list[Hook] = []  # called (rt, before, after) after every write
        for name in SYSTEM_NAMESPACES:
            self.create(self.rt("", "v1", "namespaces"), None, {"metadata": {"name": name}})

    def rt(self, group: str, version: str, plural: str) -> ResourceType:
        """A served type, or 404."""
        found = self.registry.get(group, version, plural)
        if found is None:
            raise ApiError(404, f"the server could not find the requested resource ({plural})")
        return found

    # reads ---------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        """One object, or 404."""
        obj = self.store.get(rt.storage, namespace or "", name)
        if obj is None:
            raise not_found(rt.qualified, rt.plural, name)
        return _strip(rt, obj)

    def select(
        self, rt: ResourceType, namespace: str | None, labels: str | None, fields: str | None
    ) -> builtins.list[Obj]:
        """The objects matching the selectors, by namespace and name."""
        label_match, field_match = parse_label_selector(labels), parse_field_selector(fields)
        return [
            _strip(rt, obj)
            for obj in self.store.objects(rt.storage, namespace)
            if label_match(obj["metadata"].get("labels") or {}) and field_match(obj)
        ]

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: str | None = None,
        fields: str | None = None,
        *,
        limit: int | None = None,
        token: str | None = None,
    ) -> Obj:
        """A ``<Kind>List`` with limit/continue paging."""
        with self.store.lock:
            rv = self.store.resource_version
            items = self.select(rt, namespace, labels, fields)
        meta: Obj = {"resourceVersion": str(rv)}
        if token:
            try:
                after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            except (ValueError, KeyError, TypeError):
                raise bad_request(f"invalid continue token {token!r}") from None
            items = [i for i in items if _ns_name(i) > tuple(after)]
        if limit and limit > 0 and len(items) > limit:
            last = _ns_name(items[limit - 1])
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"after": last}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": items,
        }

    # writes --------------------------------------------------------------

    def create(
        self, rt: ResourceType, namespace: str | None, body: Any, dry_run: bool = False
    ) -> Obj:
        """A new object: 201 semantics; 409 AlreadyExists if the name is taken."""
        obj = admission.check_kind(rt, copy.deepcopy(body))
        meta = obj["metadata"]
        if rt.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if meta.get("namespace", namespace) != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        with self.store.lock:
            if rt.namespaced:
                self._check_namespace(str(namespace))
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generate_name(rt, str(meta["generateName"]), namespace or "")
            for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(key, None)
            meta["uid"] = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
            meta["creationTimestamp"] = rfc3339()
            meta["generation"] = 1
            admission.prepare_create(rt, obj, meta["uid"])
            admission.validate(rt, obj)
            if rt.storage == ("", "pods"):
                space = self.store.get(("", "namespaces"), "", str(namespace)) or {}
                admission.check_pod_security(space, obj)
            if self.store.get(rt.storage, namespace or "", meta["name"]) is not None:
                raise already_exists(rt.qualified, rt.plural, meta["name"])
            if dry_run:
                return _strip(rt, obj)
            stored = self.store.put(rt.storage, obj)
            self._notify(rt, None, stored)
            return _strip(rt, stored)

    def _check_namespace(self, namespace: str) -> None:
        ns = self.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise not_found("namespaces", "namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
            )

    def _generate_name(self, rt: ResourceType, prefix: str, namespace: str) -> str:
        prefix = prefix[:58]
        for _ in range(16):
            name = prefix + "".join(self._random.choice(NAME_ALPHABET) for _ in range(5))
            if self.store.get(rt.storage, namespace, name) is None:
                return name
        raise ApiError(500, f"could not generate a unique name from {prefix!r}")

    def update(
        self, rt: ResourceType, namespace: str | None, name: str, body: Any, sub: str | None = None
    ) -> Obj:
        """PUT: replace the object (or its status); 409 if the resourceVersion is stale."""
        new = admission.check_kind(rt, copy.deepcopy(body))
        with self.store.lock:
            old = self.get(rt, namespace, name)
            if new["metadata"].get("name", name) != name:
                raise bad_request(
                    f"the name of the object ({new['metadata'].get('name')}) "
                    f"does not match the name on the URL ({name})"
                )
            return self._replace(rt, old, new, sub)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        sub: str | None = None,
    ) -> Obj:
        """PATCH with json-patch, merge-patch or (approximated) strategic-merge-patch."""
        with self.store.lock:
            old = self.get(rt, namespace, name)
            patched = apply_patch(copy.deepcopy(old), content_type, body)
            new = admission.check_kind(rt, patched)
            if new["metadata"].get("resourceVersion") in (None, ""):
                new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return self._replace(rt, old, new, sub)

    def _replace(self, rt: ResourceType, old: Obj, new: Obj, sub: str | None) -> Obj:
        name = old["metadata"]["name"]
        wanted = new["metadata"].get("resourceVersion")
        if wanted not in (None, "") and wanted != old["metadata"]["resourceVersion"]:
            raise conflict(rt.qualified, rt.plural, name)
        if sub == "status":
            result = copy.deepcopy(old)
            result["status"] = new.get("status", {})
        else:
            result = new
            if "status" in rt.subresources:
                result["status"] = copy.deepcopy(old.get("status", {}))
                if old.get("status") is None:
                    result.pop("status", None)
            meta = result["metadata"]
            for key in ("uid", "creationTimestamp", "deletionTimestamp", "namespace", "generation"):
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
                else:
                    meta.pop(key, None)
            meta["name"] = name
            if (rt.group, rt.plural) == ("", "secrets"):
                admission.normalise_secret(result)
        result["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        skip = {"metadata", "status"} if "status" in rt.subresources else {"metadata"}
        if {k: v for k, v in old.items() if k not in skip} != {
            k: v for k, v in result.items() if k not in skip
        }:
            result["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        admission.validate(rt, result, old)
        if result == old:
            return old  # a no-op write keeps its resourceVersion
        return self.write(rt, result, old)

    def write(self, rt: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        """Store a changed object; an object being deleted with no finalizer left is removed."""
        meta = obj["metadata"]
        with self.store.lock:
            if (
                meta.get("deletionTimestamp")
                and not meta.get("finalizers")
                and rt.storage != NAMESPACES
            ):
                final = self.store.remove(rt.storage, meta.get("namespace", ""), meta["name"])
                self._notify(rt, old, None)
                return _strip(rt, final or obj)
            stored = self.store.put(rt.storage, obj)
            self._notify(rt, old, stored)
            return _strip(rt, stored)

    def _notify(self, rt: ResourceType, before: Obj | None, after: Obj | None) -> None:
        for hook in self.hooks:
            hook(rt, before, after)

    def mutate(
        self, rt: ResourceType, namespace: str, name: str, change: Callable[[Obj], object]
    ) -> Obj | None:
        """Controller write: apply ``change`` to the current object atomically (None if gone)."""
        with self.store.lock:
            old = self.store.get(rt.storage, namespace, name)
            if old is None:
                return None
            new = copy.deepcopy(old)
            change(new)
            if new == old:
                return old
            return self.write(rt, new, old)

    # delete --------------------------------------------------------------

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: Obj | None = None
    ) -> Obj:
        """Delete with preconditions, finalizers and a propagation policy."""
        options = options or {}
        with self.store.lock:
            old = self.get(rt, namespace, name)
            meta = old["metadata"]
            pre = options.get("preconditions") or {}
            for key in ("uid", "resourceVersion"):
                if pre.get(key) and pre[key] != meta.get(key):
                    raise conflict(
                        rt.qualified,
                        rt.plural,
                        name,
                        f"Precondition failed: {key}: {pre[key]}, "
                        f"{key} in object meta: {meta.get(key)}",
                    )
            policy = options.get("propagationPolicy")
            if policy is None and options.get("orphanDependents") is not None:
                policy = "Orphan" if options["orphanDependents"] else "Background"
            if policy is None:
                policy = "Orphan" if rt.storage in ORPHAN_BY_DEFAULT else "Background"
            if policy not in {"Orphan", "Background", "Foreground"}:
                raise bad_request(f"unsupported propagationPolicy {policy!r}")
            dependents = self.dependents(meta["uid"])
            if policy == "Orphan":
                for storage, dep in dependents:
                    self._orphan(storage, dep, meta["uid"])
                dependents = []
            new = copy.deepcopy(old)
            if rt.storage == NAMESPACES:  # emptied, then removed, by the namespace cleanup
                if meta.get("deletionTimestamp"):
                    return old
                new["status"] = {"phase": "Terminating"}
                new["metadata"]["deletionTimestamp"] = rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                stored = self.store.put(rt.storage, new)
                self._notify(rt, old, stored)
                return _strip(rt, stored)
            finalizers = list(meta.get("finalizers") or [])
            if policy == "Foreground" and dependents and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if finalizers:
                new["metadata"]["finalizers"] = finalizers
                new["metadata"].setdefault("deletionTimestamp", rfc3339())
                new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
                if new == old:
                    return old
                return self.write(rt, new, old)
            final = self.store.remove(rt.storage, meta.get("namespace", ""), name) or old
            self._notify(rt, old, None)
        if rt.storage in RETURNS_DELETED_OBJECT or rt.crd:
            return _strip(rt, final)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": rt.plural, "uid": meta["uid"], "group": rt.group},
        }

    def record_event(self, obj: Obj, type_: str, reason: str, message: str, component: str) -> None:
        """A core/v1 Event about ``obj``, as controllers and the kubelet write them."""
        with contextlib.suppress(ApiError):  # best-effort, as in a cluster
            salt = self._random.getrandbits(64)
            event = event_for(obj, type_, reason, message, component=component, salt=salt)
            self.create(self.rt("", "v1", "events"), event["metadata"]["namespace"], event)

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: str | None,
        fields: str | None,
        *,
        resource_version: str | None,
        deadline: Callable[[], float],
    ) -> Iterator[Obj]:
        """Watch events as dicts ``{"type", "object"}`` until ``deadline()`` reaches 0."""
        return watch(
            self,
            rt,
            namespace,
            labels,
            fields,
            resource_version=resource_version,
            deadline=deadline,
        )

    def dependents(self, uid: str) -> builtins.list[tuple[StorageKey, Obj]]:
        """Every object that names ``uid`` among its owner references."""
        out = []
        for storage in self.store.storages():
            for head in self.store.metadata(storage):
                meta = head["metadata"]
                refs = meta.get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    obj = self.store.get(storage, meta.get("namespace", ""), meta["name"])
                    if obj is not None:
                        out.append((storage, obj))
        return out

    def _orphan(self, storage: StorageKey, obj: Obj, owner_uid: str) -> None:
        rt = self.registry.by_storage(*storage)
        if rt is None:
            return
        refs = [
            r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]

        def drop(o: Obj) -> None:
            if refs:
                o["metadata"]["ownerReferences"] = refs
            else:
                o["metadata"].pop("ownerReferences", None)

        self.mutate(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], drop)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: str | None,
        fields: str | None,
        options: Obj | None,
    ) -> Obj:
        """Delete every selected object; returns the list of what was selected."""
        result = self.list(rt, namespace, labels, fields)
        for obj in result["items"]:
            try:
                self.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"], options)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return result


def _ns_name(obj: Obj) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
