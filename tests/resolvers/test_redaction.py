"""One redaction path: a credential a resolver holds never shows, raw, URL-quoted or
base64-encoded, in an error, an excerpt, a health detail or a log line (ours or the HTTP
libraries')."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from datalocality.errors import ResolverResponseError
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.amoro import AmoroResolver
from datalocality.resolvers.builtin.webhdfs import WebHdfsResolver
from tests.resolvers.support import QuietHandler, Server, SleepLog, loopback_http

pytestmark = pytest.mark.anyio
TOKEN = "dt-7Qx/9+Zk=="  # needs quoting in a URL: "/", "+" and "="
USER, PASSWORD = "etl", "pw-5c1e8a"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


class RedirectingNamenode(QuietHandler):
    """A WebHDFS namenode whose first answer redirects to a Location carrying the
    delegation token it was sent (as a DataNode redirect does), the second a FileStatus."""

    def do_GET(self) -> None:
        if "redirected" not in self.path:
            port = self.server.server_port  # type: ignore[attr-defined]
            location = (
                f"http://127.0.0.1:{port}/webhdfs/v1/f?op=GETFILESTATUS&redirected=1"
                f"&t={quote(TOKEN, safe='')}"
            )
            self.send_response(307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_json(200, {"FileStatus": {"pathSuffix": "", "type": "FILE", "length": 0}})


@pytest.fixture
def redirecting_namenode() -> Iterator[str]:
    with loopback_http(RedirectingNamenode) as url:
        yield url


async def test_a_token_in_a_redirect_is_masked_in_httpx_and_httpcore_debug_logs(
    redirecting_namenode: str, caplog: pytest.LogCaptureFixture
) -> None:
    resolver = WebHdfsResolver.from_config(
        {"endpoint": redirecting_namenode, "delegationToken": {"env": "HDFS_TOKEN"}},
        ResolverContext(env={"HDFS_TOKEN": TOKEN}),
    )
    with caplog.at_level(logging.DEBUG):
        try:
            source = await resolver.resolve(DataInput(system="hdfs", name="/f"))
        finally:
            await resolver.aclose()
    assert source.chunks == ()
    logged = {record.name for record in caplog.records}
    assert {"httpx", "httpcore.http11"} <= logged  # the libraries did log the exchange
    assert "307" in caplog.text
    for form in forms(TOKEN):
        assert form not in caplog.text, form


def echo_authorization(status: int) -> Server:
    """AMS answering ``status`` with the Authorization header it got in its body."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = {"code": status, "message": f"bad auth {request.headers.get('authorization')}"}
        return httpx.Response(status, json=body)

    return Server(handler)


def amoro(server: Server) -> AmoroResolver:
    return AmoroResolver.from_config(
        {
            "endpoint": "http://ams.example:1630",
            "auth": {"type": "basic", "username": {"env": "U"}, "password": {"env": "P"}},
            "retry": {"backoffBase": 0.001, "jitter": 0, "maxAttempts": 2},
        },
        ResolverContext(
            env={"U": USER, "P": PASSWORD}, transport=server.transport(), sleep=SleepLog()
        ),
    )


async def test_basic_auth_echoed_by_the_server_is_masked_in_errors_and_health() -> None:
    server = echo_authorization(400)
    with pytest.raises(ResolverResponseError) as caught:
        await amoro(server).resolve(DataInput(system="amoro", name="lake.ml.events"))
    assert server.requests[0].headers["authorization"] == f"Basic {BASIC}"
    assert "bad auth Basic ***" in caught.value.excerpt
    health = await amoro(echo_authorization(400)).health()
    assert not health.ok
    for text in (str(caught.value), health.detail):
        for secret in (BASIC, PASSWORD):
            assert secret not in text, text
