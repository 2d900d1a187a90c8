"""Apply the binding decisions of :mod:`datalocality.binding` through a KubeClient.

Each round reads the claim and every DataSource, asks :func:`~datalocality.binding.bind`
what to do, and does it: create-or-get for new sources (and their chunk slices, see
:mod:`datalocality.kube.publish`), read-modify-write on the status subresource for claim
references and phases, a resourceVersion precondition on reclaim deletes. When a step
finds the world changed under it (the source vanished or started terminating), the
round ends and the next one decides again from a fresh read. A bound source's chunks
are read back from its slices; a source whose slices are incomplete is resolved again.
When a refresh finds the data gone, the source is marked Lost and so is every claim on
it (:func:`~datalocality.binding.after_data_gone`) before DataSourceNotFound is raised.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from datalocality.binding import (
    Action,
    AddClaimRef,
    Backoff,
    CreateSource,
    DeleteSource,
    GiveUp,
    MarkBound,
    MarkLost,
    RefreshSource,
    RemoveClaimRef,
    Resolve,
    SetSourcePhase,
    after_data_gone,
    after_not_found,
    bind,
    claim_ref,
    release,
)
from datalocality.errors import (
    ApiUnavailable,
    DataSourceNotFound,
    IncompleteSlices,
    ObjectNotFound,
    SourceReplaced,
)
from datalocality.kube.claims import (
    claim_state,
    source_state,
    with_claim_ref,
    with_phase,
    with_source_phase,
    without_claim_ref,
)
from datalocality.kube.client import KubeClient
from datalocality.kube.names import build_data_source_name
from datalocality.kube.objects import is_terminating, name_of, namespace_of
from datalocality.kube.publish import (
    publish_data_source,
    read_chunks,
    refresh_data_source,
)
from datalocality.kube.resources import CLAIMS, SLICES, SOURCES
from datalocality.model import Chunk, DataInput, DataSource

__all__ = [
    "CLAIMS",
    "SLICES",
    "SOURCES",
    "Bound",
    "apply_binding",
    "delete_if_unreferenced",
    "release_binding",
]

Obj = dict[str, Any]
Resolver = Callable[[DataInput], DataSource]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Bound:
    """A claim bound to its DataSource, as read back from the API (chunks from its slices)."""

    claim: Obj
    source: Obj
    chunks: tuple[Chunk, ...] = ()

    @property
    def data_source(self) -> DataSource:
        """The bound source as a model object, with its chunks."""
        return source_state(self.source).source.model_copy(update={"chunks": self.chunks})


class _Restart(Exception):
    """The world changed under a step; decide again from a fresh read."""


@dataclass
class _Binder:
    client: KubeClient
    namespace: str
    name: str
    now: Callable[[], datetime]

    def execute(self, action: Action) -> None:
        client = self.client
        if isinstance(action, CreateSource | RefreshSource):
            try:
                if isinstance(action, CreateSource):
                    publish_data_source(client, action.name, action.source, replace=False)
                else:
                    refresh_data_source(client, action.name, action.source)
            except SourceReplaced as exc:
                raise _Restart(str(exc)) from exc
        elif isinstance(action, AddClaimRef):
            self._modify_source(
                action.source_name, lambda o: with_claim_ref(o, action.ref), "status"
            )
        elif isinstance(action, MarkBound):
            self._check_referenced(action.source_name, action.ref)
            message = f"DataSource {action.source_name}"
            self._set_claim_phase(action.ref, "Bound", action, "BindingSuccessful", message)
        elif isinstance(action, MarkLost):
            message = action.message or (
                f"DataSource {action.source_name} was deleted or replaced while the claim was bound"
            )
            with contextlib.suppress(ObjectNotFound):  # another run's claim, released since
                self._set_claim_phase(action.ref, "Lost", action, action.reason, message)
        elif isinstance(action, SetSourcePhase):
            with contextlib.suppress(ObjectNotFound):
                client.modify(
                    SOURCES,
                    action.name,
                    lambda o: with_source_phase(
                        o, action.phase, now=self.now(), message=action.message
                    ),
                    subresource="status",
                )
        elif isinstance(action, RemoveClaimRef):
            with contextlib.suppress(ObjectNotFound):
                client.modify(
                    SOURCES,
                    action.source_name,
                    lambda o: without_claim_ref(o, action.ref),
                    subresource="status",
                )
        elif isinstance(action, DeleteSource):
            delete_if_unreferenced(client, action.name)
        else:  # Resolve, RetryAfter, GiveUp are the caller's
            raise TypeError(f"not an API action: {action!r}")

    def _set_claim_phase(
        self, ref: str, phase: str, action: MarkBound | MarkLost, reason: str, message: str
    ) -> None:
        namespace, _, name = ref.partition("/")
        self.client.modify(
            CLAIMS,
            name,
            lambda o: with_phase(
                o, phase, action.source_name, now=self.now(), reason=reason, message=message
            ),
            namespace=namespace,
            subresource="status",
        )

    def _check_referenced(self, name: str, ref: str) -> None:
        """Restart unless the source still holds ``ref``: it may have been deleted (and
        recreated by another binder, without the reference) since the reference was added,
        and a claim marked Bound on it would be Bound without a reference."""
        source = self.client.get(SOURCES, name)
        if source is None or is_terminating(source) or ref not in source_state(source).refs:
            raise _Restart(f"DataSource {name} no longer holds {ref}")

    def _modify_source(self, name: str, edit: Callable[[Obj], Obj | None], sub: str) -> None:
        def guarded(obj: Obj) -> Obj | None:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                raise _Restart(f"DataSource {name} is terminating")
            return edit(obj)

        try:
            self.client.modify(SOURCES, name, guarded, subresource=sub)
        except ObjectNotFound as exc:
            raise _Restart(f"DataSource {name} is gone") from exc


def delete_if_unreferenced(client: KubeClient, name: str, attempts: int = 5) -> bool:
    """Delete a DataSource only while it holds no claim reference (resourceVersion guard)."""
    for _ in range(attempts):
        current = client.get(SOURCES, name)
        if current is None or (current.get("status") or {}).get("claimRefs"):
            return False
        version = str(current["metadata"].get("resourceVersion", ""))
        if client.delete(SOURCES, name, resource_version=version):
            return True
    return False


def apply_binding(
    client: KubeClient,
    claim_manifest: Obj,
    *,
    resolve: Resolver,
    ttl: timedelta | None = None,
    backoff: Backoff | None = None,
    now: Callable[[], datetime] = _utcnow,
    sleep: Callable[[float], None] = time.sleep,
    max_rounds: int = 20,
) -> Bound:
    """Create or adopt the claim, then bind it; returns the Bound claim and its source.

    Raises DataSourceNotFound once the resolver has said "not found" through every retry
    of ``backoff`` (the claim keeps a NotFound condition); ApiUnavailable if the binding
    does not settle in ``max_rounds`` rounds.
    """
    backoff = backoff or Backoff()
    claim = client.create_or_get(claim_manifest).object
    namespace, name = namespace_of(claim) or "default", name_of(claim)
    binder = _Binder(client, namespace, name, now)
    resolved: DataSource | None = None
    not_found = 0
    incomplete: set[str] = set()  # sources whose slices could not be read back
    for _ in range(max_rounds):
        state = claim_state(claim)
        sources = [
            replace(s, complete=s.name not in incomplete)
            for s in map(source_state, client.list(SOURCES)[0])
        ]
        dynamic = build_data_source_name(state.claim.input)
        actions = bind(state, sources, now=now(), ttl=ttl, dynamic_name=dynamic, resolved=resolved)
        if not actions:
            source = client.get(SOURCES, state.claim.bound_data_source)
            if source is not None:
                try:
                    return Bound(claim, source, read_chunks(client, source))
                except IncompleteSlices:
                    incomplete.add(name_of(source))
        elif isinstance(actions[0], Resolve):
            try:
                resolved = resolve(actions[0].data_input)
            except DataSourceNotFound:
                not_found += 1
                step = after_not_found(actions[0].data_input, not_found, backoff)
                if isinstance(step, GiveUp):
                    gone = after_data_gone(state, actions[0], sources, step.reason)
                    if not gone:
                        _mark_not_found(binder, step.reason)
                        raise DataSourceNotFound(step.reason) from None
                    for action in gone:
                        binder.execute(action)
                    raise DataSourceNotFound(
                        f"{step.reason}: DataSource {actions[0].source_name} is Lost"
                    ) from None
                sleep(step.seconds)
        else:
            try:
                for action in actions:
                    binder.execute(action)
                    if isinstance(action, CreateSource | RefreshSource):
                        incomplete.discard(action.name)
            except _Restart:
                pass
        claim = _read_claim(client, namespace, name)
    raise ApiUnavailable(f"claim {namespace}/{name} did not settle in {max_rounds} rounds")


def _read_claim(client: KubeClient, namespace: str, name: str) -> Obj:
    claim = client.get(CLAIMS, name, namespace)
    if claim is None:
        raise ObjectNotFound(404, "NotFound", f"DataSourceClaim {namespace}/{name} was deleted")
    return claim


def _mark_not_found(binder: _Binder, reason: str) -> None:
    def edit(obj: Obj) -> Obj | None:
        edited = with_phase(
            obj, "Pending", "", now=binder.now(), reason="DataSourceNotFound", message=reason
        )
        return edited

    binder.client.modify(
        CLAIMS, binder.name, edit, namespace=binder.namespace, subresource="status"
    )


def release_binding(client: KubeClient, namespace: str, name: str) -> tuple[Action, ...]:
    """Remove the claim's references; delete sources it leaves unreferenced with Delete
    (its bound source too when an earlier release removed the reference and died)."""
    claim = client.get(CLAIMS, name, namespace)
    bound_to = claim_state(claim).claim.bound_data_source if claim is not None else ""
    sources = [source_state(obj) for obj in client.list(SOURCES)[0]]
    actions = release(claim_ref(namespace, name), sources, bound_to)
    binder = _Binder(client, namespace, name, _utcnow)
    for action in actions:
        binder.execute(action)
    return actions
