"""Watch streams and the Events the controllers record."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.apierrors import ApiError, bad_request
from datalocality_testcluster.sandbox.resources import ResourceType
from datalocality_testcluster.sandbox.selectors import parse_field_selector, parse_label_selector
from datalocality_testcluster.sandbox.store import Event, rfc3339, rfc3339_micro

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.apiserver import ApiServer

Obj = dict[str, Any]


def watch(
    api: ApiServer,
    rt: ResourceType,
    namespace: str | None,
    labels: str | None,
    fields: str | None,
    *,
    resource_version: str | None,
    deadline: Callable[[], float],
) -> Iterator[Obj]:
    """Watch events ``{"type", "object"}`` until ``deadline()`` reaches 0.

    Without a resourceVersion (or with ``0``) the current objects come first as ADDED;
    with one, every change after it, or a single ERROR event with a 410 Status when the
    history no longer reaches back that far. An object that stops matching the
    selectors is reported DELETED, one that starts matching ADDED, as by a real server.
    """
    store = api.store
    label_match, field_match = parse_label_selector(labels), parse_field_selector(fields)

    def matches(obj: Obj | None) -> bool:
        if obj is None:
            return False
        if namespace and obj["metadata"].get("namespace") != namespace:
            return False
        return label_match(obj["metadata"].get("labels") or {}) and field_match(obj)

    if resource_version in (None, "", "0"):
        with store.lock:
            cursor = store.resource_version
            current = api.select(rt, namespace, labels, fields)
        for obj in current:
            yield {"type": "ADDED", "object": obj}
    else:
        try:
            cursor = int(str(resource_version))
        except ValueError:
            raise bad_request(f"invalid resourceVersion {resource_version!r}") from None
    while deadline() > 0 and not store.closed:
        ticks = store.ticks
        try:
            events = store.events_since(cursor)
        except ApiError as exc:
            yield {"type": "ERROR", "object": exc.status()}
            return
        for event in events:
            cursor = event.rv
            if event.storage == rt.storage:
                out = _translate(event, matches)
                if out is not None:
                    obj = out[1]
                    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
                    yield {"type": out[0], "object": obj}
        store.wait_change(ticks, min(deadline(), 1.0))


def _translate(event: Event, matches: Callable[[Obj | None], bool]) -> tuple[str, Obj] | None:
    obj = copy.deepcopy(event.new)
    if event.type == "DELETED":
        return ("DELETED", obj) if matches(event.old) else None
    was, now = matches(event.old), matches(event.new)
    if now:
        return ("MODIFIED" if was else "ADDED", obj)
    return ("DELETED", obj) if was else None


def event_for(obj: Obj, type_: str, reason: str, message: str, *, component: str, salt: int) -> Obj:
    """A core/v1 Event about ``obj`` (name ``<object>.<hex>``, as client-go names them)."""
    meta = obj["metadata"]
    now = rfc3339()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{salt:016x}",
            "namespace": meta.get("namespace") or "default",
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": component,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "eventTime": rfc3339_micro(),
        "count": 1,
    }
