"""A real HDFS (MiniDFSCluster: NameNode with WebHDFS, four DataNodes on two racks, 1 MiB
blocks, replication 2) for the tests of this directory, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datalocality_testcluster.minihdfs import MiniHdfs, start_hdfs

# DataNode host -> rack; HOST_ALIASES names the Kubernetes node each one runs on
DATANODES = {"dn-a1": "/rack-a", "dn-a2": "/rack-a", "dn-b1": "/rack-b", "dn-b2": "/rack-b"}
HOST_ALIASES = {
    "dn-a1": "worker-a1",
    "dn-a2": "worker-a2",
    "dn-b1": "worker-b1",
    "dn-b2": "worker-b2",
}


@pytest.fixture(scope="session")
def hdfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniHdfs]:
    with start_hdfs(tmp_path_factory.mktemp("hdfs"), DATANODES) as running:
        yield running


@pytest.fixture
def hdfs_dir(hdfs: MiniHdfs, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh directory per test, removed afterwards."""
    path = f"/t/{request.node.name.replace('[', '-').replace(']', '')}"
    hdfs.mkdirs(path)
    yield path
    hdfs.delete(path)
