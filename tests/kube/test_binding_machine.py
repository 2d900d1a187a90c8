"""A state machine over the binding model: claims, sources, deletions, concurrent binds.

The store holds the real objects, built and edited by ``datalocality.kube.claims`` (the
functions the client applies); sources get a uid, as from the API server. Binders run
concurrently: each decides from a snapshot and applies one action per step with the
client's read-modify-write rules, so any interleaving of binds, releases, deletions and
clock jumps is explored. After every write: no Bound claim misses its reference in the
source it was bound to, boundClaims equals the references, there is one live DataSource
per identity, and no reference points at a claim that is gone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from datalocality.binding import (
    Action,
    AddClaimRef,
    CreateSource,
    DeleteSource,
    MarkBound,
    MarkLost,
    RefreshSource,
    RemoveClaimRef,
    Resolve,
    bind,
    release,
)
from datalocality.kube.claims import (
    build_data_source,
    build_data_source_claim,
    claim_state,
    source_state,
    with_claim_ref,
    with_phase,
    with_resolved,
    without_claim_ref,
)
from datalocality.kube.names import TaskKey, build_data_source_name, identity_hash
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from tests.kube.support import NOW

Obj = dict[str, Any]
TTL = timedelta(minutes=5)
INPUTS = (
    DataInput(system="iceberg", name="db.events", attributes={"day": "1"}),
    DataInput(system="iceberg", name="db.events", attributes={"day": "2"}),
    DataInput(system="s3", name="bucket/prefix", data_source_type="prefix"),
)
NAMESPACES = ("team-a", "team-b")


def resolver(data_input: DataInput, generation: int) -> DataSource:
    """A data system whose answer changes over time (so refreshes are visible)."""
    chunks = [
        Chunk(id=f"{data_input.name}-{generation}-{i}", locations=["node-a"]) for i in range(2)
    ]
    policy = "Delete" if data_input.system == "s3" else "Retain"
    return DataSource.for_input(data_input, chunks=chunks, reclaim_policy=policy)


@dataclass
class Binder:
    """One bind in flight: its claim, the answer it resolved, and the actions left to apply."""

    ref: str
    resolved: DataSource | None = None
    pending: list[Action] = field(default_factory=list)
    steps: int = 0


class BindingMachine(RuleBasedStateMachine):
    claims = Bundle("claims")

    def __init__(self) -> None:
        super().__init__()
        self.claim_objects: dict[str, Obj] = {}
        self.sources: dict[str, Obj] = {}
        self.binders: list[Binder] = []
        self.now = NOW
        self.generation = 0
        self.counter = itertools.count()
        self.bound_to: dict[str, str | None] = {}  # claim -> uid of the source it was bound to

    # -- applying actions as the client does ------------------------------------------

    def apply(self, binder: Binder, action: Action) -> bool:
        """Apply one action; False when the world changed and the binder must re-decide."""
        if isinstance(action, CreateSource):
            existing = self.sources.get(action.name)
            if existing is None:
                created = build_data_source(action.name, action.source)
                created["metadata"]["uid"] = f"uid-{next(self.counter)}"
                self.sources[action.name] = created
                return True
            if existing["metadata"].get("deletionTimestamp"):
                return False  # create-or-get waits for it to go
            annotations = existing["metadata"]["annotations"]
            assert annotations["datalocality.io/spec-hash"] == identity_hash(action.source)
            return True  # adopted
        if isinstance(action, RefreshSource | AddClaimRef):
            name = action.name if isinstance(action, RefreshSource) else action.source_name
            current = self.sources.get(name)
            if current is None or current["metadata"].get("deletionTimestamp"):
                return False
            edited = (
                with_resolved(current, action.source)
                if isinstance(action, RefreshSource)
                else with_claim_ref(current, action.ref)
            )
            if edited is not None:
                self.sources[name] = edited
            return True
        if isinstance(action, MarkBound | MarkLost):
            phase = "Bound" if isinstance(action, MarkBound) else "Lost"
            source = self.sources.get(action.source_name)
            if isinstance(action, MarkBound) and (
                source is None
                or source["metadata"].get("deletionTimestamp")
                or action.ref not in source_state(source).refs
            ):
                return False  # the binder re-reads the source first: deleted or replaced
            current = self.claim_objects[action.ref]
            edited = with_phase(
                current, phase, action.source_name, now=self.now, reason="Test", message=""
            )
            if edited is not None:
                self.claim_objects[action.ref] = edited
            self.bound_to[action.ref] = source["metadata"]["uid"] if source else None
            return True
        if isinstance(action, RemoveClaimRef):
            current = self.sources.get(action.source_name)
            edited = None if current is None else without_claim_ref(current, action.ref)
            if edited is not None:
                self.sources[action.source_name] = edited
            return True
        if isinstance(action, DeleteSource):
            current = self.sources.get(action.name)
            if current is not None and not (current.get("status") or {}).get("claimRefs"):
                del self.sources[action.name]  # the resourceVersion precondition held
            return True
        raise AssertionError(f"unexpected action {action}")

    def step_binder(self, binder: Binder) -> bool:
        """Advance a binder by one action; True when it has finished."""
        binder.steps += 1
        assert binder.steps < 200, "a bind does not settle"
        if not binder.pending:
            state = claim_state(self.claim_objects[binder.ref])
            sources = [source_state(obj) for obj in self.sources.values()]
            actions = bind(
                state,
                sources,
                now=self.now,
                ttl=TTL,
                dynamic_name=build_data_source_name(state.claim.input),
                resolved=binder.resolved,
            )
            if not actions:
                return True
            if isinstance(actions[0], Resolve):
                binder.resolved = resolver(actions[0].data_input, self.generation)
                return False
            binder.pending = list(actions)
            return False
        if not self.apply(binder, binder.pending.pop(0)):
            binder.pending.clear()
        self.check()  # between any two writes, not only between rules
        return False

    def check(self) -> None:
        self.bound_claims_keep_their_reference()
        self.bound_claims_count_the_references()
        self.one_live_source_per_identity()
        self.references_point_at_existing_claims()

    # -- rules ------------------------------------------------------------------------

    @rule(target=claims, data_input=st.sampled_from(INPUTS), namespace=st.sampled_from(NAMESPACES))
    def add_claim(self, data_input: DataInput, namespace: str) -> str:
        name = f"claim-{next(self.counter)}"
        task = TaskKey(dag_id="d", run_id="r", task_id=name)
        model = DataSourceClaim(name=name, input=data_input)
        self.claim_objects[f"{namespace}/{name}"] = build_data_source_claim(
            model, task=task, namespace=namespace
        )
        return f"{namespace}/{name}"

    @rule(ref=claims)
    def start_bind(self, ref: str) -> None:
        if ref in self.claim_objects:
            self.binders.append(Binder(ref))

    @precondition(lambda self: self.binders)
    @rule(pick=st.integers(min_value=0), steps=st.integers(min_value=1, max_value=4))
    def step(self, pick: int, steps: int) -> None:
        binder = self.binders[pick % len(self.binders)]
        for _ in range(steps):
            if self.step_binder(binder):
                self.binders.remove(binder)
                return

    @rule(ref=consumes(claims))
    def release_claim(self, ref: str) -> None:
        if ref not in self.claim_objects:
            return
        self.binders = [b for b in self.binders if b.ref != ref]
        sources = [source_state(obj) for obj in self.sources.values()]
        for action in release(ref, sources):
            self.apply(Binder(ref), action)
        del self.claim_objects[ref]

    @precondition(lambda self: self.sources)
    @rule(pick=st.integers(min_value=0), finalizer=st.booleans())
    def user_deletes_source(self, pick: int, finalizer: bool) -> None:
        name = sorted(self.sources)[pick % len(self.sources)]
        if finalizer:
            self.sources[name]["metadata"]["deletionTimestamp"] = "2026-11-01T10:00:00Z"
        else:
            del self.sources[name]

    @rule()
    def finalizers_done(self) -> None:
        for name in [n for n, o in self.sources.items() if o["metadata"].get("deletionTimestamp")]:
            del self.sources[name]

    @rule(minutes=st.integers(min_value=1, max_value=10))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.generation += 1

    @rule()
    def settle(self) -> None:
        """Every claim's task binds again and runs to the end: all end up Bound, referenced."""
        self.finalizers_done()
        self.binders = [Binder(ref) for ref in sorted(self.claim_objects)]
        while self.binders:
            for binder in list(self.binders):
                if self.step_binder(binder):
                    self.binders.remove(binder)
        for ref, obj in self.claim_objects.items():
            state = claim_state(obj)
            assert state.claim.phase == "Bound", ref
            source = source_state(self.sources[state.claim.bound_data_source])
            assert ref in source.refs
            assert not source.source.observed_at or self.now - source.source.observed_at <= TTL

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def bound_claims_keep_their_reference(self) -> None:
        for ref, obj in self.claim_objects.items():
            state = claim_state(obj)
            source = self.sources.get(state.claim.bound_data_source)
            if state.claim.phase != "Bound" or source is None:
                continue
            # The source it was bound to (not one deleted and recreated under its name).
            if source["metadata"]["uid"] == self.bound_to.get(ref):
                assert ref in source_state(source).refs, ref

    @invariant()
    def bound_claims_count_the_references(self) -> None:
        for obj in self.sources.values():
            status = obj.get("status") or {}
            assert status.get("boundClaims", 0) == len(status.get("claimRefs") or [])

    @invariant()
    def one_live_source_per_identity(self) -> None:
        live = [
            source_state(o).source.key
            for o in self.sources.values()
            if not o["metadata"].get("deletionTimestamp")
        ]
        assert len(live) == len(set(live))

    @invariant()
    def references_point_at_existing_claims(self) -> None:
        for obj in self.sources.values():
            for ref in source_state(obj).refs:
                assert ref in self.claim_objects, ref


BindingMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBinding = BindingMachine.TestCase
