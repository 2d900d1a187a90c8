"""``datalocality-cluster demo`` (what ``make demo`` runs): the report, and real runs on
both clusters."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from datalocality.operators.plan_report import build_plan_report
from datalocality_testcluster.cli import main
from datalocality_testcluster.clusters import KINDS


def test_report_compares_with_the_locality_blind_placement() -> None:
    plan = {
        "strategy": "optimal",
        "replicas": [
            {
                "index": 0,
                "node": "a",
                "chunk_count": 2,
                "local_bytes": 1536,
                "moved_bytes": 512,
                "bytes_by_tier": [1536, 512, 0, 0, 0],
            }
        ],
        "totals": {"moved_bytes": 512},
        "operations": [{"kind": "repartition", "node": "a"}],
    }
    baseline = {
        "strategy": "spread",
        "moved_bytes": 2048,
        "replicas": [{"index": 0, "node": "b", "moved_bytes": 2048}],
    }
    report = build_plan_report(plan, baseline, {0: "a"})
    row = report.splitlines()[2].split()
    assert row == [
        "0",
        "a",
        "a",
        "2",
        "1.5",
        "KiB",
        "512",
        "B",
        "node:75%,zone:25%",
        "b",
        "2",
        "KiB",
    ]
    assert "would move 2 KiB: 1.5 KiB saved (75% less)" in report
    assert "1 repartition job(s) before the replicas, on a" in report
    unbound = build_plan_report(plan, baseline, max_rows=0).splitlines()
    assert unbound[0].split()[:3] == ["replica", "planned", "node"]
    assert unbound[2] == "... and 1 more replicas (the plan XCom has all)"


@pytest.mark.parametrize("kind", KINDS)
def test_demo_runs_example_one_and_leaves_nothing_running(
    airflow_db: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    threads = set(threading.enumerate())
    assert main(["demo", "--cluster", kind]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line[:2] in {"0 ", "1 ", "2 "}]
    assert [row[:3] for row in rows] == [
        ["0", "worker-a1", "worker-a1"],
        ["1", "worker-a1", "worker-a1"],
        ["2", "worker-b1", "worker-b1"],
    ]
    assert "bytes moved over the network: 256 MiB (optimal)" in out
    # The gateway is over its load limit (0.9 > 0.8): no strategy puts a replica there.
    assert all(len(row) == 12 and row[9] != "gateway-b" for row in rows), rows
    assert "a locality-blind placement (spread) would move 2.75 GiB" in out
    leftover = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
    assert [t.name for t in leftover if t.name.startswith(("sandbox", "kwok", "kubelet"))] == []
