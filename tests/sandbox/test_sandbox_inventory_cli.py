"""Inventories (short format, kubectl's NodeList, a placement request) and ``sandbox up``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox import InventoryError, load_inventory, start_sandbox
from tests.sandbox.conftest import FAST, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_demo_inventory_matches_the_clickstream_example() -> None:
    demo = load_inventory()
    request = yaml.safe_load((ROOT / "examples" / "clickstream.yaml").read_text())
    expected = sorted(n["name"] for n in request["topology"]["nodes"])
    assert sorted(n["metadata"]["name"] for n in demo.nodes) == expected
    zones = {
        n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
        for n in demo.nodes
    }
    assert zones["worker-a1"] == "eu-west-1a" and zones["gateway-b"] == "eu-west-1b"
    assert [p["spec"]["nodeName"] for p in demo.reserved_pods] == ["worker-a1"]


def test_a_placement_request_is_an_inventory() -> None:
    inventory = load_inventory(ROOT / "examples" / "clickstream.yaml")
    assert len(inventory.nodes) == 6


def test_kubectl_node_list(tmp_path: Path) -> None:
    node_list = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": "real-1",
                    "uid": "x",
                    "resourceVersion": "9",
                    "labels": {"topology.kubernetes.io/zone": "z1"},
                },
                "spec": {
                    "taints": [{"key": "k", "effect": "NoSchedule"}],
                    "providerID": "aws:///z1/i-1",
                },
                "status": {
                    "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "58"},
                    "capacity": {"cpu": "4"},
                },
            }
        ],
    }
    path = tmp_path / "nodes.yaml"
    path.write_text(yaml.safe_dump(node_list))
    with start_sandbox(path, timing=FAST) as sandbox, sandbox.api_client() as api:
        node = client.CoreV1Api(api).read_node("real-1")
        assert node.status.allocatable["cpu"] == "3920m" and node.spec.taints[0].key == "k"
        assert node.metadata.uid != "x"


def test_bad_inventories() -> None:
    with pytest.raises(InventoryError):
        load_inventory({"nodes": []})
    with pytest.raises(InventoryError):
        load_inventory([{"name": "a"}, {"name": "a"}])
    with pytest.raises(InventoryError):
        load_inventory([{"zone": "z"}])


def test_sandbox_up_serves_until_interrupted(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datalocality_testcluster.cli",
            "sandbox",
            "up",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "runs no containers" in first and "http://127.0.0.1:" in first
        wait_for(kubeconfig.exists)
        api = config.new_client_from_config(str(kubeconfig))
        with api:
            names = [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
        assert "worker-a1" in names and len(names) == 6
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping" in out


def test_sandbox_up_rejects_a_bad_inventory(tmp_path: Path) -> None:
    from datalocality_testcluster.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: []\n")
    assert (
        main(["sandbox", "up", "--inventory", str(bad), "--kubeconfig", str(tmp_path / "k")]) == 2
    )
