"""The fault matrix, for every HTTP resolver: each case asserts the error type and how many
requests reached the server.

Faults answer the first request(s); the rest are served from the recordings, so "500 then
success" resolves with exactly one extra request. Backoff sleeps go to an injected recorder
(no real waiting) except in the slow-drip case, which races a real 0.3 s deadline.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import anyio
import httpx
import pytest

from datalocality.errors import (
    CircuitOpen,
    DataSourceNotFound,
    ResolverConfigError,
    ResolverResponseError,
    ResolverUnavailable,
    ResponseTooLarge,
)
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.amoro import AmoroResolver
from datalocality.resolvers.builtin.webhdfs import WebHdfsResolver
from tests.resolvers.support import (
    FakeClock,
    Server,
    SleepLog,
    load_recordings,
    refuse,
    replay,
    status,
)

pytestmark = pytest.mark.anyio
ATTEMPTS = 3
# The resolvers under test, named rather than as `Resolver`: their `name` is a ClassVar, which
# mypy does not accept for the protocol's instance attribute.
HttpResolver = AmoroResolver | WebHdfsResolver


@dataclass(frozen=True)
class Target:
    """An HTTP resolver under test: how to build it, what to resolve, happy request count."""

    name: str
    factory: Callable[[Mapping[str, Any], ResolverContext], HttpResolver]
    endpoint: str
    recordings: str
    data_input: DataInput
    happy_requests: int

    def build(self, context: ResolverContext, **overrides: Any) -> HttpResolver:
        config = {
            "endpoint": self.endpoint,
            "retry": {"maxAttempts": ATTEMPTS, "backoffBase": 0.01, "jitter": 0},
            "breaker": {"failureThreshold": 100, "cooldown": 30},
            "deadline": 5,
            **overrides,
        }
        return self.factory(config, context)


TARGETS = [
    Target(
        "amoro",
        AmoroResolver.from_config,
        "http://ams.example:1630",
        "amoro",
        DataInput(system="amoro", name="lake.ml.events"),
        2,
    ),
    Target(
        "webhdfs",
        WebHdfsResolver.from_config,
        "http://namenode.example:9870",
        "webhdfs",
        DataInput(system="webhdfs", name="/data/clicks"),
        4,
    ),
]


@pytest.fixture(params=TARGETS, ids=lambda t: t.name)
def target(request: pytest.FixtureRequest) -> Target:
    return cast(Target, request.param)


def setup(
    target: Target, **server_args: Any
) -> tuple[Server, SleepLog, FakeClock, ResolverContext]:
    server = Server(replay(load_recordings(target.recordings)), **server_args)
    sleep, clock = SleepLog(), FakeClock()
    context = ResolverContext(env={}, transport=server.transport(), sleep=sleep, clock=clock)
    return server, sleep, clock, context


async def test_happy_path_request_count(target: Target) -> None:
    server, sleep, _, context = setup(target)
    source = await target.build(context).resolve(target.data_input)
    assert source.chunks and server.count == target.happy_requests and sleep.delays == []


async def test_connection_refused_retries_then_unavailable(target: Target) -> None:
    server, sleep, _, context = setup(target, always=refuse)
    with pytest.raises(ResolverUnavailable, match="unreachable after 3 attempt"):
        await target.build(context).resolve(target.data_input)
    assert server.count == ATTEMPTS
    assert sleep.delays == [0.01, 0.02]  # exponential, no jitter in this policy


async def test_connection_refused_by_a_real_closed_port(target: Target) -> None:
    with socket.socket() as probe:  # a free loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts: list[httpx.Request] = []

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(request)
            return await super().handle_async_request(request)

    context = ResolverContext(env={}, transport=Counting(), sleep=SleepLog())
    resolver = target.build(context, endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(ResolverUnavailable, match="ConnectError"):
        await resolver.resolve(target.data_input)
    assert len(attempts) == ATTEMPTS


async def test_slow_drip_past_the_deadline(target: Target) -> None:
    async def drip() -> AsyncIterator[bytes]:
        yield b"{"
        while True:
            await anyio.sleep(0.02)
            yield b" "

    server, _, _, context = setup(target, always=lambda r: httpx.Response(200, content=drip()))
    with pytest.raises(ResolverUnavailable, match=r"0\.3 s deadline"):
        await target.build(context, deadline=0.3).resolve(target.data_input)
    assert server.count == 1


async def test_404_is_not_found_after_one_request(target: Target) -> None:
    server, sleep, _, context = setup(target, always=status(404, b'{"error": "none"}'))
    with pytest.raises(DataSourceNotFound):
        await target.build(context).resolve(target.data_input)
    assert server.count == 1 and sleep.delays == []


async def test_500_then_success(target: Target) -> None:
    server, sleep, _, context = setup(target, faults=[status(500, b"boom")])
    source = await target.build(context).resolve(target.data_input)
    assert source.chunks
    assert server.count == target.happy_requests + 1
    assert sleep.delays == [0.01]


async def test_503_with_retry_after_is_honoured(target: Target) -> None:
    busy = status(503, b"busy", {"Retry-After": "7"})
    server, sleep, _, context = setup(target, faults=[busy])
    await target.build(context).resolve(target.data_input)
    assert sleep.delays == [7.0]
    assert server.count == target.happy_requests + 1


async def test_retry_after_beyond_the_policy_gives_up_at_once(target: Target) -> None:
    server, sleep, _, context = setup(target, always=status(503, b"", {"Retry-After": "3600"}))
    with pytest.raises(ResolverUnavailable, match="retryAfterMax"):
        await target.build(context).resolve(target.data_input)
    assert server.count == 1 and sleep.delays == []


async def test_429_retries_up_to_the_maximum(target: Target) -> None:
    server, sleep, _, context = setup(target, always=status(429, b"slow down"))
    with pytest.raises(ResolverUnavailable, match="status 429; gave up after 3"):
        await target.build(context).resolve(target.data_input)
    assert server.count == ATTEMPTS and len(sleep.delays) == ATTEMPTS - 1


@pytest.mark.parametrize("code", [401, 403])
async def test_auth_failure_is_a_config_error_without_retry(target: Target, code: int) -> None:
    server, sleep, _, context = setup(target, always=status(code, b"denied"))
    with pytest.raises(ResolverConfigError, match=f"status {code}"):
        await target.build(context).resolve(target.data_input)
    assert server.count == 1 and sleep.delays == []


@pytest.mark.parametrize(
    "body",
    [b"<html><body><h1>Gateway</h1></body></html>", b'{"FileStatus": {"pathSuffix": "", "ty'],
    ids=["html", "truncated-json"],
)
async def test_garbage_is_a_response_error_with_status_and_excerpt(
    target: Target, body: bytes
) -> None:
    server, _, _, context = setup(target, always=status(200, body))
    with pytest.raises(ResolverResponseError) as caught:
        await target.build(context).resolve(target.data_input)
    assert caught.value.status == 200
    assert caught.value.excerpt == body.decode()
    assert server.count == 1


async def test_off_schema_json_is_a_response_error(target: Target) -> None:
    server, _, _, context = setup(target, always=status(200, b'{"unexpected": [1, 2, 3]}'))
    with pytest.raises(ResolverResponseError, match="unexpected response shape"):
        await target.build(context).resolve(target.data_input)
    assert server.count == 1


async def test_excerpt_is_short_and_redacted(target: Target) -> None:
    body = b"<html>" + b"x" * 5000 + b" https://user:hunter2@db.example/?token=abc </html>"
    _, _, _, context = setup(target, always=status(200, body[:150] + body[-60:]))
    with pytest.raises(ResolverResponseError) as caught:
        await target.build(context).resolve(target.data_input)
    assert len(caught.value.excerpt) <= 160
    assert "hunter2" not in str(caught.value) and "token=abc" not in str(caught.value)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_huge_body_is_refused(target: Target, declared: bool) -> None:
    cap = 4096

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"[" * 1024

    def huge(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=b"[" * (cap + 1))
        return httpx.Response(200, content=endless())

    server, _, _, context = setup(target, always=huge)
    with pytest.raises(ResponseTooLarge):
        await target.build(context, maxResponseBytes=cap).resolve(target.data_input)
    assert server.count == 1


async def test_redirect_to_another_host_is_refused(target: Target) -> None:
    elsewhere = status(307, b"", {"Location": "http://evil.example/steal"})
    server, _, _, context = setup(target, always=elsewhere)
    with pytest.raises(ResolverConfigError, match=r"evil\.example"):
        await target.build(context).resolve(target.data_input)
    assert server.count == 1
    assert all(r.url.host != "evil.example" for r in server.requests)


async def test_redirect_to_an_allowed_host_is_followed(target: Target) -> None:
    def mirror(request: httpx.Request) -> httpx.Response:
        moved = request.url.copy_with(host="mirror.example")
        return httpx.Response(307, headers={"Location": str(moved)})

    server, _, _, context = setup(target, faults=[mirror])
    resolver = target.build(context, allowedHosts=["mirror.example"])
    source = await resolver.resolve(target.data_input)
    assert source.chunks
    assert server.count == target.happy_requests + 1
    assert server.requests[1].url.host == "mirror.example"


async def test_breaker_opens_fails_fast_and_half_opens(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    server, _, clock, context = setup(target, faults=[status(500)] * 3)
    resolver = target.build(context, breaker={"failureThreshold": 3, "cooldown": 30})
    with caplog.at_level(logging.WARNING), pytest.raises(ResolverUnavailable):
        await resolver.resolve(target.data_input)  # 3 failures: the breaker opens
    assert server.count == 3 and caplog.text.count("retrying in") == 2

    with pytest.raises(CircuitOpen, match=r"next probe in 30\.0 s"):
        await resolver.resolve(target.data_input)
    assert server.count == 3  # failed fast: no request

    clock.advance(30)  # half-open: one probe goes through, succeeds, closes the breaker
    source = await resolver.resolve(target.data_input)
    assert source.chunks and server.count == 3 + target.happy_requests


async def test_half_open_probe_failure_reopens(target: Target) -> None:
    server, _, clock, context = setup(target, faults=[status(502)] * 4)
    resolver = target.build(
        context, breaker={"failureThreshold": 3, "cooldown": 10}, retry={"maxAttempts": 3}
    )
    with pytest.raises(ResolverUnavailable):
        await resolver.resolve(target.data_input)
    clock.advance(10)
    with pytest.raises(CircuitOpen):  # the probe (request 4) fails: open again, at once
        await resolver.resolve(target.data_input)
    assert server.count == 4
    clock.advance(5)
    with pytest.raises(CircuitOpen, match=r"next probe in 5\.0 s"):
        await resolver.resolve(target.data_input)
    assert server.count == 4


async def test_health_reports_an_open_breaker_without_a_request(target: Target) -> None:
    server, _, _, context = setup(target, always=status(500))
    resolver = target.build(context, breaker={"failureThreshold": 1, "cooldown": 60})
    first = await resolver.health()
    assert first.state == "unavailable" and server.count == 1  # health never retries
    second = await resolver.health()
    assert second.state == "unavailable" and "circuit open" in second.detail
    assert server.count == 1
