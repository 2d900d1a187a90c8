"""Credentials: where a resolver reads them, and masking them everywhere they could leak.

A config model never holds a credential, only a :class:`SecretRef` naming where it lives:
an environment variable or a mounted Secret file. (Inside Airflow, a Connection id is the
third source; the Airflow layer resolves it into the same :class:`Secret`.) Every value
read is registered with the masker, and a logging filter on the ``datalocality`` and
``httpx`` loggers replaces registered values and sensitive URL parts with ``***`` in every
log line. Error messages are built from :func:`redact` as well.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    quote_plus,
    urlencode,
    urlsplit,
    urlunsplit,
)

from pydantic import model_validator

from datalocality.errors import ResolverConfigError, SpecError
from datalocality.model import Spec
from datalocality.model.base import secret_model

MASK: Final = "***"
# Query parameters that carry credentials in the APIs we speak (Amoro's apiKey/signature,
# WebHDFS's delegation token) or commonly elsewhere.
SENSITIVE_PARAMS: Final = frozenset(
    {
        "apikey",
        "api_key",
        "signature",
        "delegation",
        "token",
        "access_token",
        "password",
        "secret",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
# Words of option names in pass-through maps (pyiceberg catalog properties, fsspec storage
# options) that hold credentials and must therefore come from a SecretRef, never from
# config. A name is split into words (``s3.secret-access-key``, ``aws_session_token``,
# ``clientSecret``), so ``max_sessions`` or ``keyspace`` are not mistaken for one.
SECRET_KEY_WORDS: Final = frozenset(
    {
        "secret",
        "password",
        "passwd",
        "pwd",
        "token",
        "credential",
        "credentials",
        "signature",
        "key",
        "apikey",
        "sas",
    }
)
_SECRET_ENDINGS: Final = ("secret", "password", "token", "key")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_USERINFO_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#@\s]*:[^/?#@\s]*@")
_MIN_MASKED_LENGTH: Final = 4
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_PAIR = re.compile(
    r"(?i)\b(" + "|".join(re.escape(p) for p in sorted(SENSITIVE_PARAMS)) + r")=([^&\s'\",;]+)"
)

_lock = threading.Lock()
_secrets: set[str] = set()


class Secret:
    """A credential value that never shows itself in ``str``, ``repr`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real value, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@secret_model
class SecretRef(Spec):
    """Where a credential lives: exactly one of an environment variable or a file."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise SpecError("", self.model_dump(exclude_none=True), "give exactly one of env, file")
        if self.env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.env):
            raise SpecError("env", self.env, "must be an environment variable name")
        return self


def register_secret(value: str) -> None:
    """Mask ``value`` in every log line and redacted message from now on, also as it shows
    up URL-quoted (a query parameter, a redirect's Location) or base64-encoded.

    >>> register_secret("pa ss/wörd")
    >>> redact("q=pa%20ss%2Fw%C3%B6rd b64=cGEgc3Mvd8O2cmQ=")
    'q=*** b64=***'
    """
    if len(value) < _MIN_MASKED_LENGTH:
        return
    raw = value.encode()
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    }
    with _lock:
        _secrets.update(form for form in forms if len(form) >= _MIN_MASKED_LENGTH)


def register_basic_auth(user: str, password: str) -> None:
    """Mask an HTTP basic-auth header's credential: base64 of ``user:password``."""
    register_secret(password)
    register_secret(f"{user}:{password}")


def fetch_secret(ref: SecretRef, env: Mapping[str, str], *, field: str) -> Secret:
    """Read the credential ``ref`` points at; a missing one is a ResolverConfigError.

    ``field`` names the config field for the error message; the value is never shown.
    """
    if ref.env is not None:
        value = env.get(ref.env)
        if not value:
            raise ResolverConfigError(f"{field}: environment variable {ref.env} is not set")
        return Secret(value)
    assert ref.file is not None
    try:
        text = ref.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResolverConfigError(
            f"{field}: cannot read secret file {ref.file} ({type(exc).__name__})"
        ) from None
    value = text.strip()
    if not value:
        raise ResolverConfigError(f"{field}: secret file {ref.file} is empty")
    return Secret(value)


def is_secret_key(key: str) -> bool:
    """Whether an option name has a word naming a credential.

    >>> [is_secret_key(k) for k in ("s3.secret-access-key", "aws_session_token", "accesskey")]
    [True, True, True]
    >>> [is_secret_key(k) for k in ("max_sessions", "keyspace", "tokenizer", "s3.region")]
    [False, False, False, False]
    """
    words = [word.lower() for word in _WORD.findall(key)]
    # a word naming one, or a run-together one ending like one ("accesskey", "apitoken")
    return any(w in SECRET_KEY_WORDS or w.endswith(_SECRET_ENDINGS) for w in words)


def check_no_secret_keys(field: str, options: Mapping[str, object]) -> None:
    """Reject credentials in a pass-through option map, at any depth (use a SecretRef):
    a credential-looking key, or a URL value with a password in it
    (``postgresql://user:PASS@host/db``)."""
    pending: list[tuple[str, object]] = [(field, options)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                if is_secret_key(str(key)):
                    raise SpecError(
                        name, MASK, "looks like a credential: give it as a SecretRef instead"
                    )
                pending.append((name, item))
        elif isinstance(value, list | tuple):
            pending.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str) and _USERINFO_PASSWORD.match(value):
            raise SpecError(
                where,
                redact_url(value),
                "has a password in the URL: give the credential as a SecretRef instead",
            )


def redact_url(url: str) -> str:
    """The URL with userinfo and sensitive query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in SENSITIVE_PARAMS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str) -> str:
    """``text`` with registered secrets, sensitive URL parts and ``token=...``-style pairs
    replaced by ``***``."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return _PAIR.sub(lambda m: f"{m.group(1)}={MASK}", text)


class MaskingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its redacted form; never drops a record."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = redact(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        return True


def install_masking(*logger_names: str) -> None:
    """Attach one MaskingFilter to each named logger (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskingFilter) for f in logger.filters):
            logger.addFilter(MaskingFilter())


LOGGER: Final = logging.getLogger("datalocality.resolvers")
# A filter applies to the records of its own logger only, not to those its children
# propagate: every logger that can carry a request's URL or headers is named here.
MASKED_LOGGERS: Final = (
    LOGGER.name,
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "urllib3.connectionpool",
    "botocore.endpoint",
    "botocore.parsers",
    "pyiceberg.catalog.rest",
)
install_masking(*MASKED_LOGGERS)
