"""ConfigMaps: the 1 MiB limit the API server holds every ConfigMap to.

The chunk lists pods mount are built in :mod:`datalocality.kube.chunk_lists`, which
checks each ConfigMap against the limit here before anything is sent, so an oversized
list fails as a SpecError naming the field rather than as the API server's refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

from datalocality.errors import SpecError

# A ConfigMap holds at most 1 MiB of data (etcd's object limit leaves room for metadata).
CONFIGMAP_LIMIT = 1024 * 1024


def check_configmap_size(field: str, data: Mapping[str, str]) -> None:
    """SpecError naming ``field`` when ``data`` is over the ConfigMap limit (keys and
    values, in bytes, as the API server counts them)."""
    size = sum(len(k) + len(v.encode("utf-8")) for k, v in data.items())
    if size > CONFIGMAP_LIMIT:
        raise SpecError(field, size, f"bytes exceed the ConfigMap limit of {CONFIGMAP_LIMIT}")
