"""Which failures end a task for good, and which let Airflow's retries apply.

Bad input (SpecError, naming the field), an infeasible placement, a misconfigured or
unknown resolver, a request the Kubernetes API refuses for good (400/403/404/422) and an
object under our name that is not ours cannot succeed on a retry: they become
``AirflowFailException``. So does a 400/403/422 met inside KubernetesPodOperator's own
code (``refused_pod_requests``), told in the apiserver's words (``cannot create resource
"pods"...``) where KPO would raise the client's exception with its JSON escaped.
Everything else — a data system or API server that is down, data not there yet — is
raised as it is, so the task's retries apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]

from datalocality.errors import (
    ApiRejected,
    InfeasiblePlacement,
    ObjectConflict,
    ResolverConfigError,
    SpecError,
    UnknownResolver,
    UnknownStrategy,
    show_value,
)

FINAL = (
    SpecError,
    InfeasiblePlacement,
    UnknownStrategy,
    ResolverConfigError,
    UnknownResolver,
    ApiRejected,
    ObjectConflict,
)
# refusals of KPO's requests that no retry can turn (a pod deleted under KPO, a 404, is
# made again by the next try, so that one is left to the retries)
REFUSED_FOR_GOOD = frozenset({400, 403, 422})


def describe(exc: BaseException) -> str:
    """One line for the task log: the kind of failure and its message."""
    if isinstance(exc, InfeasiblePlacement):
        return f"infeasible placement: {exc.reason}"
    if isinstance(exc, ApiRejected) and exc.status == 404:
        return f"{exc} (are the datalocality CRDs installed in the cluster?)"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def final_failures(where: str = "") -> Iterator[None]:
    """Turn final failures into AirflowFailException (``where`` prefixes the field)."""
    try:
        yield
    except SpecError as exc:
        field = f"{where}.{exc.field}" if where and exc.field else (where or exc.field)
        raise AirflowFailException(f"{field}: {exc.reason} (got {show_value(exc.value)})") from exc
    except FINAL as exc:
        raise AirflowFailException(describe(exc)) from exc


def _refusal(exc: BaseException) -> tuple[int, str, bytes | str | None] | None:
    """The apiserver's refusal for good behind ``exc`` (itself, or what it was raised
    from): status, reason and body. An exec (KPO reads the XCom sidecar through one) is
    refused in the websocket handshake, which the client wraps in an ApiException of
    status 0: the handshake's own exception carries the status and the Status body."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ApiException) and seen.status in REFUSED_FOR_GOOD:
            return int(seen.status), str(seen.reason), seen.body
        status = getattr(seen, "status_code", None)  # websocket's WebSocketBadStatusException
        if isinstance(status, int) and status in REFUSED_FOR_GOOD:
            return status, str(getattr(seen, "status_message", "") or ""), seen.resp_body  # type: ignore[attr-defined]
        seen = seen.__cause__ or seen.__context__
    return None


def describe_refusal(status: int, reason: str, body: bytes | str | None) -> str:
    """One line: the status, its reason, and the Status message the apiserver sent."""
    message = ""
    try:
        document = json.loads(body or "{}")
        message = str(document.get("message") or "") if isinstance(document, dict) else ""
    except (TypeError, ValueError):
        pass
    return f"{status} {reason}" + (f": {message}" if message else "")


@contextmanager
def refused_pod_requests() -> Iterator[None]:
    """KubernetesPodOperator's code, with a request refused for good ending the task."""
    try:
        yield
    except AirflowFailException:
        raise
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        raise AirflowFailException(f"ApiRejected: {describe_refusal(*refusal)}") from exc
