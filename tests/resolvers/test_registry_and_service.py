"""The registry (built-ins + entry points), the resolver set, its TTL cache, and static."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest

from datalocality.errors import (
    DataSourceNotFound,
    ResolverConfigError,
    ResolverUnavailable,
    SpecError,
    UnknownResolver,
)
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.resolvers import (
    HealthStatus,
    Resolver,
    ResolverContext,
    ResolverRegistry,
    ResolverSet,
)
from datalocality.resolvers.registry import BUILTINS, RegistryEntry
from tests.resolvers.support import FakeClock

pytestmark = pytest.mark.anyio


class CountingResolver:
    """A test resolver: counts calls, can be slowed or made to fail by name."""

    name: ClassVar[str] = "counting"
    calls: ClassVar[list[str]] = []

    def __init__(self, delay: float) -> None:
        self.delay = delay

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: ResolverContext) -> CountingResolver:
        unknown = set(config) - {"delay"}
        if unknown:
            raise SpecError(sorted(unknown)[0], "?", "unknown field")
        return cls(float(config.get("delay", 0)))

    async def resolve(self, data_input: DataInput) -> DataSource:
        CountingResolver.calls.append(data_input.name)
        await anyio.sleep(self.delay)
        if data_input.name.startswith("missing"):
            raise DataSourceNotFound(data_input.name)
        if data_input.name.startswith("down"):
            raise ResolverUnavailable(data_input.name)
        chunk = Chunk(id=f"{data_input.name}-{len(CountingResolver.calls)}")
        return DataSource.for_input(data_input, chunks=[chunk])

    async def health(self) -> HealthStatus:
        raise RuntimeError("probe exploded with token=abc123")


def registry_with_counting() -> ResolverRegistry:
    here = f"{__name__}:CountingResolver"
    return ResolverRegistry(
        [*ResolverRegistry.discover().entries(), RegistryEntry("counting", "test", here)]
    )


@pytest.fixture(autouse=True)
def reset_calls() -> None:
    CountingResolver.calls.clear()


def test_registry_lists_builtins_and_the_installed_plugin() -> None:
    registry = ResolverRegistry.discover()
    assert set(BUILTINS) < set(registry.names())
    plugin = registry.entry("csv-manifest")
    assert plugin.origin.startswith("entry point from datalocality-example-resolver")
    assert all(registry.entry(name).origin == "built-in" for name in BUILTINS)


def test_unknown_resolver_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownResolver) as caught:
        ResolverRegistry.discover().entry("hive")
    assert "no resolver named 'hive'" in str(caught.value)
    for name in [
        "amoro",
        "csv-manifest",
        "iceberg",
        "objectstore",
        "static",
        "vineyard",
        "webhdfs",
    ]:
        assert name in str(caught.value)


def test_entry_points_cannot_take_builtin_names_and_broken_ones_fail_on_use(
    caplog: pytest.LogCaptureFixture,
) -> None:
    points = [
        EntryPoint("static", "evil_module:Static", "datalocality.resolvers"),
        EntryPoint("Bad Name", "x:Y", "datalocality.resolvers"),
        EntryPoint("broken", "no_such_module_anywhere:Thing", "datalocality.resolvers"),
        EntryPoint("not-a-factory", "json:dumps", "datalocality.resolvers"),
    ]
    with caplog.at_level(logging.WARNING):
        registry = ResolverRegistry.discover(points)
    assert registry.entry("static").target.startswith("datalocality.")
    assert "Bad Name" not in registry.names()
    assert "already registered" in caplog.text and "not a valid name" in caplog.text
    with pytest.raises(ResolverConfigError, match="ModuleNotFoundError"):
        registry.entry("broken").load()
    with pytest.raises(ResolverConfigError, match="has no from_config"):
        registry.entry("not-a-factory").load()


def test_builtins_satisfy_the_protocol() -> None:
    registry = ResolverRegistry.discover()
    context = ResolverContext(env={})
    configs: dict[str, dict[str, Any]] = {
        "amoro": {"endpoint": "http://ams:1630"},
        "webhdfs": {"endpoint": "http://nn:9870"},
        "iceberg": {"catalog": {"type": "sql", "uri": "sqlite://"}},
        "objectstore": {},
        "static": {"sources": []} | {"inventory": "/nonexistent.yaml"},
        "vineyard": {"socket": "/tmp/v.sock"},
    }
    for name, config in configs.items():
        resolver = registry.create(name, config, context)
        assert isinstance(resolver, Resolver) and resolver.name == name


async def test_cache_serves_fresh_entries_and_refreshes_stale_ones() -> None:
    clock = FakeClock()
    config = {"fast": {"resolver": "counting", "cacheTtl": 300}}
    resolvers = ResolverSet.from_config(
        config, registry=registry_with_counting(), context=ResolverContext(clock=clock)
    )
    data_input = DataInput(system="fast", name="t")
    first = await resolvers.resolve(data_input)
    clock.advance(299)
    assert await resolvers.resolve(data_input) == first and CountingResolver.calls == ["t"]
    other = await resolvers.resolve(DataInput(system="fast", name="t", attributes={"a": "1"}))
    assert other.chunks != first.chunks  # the key includes the attributes
    clock.advance(1)  # now stale: refreshed before use
    refreshed = await resolvers.resolve(data_input)
    assert refreshed.chunks != first.chunks and CountingResolver.calls == ["t", "t", "t"]


async def test_cache_ttl_zero_and_failures_are_not_cached() -> None:
    config = {"nocache": {"resolver": "counting", "cacheTtl": 0}, "fast": {"resolver": "counting"}}
    resolvers = ResolverSet.from_config(config, registry=registry_with_counting())
    for _ in range(2):
        await resolvers.resolve(DataInput(system="nocache", name="t"))
        with pytest.raises(DataSourceNotFound):
            await resolvers.resolve(DataInput(system="fast", name="missing"))
    assert CountingResolver.calls == ["t", "missing", "t", "missing"]


async def test_concurrent_calls_for_one_input_share_one_resolution() -> None:
    config = {"slow": {"resolver": "counting", "delay": 0.05}}
    resolvers = ResolverSet.from_config(config, registry=registry_with_counting())
    results: list[DataSource] = []

    async def one() -> None:
        results.append(await resolvers.resolve(DataInput(system="slow", name="t")))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(one)
    assert CountingResolver.calls == ["t"] and len({r.chunks for r in results}) == 1


async def test_resolve_all_is_concurrent_ordered_and_raises_the_first_failure() -> None:
    config = {"slow": {"resolver": "counting", "delay": 0.05}}
    resolvers = ResolverSet.from_config(config, registry=registry_with_counting())
    inputs = [DataInput(system="slow", name=f"t{i}") for i in range(4)]
    with anyio.fail_after(0.15):  # four 0.05 s resolutions, concurrently
        sources = await resolvers.resolve_all(inputs)
    assert [s.name for s in sources] == ["t0", "t1", "t2", "t3"]
    with pytest.raises(DataSourceNotFound, match="missing-1"):
        await resolvers.resolve_all(
            [
                DataInput(system="slow", name="ok"),
                DataInput(system="slow", name="missing-1"),
                DataInput(system="slow", name="down-2"),
            ]
        )


async def test_config_errors_name_system_and_field() -> None:
    registry = registry_with_counting()
    with pytest.raises(SpecError) as caught:
        ResolverSet.from_config({"lake": {"resolver": "counting", "bogus": 1}}, registry=registry)
    assert caught.value.field == "lake.bogus"
    with pytest.raises(SpecError) as caught:
        ResolverSet.from_config(
            {"lake": {"resolver": "counting", "cacheTtl": -1}}, registry=registry
        )
    assert caught.value.field == "lake.cacheTtl"
    with pytest.raises(SpecError) as caught:
        ResolverSet.from_config({"ams": {"resolver": "amoro", "endpoint": "ftp://x"}})
    assert caught.value.field == "ams.endpoint"
    with pytest.raises(UnknownResolver, match="registered: amoro"):
        ResolverSet.from_config({"lake": {"resolver": "hudi"}})


async def test_unconfigured_systems() -> None:
    resolvers = ResolverSet.from_config({})
    with pytest.raises(UnknownResolver, match="no resolver for system 'hudi'"):
        await resolvers.resolve(DataInput(system="hudi", name="t"))
    with pytest.raises(ResolverConfigError, match="'amoro' needs configuration: endpoint"):
        await resolvers.resolve(DataInput(system="amoro", name="a.b.c"))


async def test_health_never_raises_and_is_redacted() -> None:
    config = {"lake": {"resolver": "counting"}}
    resolvers = ResolverSet.from_config(config, registry=registry_with_counting())
    health = await resolvers.health()
    assert health["lake"].state == "unavailable" and "probe exploded" in health["lake"].detail
    assert "abc123" not in health["lake"].detail


async def test_static_inventory_file(tmp_path: Path) -> None:
    inventory = tmp_path / "sources.yaml"
    inventory.write_text(
        json.dumps(
            {
                "sources": [
                    {
                        "system": "hive",
                        "dataSourceName": "db.events",
                        "chunks": [
                            {"id": "p0", "size": "1Gi", "locations": ["node-1"]},
                            {"id": "p1", "size": "2Gi", "locations": ["zone:z1"]},
                        ],
                    }
                ]
            }
        )
    )
    async with ResolverSet.from_config(
        {"hive": {"resolver": "static", "inventory": str(inventory)}}
    ) as resolvers:
        source = await resolvers.resolve(
            DataInput(system="hive", name="db.events", attributes={"run": "1"})
        )
        assert source.total_bytes == 3 * 2**30 and source.attributes == {"run": "1"}
        assert source.locality.nodes == ("node-1",) and source.locality.zones == ("z1",)
        with pytest.raises(DataSourceNotFound, match="among 1 declared"):
            await resolvers.resolve(DataInput(system="hive", name="db.other"))
        assert (await resolvers.health())["hive"].ok
    inventory.write_text("- {system: hive}\n")  # dataSourceName missing
    broken = ResolverSet.from_config({"hive": {"resolver": "static", "inventory": str(inventory)}})
    health = (await broken.health())["hive"]
    assert health.state == "misconfigured" and "[0].dataSourceName" in health.detail


def test_importing_resolvers_stays_light() -> None:
    heavy = ("httpx", "pyiceberg", "pyarrow", "vineyard", "fsspec", "s3fs", "boto3", "pandas")
    code = (
        "import sys, json; import datalocality.resolvers; "
        "from datalocality.resolvers import ResolverRegistry; ResolverRegistry.discover().names(); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert not set(json.loads(out.stdout)) & set(heavy)


async def test_cache_key_keeps_require_locality_apart() -> None:
    config = {"fast": {"resolver": "counting"}}
    resolvers = ResolverSet.from_config(config, registry=registry_with_counting())
    preferred = await resolvers.resolve(DataInput(system="fast", name="t"))
    required = await resolvers.resolve(DataInput(system="fast", name="t", require_locality=True))
    assert (preferred.require_locality, required.require_locality) == (False, True)
    assert CountingResolver.calls == ["t", "t"]


def test_breaker_states_with_a_moving_clock() -> None:
    from datalocality.errors import CircuitOpen
    from datalocality.resolvers.http.breaker import BreakerState, CircuitBreaker

    clock = FakeClock()
    breaker = CircuitBreaker("http://x:80", threshold=2, cooldown=10, clock=clock)

    def state() -> BreakerState:
        # read through a call: mypy would keep `breaker.state` narrowed across the calls that
        # change it
        return breaker.state

    breaker.before_call()
    breaker.record_failure()
    breaker.record_success()  # a success resets the count
    breaker.record_failure()
    assert state() == "closed"
    breaker.record_failure()
    assert state() == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.advance(10)
    assert state() == "half-open"
    breaker.before_call()  # the one probe
    with pytest.raises(CircuitOpen, match="probe is in flight"):
        breaker.before_call()
    breaker.record_success()
    assert state() == "closed"
