"""The one HTTP client factory and the request loop every HTTP resolver goes through.

:func:`build_http_client` fixes the policy: explicit timeouts, TLS verification on (custom CA
bundle allowed, skipping only by an explicit flag that warns each time), redirects handled
here rather than by httpx, ``trust_env`` off (no proxy or netrc from the environment).
:class:`HttpEndpoint` adds retry with backoff and jitter honouring Retry-After, status
classification, the endpoint's circuit breaker, redirect allow-listing and a size cap.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from datalocality.errors import (
    DataSourceNotFound,
    ResolverConfigError,
    ResolverResponseError,
    ResolverUnavailable,
    ResponseTooLarge,
)
from datalocality.resolvers.config import HttpConfig
from datalocality.resolvers.credentials import LOGGER, redact, redact_url
from datalocality.resolvers.http.breaker import CircuitBreaker
from datalocality.resolvers.http.policy import (
    build_excerpt,
    build_reason,
    classify_status,
    parse_retry_after,
    plan_backoff,
)
from datalocality.resolvers.protocol import ResolverContext

M = TypeVar("M", bound=BaseModel)
DISTRIBUTION = "airflow-provider-datalocality"
Signer = Callable[[dict[str, str]], dict[str, str]]


@cache
def build_user_agent() -> str:
    """``datalocality/<version>``, from the installed distribution's metadata."""
    try:
        return f"datalocality/{version(DISTRIBUTION)}"
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "datalocality"


def build_http_client(
    config: HttpConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An AsyncClient with this project's HTTP policy (see the module docstring)."""
    verify: ssl.SSLContext | bool = True
    if config.ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(config.ca_bundle))
    elif config.insecure_skip_verify:
        LOGGER.warning(
            "TLS certificate verification is OFF for %s (insecure_skip_verify: true)",
            config.endpoint,
        )
        verify = False
    timeout = httpx.Timeout(
        connect=config.timeouts.connect,
        read=config.timeouts.read,
        write=config.timeouts.write,
        pool=config.timeouts.pool,
    )
    return httpx.AsyncClient(
        transport=transport,
        verify=verify,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": build_user_agent(), "Accept": "application/json"},
    )


@dataclass(frozen=True)
class HttpResult:
    """A successful response: status, raw body and the decoded JSON."""

    status: int
    body: bytes
    data: Any

    def parse(self, model: type[M], what: str) -> M:
        """Validate the JSON against a wire model; off-schema is a ResolverResponseError."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "<root>"
            raise ResolverResponseError(
                f"{what}: unexpected response shape at {where} ({first['msg']})",
                status=self.status,
                excerpt=build_excerpt(self.body),
            ) from None


class HttpEndpoint:
    """One HTTP data system: a shared client, its breaker, and ``fetch_json``.

    ``signer`` adds per-request query parameters computed from the others (Amoro's
    signature); ``auth`` is an httpx auth flow (basic auth); ``params`` are sent with every
    request (WebHDFS's ``user.name`` or delegation token). All may carry credentials, which
    are registered for masking before they get here.
    """

    def __init__(
        self,
        config: HttpConfig,
        context: ResolverContext,
        *,
        system: str,
        auth: httpx.Auth | None = None,
        params: Mapping[str, str] | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.config = config
        self.system = system
        self._context = context
        self._auth = auth
        self._params = dict(params or {})
        self._signer = signer
        self._client = build_http_client(config, context.transport)
        origin = httpx.URL(config.endpoint)
        self.origin = f"{origin.scheme}://{origin.host}:{origin.port or _default_port(origin)}"
        self.breaker: CircuitBreaker = context.breakers.get(
            self.origin,
            threshold=config.breaker.failure_threshold,
            cooldown=config.breaker.cooldown,
            clock=context.clock,
        )

    async def aclose(self) -> None:
        """Close the underlying client."""
        await self._client.aclose()

    async def fetch_json(
        self, path: str, params: Mapping[str, str] | None = None, *, retry: bool = True
    ) -> HttpResult:
        """GET ``endpoint + path`` and decode JSON, under the retry policy and breaker.

        404 raises DataSourceNotFound after one request; 401/403 ResolverConfigError with no
        retry; 429/5xx and connection errors are retried with backoff (Retry-After honoured)
        and end in ResolverUnavailable; a redirect to a host not allowed raises
        ResolverConfigError; a non-JSON or oversized body raises ResolverResponseError.
        """
        policy = self.config.retry
        attempts = policy.max_attempts if retry else 1
        url = self.config.endpoint + path
        for attempt in range(1, attempts + 1):
            self.breaker.before_call()
            try:
                status, headers, body = await self._send(url, params)
            except httpx.TransportError as exc:
                self.breaker.record_failure()
                problem = f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
                if attempt == attempts:
                    raise ResolverUnavailable(
                        f"{self.system}: {self.config.endpoint} unreachable after {attempt} "
                        f"attempt(s) ({problem})"
                    ) from None
                delay = plan_backoff(attempt, policy, self._context.rng)
                self._log_retry(path, problem, attempt, attempts, delay)
                await self._context.sleep(delay)
                continue
            except (ResolverResponseError, ResolverConfigError):
                self.breaker.record_success()  # it answered; the answer was refused
                raise
            except BaseException:  # cancelled by the deadline, among others
                self.breaker.record_failure()
                raise
            verdict = classify_status(status)
            if verdict != "retry":
                self.breaker.record_success()
                return self._result(verdict, status, body, path)
            self.breaker.record_failure()
            retry_after = parse_retry_after(headers.get("retry-after"))
            delay = retry_after if retry_after is not None else plan_backoff(
                attempt, policy, self._context.rng
            )  # fmt: skip
            if delay > policy.retry_after_max:
                raise ResolverUnavailable(
                    f"{self.system}: GET {path} answered status {status} and asked to retry "
                    f"after {delay:g} s, more than retryAfterMax {policy.retry_after_max:g} s"
                )
            if attempt == attempts:
                raise ResolverUnavailable(
                    f"{self.system}: GET {path} answered status {status}; gave up after "
                    f"{attempt} attempt(s)"
                )
            self._log_retry(path, f"status {status}", attempt, attempts, delay)
            await self._context.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _log_retry(
        self, path: str, problem: str, attempt: int, attempts: int, delay: float
    ) -> None:
        LOGGER.warning(
            "%s: GET %s failed (%s); attempt %d/%d, retrying in %.3g s",
            self.system, path, problem, attempt, attempts, delay,
        )  # fmt: skip

    def _result(self, verdict: str, status: int, body: bytes, path: str) -> HttpResult:
        """Turn a non-retryable answer into a result or the error its status means."""
        if verdict == "ok":
            return HttpResult(status, body, self._decode(status, body, path))
        if verdict == "not-found":
            raise DataSourceNotFound(f"{self.system}: {path} not found (status 404)")
        if verdict == "auth":
            reason = build_reason(body)
            raise ResolverConfigError(
                f"{self.system}: {self.config.endpoint} refused the credentials for {path} "
                f"(status {status}{': ' + reason if reason else ''}); check the resolver's "
                "credentials"
            )
        raise ResolverResponseError(
            f"{self.system}: GET {path} failed", status=status, excerpt=build_excerpt(body)
        )

    async def _send(
        self, url: str, params: Mapping[str, str] | None
    ) -> tuple[int, httpx.Headers, bytes]:
        """One GET, following allowed redirects by hand, reading at most the size cap."""
        query = {**self._params, **(params or {})}
        if self._signer is not None:
            query = self._signer(query)
        request_url = httpx.URL(url, params=query)
        origin = request_url.copy_with(path="/", query=None)
        for _ in range(self.config.max_redirects + 1):
            # Credentials in headers go to the endpoint's own origin only.
            same_origin = request_url.copy_with(path="/", query=None) == origin
            auth = self._auth if same_origin else None
            async with self._client.stream("GET", request_url, auth=auth) as response:
                if classify_status(response.status_code) != "redirect":
                    body = await self._read_capped(response)
                    return response.status_code, response.headers, body
                request_url = self._redirect_target(response)
        raise ResolverConfigError(
            f"{self.system}: more than {self.config.max_redirects} redirects from "
            f"{self.config.endpoint}"
        )

    def _redirect_target(self, response: httpx.Response) -> httpx.URL:
        """Where a redirect points, if it is allowed: http(s), no downgrade, allowed host."""
        location = response.headers.get("location")
        if not location:
            raise ResolverResponseError(
                f"{self.system}: redirect without a Location header", status=response.status_code
            )
        target = response.url.join(location)
        allowed = {self.config.host, *self.config.allowed_hosts}
        if target.scheme not in ("http", "https") or (
            response.url.scheme == "https" and target.scheme == "http"
        ):
            raise ResolverConfigError(
                f"{self.system}: refused redirect to {redact_url(str(target))} (scheme not allowed)"
            )
        if target.host.lower() not in allowed:
            raise ResolverConfigError(
                f"{self.system}: refused redirect to host {target.host!r}, not in "
                f"allowedHosts {sorted(allowed)}"
            )
        return target

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The body, or ResponseTooLarge as soon as it passes ``max_response_bytes``."""
        cap = self.config.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise ResponseTooLarge(
                f"{self.system}: response of {int(declared)} bytes refused "
                f"(maxResponseBytes {cap})",
                status=response.status_code,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(
                    f"{self.system}: response passed maxResponseBytes {cap}; refused",
                    status=response.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, status: int, body: bytes, path: str) -> Any:
        """JSON, or ResolverResponseError with the status and a redacted excerpt."""
        try:
            return json.loads(body)
        except ValueError:
            raise ResolverResponseError(
                f"{self.system}: GET {path} did not return JSON",
                status=status,
                excerpt=build_excerpt(body),
            ) from None


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
