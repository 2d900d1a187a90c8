"""What the real etcd and apiserver store, and the clear error before a write they refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from datalocality.errors import ObjectTooLarge
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import ETCD_REQUEST_BYTES
from datalocality.kube.resources import resource_of
from datalocality.kube.slices import build_slices, slice_chunks
from datalocality.model import Chunk


def slice_manifest(chunks: int) -> dict[str, Any]:
    """One DataSourceSlice holding ``chunks`` realistic chunk ids (Iceberg data files),
    cut without its byte bound, and without an owner (nothing to garbage-collect it)."""
    name = f"events-{chunks}"
    listed = [
        Chunk(
            id=f"s3://warehouse/db/events/data/part-{i:06d}-3f2a9c1e-0b7d.parquet",
            size=128 * 2**20,
            locations=[f"worker-a{i % 3 + 1}"],
        )
        for i in range(chunks)
    ]
    unbounded = slice_chunks(name, listed, limit=2**40)
    (made,) = build_slices(name, "3b0d4f52-6a8e-4f3c-9a51-0d5b1c2e7f90", unbounded)
    del made["metadata"]["ownerReferences"]
    return made


def compact_size(manifest: dict[str, Any]) -> int:
    return len(json.dumps(manifest, separators=(",", ":")).encode())


def test_the_real_etcd_refuses_what_the_check_refuses(admin: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(admin)
    # 12,000 chunks in one slice are 517 bytes under the limit and stored; 13,000 are over
    fits, too_big = slice_manifest(12000), slice_manifest(13000)
    assert compact_size(fits) < ETCD_REQUEST_BYTES < compact_size(too_big)
    custom.create_cluster_custom_object("datalocality.io", "v1alpha1", "datasourceslices", fits)
    with pytest.raises(ApiException) as raised:
        custom.create_cluster_custom_object(
            "datalocality.io", "v1alpha1", "datasourceslices", too_big
        )
    assert raised.value.status == 500
    assert "request is too large" in raised.value.body


def test_kube_client_names_the_object_and_its_size_and_writes_nothing(
    admin: client.ApiClient,
) -> None:
    kube = KubeClient(admin)
    manifest = slice_manifest(20000)
    name = manifest["metadata"]["name"]
    with pytest.raises(ObjectTooLarge) as raised:
        kube.create_or_get(manifest)
    message = str(raised.value)
    assert message.startswith(f"DataSourceSlice {name} is ")
    assert name.startswith("events-20000-") and name.endswith("-0")
    assert f"{compact_size(manifest):,} bytes" in message
    assert f"at most {ETCD_REQUEST_BYTES:,} bytes" in message
    assert kube.get(resource_of(manifest), name) is None
