"""Example 6 end to end: the hdfs_reader DAG resolves a directory of a real HDFS through the
webhdfs resolver and places its scanners on both clusters; the bytes each replica reads
from its own node are recomputed from what the NameNode reports."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.minihdfs import MIB, MiniHdfs, start_hdfs
from tests.airflow.support import handed_chunks, objects, replica_pods, run_dag, xcom_value
from tests.hdfs.conftest import DATANODES, HOST_ALIASES

ROOT = "/logs/events"
# file -> (size, the two DataNodes holding every block of it): each DataNode holds two
# files, one per rack pair, so four scanners can each read a whole file from their own node
FILES = {
    "day=1/part-0": (3 * MIB, ("dn-a1", "dn-b1")),
    "day=1/part-1": (3 * MIB, ("dn-a2", "dn-b2")),
    "day=2/part-0": (3 * MIB, ("dn-a1", "dn-b2")),
    "day=2/part-1": (3 * MIB - 7, ("dn-a2", "dn-b1")),
}
TOTAL = sum(size for size, _ in FILES.values())


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniHdfs]:
    with start_hdfs(tmp_path_factory.mktemp("hdfs-lake"), DATANODES) as hdfs:
        for directory in ("day=1", "day=2"):
            hdfs.mkdirs(f"{ROOT}/{directory}")
        for name, (size, hosts) in FILES.items():
            written = hdfs.write_on(f"{ROOT}/{name}", size, hosts)
            assert all(block.hosts == set(hosts) for block in written), written
        yield hdfs


@pytest.fixture
def hdfs_connection(lake: MiniHdfs, monkeypatch: pytest.MonkeyPatch) -> MiniHdfs:
    """The Connection the DAG names, pointing the webhdfs resolver at the NameNode."""
    extra = {
        "hdfs": {
            "resolver": "webhdfs",
            "endpoint": lake.endpoint,
            "user": lake.superuser,
            "filesystem": "hdfs://lake",
            "hostAliases": HOST_ALIASES,
        }
    }
    conn = {"conn_type": "datalocality", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_DATALOCALITY_HDFS", json.dumps(conn))
    return lake


def test_hdfs_reader_reads_each_block_from_a_copy_on_its_own_node(
    airflow_db: Path, cluster: ProviderCluster, hdfs_connection: MiniHdfs
) -> None:
    hdfs = hdfs_connection
    blocks: dict[str, tuple[int, set[str]]] = {}  # chunk id -> (length, nodes with a copy)
    for name in FILES:
        for block in hdfs.locations(f"{ROOT}/{name}"):
            nodes = {HOST_ALIASES[h] for h in block.hosts}
            blocks[f"{name}#{block.offset}"] = (block.length, nodes)

    run = run_dag("hdfs_reader", "hdfs_reader.py")

    pods = replica_pods(cluster, "scan.replica")
    assert len(pods) == 4
    summary = xcom_value("hdfs_reader", run.run_id, "scan.plan", "plan")
    baseline = xcom_value("hdfs_reader", run.run_id, "scan.plan", "baseline")
    handed: list[str] = []
    local = moved = 0
    for pod, planned in zip(pods, summary["replicas"], strict=True):
        node = pod["spec"]["nodeName"]
        assert node == pod["metadata"]["annotations"]["datalocality.io/planned-node"]
        assert node == planned["node"]
        chunks = handed_chunks(cluster, pod)
        handed.extend(chunks)
        # what the NameNode says about this replica's blocks is what the plan said
        mine = sum(blocks[c][0] for c in chunks if node in blocks[c][1])
        assert mine == planned["local_bytes"]
        local += mine
        moved += sum(blocks[c][0] for c in chunks if node not in blocks[c][1])
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["DATALOCALITY_CHUNK_BASE"] == f"hdfs://lake{ROOT}"
    assert sorted(handed) == sorted(blocks)  # every block read once
    assert local + moved == TOTAL
    assert moved == summary["totals"]["moved_bytes"]
    # each scanner can read a whole file from its own node: nothing needs to move, where
    # a locality-blind placement moves some
    assert moved == 0
    assert baseline["moved_bytes"] > 0
    (claim,) = objects(cluster, "datalocality.io", "datasourceclaims")
    assert claim["status"]["phase"] == "Bound"


def _run_rows(dag_id: str, run_id: str) -> list[str]:
    """Every XCom value and rendered template field of a run, as JSON text."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    rows: list[str] = []
    with create_session() as session:
        for xcom in session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
        ):
            rows.append(json.dumps(XComModel.deserialize_value(xcom), default=str))
        for rendered in session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_id,
                RenderedTaskInstanceFields.run_id == run_id,
            )
        ):
            rows.append(json.dumps([rendered.rendered_fields, rendered.k8s_pod_yaml], default=str))
    return rows


def test_a_canary_credential_never_shows_in_logs_xcom_fields_or_objects(
    airflow_db: Path,
    cluster: ProviderCluster,
    lake: MiniHdfs,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    canary = f"canary-{secrets.token_urlsafe(12)}+/="  # characters that need quoting
    extra = {
        "hdfs": {
            "resolver": "webhdfs",
            "endpoint": lake.endpoint,
            "filesystem": "hdfs://lake",
            "hostAliases": HOST_ALIASES,
            "delegationToken": {"env": "HDFS_TOKEN"},  # sent on every WebHDFS call
        },
        "secrets": {"HDFS_TOKEN": canary},
    }
    conn = {"conn_type": "datalocality", "password": canary, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_DATALOCALITY_HDFS", json.dumps(conn))
    run = run_dag("hdfs_reader", "hdfs_reader.py")  # tasks log to stdout
    printed = capfd.readouterr()
    places = {
        "stdout": printed.out,
        "stderr": printed.err,
        "xcom and rendered fields": "\n".join(_run_rows("hdfs_reader", run.run_id)),
    }
    for group, plural in [
        ("", "pods"),
        ("", "configmaps"),
        ("datalocality.io", "datasourceclaims"),
        ("datalocality.io", "datasources"),
        ("datalocality.io", "datasourceslices"),
    ]:
        places[plural] = json.dumps(objects(cluster, group, plural))
    # the token was read and used: the directory resolved through the Connection
    (claim,) = objects(cluster, "datalocality.io", "datasourceclaims")
    assert claim["status"]["phase"] == "Bound"
    forms = [canary, quote(canary, safe=""), quote_plus(canary)]
    forms.append(base64.b64encode(canary.encode()).decode())
    leaks = [(where, form) for where, text in places.items() for form in forms if form in text]
    assert leaks == []
