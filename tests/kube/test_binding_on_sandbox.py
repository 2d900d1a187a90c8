"""Binding over the API, on the real control plane and on the emulator: a hypothesis
state machine driving apply/release_binding.

Claims for a few data identities are created, bound (alone, two at once on the same
source, or one binding while another releases), released and deleted; DataSources are
made and deleted by hand, also under bound claims; a bind may crash in its resolver,
which leaves a claim Lost once its source is gone. After every step the invariants are
read back from the API: every Bound claim is referenced by its source (unless that
source was deleted under it and nothing has looked since), each source's claimRefs and
boundClaims are exactly the Bound claims on it, at most one DataSource per identity, its
chunks read back whole from its slices, and a claim is Lost only when its source is gone.

One cluster serves the whole test function; each example starts from an empty set of
claims and sources. The rule that injects faults runs on the emulator only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from kubernetes.client import ApiClient, CoreV1Api  # type: ignore[import-untyped]  # no stubs

from datalocality.binding import claim_ref
from datalocality.kube.binder import apply_binding, release_binding
from datalocality.kube.claims import build_data_source, build_data_source_claim
from datalocality.kube.client import KubeClient
from datalocality.kube.names import TaskKey, build_claim_name, build_data_source_name
from datalocality.kube.objects import RetryPolicy, name_of
from datalocality.kube.publish import publish_data_source, read_chunks
from datalocality.kube.resources import CLAIMS, SLICES, SOURCES
from datalocality.model import Chunk, DataInput, DataSource, DataSourceClaim
from datalocality_testcluster.clusters import KINDS, start_cluster
from tests.kube.conftest import api_client_for

Obj = dict[str, Any]
NAMESPACE = "data"
INPUTS = (
    DataInput(system="iceberg", name="db.Events", attributes={"day": "1"}),
    DataInput(system="s3", name="bucket/prefix", data_source_type="prefix"),
)
POLICIES = ("Delete", "Retain")  # per identity
SLOTS = 4
POLICY = RetryPolicy(initial=0.005, max_delay=0.05, conflict_attempts=30)
STEPS = (
    ("create", "datasourceclaims", None),
    ("create", "datasources", None),
    ("update", "datasources", "status"),
    ("update", "datasourceclaims", "status"),
    ("delete", "datasources", None),
    ("delete", "datasourceclaims", None),
    ("list", "datasources", None),
    ("get", "datasourceclaims", None),
    ("create", "datasourceslices", None),
    ("list", "datasourceslices", None),
)
FAULTS: tuple[Obj, ...] = (
    {"code": 409},
    {"code": 409, "after": True},
    {"code": 429, "retry_after": 0},
    {"code": 500},
    {"code": 500, "after": True},
    {"code": 503, "retry_after": 0},
    {"drop": True},
)
slots = st.integers(0, SLOTS - 1)
identities = st.integers(0, len(INPUTS) - 1)


class Crash(Exception):
    """The task died while its resolver was running."""


def resolver(data_input: DataInput) -> DataSource:
    index = INPUTS.index(data_input)
    chunks = [Chunk(id=f"part-{i}", locations=["node-a"]) for i in range(2)]
    return DataSource.for_input(data_input, chunks=chunks, reclaim_policy=POLICIES[index])


def crashing(data_input: DataInput) -> DataSource:
    raise Crash(data_input.key)


def manifest(slot: int, identity: int) -> Obj:
    task = TaskKey(dag_id="dag", run_id="run", task_id=f"task-{slot}")
    data_input = INPUTS[identity]
    claim = DataSourceClaim(name=build_claim_name(task, data_input), input=data_input)
    return build_data_source_claim(claim, task=task, namespace=NAMESPACE)


def refs_of(source: Obj) -> list[str]:
    return [
        claim_ref(r["namespace"], r["name"])
        for r in (source.get("status") or {}).get("claimRefs") or []
    ]


def identity_of(source: Obj) -> tuple[Any, ...]:
    spec = source["spec"]
    return (spec["system"], spec["type"], spec["name"], tuple(sorted(spec["attributes"].items())))


def together(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released at the same moment; re-raise the first failure."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        try:
            results[index] = calls[index]()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a bind did not finish"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


@dataclass
class World:
    """What one test function shares across examples: two clients, and the emulator's
    fault injector (the real apiserver has none: the faulted rule is skipped there)."""

    clients: list[KubeClient] = field(default_factory=list)
    faults: Any = None

    def reset(self) -> None:
        """Delete every claim and source through the API (no finalizers: they go at once)."""
        kube = self.clients[0]
        for resource in (CLAIMS, SOURCES, SLICES):
            namespace = NAMESPACE if resource.namespaced else None
            for obj in kube.list(resource, namespace)[0]:
                kube.delete(resource, obj["metadata"]["name"], namespace)
        if self.faults is not None:
            self.faults.clear()


class BindingOnSandbox(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        world.reset()
        self.world = world
        self.kube, self.rival = world.clients
        self.claims: dict[int, int] = {}  # slot -> identity
        self.orphaned: set[str] = set()  # Bound claims whose source was deleted under them

    # -- helpers ----------------------------------------------------------------------

    def name(self, slot: int) -> str:
        return str(manifest(slot, self.claims[slot])["metadata"]["name"])

    def bind(self, slot: int, client: KubeClient | None = None) -> None:
        bound = apply_binding(
            client or self.kube, manifest(slot, self.claims[slot]), resolve=resolver
        )
        assert bound.claim["status"]["phase"] == "Bound"
        self.orphaned.discard(self.name(slot))

    def release(self, slot: int, client: KubeClient | None = None) -> None:
        name = self.name(slot)
        release_binding(client or self.kube, NAMESPACE, name)
        assert (client or self.kube).delete(CLAIMS, name, NAMESPACE)
        self.orphaned.discard(name)

    def read(self) -> tuple[list[Obj], list[Obj]]:
        return self.kube.list(CLAIMS, NAMESPACE)[0], self.kube.list(SOURCES)[0]

    def live_source(self, identity: int) -> Obj | None:
        want = identity_of(build_data_source("x", resolver(INPUTS[identity])))
        found = [s for s in self.read()[1] if identity_of(s) == want]
        return found[0] if found else None

    # -- rules ------------------------------------------------------------------------

    @precondition(lambda self: len(self.claims) < SLOTS)
    @rule(slot=slots, identity=identities)
    def create_claim(self, slot: int, identity: int) -> None:
        if slot in self.claims:
            return
        self.claims[slot] = identity
        assert self.kube.create_or_get(manifest(slot, identity)).created

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def bind_one(self, data: st.DataObject) -> None:
        self.bind(data.draw(st.sampled_from(sorted(self.claims))))

    @precondition(lambda self: len(self.claims) >= 2)
    @rule(data=st.data())
    def bind_two_at_once(self, data: st.DataObject) -> None:
        a, b = data.draw(st.permutations(sorted(self.claims)))[:2]
        together(lambda: self.bind(a), lambda: self.bind(b, self.rival))

    @precondition(lambda self: len(self.claims) >= 2)
    @rule(data=st.data())
    def bind_while_another_releases(self, data: st.DataObject) -> None:
        a, b = data.draw(st.permutations(sorted(self.claims)))[:2]
        together(lambda: self.bind(a), lambda: self.release(b, self.rival))
        del self.claims[b]

    @precondition(lambda self: len(self.claims) >= 2 and self.world.faults is not None)
    @rule(
        data=st.data(),
        step=st.sampled_from(STEPS),
        fault=st.sampled_from(FAULTS),
        releasing=st.booleans(),
    )
    def two_at_once_under_a_fault(
        self, data: st.DataObject, step: tuple[str, str, str | None], fault: Obj, releasing: bool
    ) -> None:
        """A fault in one of the steps of two concurrent binds (or a bind and a release)."""
        verb, resource, subresource = step
        if verb in {"get", "list"} and fault.get("code") == 409:
            fault = {"code": 500}  # a 409 on a read is final, not a fault to survive
        self.world.faults.inject(verb, resource, subresource=subresource, **fault)
        try:
            if releasing:
                self.bind_while_another_releases(data)
            else:
                self.bind_two_at_once(data)
        finally:
            self.world.faults.clear()

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def release_one(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.claims)))
        self.release(slot)
        del self.claims[slot]

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def bind_crashing_in_the_resolver(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.claims)))
        try:
            apply_binding(self.kube, manifest(slot, self.claims[slot]), resolve=crashing)
        except Crash:
            return
        self.orphaned.discard(self.name(slot))  # bound without asking the resolver

    @rule(identity=identities, hand_made=st.booleans())
    def create_source(self, identity: int, hand_made: bool) -> None:
        if self.live_source(identity) is not None:
            return  # one DataSource per identity is the binder's promise, and ours
        source = resolver(INPUTS[identity])
        name = f"hand-made-{identity}" if hand_made else build_data_source_name(source)
        assert name_of(publish_data_source(self.kube, name, source)) == name

    @rule(identity=identities)
    def delete_source(self, identity: int) -> None:
        source = self.live_source(identity)
        if source is None:
            return
        name = source["metadata"]["name"]
        claims, _ = self.read()
        for claim in claims:
            status = claim.get("status") or {}
            if status.get("phase") == "Bound" and status.get("boundDataSource") == name:
                self.orphaned.add(claim["metadata"]["name"])
        assert self.kube.delete(SOURCES, name)

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def lose_a_bound_claim(self, data: st.DataObject) -> None:
        """Delete the source under a Bound claim; its next bind dies after marking it Lost."""
        slot = data.draw(st.sampled_from(sorted(self.claims)))
        self.bind(slot)
        self.delete_source(self.claims[slot])
        with pytest.raises(Crash):  # no source left to bind statically: it must resolve
            apply_binding(self.kube, manifest(slot, self.claims[slot]), resolve=crashing)
        claim = self.kube.get(CLAIMS, self.name(slot), NAMESPACE)
        assert claim is not None and claim["status"]["phase"] == "Lost"

    # -- invariants, read back from the API -------------------------------------------

    @invariant()
    def references_match_the_bound_claims(self) -> None:
        claims, sources = self.read()
        by_name = {s["metadata"]["name"]: s for s in sources}
        bound: dict[str, set[str]] = {name: set() for name in by_name}
        for claim in claims:
            name = claim["metadata"]["name"]
            ref = claim_ref(NAMESPACE, name)
            status = claim.get("status") or {}
            phase, source_name = status.get("phase"), status.get("boundDataSource", "")
            source = by_name.get(source_name)
            referenced = source is not None and ref in refs_of(source)
            if phase == "Bound" and referenced:
                bound[source_name].add(ref)
            elif phase == "Bound":
                assert name in self.orphaned, f"{name} is Bound but not referenced"
            elif phase == "Lost":
                assert not referenced and name in self.orphaned, f"{name} is Lost with a source"
        for name, source in by_name.items():
            refs = refs_of(source)
            assert len(refs) == len(set(refs)), f"{name} has duplicate references"
            assert (source.get("status") or {}).get("boundClaims", 0) == len(refs)
            assert set(refs) == bound[name], f"{name}: references {refs}, bound {bound[name]}"

    @invariant()
    def sources_hold_their_chunks(self) -> None:
        """Every source's slices are complete: whatever wrote it finished its slices."""
        for source in self.read()[1]:
            identity = next(i for i, d in enumerate(INPUTS) if d.name == source["spec"]["name"])
            assert read_chunks(self.kube, source) == resolver(INPUTS[identity]).chunks

    @invariant()
    def one_source_per_identity(self) -> None:
        _, sources = self.read()
        identities_seen = [identity_of(s) for s in sources]
        assert len(identities_seen) == len(set(identities_seen)), identities_seen


@pytest.fixture(params=KINDS)
def binding_cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Path, Any]]:
    """(kubeconfig, fault injector or None) of the real control plane or the emulator."""
    with start_cluster(request.param) as cluster:
        api = cluster.api_client()
        try:
            CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        finally:
            api.close()
        faults = cluster.admin.faults if request.param == "sandbox" else None  # type: ignore[attr-defined]
        yield cluster.admin.kubeconfig_path, faults
        assert cluster.errors == []


def test_binding_state_machine(binding_cluster: tuple[Path, Any]) -> None:
    kubeconfig, faults = binding_cluster
    api_clients: list[ApiClient] = [api_client_for(kubeconfig) for _ in range(2)]
    world = World([KubeClient(c, policy=POLICY) for c in api_clients], faults)
    try:
        run_state_machine_as_test(
            lambda: BindingOnSandbox(world),  # type: ignore[arg-type]  # a factory, as documented
            settings=settings(
                max_examples=80,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        for client in api_clients:
            client.close()
