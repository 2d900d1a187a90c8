"""A plan does not depend on the process it is made in: a retried task must plan the same.

Python seeds string hashing per process, so anything that iterates a set of names (and
sums floats in that order) can differ between two processes by a rounding crumb, which
flips a near-tie between layouts. The bound's sum over domains once did: a table of
1,000 files cached on 5 workers, one in ten on two, read by 50 replicas, planned
differently under different seeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

# name: (zone, cpu, share of the files); requests of 0.05 cpu leave room for 80+ each
NODES = {
    "worker-a1": ("eu-west-1a", 4, 5),
    "worker-a2": ("eu-west-1a", 8, 3),
    "worker-a3": ("eu-west-1a", 8, 2),
    "worker-b1": ("eu-west-1b", 8, 3),
    "worker-b2": ("eu-west-1b", 8, 1),
    "gateway-b": ("eu-west-1b", 8, 0),
}


def table_request(files: int, replicas: int) -> dict[str, Any]:
    """Files weighted over the workers, every tenth cached on the next worker too."""
    workers = [name for name, (_, _, share) in NODES.items() if share]
    wheel = [name for name in workers for _ in range(NODES[name][2])]
    chunks = []
    for i in range(files):
        digest = hashlib.blake2b(i.to_bytes(4, "big"), digest_size=16).digest()
        node = wheel[digest[0] % len(wheel)]
        locations = [node]
        if i % 10 == 0:
            locations.append(workers[(workers.index(node) + 1) % len(workers)])
        name = f"s3://warehouse/events/part-{i:06d}-{uuid.UUID(bytes=digest)}.parquet"
        chunks.append({"id": name, "size": 128 * 2**20, "locations": locations})
    nodes = [
        {
            "name": name,
            "zone": zone,
            "region": "eu-west-1",
            "allocatable": {"cpu": cpu, "memory": cpu * 4 * 2**30},
            **({"gateway": True, "load": 0.9} if name.startswith("gateway") else {}),
        }
        for name, (zone, cpu, _) in NODES.items()
    ]
    return {
        "topology": {"nodes": nodes},
        "consumer": {"name": "reader", "replicas": replicas, "requests": {"cpu": 0.05}},
        "sources": [{"system": "iceberg", "dataSourceName": "events", "chunks": chunks}],
    }


def plan_in_child(path: Path, strategy: str, seed: int) -> str:
    """The plan's JSON, made by ``datalocality plan`` in a process with this hash seed."""
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "datalocality",
            "plan",
            str(path),
            "-o",
            "json",
            "--strategy",
            strategy,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("strategy", ["optimal", "vineyard", "mcdm"])
def test_a_plan_is_the_same_under_every_hash_seed(tmp_path: Path, strategy: str) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(table_request(files=1_000, replicas=50)))
    plans = {seed: plan_in_child(path, strategy, seed) for seed in (0, 1, 2, 3)}
    assert json.loads(plans[0])["replicas"], plans[0][:500]
    assert len(set(plans.values())) == 1, {
        s: hashlib.sha1(p.encode()).hexdigest() for s, p in plans.items()
    }
