"""The pure binding rules: matching, static and dynamic binding, release, Lost, TTL, backoff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datalocality.binding import (
    AddClaimRef,
    Backoff,
    ClaimState,
    CreateSource,
    DeleteSource,
    GiveUp,
    MarkBound,
    MarkLost,
    RefreshSource,
    RemoveClaimRef,
    Resolve,
    RetryAfter,
    SetSourcePhase,
    SourceState,
    after_data_gone,
    after_not_found,
    bind,
    find_static,
    is_stale,
    matches,
    release,
)
from datalocality.errors import SpecError
from datalocality.kube.names import build_data_source_name
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim, Locality
from tests.kube.support import NOW

INPUT = DataInput(system="iceberg", name="db.events", attributes={"snapshot": "1"})
OTHER = DataInput(system="iceberg", name="db.events", attributes={"snapshot": "2"})
DYNAMIC = build_data_source_name(INPUT)
TTL = timedelta(minutes=10)
RESOLVED = DataSource(
    system="IGNORED",
    name="ignored",
    locality=Locality(clusters=("prod",)),
    chunks=[Chunk(id="c1", locations=["node-a"])],
)


def claim(phase: str = "Pending", bound: str = "", data_input: DataInput = INPUT) -> ClaimState:
    model = DataSourceClaim(name="c", input=data_input, phase=phase, bound_data_source=bound)
    return ClaimState("ns", model)


def source(
    name: str = DYNAMIC,
    data_input: DataInput = INPUT,
    *,
    refs: tuple[str, ...] = (),
    deleting: bool = False,
    age: timedelta = timedelta(0),
    policy: str = "Retain",
    complete: bool = True,
    lost: bool = False,
) -> SourceState:
    model = DataSource.for_input(
        data_input, claim_refs=refs, observed_at=NOW - age, reclaim_policy=policy
    )
    return SourceState(name, model, deleting, complete, lost)


def decide(state: ClaimState, sources: list[SourceState], **kwargs: object) -> tuple[object, ...]:
    return bind(state, sources, now=NOW, ttl=TTL, dynamic_name=DYNAMIC, **kwargs)  # type: ignore[arg-type]


def test_matching_is_exact_on_identity() -> None:
    assert matches(INPUT, source().source)
    assert not matches(OTHER, source().source)
    assert not matches(INPUT.model_copy(update={"data_source_type": "view"}), source().source)


def test_static_binding_never_picks_a_deleting_source() -> None:
    assert find_static(claim(), [source(deleting=True)]) is None
    referenced = find_static(claim(), [source("b"), source("a"), source("c", refs=("ns/c",))])
    assert referenced is not None and referenced.name == "c"
    dynamic = find_static(claim(), [source("b"), source(DYNAMIC), source("a")], DYNAMIC)
    assert dynamic is not None and dynamic.name == DYNAMIC
    first = find_static(claim(), [source("b"), source("a")])
    assert first is not None and first.name == "a"


def test_dynamic_binding_resolves_then_creates_references_and_binds() -> None:
    assert decide(claim(), []) == (Resolve(INPUT, "missing", DYNAMIC),)
    create, add, mark = decide(claim(), [source("x", OTHER)], resolved=RESOLVED)
    assert isinstance(create, CreateSource) and create.name == DYNAMIC
    # The claim's identity wins over whatever the resolver called the data.
    assert matches(INPUT, create.source) and create.source.observed_at == NOW
    assert create.source.chunks == RESOLVED.chunks and create.source.claim_refs == ()
    assert (add, mark) == (AddClaimRef(DYNAMIC, "ns/c"), MarkBound("ns/c", DYNAMIC))


def test_static_binding_references_first_then_binds() -> None:
    assert decide(claim(), [source("user-made")]) == (
        AddClaimRef("user-made", "ns/c"),
        MarkBound("ns/c", "user-made"),
    )
    # A bind that crashed after the reference adopts it and only marks the claim.
    assert decide(claim(), [source(refs=("ns/c",))]) == (MarkBound("ns/c", DYNAMIC),)


def test_stale_sources_are_refreshed_before_binding() -> None:
    stale = source(age=TTL + timedelta(seconds=1))
    assert decide(claim(), [stale]) == (Resolve(INPUT, "stale", DYNAMIC),)
    refresh, add, mark = decide(claim(), [stale], resolved=RESOLVED)
    assert isinstance(refresh, RefreshSource) and refresh.source.chunks == RESOLVED.chunks
    assert (add, mark) == (AddClaimRef(DYNAMIC, "ns/c"), MarkBound("ns/c", DYNAMIC))
    assert decide(claim(), [source(age=TTL)]) == (
        AddClaimRef(DYNAMIC, "ns/c"),
        MarkBound("ns/c", DYNAMIC),
    )


def test_sources_whose_chunks_could_not_be_read_are_resolved_again() -> None:
    """Its slices incomplete: a writer died half-way, or the object predates slices."""
    broken = source(complete=False)
    assert decide(claim(), [broken]) == (Resolve(INPUT, "incomplete", DYNAMIC),)
    refresh, add, mark = decide(claim(), [broken], resolved=RESOLVED)
    assert isinstance(refresh, RefreshSource) and refresh.source.chunks == RESOLVED.chunks
    assert (add, mark) == (AddClaimRef(DYNAMIC, "ns/c"), MarkBound("ns/c", DYNAMIC))
    bound = claim("Bound", DYNAMIC)
    referenced = source(refs=("ns/c",), complete=False)
    assert decide(bound, [referenced]) == (Resolve(INPUT, "incomplete", DYNAMIC),)
    (again,) = decide(bound, [referenced], resolved=RESOLVED)
    assert again == RefreshSource(DYNAMIC, refresh.source)
    # Incomplete and stale at once: incomplete says more.
    both = source(refs=("ns/c",), complete=False, age=2 * TTL)
    assert decide(bound, [both]) == (Resolve(INPUT, "incomplete", DYNAMIC),)


def test_staleness() -> None:
    never = source().source.model_copy(update={"observed_at": None})
    assert not is_stale(never, NOW, None)
    assert is_stale(never, NOW, TTL)
    naive = source().source.model_copy(update={"observed_at": NOW.replace(tzinfo=None)})
    assert not is_stale(naive, NOW + TTL, TTL)
    assert is_stale(naive, NOW + TTL + timedelta(microseconds=1), TTL)


def test_bound_claims_stay_bound_or_turn_lost() -> None:
    bound = claim("Bound", DYNAMIC)
    assert decide(bound, [source(refs=("ns/c",))]) == ()
    # Without the claim's reference it is a recreated source, not the one bound to.
    assert decide(bound, [source()]) == (MarkLost("ns/c", DYNAMIC),)
    assert decide(bound, []) == (MarkLost("ns/c", DYNAMIC),)
    assert decide(bound, [source(refs=("ns/c",), deleting=True)]) == (MarkLost("ns/c", DYNAMIC),)
    stale = source(refs=("ns/c",), age=2 * TTL)
    assert decide(bound, [stale]) == (Resolve(INPUT, "stale", DYNAMIC),)
    (refresh,) = decide(bound, [stale], resolved=RESOLVED)
    assert isinstance(refresh, RefreshSource)


def test_lost_claims_bind_again() -> None:
    assert decide(claim("Lost", "gone"), []) == (Resolve(INPUT, "missing", DYNAMIC),)
    assert decide(claim("Lost", "gone"), [source()]) == (
        AddClaimRef(DYNAMIC, "ns/c"),
        MarkBound("ns/c", DYNAMIC),
    )


def test_data_gone_on_refresh_makes_the_source_and_every_claim_on_it_lost() -> None:
    stale = source(refs=("ns/a", "other/b"), age=2 * TTL)
    (asked,) = decide(claim(), [stale])
    assert asked == Resolve(INPUT, "stale", DYNAMIC)
    gone = after_data_gone(claim(), asked, [stale], "db.events not found after 4 attempts")
    message = f"db.events not found after 4 attempts: the data of DataSource {DYNAMIC} is gone"
    assert gone == (
        SetSourcePhase(DYNAMIC, "Lost", message),
        MarkLost("ns/a", DYNAMIC, "DataGone", message),
        MarkLost("ns/c", DYNAMIC, "DataGone", message),  # this claim, not yet referenced
        MarkLost("other/b", DYNAMIC, "DataGone", message),
    )
    # No source yet: nothing is lost, the claim stays Pending.
    assert after_data_gone(claim(), Resolve(INPUT, "missing", DYNAMIC), [], "gone") == ()


def test_a_lost_source_is_resolved_before_binding_and_available_once_found() -> None:
    lost = source(refs=("ns/a",), lost=True)  # fresh, but its data was found gone
    assert decide(claim(), [lost]) == (Resolve(INPUT, "lost", DYNAMIC),)
    refresh, available, add, mark = decide(claim(), [lost], resolved=RESOLVED)
    assert isinstance(refresh, RefreshSource) and refresh.name == DYNAMIC
    assert available == SetSourcePhase(DYNAMIC, "Available", "the data was found again")
    assert (add, mark) == (AddClaimRef(DYNAMIC, "ns/c"), MarkBound("ns/c", DYNAMIC))
    bound = claim("Bound", DYNAMIC)
    assert decide(bound, [source(refs=("ns/c",), lost=True)]) == (Resolve(INPUT, "lost", DYNAMIC),)


def test_release_deletes_only_the_last_reference_of_a_delete_policy_source() -> None:
    assert release("ns/c", [source(refs=("ns/c",), policy="Delete")]) == (
        RemoveClaimRef(DYNAMIC, "ns/c"),
        DeleteSource(DYNAMIC),
    )
    assert release("ns/c", [source(refs=("ns/c",), policy="Retain")]) == (
        RemoveClaimRef(DYNAMIC, "ns/c"),
    )
    assert release("ns/c", [source(refs=("ns/c", "ns/d"), policy="Delete")]) == (
        RemoveClaimRef(DYNAMIC, "ns/c"),
    )
    assert release("ns/c", [source(refs=("ns/c",), policy="Delete", deleting=True)]) == (
        RemoveClaimRef(DYNAMIC, "ns/c"),
    )
    assert release("ns/c", [source(refs=("ns/d",))]) == ()
    both = release("ns/c", [source("b", refs=("ns/c",)), source("a", refs=("ns/c",))])
    assert both == (RemoveClaimRef("a", "ns/c"), RemoveClaimRef("b", "ns/c"))


def test_release_finishes_reclaiming_the_bound_source_an_earlier_release_left() -> None:
    # The reference went, the process died before the delete: the claim still names it.
    orphan = source(refs=(), policy="Delete")
    assert release("ns/c", [orphan], bound_to=DYNAMIC) == (DeleteSource(DYNAMIC),)
    assert release("ns/c", [orphan]) == ()  # not this claim's: someone else's to reclaim
    assert release("ns/c", [source(refs=(), policy="Retain")], bound_to=DYNAMIC) == ()
    assert release("ns/c", [source(refs=("ns/d",), policy="Delete")], bound_to=DYNAMIC) == ()
    gone = source(refs=(), policy="Delete", deleting=True)
    assert release("ns/c", [gone], bound_to=DYNAMIC) == ()


def test_not_found_is_retried_with_backoff_then_given_up() -> None:
    backoff = Backoff()
    assert backoff.schedule() == (1.0, 2.0, 4.0)
    steps = [after_not_found(INPUT, attempt, backoff) for attempt in (1, 2, 3, 4)]
    assert steps[:3] == [
        RetryAfter(d, a, f"{INPUT.key} not found") for a, d in ((1, 1.0), (2, 2.0), (3, 4.0))
    ]
    assert isinstance(steps[3], GiveUp) and "after 4 attempts" in steps[3].reason
    assert Backoff(initial=10, max_delay=15, retries=3).schedule() == (10.0, 15.0, 15.0)
    assert isinstance(after_not_found(INPUT, 1, Backoff(retries=0)), GiveUp)


@pytest.mark.parametrize(
    ("field", "value"), [("initial", 0), ("factor", 0.5), ("maxDelay", -1), ("retries", -1)]
)
def test_bad_backoff_names_the_field(field: str, value: float) -> None:
    with pytest.raises(SpecError) as caught:
        arguments: dict[str, Any] = {field: value}  # by name or alias, right type or not
        Backoff(**arguments)
    assert caught.value.field in (field, "max_delay")


def test_dynamic_name_must_be_a_dns_label() -> None:
    with pytest.raises(SpecError, match="dynamic_name"):
        bind(claim(), [], now=NOW, dynamic_name="Not_Valid")


source_states = st.builds(
    source,
    name=st.sampled_from(["a", "b", DYNAMIC]),
    data_input=st.sampled_from([INPUT, OTHER]),
    refs=st.sampled_from([(), ("ns/c",), ("ns/d",), ("ns/c", "ns/d")]),
    deleting=st.booleans(),
    age=st.sampled_from([timedelta(0), 2 * TTL]),
    policy=st.sampled_from(["Retain", "Delete"]),
    complete=st.booleans(),
)
claim_states = st.builds(
    claim,
    phase=st.sampled_from(["Pending", "Bound", "Lost"]),
    bound=st.sampled_from(["", "a", DYNAMIC]),
)


@given(claim_states, st.lists(source_states, max_size=4, unique_by=lambda s: s.name), st.booleans())
def test_decisions_keep_the_order_and_never_touch_the_wrong_source(
    state: ClaimState, sources: list[SourceState], resolved: bool
) -> None:
    actions = decide(state, sources, resolved=RESOLVED if resolved else None)
    by_name = {s.name: s for s in sources}
    resolves = [a for a in actions if isinstance(a, Resolve)]
    assert not resolves or actions == tuple(resolves[:1])
    created = {a.name for a in actions if isinstance(a, CreateSource)}
    for index, action in enumerate(actions):
        if isinstance(action, AddClaimRef | MarkBound | RefreshSource):
            name = action.source_name if not isinstance(action, RefreshSource) else action.name
            target = by_name.get(name)
            assert name in created or (target is not None and not target.deleting)
            assert name in created or target is None or matches(INPUT, target.source)
        if isinstance(action, MarkBound):
            # Bound only after the source holds the reference (or is told to just before).
            target = by_name.get(action.source_name)
            has_ref = target is not None and "ns/c" in target.refs
            assert has_ref or AddClaimRef(action.source_name, "ns/c") in actions[:index]
        if isinstance(action, CreateSource):
            assert find_static(state, sources) is None


def test_a_source_replaced_under_a_bound_claim_is_let_go() -> None:
    bound = claim("Bound", "a")
    assert decide(bound, [source("a", OTHER, refs=("ns/c",))]) == (
        RemoveClaimRef("a", "ns/c"),
        MarkLost("ns/c", "a"),
    )
    assert decide(bound, [source("a", OTHER)]) == (MarkLost("ns/c", "a"),)
