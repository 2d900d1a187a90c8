"""An in-process Kubernetes API fake at the urllib3 level, for the client tests.

It stands in for ``ApiClient.rest_client.pool_manager``, so requests run through the real
``kubernetes`` client (serialisation, status-code exceptions, headers). It keeps objects
with resourceVersions (409 on a stale one, AlreadyExists on a duplicate name), status
subresources, finalizers (a delete then only marks the object terminating), equality
label selectors, and an event log to watch from (410 once compacted). Faults are queued
with :meth:`FakeApiServer.inject`, which takes the sandbox's arguments.

The embedded emulator in ``datalocality/sandbox`` will replace it: only
``tests/kube/conftest.py`` knows which one runs.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import urllib3

from datalocality.kube.resources import RESOURCES, Resource

Obj = dict[str, Any]
Key = tuple[str, str, str]  # plural key, namespace, name


@dataclass
class Fault:
    """Fail the next ``times`` requests matching verb, resource, name and subresource.

    The same knobs as the sandbox's ``Faults.inject``: ``after`` applies the request and
    then fails with ``code``; ``drop`` applies it and answers nothing (a timeout); 429
    carries ``Retry-After``; a 410 on a watch arrives as an ERROR event.
    """

    verb: str | None = None
    resource: str | None = None
    name: str | None = None
    subresource: str | None = None
    code: int = 500
    times: int = 1
    after: bool = False
    drop: bool = False
    retry_after: int = 1

    def matches(self, verb: str, resource: str, name: str | None, sub: str | None) -> bool:
        """Whether a request is one this fault is for."""
        return (
            self.verb in (None, verb)
            and self.resource in (None, resource)
            and self.name in (None, name)
            and self.subresource == sub
        )


_REASONS = {409: "Conflict", 410: "Expired", 429: "TooManyRequests", 503: "ServiceUnavailable"}


def _status(code: int, reason: str, message: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def _matches_labels(obj: Obj, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _matches_fields(obj: Obj, selector: str) -> bool:
    meta = obj.get("metadata") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and meta.get("name") != value:
            return False
        if key == "metadata.namespace" and meta.get("namespace") != value:
            return False
    return True


class FakeApiServer:
    """Objects, resourceVersions, an event log, faults and a request log."""

    def __init__(self) -> None:
        self.objects: dict[Key, Obj] = {}
        self.events: list[tuple[int, Key, str, Obj]] = []
        self.version = 0
        self.compacted = 0
        self.faults: list[Fault] = []
        self._uids = itertools.count(1)
        self._by_plural = {(r.api_version, r.plural): r for r in RESOURCES}

    # -- test helpers -----------------------------------------------------------------

    def inject(self, verb: str | None = None, resource: str | None = None, **kwargs: Any) -> Fault:
        """Queue a fault (same arguments as the sandbox's ``Faults.inject``)."""
        fault = Fault(verb, resource, **kwargs)
        self.faults.append(fault)
        return fault

    def compact(self) -> None:
        """Forget every event so far: watches from an older resourceVersion get 410."""
        self.compacted = self.version

    def put_object(self, resource: Resource, obj: Obj) -> Obj:
        """Store an object directly (as another actor would), bumping the version."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        key = (self._plural_key(resource), meta.get("namespace", ""), meta["name"])
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        meta.setdefault("creationTimestamp", "2026-11-01T00:00:00Z")
        kind = "MODIFIED" if key in self.objects else "ADDED"
        return self._store(key, stored, kind)

    def remove_object(self, resource: Resource, name: str, namespace: str = "") -> None:
        """Delete an object outright (finalizers done), as another actor would."""
        key = (self._plural_key(resource), namespace, name)
        obj = self.objects.pop(key)
        self._log(key, "DELETED", obj)

    def stored(self, resource: Resource, name: str, namespace: str = "") -> Obj | None:
        """The stored object, or None."""
        return self.objects.get((self._plural_key(resource), namespace, name))

    # -- transport --------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.HTTPResponse:
        """urllib3 ``PoolManager.request``: route, apply faults, answer."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query.update({k: str(v) for k, v in kwargs.get("fields") or ()})
        body = json.loads(kwargs["body"]) if kwargs.get("body") else None
        preload = bool(kwargs.get("preload_content", True))
        fault = self._take_fault(method, parts.path, query)
        if fault is not None and not (fault.after or fault.drop):
            return self._fault_answer(fault, url, query, preload)
        status, answer = self._handle(method, parts.path, query, body)
        if fault is not None:
            return self._fault_answer(fault, url, query, preload)
        if isinstance(answer, list):  # a watch stream
            lines = "".join(json.dumps(event) + "\n" for event in answer)
            return self._response(200, lines.encode(), preload)
        return self._response(status, json.dumps(answer).encode(), preload)

    def _take_fault(self, method: str, path: str, query: dict[str, str]) -> Fault | None:
        route = self._route(path)
        if route is None:
            return None
        resource, _, name, sub = route
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            method, "get" if name else ("watch" if query.get("watch") == "true" else "list")
        )
        for fault in self.faults:
            if fault.matches(verb, resource.plural, name or None, sub or None):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_answer(
        self, fault: Fault, url: str, query: dict[str, str], preload: bool
    ) -> urllib3.HTTPResponse:
        if fault.drop:
            raise urllib3.exceptions.ReadTimeoutError(None, url, "injected: no answer")  # type: ignore[arg-type]
        reason = _REASONS.get(fault.code, "InternalError")
        error = _status(fault.code, reason, "injected by the test")
        if query.get("watch") == "true" and fault.code == 410:
            line = json.dumps({"type": "ERROR", "object": error}) + "\n"
            return self._response(200, line.encode(), preload)
        headers = {"Retry-After": str(fault.retry_after)} if fault.code == 429 else {}
        return self._response(fault.code, json.dumps(error).encode(), preload, headers)

    @staticmethod
    def _response(
        status: int, data: bytes, preload: bool, headers: dict[str, str] | None = None
    ) -> urllib3.HTTPResponse:
        return urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers={"Content-Type": "application/json", **(headers or {})},
            status=status,
            reason="OK" if status < 400 else "Error",
            preload_content=preload,
            decode_content=True,
        )

    # -- the API ----------------------------------------------------------------------

    def _plural_key(self, resource: Resource) -> str:
        return f"{resource.api_version}/{resource.plural}"

    def _route(self, path: str) -> tuple[Resource, str, str, str] | None:
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            api_version, rest = parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        resource = self._by_plural.get((api_version, rest[0])) if rest else None
        if resource is None or resource.namespaced != bool(namespace):
            return None
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        return resource, namespace, name, sub

    def _handle(
        self, method: str, path: str, query: dict[str, str], body: Obj | None
    ) -> tuple[int, Obj | list[Obj]]:
        route = self._route(path)
        if route is None:
            return 404, _status(404, "NotFound", f"no route {path}")
        resource, namespace, name, sub = route
        plural = self._plural_key(resource)
        if not name:
            if method == "POST":
                return self._create(resource, plural, namespace, body or {})
            if method == "GET" and query.get("watch") == "true":
                return 200, self._watch(plural, namespace, query)
            if method == "GET":
                return 200, self._list(plural, namespace, query)
            return 405, _status(405, "MethodNotAllowed", method)
        key = (plural, namespace, name)
        current = self.objects.get(key)
        if current is None:
            return 404, _status(404, "NotFound", f"{resource.plural} {name!r} not found")
        if method == "GET":
            return 200, copy.deepcopy(current)
        if method == "PUT":
            return self._update(resource, key, current, body or {}, sub)
        if method == "DELETE":
            return self._delete(key, current, body or {})
        return 405, _status(405, "MethodNotAllowed", method)

    def _store(self, key: Key, obj: Obj, kind: str) -> Obj:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = obj
        self._log(key, kind, obj)
        return copy.deepcopy(obj)

    def _log(self, key: Key, kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            self.version += 1
        self.events.append((self.version, key, kind, copy.deepcopy(obj)))

    def _create(
        self, resource: Resource, plural: str, namespace: str, body: Obj
    ) -> tuple[int, Obj]:
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            return 422, _status(422, "Invalid", "metadata.name is required")
        key = (plural, namespace, name)
        if key in self.objects:
            message = f'{resource.plural} "{name}" already exists'
            return 409, _status(409, "AlreadyExists", message)
        obj = copy.deepcopy(body)
        if resource.status_subresource:
            obj.pop("status", None)
        meta = obj["metadata"]
        if namespace:
            meta["namespace"] = namespace
        meta["uid"] = f"uid-{next(self._uids)}"
        meta["creationTimestamp"] = "2026-11-01T00:00:00Z"
        meta["generation"] = 1
        return 201, self._store(key, obj, "ADDED")

    def _update(
        self, resource: Resource, key: Key, current: Obj, body: Obj, sub: str
    ) -> tuple[int, Obj]:
        sent = (body.get("metadata") or {}).get("resourceVersion")
        if sent and sent != current["metadata"]["resourceVersion"]:
            return 409, _status(409, "Conflict", "the object has been modified; try again")
        new = copy.deepcopy(current)
        if sub == "status":
            new["status"] = copy.deepcopy(body.get("status") or {})
        else:
            for field_name, value in body.items():
                if field_name not in ("metadata", "status"):
                    new[field_name] = copy.deepcopy(value)
            if not resource.status_subresource and "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            meta = body.get("metadata") or {}
            for field_name in ("labels", "annotations", "finalizers", "ownerReferences"):
                if field_name in meta:
                    new["metadata"][field_name] = copy.deepcopy(meta[field_name])
            if new.get("spec") != current.get("spec"):
                new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        if new == current:
            return 200, copy.deepcopy(current)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self.objects.pop(key)
            self._log(key, "DELETED", new)
            return 200, new
        return 200, self._store(key, new, "MODIFIED")

    def _delete(self, key: Key, current: Obj, body: Obj) -> tuple[int, Obj]:
        wanted = (body.get("preconditions") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            return 409, _status(409, "Conflict", "precondition failed: resourceVersion")
        if current["metadata"].get("finalizers"):
            if current["metadata"].get("deletionTimestamp"):
                return 200, copy.deepcopy(current)
            new = copy.deepcopy(current)
            new["metadata"]["deletionTimestamp"] = "2026-11-01T00:00:01Z"
            return 200, self._store(key, new, "MODIFIED")
        self.objects.pop(key)
        self._log(key, "DELETED", current)
        return 200, _status(200, "", "deleted") | {"status": "Success"}

    def _selected(
        self, plural: str, namespace: str, query: dict[str, str]
    ) -> Callable[[Key, Obj], bool]:
        labels, fields = query.get("labelSelector", ""), query.get("fieldSelector", "")

        def selected(key: Key, obj: Obj) -> bool:
            return (
                key[0] == plural
                and (not namespace or key[1] == namespace)
                and _matches_labels(obj, labels)
                and _matches_fields(obj, fields)
            )

        return selected

    def _list(self, plural: str, namespace: str, query: dict[str, str]) -> Obj:
        selected = self._selected(plural, namespace, query)
        items = [copy.deepcopy(o) for k, o in sorted(self.objects.items()) if selected(k, o)]
        return {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": str(self.version)},
            "items": items,
        }

    def _watch(self, plural: str, namespace: str, query: dict[str, str]) -> list[Obj]:
        since = int(query.get("resourceVersion") or self.version)
        if since < self.compacted:
            return [
                {"type": "ERROR", "object": _status(410, "Expired", "too old resource version")}
            ]
        selected = self._selected(plural, namespace, query)
        events = [
            {"type": kind, "object": obj}
            for version, key, kind, obj in self.events
            if version > since and selected(key, obj)
        ]
        bookmark = {"metadata": {"resourceVersion": str(self.version)}}
        return [*events, {"type": "BOOKMARK", "object": bookmark}]
