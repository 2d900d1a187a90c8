"""Configuration models shared by the resolvers: base config, HTTP endpoint, retry, breaker.

Every model is a frozen :class:`~datalocality.model.Spec`: unknown fields and bad values
raise SpecError naming the field and the value. Field names are snake_case in Python and
accept camelCase in YAML/JSON (``locationMapping``, ``maxAttempts``). No model holds a
credential: fields that need one take a :class:`~datalocality.resolvers.credentials.SecretRef`.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import UnionType
from typing import Final, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from datalocality.errors import SpecError
from datalocality.model import Spec
from datalocality.resolvers.credentials import redact_url
from datalocality.resolvers.http.addresses import check_endpoint_host
from datalocality.resolvers.location import LocationMapping

MIB: Final = 1024 * 1024
_HOST_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.[]:")


class ConfigModel(Spec):
    """A Spec that also accepts camelCase field names (``maxAttempts``), and takes booleans
    and numbers only as themselves: ``insecureSkipVerify: "yes"`` does not turn TLS off,
    ``maxAttempts: true`` is not 1, and no number is infinite."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=True,
        alias_generator=to_camel,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: object, info: ValidationInfo) -> object:
        kinds = _scalar_kinds(cls.model_fields[info.field_name or ""].annotation)
        if not kinds or value is None:
            return value
        if bool in kinds:
            if not isinstance(value, bool):
                raise SpecError("", value, "must be true or false")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(
                "", value, "must be a number" if float in kinds else "must be an integer"
            )
        elif float not in kinds and not isinstance(value, int):
            raise SpecError("", value, "must be an integer")
        elif not math.isfinite(value):
            raise SpecError("", value, "must be a finite number")
        return value


def _scalar_kinds(annotation: object) -> frozenset[type]:
    """bool, int or float when a field is one of them (or one of them or None), else empty."""
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    kinds = {m for m in (members or (annotation,)) if m is not type(None)}
    return frozenset(kinds) if kinds and kinds <= {bool, int, float} else frozenset()


class ResolverConfig(ConfigModel):
    """Fields every built-in resolver has: where data maps to, and how long it may take."""

    location_mapping: LocationMapping = LocationMapping()
    deadline: float = Field(default=60.0, gt=0, le=3600)


class RetryPolicy(ConfigModel):
    """Exponential backoff with jitter for retryable failures (429, 5xx, connection errors).

    Attempt ``n`` (from 1) waits ``min(backoff_max, backoff_base * 2**(n-1))``, reduced by up
    to ``jitter`` of itself at random; a ``Retry-After`` header replaces that wait, unless it
    asks for more than ``retry_after_max`` seconds, in which case the call gives up at once.
    """

    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_base: float = Field(default=0.5, ge=0, le=60)
    backoff_max: float = Field(default=30.0, ge=0, le=600)
    jitter: float = Field(default=0.5, ge=0, le=1)
    retry_after_max: float = Field(default=60.0, ge=0, le=3600)


class BreakerPolicy(ConfigModel):
    """Circuit breaker: open after ``failure_threshold`` consecutive failures, for ``cooldown``."""

    failure_threshold: int = Field(default=5, ge=1, le=1000)
    cooldown: float = Field(default=30.0, gt=0, le=3600)


class Timeouts(ConfigModel):
    """Per-request socket timeouts in seconds (the overall deadline is on the resolver)."""

    connect: float = Field(default=5.0, gt=0, le=600)
    read: float = Field(default=30.0, gt=0, le=600)
    write: float = Field(default=30.0, gt=0, le=600)
    pool: float = Field(default=5.0, gt=0, le=600)


def parse_endpoint(value: str) -> str:
    """Check an endpoint URL: http/https, a host, no credentials, no query or fragment,
    no whitespace or control characters (which would fail later, deep in httpx)."""
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise SpecError("", redact_url(value), "must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise SpecError("", redact_url(value), "not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise SpecError("", redact_url(value), "only http:// and https:// endpoints are allowed")
    if parts.username is not None or parts.password is not None:
        raise SpecError(
            "", redact_url(value), "credentials must not be in the URL; use a SecretRef"
        )
    if not parts.hostname:
        raise SpecError("", value, "the URL has no host")
    if parts.query or parts.fragment:
        raise SpecError("", redact_url(value), "the URL must have no query or fragment")
    return value.rstrip("/")


class HttpConfig(ResolverConfig):
    """An HTTP data system: endpoint and the shared client's policy.

    TLS verification is on; ``ca_bundle`` adds a custom CA file, and only
    ``insecure_skip_verify: true`` turns verification off (logged as a warning every time a
    client is built). Redirects are followed only to the endpoint's own host or a host in
    ``allowed_hosts``; bodies over ``max_response_bytes`` are refused.
    """

    endpoint: str
    allowed_hosts: tuple[str, ...] = ()
    ca_bundle: Path | None = None
    insecure_skip_verify: bool = False
    max_response_bytes: int = Field(default=16 * MIB, ge=1024, le=1024 * MIB)
    max_redirects: int = Field(default=5, ge=0, le=20)
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return parse_endpoint(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, host in enumerate(value):
            if not host or not set(host.lower()) <= _HOST_CHARS:
                raise SpecError(f"[{index}]", host, "a host name, without scheme or path")
        return tuple(host.lower() for host in value)

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise SpecError("", str(value), "CA bundle file not found")
        return value

    @model_validator(mode="after")
    def _host_allowed(self) -> HttpConfig:
        check_endpoint_host("endpoint", self.endpoint, self.allowed_hosts)
        return self

    @model_validator(mode="after")
    def _tls(self) -> HttpConfig:
        if self.insecure_skip_verify and self.ca_bundle is not None:
            raise SpecError(
                "insecureSkipVerify", True, "contradicts caBundle: verify with it or not at all"
            )
        return self

    @property
    def host(self) -> str:
        """The endpoint's host, lower-case."""
        return (urlsplit(self.endpoint).hostname or "").lower()
