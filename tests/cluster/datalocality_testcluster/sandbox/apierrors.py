"""Kubernetes ``Status`` failures raised by the emulator and turned into HTTP responses.

The messages follow the real API server's wording (``pods "x" not found``,
``Operation cannot be fulfilled on ...``) so that client code that inspects them behaves
as it would against a real cluster.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A request the emulator refuses, carried as an HTTP status and a ``Status`` body."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: Obj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self) -> Obj:
        """The ``Status`` object the API server sends for this failure."""
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(qualified: str, kind: str, name: str) -> Obj:
    group = qualified.partition(".")[2]
    out: Obj = {"name": name, "kind": kind}
    if group:
        out["group"] = group
    return out


def not_found(qualified: str, kind: str, name: str) -> ApiError:
    """404 for a missing object; ``qualified`` is ``plural`` or ``plural.group``."""
    return ApiError(404, f'{qualified} "{name}" not found', details=_details(qualified, kind, name))


def already_exists(qualified: str, kind: str, name: str) -> ApiError:
    """409 AlreadyExists for a create whose name is taken."""
    return ApiError(
        409,
        f'{qualified} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(qualified, kind, name),
    )


def conflict(qualified: str, kind: str, name: str, why: str | None = None) -> ApiError:
    """409 Conflict for a stale resourceVersion or a failed precondition."""
    why = (
        why
        or "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
        details=_details(qualified, kind, name),
    )


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; each cause is ``(reason, field, message)``."""
    text = "; ".join(f"{field}: {message}" for _, field, message in causes)
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {text}',
        details={
            "name": name,
            "kind": kind,
            "causes": [
                {"reason": reason, "field": field, "message": message}
                for reason, field, message in causes
            ],
        },
    )


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, message)


def gone(message: str) -> ApiError:
    """410 Expired: a resourceVersion older than the retained history."""
    return ApiError(410, message)
