"""A DataNode stopped under a resolved directory: HDFS re-replicates its blocks and the
resolver reports where they are now, on a cluster of this module's own."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from datalocality_testcluster.minihdfs import MIB, MiniHdfs, start_hdfs
from tests.hdfs.conftest import DATANODES, HOST_ALIASES
from tests.hdfs.test_webhdfs_minidfs import resolve, seen, truth

FILES = ["part-0", "part-1"]


@pytest.fixture(scope="module")
def own_hdfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniHdfs]:
    with start_hdfs(tmp_path_factory.mktemp("hdfs-loss"), DATANODES) as running:
        yield running


def test_blocks_of_a_stopped_datanode_are_resolved_where_hdfs_re_replicated_them(
    own_hdfs: MiniHdfs,
) -> None:
    hdfs = own_hdfs
    hdfs.mkdirs("/loss")
    for name in FILES:
        hdfs.write(f"/loss/{name}", os.urandom(3 * MIB))
    before = resolve(hdfs, "/loss")
    assert seen(before) == truth(hdfs, "/loss", FILES)
    # the DataNode holding the most replicas goes away
    counts = {
        node: sum(node in c.locations for c in before.chunks) for node in HOST_ALIASES.values()
    }
    lost_node = max(sorted(counts), key=counts.__getitem__)
    lost_host = next(h for h, n in HOST_ALIASES.items() if n == lost_node)
    assert counts[lost_node] > 0
    hdfs.stop_datanode(lost_host)

    deadline = time.monotonic() + 120
    while True:
        after = resolve(hdfs, "/loss")
        healed = all(len(c.locations) == 2 and lost_node not in c.locations for c in after.chunks)
        if healed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert healed, seen(after)
    # where the resolver says each block is now is where the NameNode says it is
    assert seen(after) == truth(hdfs, "/loss", FILES)
    assert lost_node not in after.locality.nodes
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]
