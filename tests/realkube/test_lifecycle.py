"""``datalocality-cluster up`` leaves nothing behind: after SIGINT or SIGTERM every
process it started is gone and its directory removed; after SIGKILL (no clean-up code
runs) the parent-death signal still takes every component down."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.process_tree import descendants


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":
            still.add(pid)
    return still


def start_up(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    kubeconfig = tmp_path / "kc"
    command = Path(sys.executable).with_name("datalocality-cluster")
    process = subprocess.Popen(
        [str(command), "up", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Ctrl-C to stop" in line or not line:
            break
    assert "Ctrl-C to stop" in lines[-1], "".join(lines)
    ca = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["certificate-authority"]
    workdir = Path(ca).parents[1]
    assert workdir.is_dir() and "started in" in "".join(lines)
    return process, kubeconfig, workdir


def wait_gone(pids: set[int], timeout: float = 15.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_cluster_stops_everything_and_removes_its_directory(
    tmp_path: Path, sig: signal.Signals
) -> None:
    process, _, workdir = start_up(tmp_path)
    started = descendants(process.pid)
    names = {Path(f"/proc/{p}/exe").resolve().name for p in alive(started)}
    assert {"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "kwok"} <= names
    process.send_signal(sig)
    assert process.wait(60) == 0
    assert wait_gone(started) == set()
    assert not workdir.exists()


def test_killed_harness_takes_its_components_down(tmp_path: Path) -> None:
    process, _, workdir = start_up(tmp_path)
    started = descendants(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    try:
        assert wait_gone(started) == set()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # no clean-up code ran to remove it
