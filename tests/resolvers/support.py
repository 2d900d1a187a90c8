"""Recorded HTTP responses served through httpx.MockTransport, with faults and request counts.

No Amoro AMS or HDFS namenode can run here, so their resolvers are tested against responses
recorded in the real APIs' shapes (``recorded/*.json``: AMS's ``OkResponse`` envelope,
``ServerTableMeta``, ``PageResult``; WebHDFS's ``FileStatus``, ``FileStatuses``,
``BlockLocations`` and ``RemoteException`` as its REST API documentation gives them).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

RECORDED = Path(__file__).parent / "recorded"
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
# Query parameters added by auth, which recorded requests leave out.
AUTH_PARAMS = frozenset({"apiKey", "signature", "user.name", "delegation"})


@dataclass(frozen=True)
class Recording:
    """One recorded exchange: a GET path with query, and the answer."""

    path: str
    query: dict[str, str]
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> httpx.Response:
        """The recorded answer as a fresh httpx.Response."""
        return httpx.Response(self.status, json=self.body, headers=self.headers)


def load_recordings(name: str) -> list[Recording]:
    """The exchanges in ``recorded/<name>.json``."""
    recordings = []
    for item in json.loads((RECORDED / f"{name}.json").read_text()):
        method, target = item["request"].split(" ", 1)
        assert method == "GET"
        parts = urlsplit(target)
        recordings.append(
            Recording(
                path=parts.path,
                query=dict(parse_qsl(parts.query)),
                status=item["status"],
                body=item["body"],
                headers=item.get("headers", {}),
            )
        )
    return recordings


def replay(recordings: Iterable[Recording]) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering each request with the recording of the same path and query."""
    table = list(recordings)

    def handler(request: httpx.Request) -> httpx.Response:
        query = {k: v for k, v in request.url.params.items() if k not in AUTH_PARAMS}
        path = request.url.raw_path.decode().split("?", 1)[0]  # still percent-encoded
        for recording in table:
            if recording.path == path and recording.query == query:
                return recording.response()
        raise AssertionError(f"no recording for GET {request.url.path} {query}")

    return handler


@dataclass
class Server:
    """A MockTransport handler that logs every request and can inject faults.

    ``faults[i]`` answers the i-th request instead of the recording (None: the recording);
    ``always`` answers every request.
    """

    happy: Handler
    faults: list[Handler | None] = field(default_factory=list)
    always: Handler | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        index = len(self.requests)
        self.requests.append(request)
        fault = self.always or (self.faults[index] if index < len(self.faults) else None)
        answer = (fault or self.happy)(request)
        if isinstance(answer, httpx.Response):
            return answer
        return await answer

    @property
    def count(self) -> int:
        """Requests received so far."""
        return len(self.requests)

    def transport(self) -> httpx.MockTransport:
        """The transport to inject into a ResolverContext."""
        return httpx.MockTransport(self)


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    """A fault answering ``code`` with ``body``."""
    return lambda request: httpx.Response(code, content=body, headers=headers or {})


def refuse(request: httpx.Request) -> httpx.Response:
    """A fault as if nothing listened on the port."""
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SleepLog:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass(frozen=True)
class VineyardCluster:
    """Two vineyardd instances sharing metadata through one etcd (the IPC sockets)."""

    sockets: tuple[Path, Path]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers JSON with :meth:`send_json`."""

    def send_json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def loopback_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on a free loopback port running ``handler``: its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
