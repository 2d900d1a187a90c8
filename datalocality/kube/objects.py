"""Plain-dict object helpers and the small value types the client returns.

Kept apart from :mod:`datalocality.kube.client` so that code reading objects (the binder,
the sandbox, tests) needs no ``kubernetes`` import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datalocality.errors import ObjectTooLarge
from datalocality.kube.names import ADOPTION_ANNOTATIONS

Obj = dict[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries: per-request attempts, backoff, conflict retries, waits."""

    attempts: int = 6
    initial: float = 0.2
    factor: float = 2.0
    max_delay: float = 5.0
    max_retry_after: float = 60.0
    conflict_attempts: int = 10
    terminating_timeout: float = 60.0
    poll_interval: float = 0.5
    request_timeout: float = 30.0

    def delay(self, attempt: int) -> float:
        """Backoff before retry ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.initial * self.factor ** (attempt - 1)))


@dataclass(frozen=True)
class Created:
    """What create-or-get found: the object, and whether this call created it."""

    object: Obj
    created: bool


def name_of(obj: Mapping[str, Any]) -> str:
    """metadata.name."""
    return str((obj.get("metadata") or {}).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str | None:
    """metadata.namespace (None for a cluster-scoped object)."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    return str(namespace) if namespace else None


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """True once the object has a deletionTimestamp."""
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def adoptable(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when ``existing`` carries the run key and spec hash ``desired`` carries."""
    want = (desired.get("metadata") or {}).get("annotations") or {}
    have = (existing.get("metadata") or {}).get("annotations") or {}
    keys = [k for k in ADOPTION_ANNOTATIONS if k in want]
    return bool(keys) and all(have.get(k) == want[k] for k in keys)


# etcd's default --max-request-bytes: the largest object a cluster stores. Measured on
# the real control plane (tests/realkube): larger custom objects fail with a 500
# "etcdserver: request is too large" (a 413 above the apiserver's 3 MiB body limit).
ETCD_REQUEST_BYTES = 1536 * 1024


def check_object_size(manifest: Mapping[str, Any], limit: int = ETCD_REQUEST_BYTES) -> None:
    """Raise ObjectTooLarge, before anything is sent, when the compact JSON of ``manifest``
    exceeds what etcd stores (custom objects are stored as JSON)."""
    size = len(json.dumps(manifest, separators=(",", ":"), default=str).encode())
    if size > limit:
        raise ObjectTooLarge(str(manifest.get("kind", "object")), name_of(manifest), size, limit)
