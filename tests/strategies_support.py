"""Random small placement requests: hypothesis strategies and a seeded generator.

One builder (:func:`build_spec`) makes the plain request data (the dict ``PlacementRequest
.parse`` takes, handy to print as a reproduction); it asks a :class:`Picker` for every
choice, so hypothesis (which shrinks) and ``random.Random`` (for seeded loops) share it.

The builder keeps requests feasible on purpose, computing feasibility itself rather than
asking the placement code: eligible capacity >= replicas, and a hard topology rule only
where some domain has room for every replica. :func:`make_infeasible` breaks one of these.
"""

from __future__ import annotations

import importlib
import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from hypothesis import strategies as st

from datalocality.model import Chunk, Node, PlacementPlan, PlacementRequest, tier_between
from datalocality.placement import STRATEGIES

T = TypeVar("T")
Spec = dict[str, Any]
Draw = Callable[[st.SearchStrategy[Any]], Any]

NODE_NAMES = ("amber", "birch", "cedar", "dune", "elm", "fern", "grove")
CLUSTERS = ("east", "west")
BANDWIDTHS: tuple[dict[int, float] | None, ...] = (
    None,  # the defaults: 1.25e9, 6.25e8, 2.5e8, 1.25e8
    {1: 1e9, 2: 2e8, 3: 1e8, 4: 2.5e7},
    {1: 1e9, 2: 1e9, 3: 1e9, 4: 1e9},  # every move costs the same: many ties
)
UNIT_SIZES = (1, 1000, 3 * 2**20)
GATEWAY_OVERLOAD = 0.8  # the Topology default the builder leaves in place


class Picker(Protocol):
    """Where the builder's choices come from."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in ``lo..hi`` inclusive."""
        ...

    def chance(self, percent: int) -> bool:
        """True about ``percent`` times in 100."""
        ...

    def permutation(self, items: Sequence[T]) -> list[T]:
        """The items in some order."""
        ...


class RandomPicker:
    """Choices from a ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent

    def permutation(self, items: Sequence[T]) -> list[T]:
        out = list(items)
        self.rng.shuffle(out)
        return out


class DrawPicker:
    """Choices drawn by hypothesis (they shrink towards small numbers and False)."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def chance(self, percent: int) -> bool:
        if percent <= 0:
            return False
        if percent >= 100:
            return True
        return bool(self.draw(st.integers(0, 99)) >= 100 - percent)

    def permutation(self, items: Sequence[T]) -> list[T]:
        return list(self.draw(st.permutations(list(items))))


@dataclass(frozen=True)
class Shape:
    """Which features the builder may use, and the ranges of the counts."""

    nodes: tuple[int, int] = (2, 7)
    chunks: tuple[int, int] = (1, 14)
    replicas: tuple[int, int] = (1, 4)
    sizes: Literal["unit", "uneven", "any"] = "any"
    max_copies: int = 1
    domain_locations: bool = False  # zone:/region:/cluster: locations, location-less chunks
    clusters: Literal[1, 2, "any"] = "any"
    topology_rule: bool = True
    streams: bool = True
    partitioning: bool = True
    gateway: bool = True
    full_nodes: bool = True  # nodes whose pods are all requested already
    require_locality: bool = False
    bandwidths: bool = True


SINGLE_COPY = Shape()
MULTI_COPY = Shape(max_copies=3)
DOMAIN_LOCATIONS = Shape(max_copies=2, domain_locations=True)
EVERYTHING = Shape(max_copies=3, domain_locations=True, require_locality=True)
SHAPES = {
    "single-copy": SINGLE_COPY,
    "multi-copy": MULTI_COPY,
    "domain-locations": DOMAIN_LOCATIONS,
    "everything": EVERYTHING,
}


def _key(node: Node, tier: int) -> Hashable:
    keys: tuple[Hashable, ...] = (node.name, node.zone_key, node.region_key, node.cluster, "")
    return keys[tier]


def clusters_of(location: str, nodes: Sequence[Node]) -> set[str]:
    """The clusters a chunk location lies in (independent of the placement code)."""
    kind, _, name = location.rpartition(":")
    if kind == "":
        return {n.cluster for n in nodes if n.name == name}
    if kind == "zone":
        return {n.cluster for n in nodes if n.zone == name}
    if kind == "region":
        return {n.cluster for n in nodes if n.region == name}
    return {name}


def required_clusters(spec: Spec) -> set[str] | None:
    """Intersection of the clusters the ``requireLocality`` sources allow (None: any)."""
    nodes = [Node.parse(n) for n in spec["topology"]["nodes"]]
    allowed: set[str] | None = None
    for source in spec["sources"]:
        if not source.get("requireLocality"):
            continue
        clusters = set(source.get("locality", {}).get("clusters", ()))
        if not clusters:
            for chunk in source["chunks"]:
                for loc in chunk.get("locations", ()):
                    clusters |= clusters_of(loc, nodes)
        allowed = clusters if allowed is None else allowed & clusters
    return allowed


def eligible_capacity(spec: Spec) -> dict[str, int]:
    """Replicas each eligible node can host (before the topology rule)."""
    nodes = [Node.parse(n) for n in spec["topology"]["nodes"]]
    allowed = required_clusters(spec)
    replicas = spec["consumer"].get("replicas", 1)
    capacity: dict[str, int] = {}
    for node in nodes:
        if allowed is not None and node.cluster not in allowed:
            continue
        if node.gateway and node.load > GATEWAY_OVERLOAD:
            continue
        room = node.allocatable.pods - node.requested.pods
        if room > 0:
            capacity[node.name] = min(room, replicas)
    return capacity


def fitting_domains(spec: Spec, tier: int, replicas: int) -> list[set[str]]:
    """Domains of ``tier`` whose eligible nodes have room for ``replicas`` replicas."""
    nodes = {n["name"]: Node.parse(n) for n in spec["topology"]["nodes"]}
    groups: dict[Hashable, dict[str, int]] = {}
    for name, cap in eligible_capacity(spec).items():
        groups.setdefault(_key(nodes[name], tier), {})[name] = cap
    return [set(g) for g in groups.values() if sum(g.values()) >= replicas]


def build_spec(p: Picker, shape: Shape = SINGLE_COPY) -> Spec:
    """A feasible request as plain data."""
    n_nodes = p.integer(*shape.nodes)
    n_clusters = shape.clusters if shape.clusters != "any" else (2 if p.chance(30) else 1)
    n_zones = p.integer(1, 3)
    n_regions = p.integer(1, 2)
    zone_region = [p.integer(0, n_regions - 1) for _ in range(n_zones)]
    names = p.permutation(NODE_NAMES)[:n_nodes]
    nodes: list[Spec] = []
    for name in names:
        cluster = CLUSTERS[p.integer(0, n_clusters - 1)] if n_clusters > 1 else ""
        zone = p.integer(0, n_zones - 1)
        node: Spec = {"name": name, "cluster": cluster}
        if p.chance(6):  # no zone: a zone of its own, maybe still in a region
            if p.chance(50):
                node["region"] = f"r{zone_region[zone] + 1}"
        else:
            node["zone"] = f"z{zone + 1}"
            node["region"] = f"r{zone_region[zone] + 1}"
        pods = p.integer(1, 3)
        node["allocatable"] = {"pods": pods}
        if shape.full_nodes and p.chance(8):
            node["requested"] = {"pods": pods}
        nodes.append(node)
    if shape.gateway and p.chance(20):
        gateway = nodes[p.integer(0, n_nodes - 1)]
        gateway["gateway"] = True
        gateway["load"] = 0.9 if p.chance(70) else 0.5
    topology: Spec = {"nodes": nodes}
    if shape.bandwidths:
        bandwidth = BANDWIDTHS[p.integer(0, len(BANDWIDTHS) - 1)]
        if bandwidth is not None:
            topology["bandwidth"] = dict(bandwidth)

    n_chunks = p.integer(*shape.chunks)
    sizes_kind = shape.sizes if shape.sizes != "any" else ("unit" if p.chance(50) else "uneven")
    unit_size = UNIT_SIZES[p.integer(0, len(UNIT_SIZES) - 1)]
    scale = 1 if p.chance(70) else 2**20
    n_sources = 2 if n_chunks > 1 and p.chance(30) else 1
    split = p.integer(1, n_chunks - 1) if n_sources == 2 else n_chunks
    parsed = [Node.parse(n) for n in nodes]
    sources: list[Spec] = []
    for s, count in enumerate((split, n_chunks - split)[:n_sources]):
        chunks: list[Spec] = []
        stream = shape.streams and p.chance(15)
        for i in range(count):
            size = unit_size if sizes_kind == "unit" else p.integer(1, 1000) * scale
            copies = p.integer(1, shape.max_copies)
            locations = [n["name"] for n in p.permutation(nodes)[:copies]]
            if shape.domain_locations:
                if p.chance(8):
                    locations = []
                elif p.chance(30):
                    locations[0] = _domain_location(p, parsed)
            chunk: Spec = {"id": f"s{s}-{i:02d}", "size": size, "locations": locations}
            if stream:
                chunk["kind"] = "stream"
            chunks.append(chunk)
        source: Spec = {"system": "demo", "dataSourceName": f"data{s}", "chunks": chunks}
        if shape.require_locality and n_clusters > 1 and p.chance(40):
            source["requireLocality"] = True
            if p.chance(50):
                picked = p.permutation(CLUSTERS)[: p.integer(1, 2)]
                source["locality"] = {"clusters": picked}
        sources.append(source)

    consumer: Spec = {"replicas": 1}
    if shape.partitioning and p.chance(20):
        consumer["partitioning"] = "one-per-replica"
    if shape.streams and p.chance(15):
        consumer["inputFormat"] = "stream"
    spec: Spec = {"topology": topology, "consumer": consumer, "sources": sources}

    # Feasibility, fixed up in order: required clusters, the gateway, full nodes.
    if required_clusters(spec) is not None and not eligible_capacity(spec):
        for source in sources:
            source.pop("requireLocality", None)
            source.pop("locality", None)
    if not eligible_capacity(spec):
        for node in nodes:
            node.pop("gateway", None)
            node.pop("load", None)
    if not eligible_capacity(spec):
        nodes[0].pop("requested", None)
    spec["consumer"]["replicas"] = 4  # capacities are capped at the replica count
    room = sum(eligible_capacity(spec).values())
    replicas = min(p.integer(*shape.replicas), room)
    consumer["replicas"] = replicas

    if shape.topology_rule and p.chance(40):
        mode = "hard" if p.chance(50) else "soft"
        tier = p.integer(0, 3)
        if mode == "hard" and not fitting_domains(spec, tier, replicas):
            mode = "soft"
        consumer["topology"] = {"mode": mode, "highestTierAllowed": tier}
    return spec


def _domain_location(p: Picker, nodes: Sequence[Node]) -> str:
    node = nodes[p.integer(0, len(nodes) - 1)]
    options = [node.name]
    if node.cluster:
        options.append(f"cluster:{node.cluster}")
    if node.zone:
        options.append(f"zone:{node.zone}")
    if node.region:
        options.append(f"region:{node.region}")
    return options[p.integer(0, len(options) - 1)]


INFEASIBLE_KINDS = ("capacity", "hard-topology", "disjoint-clusters")


def make_infeasible(spec: Spec, p: Picker) -> tuple[Spec, str]:
    """A copy of a feasible ``spec`` that no plan can satisfy, and which rule it breaks."""
    spec = _copy(spec)
    consumer = spec["consumer"]
    kind = INFEASIBLE_KINDS[p.integer(0, len(INFEASIBLE_KINDS) - 1)]
    if kind == "hard-topology":
        consumer["replicas"] = 4
        caps = eligible_capacity(spec)
        total = sum(min(c, 3) for c in caps.values())  # pods are at most 3
        biggest = max(min(c, 3) for c in caps.values())
        if biggest < total:
            # Tier 0 (one node) with more replicas than any node fits, but not than all.
            consumer["replicas"] = biggest + 1
            consumer["topology"] = {"mode": "hard", "highestTierAllowed": 0}
            return spec, kind
        kind = "capacity"
    if kind == "capacity":
        consumer.pop("topology", None)
        consumer["replicas"] = 50
        room = sum(eligible_capacity(spec).values())
        consumer["replicas"] = room + p.integer(1, 2)
        return spec, kind
    for source, cluster in zip(spec["sources"], CLUSTERS, strict=False):
        source["requireLocality"] = True
        source["locality"] = {"clusters": [cluster]}
    if len(spec["sources"]) == 1:
        spec["sources"].append(
            {
                "system": "demo",
                "dataSourceName": "elsewhere",
                "requireLocality": True,
                "locality": {"clusters": [CLUSTERS[1]]},
            }
        )
    return spec, kind


def shuffled(spec: Spec, rng: random.Random) -> Spec:
    """The same request with nodes, chunks and chunk locations listed in another order."""
    spec = _copy(spec)
    rng.shuffle(spec["topology"]["nodes"])
    for source in spec["sources"]:
        chunks = source.get("chunks", [])
        rng.shuffle(chunks)
        for chunk in chunks:
            rng.shuffle(chunk["locations"])
    return spec


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@st.composite
def request_specs(draw: Draw, shape: Shape = SINGLE_COPY) -> Spec:
    """Hypothesis strategy: feasible request data of ``shape``."""
    return build_spec(DrawPicker(draw), shape)


@st.composite
def infeasible_specs(draw: Draw, shape: Shape = SINGLE_COPY) -> tuple[Spec, str]:
    """Hypothesis strategy: infeasible request data and the rule it breaks."""
    picker = DrawPicker(draw)
    return make_infeasible(build_spec(picker, shape), picker)


def requests(shape: Shape = SINGLE_COPY) -> st.SearchStrategy[PlacementRequest]:
    """Hypothesis strategy: feasible PlacementRequests of ``shape``."""
    return request_specs(shape).map(PlacementRequest.parse)


def random_spec(seed: int, shape: Shape = SINGLE_COPY) -> Spec:
    """A seeded feasible request as plain data (for loops that need no shrinking)."""
    return build_spec(RandomPicker(random.Random(seed)), shape)


def random_request(seed: int, shape: Shape = SINGLE_COPY) -> PlacementRequest:
    """A seeded feasible PlacementRequest."""
    return PlacementRequest.parse(random_spec(seed, shape))


# Plan checks, written independently of the placement modules ------------------------

REL = 1e-9


def available(strategy: str) -> bool:
    """Whether the strategy's module is in the tree (a broken module still fails)."""
    module = STRATEGIES[strategy]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return False
        raise
    return True


def same_cost(a: float, b: float) -> bool:
    """``a == b`` allowing a relative rounding error."""
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-15)


def at_most(a: float, b: float) -> bool:
    """``a <= b`` allowing a relative rounding error."""
    return a <= b + REL * max(abs(a), abs(b)) + 1e-15


def location_tier(location: str, node: Node, nodes: dict[str, Node]) -> int:
    """Tier between a chunk location and a node, written independently of CostModel."""
    kind, _, name = location.rpartition(":")
    if kind == "":
        return tier_between(nodes[name], node)
    if kind == "cluster":
        return 3 if node.cluster == name else 4
    if kind == "zone":
        holders = [n for n in nodes.values() if n.zone == name]
        if any(h.zone_key == node.zone_key for h in holders):
            return 1
    else:
        holders = [n for n in nodes.values() if n.region == name]
    if any(h.region_key == node.region_key for h in holders):
        return 2
    return 3 if any(h.cluster == node.cluster for h in holders) else 4


def chunk_tier(chunk: Chunk, node: Node, nodes: dict[str, Node]) -> int:
    return min((location_tier(loc, node, nodes) for loc in chunk.locations), default=4)


def check_plan(spec: Spec, request: PlacementRequest, result: PlacementPlan) -> None:
    """Assert every rule a plan must keep; messages name the broken rule."""
    topology = request.topology
    nodes = topology.by_name
    consumer = request.consumer
    chunks = {c.id: c for c in request.chunks}
    replicas = result.replicas

    assert len(replicas) == consumer.replicas, "one placement per replica"
    assert [r.index for r in replicas] == list(range(consumer.replicas)), "replica indices"
    read = Counter(cid for r in replicas for cid in r.chunks)
    assert set(read) == set(chunks), "every chunk is read"
    assert all(n == 1 for n in read.values()), f"chunks read twice: {read.most_common(3)}"

    loads = [[chunks[cid] for cid in r.chunks] for r in replicas]
    if request.unit_sized:
        counts = [len(load) for load in loads]
        assert max(counts) - min(counts) <= 1, f"unbalanced counts {counts}"
    else:
        total = request.total_bytes
        cap = -(-total // consumer.replicas) + max(c.size for c in chunks.values())
        sizes = [sum(c.size for c in load) for load in loads]
        assert max(sizes) <= cap, f"replica bytes {sizes} above cap {cap}"

    allowed = required_clusters(spec)
    used = Counter(r.node for r in replicas)
    for name, count in used.items():
        node = nodes[name]
        room = node.allocatable.pods - node.requested.pods
        assert count <= room, f"{name} hosts {count} replicas, room for {room}"
        assert not (node.gateway and node.load > GATEWAY_OVERLOAD), f"{name} is overloaded"
        assert allowed is None or node.cluster in allowed, f"{name} not in {allowed}"

    rule = consumer.topology
    if rule is not None and rule.highest_tier_allowed < 4:
        fitting = fitting_domains(spec, rule.highest_tier_allowed, consumer.replicas)
        if fitting:
            assert any(set(used) <= d for d in fitting), f"replicas {used} span domains"
        else:
            assert rule.mode == "soft", "an unsatisfiable hard rule must raise"
            assert any("relaxed" in note for note in result.notes), result.notes

    by_tier = [0] * 5
    transfers: set[tuple[str, str, int, int]] = set()
    cost_sum = 0.0
    for r in replicas:
        node = nodes[r.node]
        assert (r.cluster, r.zone) == (node.cluster, node.zone), "replica's domain labels"
        local = moved = 0
        cost = 0.0
        for cid in r.chunks:
            chunk = chunks[cid]
            tier = chunk_tier(chunk, node, nodes)
            by_tier[tier] += chunk.size
            cost += chunk.size * topology.cost_per_byte(tier)
            if tier == 0:
                local += chunk.size
            else:
                moved += chunk.size
                transfers.add((cid, r.node, tier, chunk.size))
        assert (r.bytes, r.local_bytes, r.moved_bytes) == (local + moved, local, moved), r
        assert same_cost(r.cost, cost), (r.cost, cost)
        cost_sum += r.cost
    assert {(t.chunk, t.to_node, t.tier, t.bytes) for t in result.transfers} == transfers
    assert len(result.transfers) == len(transfers), "one transfer per moved chunk"
    for t in result.transfers:
        chunk = chunks[t.chunk]
        if chunk.locations:
            assert t.from_node in chunk.locations, t
            assert location_tier(t.from_node, nodes[t.to_node], nodes) == t.tier, t
        else:
            assert t.from_node == "remote", t

    totals = result.totals
    assert totals.bytes == request.total_bytes == sum(r.bytes for r in replicas)
    assert totals.moved_bytes == sum(r.moved_bytes for r in replicas)
    assert list(totals.bytes_by_tier) == by_tier
    assert totals.moved_bytes == totals.bytes - by_tier[0]
    assert same_cost(totals.cost, cost_sum)
    assert totals.lower_bound_cost >= 0, totals
    assert at_most(totals.lower_bound_cost, totals.cost), totals
