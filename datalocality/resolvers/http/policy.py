"""Pure HTTP policy: classify a status code, plan a backoff, read Retry-After, cut an excerpt.

Failures are classified by status code only, never by message text:

>>> [classify_status(s) for s in (200, 404, 401, 403, 429, 503, 400)]
['ok', 'not-found', 'auth', 'auth', 'retry', 'retry', 'response']
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

from datalocality.resolvers.config import RetryPolicy
from datalocality.resolvers.credentials import redact

Verdict = Literal["ok", "not-found", "auth", "retry", "redirect", "response"]

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
EXCERPT_CHARS: Final = 160


def classify_status(status: int) -> Verdict:
    """What a status code means for a resolution (see the module docstring)."""
    if 200 <= status < 300:
        return "ok"
    if status == 404:
        return "not-found"
    if status in (401, 403):
        return "auth"
    if status in RETRY_STATUSES:
        return "retry"
    if status in REDIRECT_STATUSES:
        return "redirect"
    return "response"


def plan_backoff(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, capped, jittered.

    >>> plan_backoff(3, RetryPolicy(backoff_base=0.5, jitter=0), random.Random(0))
    2.0
    """
    ceiling = min(policy.backoff_max, policy.backoff_base * 2.0 ** (attempt - 1))
    return ceiling * (1 - policy.jitter * rng.random())


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or HTTP-date); None if absent
    or unreadable.

    >>> parse_retry_after("7"), parse_retry_after("soon")
    (7.0, None)
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def build_excerpt(body: bytes) -> str:
    """The start of a body, decoded leniently, whitespace collapsed, secrets redacted.

    >>> build_excerpt(b"<html>\\n  <body>Bad gateway</body></html>")
    '<html> <body>Bad gateway</body></html>'
    """
    text = " ".join(body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace").split())
    text = redact(text)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def build_reason(body: bytes) -> str:
    """The server's own one-line reason for refusing a request, redacted and cut short:
    the ``message`` of a JSON error (WebHDFS's ``RemoteException`` too), else an excerpt.

    >>> build_reason(b'{"RemoteException": {"message": "Permission denied: user=a\\\\n\\\\tat X"}}')
    'Permission denied: user=a'
    """
    try:
        document = json.loads(body)
    except ValueError:
        return build_excerpt(body)
    if isinstance(document, dict):
        inner = document.get("RemoteException", document)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str) and message.strip():
            return build_excerpt(message.strip().splitlines()[0].encode())
    return build_excerpt(body)
