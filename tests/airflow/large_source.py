"""The 100,000-file table of dags/large_read.py and the ways to publish and read back a run.

Shared by tests/airflow/test_large_e2e.py and benchmarks/large_e2e.py, so both run the
same DAG on the same table: the files, the platform's publishing, the run's XComs.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from datalocality.kube.client import KubeClient
from datalocality.kube.names import build_data_source_name
from datalocality.kube.publish import publish_data_source
from datalocality.model import Chunk, DataInput, DataSource
from datalocality_testcluster.sandbox.inventory import load_inventory
from tests.airflow.support import DAGS

DAG_FILE = "large_read.py"
DAG_ID = "large_read"
GROUP = "read"  # locality_pods' task_id in the DAG: tasks are read.plan, read.replica...
FILES = 100_000
FILE_BYTES = 128 * 2**20
# The table is cached unevenly: worker-a1 (room for few replicas) holds the most files.
WEIGHTS = {"worker-a1": 5, "worker-a2": 3, "worker-a3": 2, "worker-b1": 3, "worker-b2": 1}
SECOND_COPY_EVERY = 10  # one file in ten is cached on a second worker too
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")


def worker_nodes() -> list[str]:
    """The demo inventory's untainted nodes (the gateway holds no table files)."""
    nodes = load_inventory().nodes
    return [n["metadata"]["name"] for n in nodes if not (n.get("spec") or {}).get("taints")]


def table_files(files: int = FILES) -> tuple[Chunk, ...]:
    """Iceberg data files with realistic paths, 128 MiB each, cached on the workers.

    Deterministic (each file's node and name come from a hash of its index), weighted by
    :data:`WEIGHTS`; every :data:`SECOND_COPY_EVERY`-th file also sits on the next worker.
    """
    workers = worker_nodes()
    assert set(WEIGHTS) == set(workers), (WEIGHTS, workers)
    wheel = [w for w in workers for _ in range(WEIGHTS[w])]
    chunks = []
    for i in range(files):
        digest = hashlib.blake2b(i.to_bytes(4, "big"), digest_size=16).digest()
        node = wheel[digest[0] % len(wheel)]
        locations = [node]
        if i % SECOND_COPY_EVERY == 0:
            locations.append(workers[(workers.index(node) + 1) % len(workers)])
        name = f"s3://warehouse/db/events/data/part-{i:06d}-{uuid.UUID(bytes=digest)}.parquet"
        chunks.append(Chunk(id=name, size=FILE_BYTES, locations=tuple(locations)))
    return tuple(chunks)


def load_dag() -> Any:
    """The DAG of dags/large_read.py, parsed as the DAG processor parses it."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(DAGS / DAG_FILE), safe_mode=False)
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags[DAG_ID]


def table_input(dag: Any) -> DataInput:
    """The one input of the DAG's plan task: the table's identity."""
    (table,) = dag.task_dict[f"{GROUP}.plan"].inputs
    assert isinstance(table, DataInput)
    return table


def publish_table(api: Any, table: DataInput, files: Sequence[Chunk]) -> dict[str, Any]:
    """Publish (or adopt) the table's DataSource and slices, as a platform's catalog sync
    would, through the ApiClient ``api``; the DataSource as stored."""
    source = DataSource.for_input(table, chunks=tuple(files), observedAt=datetime.now(UTC))
    return publish_data_source(KubeClient(api), build_data_source_name(table), source)


def run_xcoms(run_id: str) -> dict[tuple[str, str, int], Any]:
    """Every XCom the run stored in Airflow's database, by (task id, key, map index)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(XComModel.dag_id == DAG_ID, XComModel.run_id == run_id)
        ).all()
        return {(r.task_id, r.key, r.map_index): XComModel.deserialize_value(r) for r in rows}


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON (how etcd stores custom objects, and XCom values)."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def as_written(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object without the metadata the apiserver adds: what the provider sized."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_FIELDS}
    return {**obj, "metadata": meta}


def task_of(obj: dict[str, Any]) -> str:
    """The Airflow task id an object is labelled with ('' for none)."""
    return str((obj["metadata"].get("labels") or {}).get("datalocality.io/task-id", ""))
