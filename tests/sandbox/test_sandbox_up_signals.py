"""``datalocality-cluster sandbox up`` stops cleanly on SIGTERM, also with SIGINT ignored.

A shell starts background jobs with SIGINT ignored, so Ctrl-C's signal never reaches them;
SIGTERM (what ``kill``, systemd and container runtimes send) must then shut the sandbox
down the way SIGINT does: a watch stream still open is ended, the process exits 0 within
seconds, and nothing is left listening on its port.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.process_tree import descendants

PROMPT_SECONDS = 10.0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _start(kubeconfig: Path) -> tuple[subprocess.Popen[str], int, list[str]]:
    """``sandbox up`` with SIGINT ignored, once it says it is serving: process, port, lines."""
    command = ["sandbox", "up", "--kubeconfig", str(kubeconfig)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "datalocality_testcluster.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Only signal.signal runs between fork and exec: nothing that takes a lock.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or "Ctrl-C to stop" not in lines[-1]:
        line = proc.stdout.readline()
        assert line, f"sandbox up ended early: {''.join(lines)}"
        lines.append(line)
    port = int(lines[0].rsplit(":", 1)[-1])
    return proc, port, lines


def _open_watch(port: int) -> socket.socket:
    """A watch on ConfigMaps, its response headers read: a stream the server must end."""
    stream = socket.create_connection(("127.0.0.1", port), timeout=PROMPT_SECONDS)
    stream.sendall(
        b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nAuthorization: Bearer any\r\nAccept: application/json\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = stream.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return stream


def _drain(stream: socket.socket) -> bytes:
    """Read until the server closes the stream (a timeout fails the test)."""
    data = b""
    while chunk := stream.recv(4096):
        data += chunk
    return data


def test_sigterm_stops_sandbox_up_started_with_sigint_ignored(tmp_path: Path) -> None:
    proc, port, _ = _start(tmp_path / "kubeconfig")
    try:
        with _open_watch(port) as stream:
            below = descendants(proc.pid)
            proc.send_signal(signal.SIGINT)  # ignored: this is the case SIGTERM must cover
            time.sleep(0.5)
            assert proc.poll() is None
            began = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=PROMPT_SECONDS)
            elapsed = time.monotonic() - began
            _drain(stream)  # the open watch was ended, not left hanging
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (proc.returncode, err)  # as after SIGINT, not -15
    assert "stopping" in out and elapsed < PROMPT_SECONDS
    assert not [pid for pid in below if _alive(pid)]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError(f"something still listens on port {port}")
    with socket.socket() as probe:  # the port is free to bind again (TIME_WAIT aside)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
