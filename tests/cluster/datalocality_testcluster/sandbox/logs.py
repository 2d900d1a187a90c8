"""``pods/{name}/log``: the kubelet's made-up lines, with the real endpoint's parameters.

Supports ``container`` (required when a pod has several), ``timestamps`` (RFC 3339 with
nanoseconds, as the kubelet prefixes lines), ``tailLines``, ``sinceSeconds``,
``sinceTime``, ``limitBytes`` and ``follow`` (the stream stays open while the container
runs and ends when it terminates or the pod goes away). ``previous`` always answers 400:
containers are never restarted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.apierrors import bad_request
from datalocality_testcluster.sandbox.store import utc_now

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.kubelet import Kubelet

Obj = dict[str, Any]
Query = dict[str, list[str]]
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


def _param(query: Query, key: str) -> str | None:
    values = query.get(key)
    return values[0] if values and values[0] != "" else None


def nano(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, as in ``kubectl logs --timestamps``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def pick_container(pod: Obj, query: Query, kubelet: Kubelet) -> str:
    """The container whose log is asked for; 400 as the API server answers otherwise."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    init = [c["name"] for c in spec.get("initContainers") or []]
    container = _param(query, "container")
    if container is None:
        container = (pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER)
    if container is None:
        if len(containers) != 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(containers)}]"
            )
        container = containers[0]
    if container not in containers + init:
        raise bad_request(f'container "{container}" is not valid for pod "{name}"')
    if (query.get("previous") or ["false"])[0].lower() in {"true", "1"}:
        raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    if container in containers and kubelet.container_state(pod, container) == "waiting":
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        waiting: Obj = next(
            (s["state"].get("waiting", {}) for s in statuses if s.get("name") == container), {}
        )
        reason = waiting.get("reason", "ContainerCreating")
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    return container


def _lines(pod: Obj, container: str, query: Query, kubelet: Kubelet) -> list[bytes]:
    lines = kubelet.logs(pod, container)
    since_seconds = _param(query, "sinceSeconds")
    since_time = _param(query, "sinceTime")
    if since_seconds is not None:
        cutoff = utc_now() - timedelta(seconds=int(since_seconds))
        lines = [(t, text) for t, text in lines if t >= cutoff]
    if since_time is not None:
        cutoff = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        lines = [(t, text) for t, text in lines if t >= cutoff]
    tail = _param(query, "tailLines")
    if tail is not None:
        lines = lines[-int(tail) :] if int(tail) > 0 else []
    stamps = (query.get("timestamps") or ["false"])[0].lower() in {"true", "1"}
    out = [(f"{nano(t)} {text}\n" if stamps else f"{text}\n").encode() for t, text in lines]
    limit = _param(query, "limitBytes")
    if limit is not None:
        data = b"".join(out)[: int(limit)]
        out = [data] if data else []
    return out


def stream_logs(
    pod: Obj, container: str, query: Query, kubelet: Kubelet, follow: bool = True
) -> Iterator[bytes]:
    """The log lines; when following, the stream lasts until the container ends or the pod goes."""
    try:
        initial = _lines(pod, container, query, kubelet)
    except ValueError:
        raise bad_request("invalid sinceSeconds, sinceTime, tailLines or limitBytes") from None
    return _follow(pod, container, kubelet, initial) if follow else iter(initial)


def _follow(pod: Obj, container: str, kubelet: Kubelet, initial: list[bytes]) -> Iterator[bytes]:
    yield from initial
    store = kubelet.api.store
    meta = pod["metadata"]

    def finished() -> bool:
        current = store.get(("", "pods"), meta["namespace"], meta["name"])
        return (
            current is None
            or current["metadata"]["uid"] != meta["uid"]
            or kubelet.container_state(current, container) != "running"
        )

    while not store.closed and not finished():
        store.wait(finished, 1.0)
