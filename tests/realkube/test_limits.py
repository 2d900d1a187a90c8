"""What the real etcd and apiserver store, and the clear error before a write they refuse."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from datalocality.errors import ObjectTooLarge
from datalocality.kube.claims import build_data_source
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import ETCD_REQUEST_BYTES
from datalocality.kube.resources import resource_of
from datalocality.model import Chunk, DataInput, DataSource


def source_manifest(chunks: int) -> dict[str, object]:
    """A DataSource with realistic chunk ids (Iceberg data files)."""
    source = DataSource.for_input(
        DataInput(system="iceberg", dataSourceName=f"db.events_{chunks}"),
        chunks=[
            Chunk(
                id=f"s3://warehouse/db/events/data/part-{i:06d}-3f2a9c1e-0b7d.parquet",
                size=128 * 2**20,
                locations=[f"worker-a{i % 3 + 1}"],
            )
            for i in range(chunks)
        ],
    )
    return build_data_source(f"events-{chunks}", source)


def compact_size(manifest: dict[str, object]) -> int:
    return len(json.dumps(manifest, separators=(",", ":")).encode())


def test_the_real_etcd_refuses_what_the_check_refuses(admin: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(admin)
    # 12,000 chunks are 359 bytes under the limit and stored; 13,000 are over it
    fits, too_big = source_manifest(12000), source_manifest(13000)
    assert compact_size(fits) < ETCD_REQUEST_BYTES < compact_size(too_big)
    custom.create_cluster_custom_object("datalocality.io", "v1alpha1", "datasources", fits)
    with pytest.raises(ApiException) as raised:
        custom.create_cluster_custom_object("datalocality.io", "v1alpha1", "datasources", too_big)
    assert raised.value.status == 500
    assert "request is too large" in raised.value.body


def test_kube_client_names_the_object_and_its_size_and_writes_nothing(
    admin: client.ApiClient,
) -> None:
    kube = KubeClient(admin)
    manifest = source_manifest(20000)
    with pytest.raises(ObjectTooLarge) as raised:
        kube.create_or_get(manifest)
    message = str(raised.value)
    assert message.startswith("DataSource events-20000 is ")
    assert f"{compact_size(manifest):,} bytes" in message
    assert f"at most {ETCD_REQUEST_BYTES:,} bytes" in message
    assert kube.get(resource_of(manifest), "events-20000") is None
