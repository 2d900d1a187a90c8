"""A small, careful client over the official ``kubernetes`` ApiClient (injected, never built).

Every call goes through ``ApiClient.call_api`` with ``response_type="object"``, the same
path ``CustomObjectsApi`` takes, extended to the core group: one code path serves our
CRDs, Volcano, Karmada and built-in kinds, and returns plain dicts. Status codes are
classified: 400/401/403/404/410/422 are final; 409 means something to a write; 429
waits for Retry-After; 5xx and timeouts are retried, except that a write which may have
landed (5xx, timeout, broken connection) is re-read before it is tried again. There is
no watch: the triggers and sensors poll by design.
Build the ApiClient with ``Configuration.retries = False``: urllib3's default Retry
re-sends GET/PUT/DELETE by itself (on 429/503 with Retry-After, on broken connections),
which is safe (PUTs carry a resourceVersion) but doubles the retries and hides answers.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client import ApiClient  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from datalocality.errors import ApiRejected, ApiUnavailable, ObjectConflict, ObjectNotFound
from datalocality.kube.objects import (
    Created,
    Obj,
    RetryPolicy,
    adoptable,
    check_object_size,
    is_terminating,
    name_of,
    namespace_of,
)
from datalocality.kube.resources import Resource, resource_of

Mutate = Callable[[Obj], Obj | None]
_OBJECT = {200: "object", 201: "object", 202: "object"}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _Ambiguous(Exception):
    """A write failed in a way that may have applied it; re-read before trying again."""


class _Conflict(Exception):
    """409: AlreadyExists on create, a stale resourceVersion or precondition otherwise."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    raw = next((v for k, v in dict(headers).items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to backoff


class KubeClient:
    """create-or-get, read-modify-write, delete and list on an injected ApiClient."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api_client
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock

    # -- one request, classified ------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Obj | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> Obj:
        """One call; retries what cannot have applied, raises _Ambiguous for what may have."""
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                data, _, _ = self.api.call_api(
                    path,
                    method,
                    query_params=query or [],
                    header_params={
                        "Accept": "application/json",
                        "Content-Type": "application/json",
                    },
                    body=body,
                    response_types_map=_OBJECT,
                    auth_settings=["BearerToken"],
                    _return_http_data_only=False,
                    _preload_content=True,
                    _request_timeout=policy.request_timeout,
                )
                return data if isinstance(data, dict) else {}
            except ApiException as exc:
                delay = self._classify(method, exc, attempt)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if method in _WRITES:
                    raise _Ambiguous(f"{method} {path}: {exc}") from exc
                delay = policy.delay(attempt)
            if attempt < policy.attempts:
                self.sleep(delay)
        raise ApiUnavailable(f"{method} {path} kept failing after {policy.attempts} attempts")

    def _classify(self, method: str, exc: ApiException, attempt: int) -> float:
        """Raise for final and meaningful codes; return the wait before retrying the rest.

        409 means something only to a write; on other requests it is final like any other
        4xx (the private signal never reaches callers).
        """
        status = int(exc.status or 0)
        body = _status_body(exc)
        message = str(body.get("message", exc.reason or ""))
        if status == 404:
            raise ObjectNotFound(status, "NotFound", message)
        if status == 409 and method in _WRITES:
            raise _Conflict(str(body.get("reason") or "Conflict"))
        if status == 429:
            after = _retry_after(exc)
            wait = self.policy.delay(attempt) if after is None else after
            return min(wait, self.policy.max_retry_after)
        if status == 500 and "request is too large" in message:
            raise ApiRejected(status, "RequestTooLarge", message)  # etcd's limit: final
        if status >= 500 or status == 0:
            if method in _WRITES:
                raise _Ambiguous(f"{status} {message}")
            return self.policy.delay(attempt)
        raise ApiRejected(status, str(body.get("reason") or exc.reason or ""), message)

    # -- reads ------------------------------------------------------------------------

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            return self._request("GET", resource.path(namespace, name))
        except ObjectNotFound:
            return None

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]:
        """Items and the list's resourceVersion."""
        query = [
            (k, v)
            for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector))
            if v
        ]
        answer = self._request("GET", resource.path(namespace), query=query)
        version = str((answer.get("metadata") or {}).get("resourceVersion", ""))
        return list(answer.get("items") or []), version

    # -- writes -----------------------------------------------------------------------

    def create_or_get(self, manifest: Obj) -> Created:
        """Create ``manifest``, or adopt the object with its name if it is ours.

        Ours means the same run key and spec hash annotations. A terminating object is
        waited for; anything else raises ObjectConflict and is left untouched. Any 409
        (AlreadyExists, or a Conflict that may or may not have let the create land) and
        any write that may have landed is settled by reading the name back.
        """
        resource = resource_of(manifest)
        name, namespace = name_of(manifest), namespace_of(manifest)
        check_object_size(manifest)
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                return Created(self._request("POST", resource.path(namespace), body=manifest), True)
            except (_Conflict, _Ambiguous):
                pass  # taken, or maybe created by us: the read below tells
            existing = self.get(resource, name, namespace)
            if existing is None:
                self.sleep(policy.delay(attempt))
                continue
            if is_terminating(existing):
                self._wait_gone(resource, name, namespace)
                continue
            if adoptable(existing, manifest):
                return Created(existing, False)
            raise ObjectConflict(
                f"{resource.kind} {namespace + '/' if namespace else ''}{name} exists and is not"
                " ours (run key or spec hash differ); left untouched"
            )
        raise ApiUnavailable(f"could not create {resource.kind} {name}")

    def _wait_gone(self, resource: Resource, name: str, namespace: str | None) -> None:
        deadline = self.clock() + self.policy.terminating_timeout
        while self.get(resource, name, namespace) is not None:
            if self.clock() >= deadline:
                raise ApiUnavailable(f"{resource.kind} {name} is still terminating")
            self.sleep(self.policy.poll_interval)

    def modify(
        self,
        resource: Resource,
        name: str,
        mutate: Mutate,
        *,
        namespace: str | None = None,
        subresource: str = "",
    ) -> Obj:
        """Read-modify-write: ``mutate`` the latest object, PUT it with its resourceVersion.

        ``mutate`` returns the edited copy, or None when nothing needs changing. A 409 or
        a write that may have landed re-reads and mutates again, so the edit is applied
        once. ObjectNotFound when the object does not exist.
        """
        for attempt in range(1, self.policy.conflict_attempts + 1):
            current = self.get(resource, name, namespace)
            if current is None:
                raise ObjectNotFound(404, "NotFound", f"{resource.kind} {name}")
            edited = mutate(current)
            if edited is None:
                return current
            try:
                check_object_size(edited)
                return self._request(
                    "PUT", resource.path(namespace, name, subresource), body=edited
                )
            except (_Conflict, _Ambiguous):
                self.sleep(self.policy.delay(attempt) if attempt > 1 else 0.0)
        raise ApiUnavailable(f"{resource.kind} {name} kept changing under us")

    def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        propagation: str = "Background",
    ) -> bool:
        """Delete; False when it was already gone or ``resource_version`` no longer held.

        After a failed attempt that may have landed, finding it gone counts as deleted.
        """
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        for attempt in range(1, self.policy.attempts + 1):
            try:
                self._request("DELETE", resource.path(namespace, name), body=body)
                return True
            except ObjectNotFound:
                return attempt > 1
            except _Conflict:
                if resource_version:
                    return False  # the precondition no longer holds
                self.sleep(self.policy.delay(attempt))  # no precondition: a transient 409
            except _Ambiguous:
                current = self.get(resource, name, namespace)
                if current is None or is_terminating(current):
                    return True
                self.sleep(self.policy.delay(attempt))
        raise ApiUnavailable(f"could not delete {resource.kind} {name}")


def build_api_client_without_retries(api_client: ApiClient) -> ApiClient:
    """An ApiClient with ``api_client``'s configuration whose connection pool never retries.

    urllib3 retries by default, and on 429/503 with Retry-After even POSTs: a create that
    may have applied would be sent again behind KubeClient's back. KubeClient decides what
    is safe to retry, so its pool gets ``retries=False`` (read when the pool is made). The
    given client, which KubernetesPodOperator's code may share, is left untouched.
    """
    configuration = copy.deepcopy(api_client.configuration)
    configuration.retries = False
    return ApiClient(configuration=configuration)
