"""Wait until a resolver reports a data input exists (optionally: big enough).

The trigger asks our async resolvers (:mod:`datalocality.resolvers`) directly, on the
triggerer's event loop. Config comes, as for every task of the provider, through
:class:`~datalocality.provider.hook.DataLocalityHook` (a ``datalocality`` connection
``datalocality_conn_id`` and/or a ``resolvers_config`` file, secrets from the connection
exposed to SecretRefs as environment entries and masked), read in a worker thread when
the trigger starts; ``resolvers`` (system → config, no credentials: SecretRefs only) is
laid over it. Each poll asks afresh (the cache is off).

"Not found" is waited for; a misconfigured or unknown resolver fails at once; an
unreachable or misbehaving system counts as a transient failure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import anyio.to_thread

from datalocality.errors import (
    DataSourceNotFound,
    ResolutionError,
    ResolverConfigError,
    SpecError,
    UnknownResolver,
)
from datalocality.model import DataInput, DataSource
from datalocality.provider.hook import DataLocalityHook
from datalocality.resolvers import ResolverContext, ResolverSet
from datalocality.triggers.base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    Outcome,
    PollingTrigger,
)


def data_outcome(source: DataSource, min_bytes: int | None, min_chunks: int | None) -> Outcome:
    """Success when the source has at least ``min_bytes`` and ``min_chunks``."""
    size = sum(chunk.size for chunk in source.chunks)
    count = len(source.chunks)
    details: dict[str, Any] = {
        "data_source": source.key,
        "bytes": size,
        "chunks": count,
        "nodes": list(source.locality.nodes),
        "zones": list(source.locality.zones),
        "clusters": list(source.locality.clusters),
    }
    found = f"{source.key} has {size} bytes in {count} chunk(s)"
    short = [
        f"{need} {unit}"
        for need, have, unit in ((min_bytes, size, "bytes"), (min_chunks, count, "chunks"))
        if need is not None and have < need
    ]
    if short:
        return Outcome("pending", f"{found}; waiting for at least {' and '.join(short)}", details)
    return Outcome("success", found, details)


def resolution_failure(what: str, exc: Exception) -> Outcome:
    """Not found → pending; config trouble → final error; other ResolutionErrors → transient."""
    if isinstance(exc, DataSourceNotFound):
        return Outcome("pending", f"{what}: not found yet ({exc})")
    if isinstance(exc, ResolverConfigError | UnknownResolver | SpecError):
        return Outcome("error", f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, ResolutionError):
        return Outcome("error", f"{what}: {type(exc).__name__}: {exc}", transient=True)
    raise exc


def polling_config(config: Mapping[str, Any], system: str) -> dict[str, Any]:
    """Only ``system``'s entry, with the cache off so that every poll asks the system."""
    raw = config.get(system)
    entry = dict(raw) if isinstance(raw, Mapping) else {}
    if raw is not None and not isinstance(raw, Mapping):
        raise SpecError(system, raw, "a system's config must be a mapping")
    entry.pop("cache_ttl", None)
    entry["cacheTtl"] = 0
    return {system: entry}


class DataAvailableTrigger(PollingTrigger[ResolverSet]):
    """Fires when ``data_input`` resolves (with enough bytes/chunks), or on timeout or error."""

    def __init__(
        self,
        *,
        data_input: Mapping[str, Any],
        resolvers: Mapping[str, Any] | None = None,
        datalocality_conn_id: str | None = None,
        resolvers_config: str | None = None,
        min_bytes: int | None = None,
        min_chunks: int | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        end_time: float | None = None,
        max_failures: int = 3,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval,
            timeout=timeout,
            end_time=end_time,
            max_failures=max_failures,
        )
        parsed = DataInput.parse(dict(data_input))
        self.data_input = parsed.model_dump(mode="json", by_alias=True)
        self._input = parsed
        self.resolvers = dict(resolvers or {})
        self.datalocality_conn_id = datalocality_conn_id
        self.resolvers_config = resolvers_config
        for name, value in (("min_bytes", min_bytes), ("min_chunks", min_chunks)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise SpecError(name, value, "must be a whole number or None")
            if value is not None and value < 0:
                raise SpecError(name, value, "must be >= 0")
        self.min_bytes = min_bytes
        self.min_chunks = min_chunks

    def describe(self) -> str:
        """The input's key, e.g. ``iceberg/table/db.events``."""
        return f"data {self._input.key}"

    def trigger_kwargs(self) -> dict[str, Any]:
        """The input, the config sources and the thresholds."""
        return {
            "data_input": self.data_input,
            "resolvers": self.resolvers,
            "datalocality_conn_id": self.datalocality_conn_id,
            "resolvers_config": self.resolvers_config,
            "min_bytes": self.min_bytes,
            "min_chunks": self.min_chunks,
        }

    def identity(self) -> dict[str, Any]:
        """The input, as the API names its fields."""
        return {"data_input": self.data_input}

    def settings(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Config and secret environment from the hook, ``resolvers`` laid over the config.

        Blocking (reads a connection and a file): called in a worker thread.
        """
        config: dict[str, Any] = {}
        env: dict[str, str] = {}
        if self.datalocality_conn_id or self.resolvers_config:
            hook = DataLocalityHook(
                self.datalocality_conn_id, resolvers_config=self.resolvers_config
            )
            config, env = hook.get_resolver_settings()
        config.update(self.resolvers)
        return config, env

    async def open(self) -> ResolverSet:
        """A ResolverSet for the input's system (config validated now)."""
        config, env = await anyio.to_thread.run_sync(self.settings, abandon_on_cancel=True)
        context = ResolverContext(env={**os.environ, **env})
        return ResolverSet.from_config(polling_config(config, self._input.system), context=context)

    async def close(self, session: ResolverSet) -> None:
        """Close resolvers holding connections."""
        await session.aclose()

    async def check(self, session: ResolverSet) -> Outcome:
        """Resolve once."""
        try:
            source = await session.resolve(self._input)
        except Exception as exc:
            return resolution_failure(self.describe(), exc)
        return data_outcome(source, self.min_bytes, self.min_chunks)
