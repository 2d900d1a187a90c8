"""Which failures end a task for good, and which let Airflow's retries apply.

Bad input (SpecError, naming the field), an infeasible placement, a misconfigured or
unknown resolver, a request the Kubernetes API refuses for good (400/403/404/422) and an
object under our name that is not ours cannot succeed on a retry: they become
``AirflowFailException``. Everything else — a data system or API server that is down,
data not there yet — is raised as it is, so the task's retries apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException

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
