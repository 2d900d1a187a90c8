"""``airflow api-server`` as a subprocess on a given Airflow home, with one admin user.

Shared by the browser tests' fixtures and ``benchmarks/ui_render.py``. The server runs
Airflow's simple auth manager with one admin user and a known password (not
``simple_auth_manager_all_admins``, whose middleware lets every request in, so that a
request without credentials could not be refused).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.airflow.support import AIRFLOW, airflow_cli_env

USERNAME = "admin"
PASSWORD = "datalocality-ui-test"  # a throwaway user of a throwaway server
JWT_SECRET = "datalocality-ui-test-secret"
STARTUP_S = 120.0


@dataclass(frozen=True)
class ApiServer:
    """A running ``airflow api-server``: where it answers and where it logs."""

    base_url: str
    log: Path

    def tail(self, lines: int = 60) -> str:
        """The end of its log."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(process: subprocess.Popen[bytes], server: ApiServer) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"api-server exited {process.returncode}:\n{server.tail()}")
        try:
            health = httpx.get(f"{server.base_url}/api/v2/monitor/health", timeout=2)
            if health.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)  # polling a port, not waiting for the page
    raise RuntimeError(f"api-server not healthy after {STARTUP_S:.0f} s:\n{server.tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server and whatever it started (its own process group)."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker left behind, if any


@contextlib.contextmanager
def run_api_server(
    airflow_env: Mapping[str, str], kubeconfig: Path, root: Path
) -> Iterator[ApiServer]:
    """The server on ``airflow_env``'s home and database, reaching the cluster of
    ``kubeconfig``, logging to ``root``; healthy when yielded, stopped afterwards."""
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({USERNAME: PASSWORD}), encoding="utf-8")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = airflow_cli_env(
        Path(airflow_env["AIRFLOW_HOME"]),
        **airflow_env,
        AIRFLOW__API__BASE_URL=base_url,
        AIRFLOW__API_AUTH__JWT_SECRET=JWT_SECRET,
        AIRFLOW__API__SECRET_KEY=JWT_SECRET,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USERNAME}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        DATALOCALITY_KUBECONFIG=str(kubeconfig),
        PYTHONWARNINGS="ignore",
    )
    server = ApiServer(base_url, root / "api-server.log")
    with server.log.open("wb") as out:
        process = subprocess.Popen(
            [str(AIRFLOW), "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended with it
        )
    try:
        _wait_healthy(process, server)
        yield server
    finally:
        _stop(process)
