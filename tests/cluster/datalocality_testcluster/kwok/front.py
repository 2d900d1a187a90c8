"""The kubelet port in front of kwok's server: a TLS proxy that ends followed log streams.

kwok serves ``containerLogs`` from the files its ``Logs`` name, but its stand-in for the
container runtime reports every container as running, so a ``follow=true`` stream never
ends (a real kubelet ends it when the container exits). KubernetesPodOperator follows the
base container's log until the stream ends; against bare kwok every task would wait for
its 5-minute read timeout. This proxy passes every request through to kwok unchanged and,
for a followed log, ends the chunked response once the agent has seen the container
terminate. Each request gets its own upstream connection (``Connection: close``), so
keep-alive cannot hide a second request from it.
"""

from __future__ import annotations

import contextlib
import queue
import select
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

Finished = Callable[[str, str, str], bool]
_HEAD_LIMIT = 64 * 1024


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _HEAD_LIMIT:
            break
    return data


@dataclass
class KubeletFront:
    """Listens on ``port`` with kwok's certificate and forwards to kwok on ``upstream``."""

    port: int
    upstream: int
    cert: Path
    key: Path
    ca: Path
    finished: Finished
    _listener: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(self.cert, self.key)
        self._server_ctx = server
        client = ssl.create_default_context(cafile=str(self.ca))
        self._client_ctx = client
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.5)
        self._listener = listener
        threading.Thread(target=self._accept, name="kubelet-front", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(30)
            conn = self._server_ctx.wrap_socket(raw, server_side=True)
            head = _read_head(conn)
            if not head:
                conn.close()
                return
            up = self._client_ctx.wrap_socket(
                socket.create_connection(("127.0.0.1", self.upstream), timeout=30),
                server_hostname="localhost",
            )
            conn.settimeout(None)
            up.settimeout(None)
            line, _, rest = head.partition(b"\r\n")
            target = line.split(b" ")[1].decode() if line.count(b" ") >= 2 else "/"
            upgrade = b"\r\nupgrade:" in (b"\r\n" + rest.lower())
            if not upgrade:
                head = _force_close(head)
            up.sendall(head)
            follow = _followed_log(target)
            if follow is not None:
                self._stream_log(conn, up, follow)
            else:
                _pipe(conn, up)
        except (OSError, ssl.SSLError):
            with contextlib.suppress(OSError):
                raw.close()

    def _stream_log(
        self, conn: ssl.SSLSocket, up: ssl.SSLSocket, ident: tuple[str, str, str]
    ) -> None:
        reader = up.makefile("rb")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = reader.readline()
            if not line:
                break
            head += line
        conn.sendall(head)
        if b"transfer-encoding: chunked" not in head.lower():
            _copy(reader, conn)
            for closing in (conn, reader, up):
                closing.close()
            return
        chunks: queue.Queue[bytes | None] = queue.Queue()

        def read_chunks() -> None:
            try:
                while True:
                    size_line = reader.readline()
                    if not size_line:
                        break
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    data = reader.read(size + 2) if size else b""
                    if size == 0:
                        reader.readline()
                        break
                    chunks.put(size_line + data)
            except (OSError, ValueError):
                pass
            chunks.put(None)

        threading.Thread(target=read_chunks, daemon=True).start()
        ended = False
        while not ended:
            try:
                item = chunks.get(timeout=0.2)
            except queue.Empty:
                if self.finished(*ident):
                    # the runtime wrote the whole log before the container started
                    while True:
                        try:
                            item = chunks.get(timeout=0.1)
                        except queue.Empty:
                            break
                        if item is None:
                            break
                        conn.sendall(item)
                    ended = True
                continue
            if item is None:
                ended = True
            else:
                conn.sendall(item)
        try:
            conn.sendall(b"0\r\n\r\n")
        finally:
            conn.close()
            # kwok would go on following: shutting the socket down wakes the reader
            with contextlib.suppress(OSError):
                up.shutdown(socket.SHUT_RDWR)
            reader.close()
            up.close()


def _followed_log(target: str) -> tuple[str, str, str] | None:
    """(namespace, pod, container) of a ``follow=true`` containerLogs request."""
    parts = urlsplit(target)
    segments = parts.path.strip("/").split("/")
    if len(segments) != 4 or segments[0] != "containerLogs":
        return None
    follow = parse_qs(parts.query).get("follow", ["false"])[0].lower()
    if follow not in {"true", "1"}:
        return None
    return segments[1], segments[2], segments[3]


def _force_close(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    kept = [line for line in lines[1:] if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([lines[0], b"Connection: close", *kept])


def _copy(reader: object, conn: ssl.SSLSocket) -> None:
    read = getattr(reader, "read1", None) or reader.read  # type: ignore[attr-defined]
    while True:
        data = read(65536)
        if not data:
            return
        conn.sendall(data)


def _pipe(a: ssl.SSLSocket, b: ssl.SSLSocket) -> None:
    """Bytes both ways until either side closes (exec's upgraded streams included).

    One thread and select(): an SSL connection must not be read and written from two
    threads at once."""
    peer = {a: b, b: a}
    for sock in peer:
        sock.setblocking(False)
    try:
        while True:
            ready = [s for s in peer if s.pending()] or select.select(list(peer), [], [], 60)[0]
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                if not data:
                    return
                other = peer[sock]
                other.setblocking(True)
                other.sendall(data)
                other.setblocking(False)
    except OSError:
        return
    finally:
        for sock in peer:
            with contextlib.suppress(OSError):
                sock.close()
