"""Claim ↔ source binding decisions, as pure functions returning small action objects.

A DataSourceClaim is bound statically to an existing DataSource matching its identity
exactly (system, type, name, attributes; never one being deleted), or dynamically: a
resolver is asked, and the answer is created as a DataSource under a deterministic name.
The caller applies the actions in order with create-or-get and read-modify-write:

* the claim reference is added to the DataSource *before* the claim is marked Bound, so a
  crash in between leaves a reference that the next run adopts, never a Bound claim
  without a reference;
* releasing the last claim of a ``reclaimPolicy: Delete`` source deletes it, but only if
  it is still unreferenced when the delete lands (the client uses a precondition);
* a DataSource deleted under a Bound claim, or replaced under its name (by another
  identity, or recreated without the claim's reference), turns the claim Lost, as a PVC
  whose volume lost its claimRef; a Lost or Pending claim binds again on the next
  :func:`bind`;
* a source older than its TTL is refreshed through the resolver before binding, and so
  is one whose chunks could not be read back (its slices incomplete: a writer died
  half-way, or the object predates slices);
* a not-found resolution is retried with backoff and then given up loudly; when the
  source already existed (its data is gone), the source goes to phase Lost and every
  claim on it says so (:func:`after_data_gone`); a Lost source is resolved again before
  any claim binds to it, and goes back to Available when the data is found.

Nothing here does I/O, so the rules are tested exhaustively.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field

from datalocality.model import DataInput, DataSource, DataSourceClaim
from datalocality.model.base import Spec
from datalocality.model.names import check_dns_label

__all__ = [
    "Action",
    "AddClaimRef",
    "Backoff",
    "ClaimState",
    "CreateSource",
    "DeleteSource",
    "GiveUp",
    "MarkBound",
    "MarkLost",
    "RefreshSource",
    "RemoveClaimRef",
    "Resolve",
    "RetryAfter",
    "SetSourcePhase",
    "SourceState",
    "after_data_gone",
    "after_not_found",
    "bind",
    "claim_ref",
    "find_static",
    "is_stale",
    "matches",
    "release",
]


def claim_ref(namespace: str, name: str) -> str:
    """The reference a DataSource keeps to a claim: ``namespace/name``."""
    return f"{namespace}/{name}"


@dataclass(frozen=True)
class ClaimState:
    """A claim as read from the cluster: where it lives and what it says."""

    namespace: str
    claim: DataSourceClaim

    @property
    def ref(self) -> str:
        """This claim's reference string."""
        return claim_ref(self.namespace, self.claim.name)


@dataclass(frozen=True)
class SourceState:
    """A DataSource as read from the cluster: object name, content, deletion in progress,
    ``complete`` False once its chunks were found unreadable (slices missing), and
    ``lost`` when a refresh found its data gone (status phase Lost)."""

    name: str
    source: DataSource
    deleting: bool = False
    complete: bool = True
    lost: bool = False

    @property
    def refs(self) -> tuple[str, ...]:
        """The claim references the source holds."""
        return self.source.claim_refs


@dataclass(frozen=True)
class Resolve:
    """Ask the resolver about ``data_input``; bind again with the answer.

    ``reason`` is ``missing`` (no source yet; the answer goes to ``source_name``),
    ``stale`` (the source ``source_name`` is older than its TTL), ``incomplete`` (its
    chunks could not be read back) or ``lost`` (an earlier refresh found its data gone).
    """

    data_input: DataInput
    reason: Literal["missing", "stale", "incomplete", "lost"]
    source_name: str


@dataclass(frozen=True)
class CreateSource:
    """Create the DataSource ``name`` (create-or-get: an equal one already there is fine)."""

    name: str
    source: DataSource


@dataclass(frozen=True)
class RefreshSource:
    """Replace the resolved fields (locality, chunks, observedAt) of an existing source."""

    name: str
    source: DataSource


@dataclass(frozen=True)
class AddClaimRef:
    """Add ``ref`` to the source's claim references (no-op if present; restart if gone)."""

    source_name: str
    ref: str


@dataclass(frozen=True)
class MarkBound:
    """Set the claim's phase to Bound on ``source_name`` (after :class:`AddClaimRef`)."""

    ref: str
    source_name: str


@dataclass(frozen=True)
class MarkLost:
    """Set the claim ``ref``'s phase to Lost: its source was deleted (or replaced) under
    it (``DataSourceLost``), or the source's data is gone (``DataGone``)."""

    ref: str
    source_name: str
    reason: Literal["DataSourceLost", "DataGone"] = "DataSourceLost"
    message: str = ""


@dataclass(frozen=True)
class SetSourcePhase:
    """Set the source's status phase: Lost when its data is gone, Available once found."""

    name: str
    phase: Literal["Available", "Lost"]
    message: str = ""


@dataclass(frozen=True)
class RemoveClaimRef:
    """Remove ``ref`` from the source's claim references (no-op if absent or gone)."""

    source_name: str
    ref: str


@dataclass(frozen=True)
class DeleteSource:
    """Delete the source, only if it holds no claim reference when the delete lands."""

    name: str


@dataclass(frozen=True)
class RetryAfter:
    """The data was not found; ask again after ``seconds`` (this was answer ``attempt``)."""

    seconds: float
    attempt: int
    reason: str


@dataclass(frozen=True)
class GiveUp:
    """Stop asking: the data was not found after every retry."""

    reason: str


Action = (
    Resolve
    | CreateSource
    | RefreshSource
    | AddClaimRef
    | MarkBound
    | MarkLost
    | SetSourcePhase
    | RemoveClaimRef
    | DeleteSource
    | RetryAfter
    | GiveUp
)


def matches(data_input: DataInput, source: DataSource) -> bool:
    """Exact identity match: system, type, name and attributes (Volcano Global's rule)."""
    return (
        data_input.system == source.system
        and data_input.data_source_type == source.data_source_type
        and data_input.name == source.name
        and data_input.attributes == source.attributes
    )


def find_static(
    claim: ClaimState, sources: Iterable[SourceState], preferred_name: str = ""
) -> SourceState | None:
    """The source a claim binds to statically, or None.

    Among exact matches not being deleted, prefer one already referencing the claim (a
    half-finished earlier bind), then ``preferred_name`` (the dynamic name), then by name.
    """
    candidates = [s for s in sources if not s.deleting and matches(claim.claim.input, s.source)]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda s: (claim.ref not in s.refs, s.name != preferred_name, s.name),
    )


def is_stale(source: DataSource, now: datetime, ttl: timedelta | None) -> bool:
    """True when the source must be refreshed: older than ``ttl``, or never observed."""
    if ttl is None:
        return False
    if source.observed_at is None:
        return True
    return _utc(now) - _utc(source.observed_at) > ttl


def _refresh_reason(
    state: SourceState, now: datetime, ttl: timedelta | None
) -> Literal["stale", "incomplete", "lost"] | None:
    """Why a source must be resolved again before binding to it, or None."""
    if state.lost:
        return "lost"
    if not state.complete:
        return "incomplete"
    return "stale" if is_stale(state.source, now, ttl) else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _resolved_for(data_input: DataInput, resolved: DataSource, now: datetime) -> DataSource:
    """The resolver's answer under the claim's exact identity, stamped with when it was seen."""
    fields = resolved.model_dump(
        exclude={"system", "name", "data_source_type", "attributes", "claim_refs"}
    )
    fields["observed_at"] = resolved.observed_at or _utc(now)
    fields["require_locality"] = data_input.require_locality or resolved.require_locality
    return DataSource.for_input(data_input, **fields)


def _refresh(state: SourceState, source: DataSource) -> tuple[Action, ...]:
    """Refresh ``state`` to ``source``; a Lost source is Available again once found."""
    refresh = RefreshSource(state.name, source)
    if not state.lost:
        return (refresh,)
    return (refresh, SetSourcePhase(state.name, "Available", "the data was found again"))


def bind(
    claim: ClaimState,
    sources: Sequence[SourceState],
    *,
    now: datetime,
    ttl: timedelta | None = None,
    dynamic_name: str,
    resolved: DataSource | None = None,
) -> tuple[Action, ...]:
    """The actions that bind ``claim``, given every DataSource the caller can see.

    An empty result means the claim is bound and referenced. A result ending in
    :class:`Resolve` asks the caller to resolve and call again with ``resolved``.
    ``dynamic_name`` is the name a dynamically created source gets (deterministic in
    the identity, see ``datalocality.kube.names.build_data_source_name``).
    """
    check_dns_label("dynamic_name", dynamic_name)
    ref = claim.ref
    by_name = {s.name: s for s in sources}
    if claim.claim.phase == "Bound":
        bound = by_name.get(claim.claim.bound_data_source)
        if bound is None or bound.deleting:
            return (MarkLost(ref, claim.claim.bound_data_source),)
        data_input = claim.claim.input
        if not matches(data_input, bound.source):
            # Replaced by another identity under the same name: let go of it, bind anew.
            drop: tuple[Action, ...] = (
                (RemoveClaimRef(bound.name, ref),) if ref in bound.refs else ()
            )
            return (*drop, MarkLost(ref, bound.name))
        if ref not in bound.refs:
            # The reference is written before Bound, so a source without it is not the one
            # the claim was bound to: it was deleted and recreated under the same name.
            return (MarkLost(ref, bound.name),)
        reason = _refresh_reason(bound, now, ttl)
        if reason is not None:
            # Bound earlier (a retried task): refresh before the data is used again.
            if resolved is None:
                return (Resolve(data_input, reason, bound.name),)
            return _refresh(bound, _resolved_for(data_input, resolved, now))
        return ()
    data_input = claim.claim.input
    match = find_static(claim, sources, dynamic_name)
    if match is not None:
        actions: list[Action] = []
        reason = _refresh_reason(match, now, ttl)
        if reason is not None:
            if resolved is None:
                return (Resolve(data_input, reason, match.name),)
            actions.extend(_refresh(match, _resolved_for(data_input, resolved, now)))
        if ref not in match.refs:
            actions.append(AddClaimRef(match.name, ref))
        actions.append(MarkBound(ref, match.name))
        return tuple(actions)
    if resolved is None:
        return (Resolve(data_input, "missing", dynamic_name),)
    return (
        CreateSource(dynamic_name, _resolved_for(data_input, resolved, now)),
        AddClaimRef(dynamic_name, ref),
        MarkBound(ref, dynamic_name),
    )


def release(ref: str, sources: Sequence[SourceState], bound_to: str = "") -> tuple[Action, ...]:
    """The actions that release the claim ``ref`` from every source referencing it.

    A source left with no reference is deleted when its reclaimPolicy is Delete and it is
    not already being deleted; Retain keeps it for the next claim. ``bound_to`` (the
    claim's bound source) is reclaimed even when it no longer holds ``ref``: a release
    that died between removing the reference and deleting the source is finished so.
    """
    actions: list[Action] = []
    for source in sorted(sources, key=lambda s: s.name):
        if ref not in source.refs and source.name != bound_to:
            continue
        if ref in source.refs:
            actions.append(RemoveClaimRef(source.name, ref))
        remaining = [r for r in source.refs if r != ref]
        if not remaining and source.source.reclaim_policy == "Delete" and not source.deleting:
            actions.append(DeleteSource(source.name))
    return tuple(actions)


class Backoff(Spec):
    """Retry schedule for a not-found resolution: ``initial * factor**k``, capped, bounded.

    Defaults follow Volcano Global's retryConfig (1 s, x2, at most 30 s, 3 retries), but a
    claim is never parked: after the last retry the caller gives up with an error.
    """

    initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    factor: float = Field(default=2.0, ge=1, allow_inf_nan=False)
    max_delay: float = Field(default=30.0, gt=0, allow_inf_nan=False, alias="maxDelay")
    retries: int = Field(default=3, ge=0, le=100, strict=True)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.max_delay, self.initial * self.factor ** (retry - 1)))

    def schedule(self) -> tuple[float, ...]:
        """Every wait, in order."""
        return tuple(self.delay(k) for k in range(1, self.retries + 1))


def after_not_found(data_input: DataInput, attempt: int, backoff: Backoff) -> RetryAfter | GiveUp:
    """What to do after the ``attempt``-th not-found answer (1-based) for ``data_input``."""
    if attempt <= backoff.retries:
        return RetryAfter(backoff.delay(attempt), attempt, f"{data_input.key} not found")
    return GiveUp(f"{data_input.key} not found after {attempt} attempts")


def after_data_gone(
    claim: ClaimState, asked: Resolve, sources: Sequence[SourceState], reason: str
) -> tuple[Action, ...]:
    """What to write once the resolver gave up on ``asked``: nothing when no source existed
    yet (the claim stays Pending); else the source goes Lost and so does every claim on it,
    this one included (a claim never bound to it still learns why it cannot bind)."""
    if asked.reason == "missing":
        return ()
    source = next((s for s in sources if s.name == asked.source_name), None)
    refs = sorted({claim.ref, *(source.refs if source is not None else ())})
    message = f"{reason}: the data of DataSource {asked.source_name} is gone"
    return (
        SetSourcePhase(asked.source_name, "Lost", message),
        *(MarkLost(ref, asked.source_name, "DataGone", message) for ref in refs),
    )
