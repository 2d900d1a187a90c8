"""Plans made at authoring time from declared inputs: resolve them, then plan (I/O).

The resolvers are the provider's own (the same config file the Airflow operators take);
the topology comes from the caller: a live cluster's nodes
(:func:`datalocality.kube.topology.build_topology`), or a saved one. What this returns
is a :class:`PlannedPlacement`, which a workflow build then applies with no network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from datalocality.argo.placement import PlannedPlacement, plan_ahead
from datalocality.errors import SpecError
from datalocality.model import Consumer, DataInput, DataSource, PlacementRequest, Topology
from datalocality.operators.entries import join_chunk_bases
from datalocality.resolvers import ResolverContext, ResolverSet
from datalocality.resolvers.service import fetch_resolver_config


def resolve_sources(
    inputs: Sequence[DataInput], config: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> list[DataSource]:
    """Every input resolved, concurrently, through the resolvers of ``config``."""
    resolvers = ResolverSet.from_config(
        config, context=ResolverContext(env=dict(os.environ if env is None else env))
    )

    async def run() -> list[DataSource]:
        async with resolvers:
            return await resolvers.resolve_all(list(inputs))

    return anyio.run(run)


def resolve_planned(
    inputs: Sequence[DataInput],
    consumer: Consumer,
    topology: Topology,
    *,
    resolvers_config: str | Path | Mapping[str, Any],
    strategy: str = "optimal",
) -> PlannedPlacement:
    """Resolve ``inputs`` and plan ``consumer`` on ``topology``."""
    if not inputs:
        raise SpecError("inputs", [], "a placed template reads at least one input")
    config = (
        fetch_resolver_config(Path(resolvers_config))
        if isinstance(resolvers_config, str | Path)
        else dict(resolvers_config)
    )
    sources = join_chunk_bases(resolve_sources(inputs, config))
    request = PlacementRequest(topology=topology, consumer=consumer, sources=tuple(sources))
    return plan_ahead(request, strategy)
