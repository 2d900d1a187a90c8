"""A fault proxy: a loopback HTTP server between a Kubernetes client and a real apiserver
that forwards each request and faults some of them, as a struggling apiserver or network
would.

The faults are the sandbox's (:class:`~datalocality_testcluster.sandbox.faults.Faults`:
``inject`` one, or ``chaos(seed, p)``), applied here to the real apiserver's answers: a
fault without ``after``/``drop`` answers with its error and forwards nothing; ``after``
forwards (the write lands) then answers with the error; ``drop`` forwards and hangs up
without an answer, after ``hold`` seconds (a client timeout); ``reset`` hangs up before
forwarding; a 410 on a watch is a watch stream holding one ERROR event. The client speaks
plain HTTP to the proxy with its own bearer token; the proxy speaks TLS to the apiserver,
trusting its CA. Each request's verb, resource and name are read from its URL the way
the apiserver's request-info resolver reads them.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from datalocality_testcluster.sandbox.faults import Fault, Faults

# hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy sets itself
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


@dataclass(frozen=True)
class RequestInfo:
    """What an apiserver request is for: Kubernetes verb, resource, name, subresource."""

    verb: str
    resource: str
    name: str | None
    subresource: str | None


def request_info(method: str, target: str) -> RequestInfo | None:
    """The request's verb and resource, or None for a non-resource URL (/version, /api)."""
    url = urlsplit(target)
    parts = [p for p in url.path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        rest = parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        rest = parts[3:]
    else:
        return None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        rest = rest[2:]  # a namespaced resource (else: a namespace itself, or its status)
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    watch = parse_qs(url.query).get("watch", [""])[0] in ("true", "1")
    if method == "GET":
        verb = "get" if name else ("watch" if watch else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    return RequestInfo(verb, rest[0], name, sub)


def _status(fault: Fault) -> tuple[bytes, dict[str, str]]:
    """A fault's answer body (a Status, as the apiserver writes it) and its headers."""
    error = fault.error()
    return json.dumps(error.status()).encode(), dict(error.headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: tuple[str, int], tls: ssl.SSLContext, faults: Faults) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream, self.tls, self.faults = upstream, tls, faults
        self.forwarded = 0
        self.errors: list[str] = []
        self.slow_after: float | None = None
        self.slow: list[str] = []  # unfaulted answers slower than slow_after


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms ACK wait

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the faults' record, not an access log."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        info = request_info(self.command, self.path)
        fault = None
        if info is not None:
            fault = self.server.faults.take(info.verb, info.resource, info.name, info.subresource)
        if fault is not None and fault.reset:
            return self._hang_up()  # nothing forwarded, no answer
        if fault is not None and not (fault.after or fault.drop):
            if info is not None and info.verb == "watch" and fault.code == 410:
                event = {"type": "ERROR", "object": fault.error().status()}
                return self._answer(200, json.dumps(event).encode() + b"\n", {})
            payload, headers = _status(fault)
            return self._answer(fault.code, payload, headers)
        try:
            self._forward(body, fault)
        except (OSError, http.client.HTTPException) as exc:
            if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                self.server.errors.append(f"{self.command} {self.path}: {exc!r}")
            self.close_connection = True

    _upstream: http.client.HTTPSConnection | None = None

    def _connection(self) -> http.client.HTTPSConnection:
        """This client connection's own connection to the apiserver, kept alive."""
        if self._upstream is None:
            host, port = self.server.upstream
            self._upstream = http.client.HTTPSConnection(
                host, port, context=self.server.tls, timeout=60
            )
        return self._upstream

    def finish(self) -> None:
        super().finish()
        if self._upstream is not None:
            self._upstream.close()

    def _forward(self, body: bytes, fault: Fault | None) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        upstream = self._connection()
        began = time.monotonic()
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
        except (OSError, http.client.HTTPException):
            upstream.close()  # the apiserver closed an idle connection: once more, anew
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
        self.server.forwarded += 1
        passed = {k: v for k, v in answer.getheaders() if k.lower() not in _HOP}
        if answer.getheader("Transfer-Encoding", "").lower() == "chunked" and fault is None:
            return self._stream(answer, passed)  # a watch (or a long list): relayed as read
        payload = answer.read()
        took = time.monotonic() - began
        limit = self.server.slow_after
        if fault is None and limit is not None and took > limit:
            self.server.slow.append(f"{self.command} {self.path}: {took:.2f} s")
        if fault is not None and fault.hold:
            time.sleep(fault.hold)  # the client gives up first: a timeout
        if fault is not None and fault.drop:
            return self._hang_up()  # applied, never answered
        if fault is not None:
            payload, headers = _status(fault)  # applied, answered as failed
            return self._answer(fault.code, payload, headers)
        passed.pop("Content-Length", None)
        self._answer(answer.status, payload, passed)

    def _answer(self, code: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        if not any(k.lower() == "content-type" for k in headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, answer: http.client.HTTPResponse, headers: dict[str, str]) -> None:
        self.send_response(answer.status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while piece := answer.read1(65536):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _hang_up(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


@dataclass
class FaultProxy:
    """A running proxy: its URL, the faults it applies, what it forwarded."""

    url: str
    faults: Faults
    _server: _Server

    @property
    def forwarded(self) -> int:
        """Requests forwarded to the apiserver so far."""
        return self._server.forwarded

    @property
    def slow(self) -> list[str]:
        """Unfaulted answers the apiserver took longer than ``slow_after`` to give."""
        return self._server.slow

    @property
    def errors(self) -> list[str]:
        """Proxy failures that were not a fault's (a test asserts there are none)."""
        return self._server.errors


@contextmanager
def start_fault_proxy(
    server: str, ca_path: Path, *, slow_after: float | None = None
) -> Iterator[FaultProxy]:
    """A fault proxy in front of the apiserver at ``server`` (https://host:port); answers
    slower than ``slow_after`` seconds that no fault held are recorded in ``slow``."""
    url = urlsplit(server)
    tls = ssl.create_default_context(cafile=str(ca_path))
    faults = Faults()
    proxy = _Server((url.hostname or "127.0.0.1", url.port or 443), tls, faults)
    proxy.slow_after = slow_after
    thread = threading.Thread(target=proxy.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield FaultProxy(f"http://127.0.0.1:{proxy.server_address[1]}", faults, proxy)
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=5)
