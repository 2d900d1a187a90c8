"""``vineyard``: objects in a Vineyard cluster, chunked by the instance that holds each member.

A name is an object id (``o`` + 16 hex digits) or a name registered with ``put_name``. A
global object (a GlobalDataFrame, GlobalTensor...) becomes one chunk per member, sized by
its ``nbytes`` and located on the node of the vineyardd instance holding it; a local object
is one chunk. An instance's node is ``instanceNodes[id]`` when configured, else the
instance's host (``hostAliases`` renames hosts to Kubernetes node names) — vineyardd runs
one per node, so its host is where the member's memory is.

Config: ``socket`` (IPC, when the resolver runs on a vineyard node) or ``rpcEndpoint``
(``host:port``). The vineyard client is blocking and not thread-safe: calls run one at a
time in a worker thread under the deadline. vineyard is imported on first use (extra
``vineyard``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import anyio
from pydantic import Field, model_validator

from datalocality.errors import DataSourceNotFound, ResolverUnavailable, SpecError
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.resolvers.chunks import build_chunk, build_data_source
from datalocality.resolvers.clients import import_client
from datalocality.resolvers.config import ResolverConfig
from datalocality.resolvers.credentials import redact
from datalocality.resolvers.deadline import run_blocking, within_deadline
from datalocality.resolvers.http.addresses import check_endpoint_host
from datalocality.resolvers.protocol import HealthStatus, ResolverContext, fetch_probe

_OBJECT_ID = re.compile(r"o[0-9a-f]{16}")
_ENDPOINT = re.compile(r"[A-Za-z0-9.-]+:\d{1,5}")


class VineyardConfig(ResolverConfig):
    """How to reach vineyardd, and how instances map to nodes."""

    socket: Path | None = None
    rpc_endpoint: str | None = None
    instance_nodes: dict[int, str] = Field(default_factory=dict)
    host_aliases: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_way_in(self) -> VineyardConfig:
        if (self.socket is None) == (self.rpc_endpoint is None):
            raise SpecError("socket", self.socket, "give exactly one of socket, rpcEndpoint")
        if self.rpc_endpoint is not None and not _ENDPOINT.fullmatch(self.rpc_endpoint):
            raise SpecError("rpcEndpoint", self.rpc_endpoint, "must be host:port")
        if self.rpc_endpoint is not None:
            check_endpoint_host("rpcEndpoint", f"tcp://{self.rpc_endpoint}")
        return self


def format_object_id(value: int) -> str:
    """Vineyard's printed form of an object id.

    >>> format_object_id(7530599972295675906)
    'o688210c6a6401002'
    """
    return f"o{value:016x}"


class VineyardResolver:
    """Resolves vineyard objects to member chunks on the nodes that hold them."""

    name: ClassVar[str] = "vineyard"

    def __init__(self, config: VineyardConfig, context: ResolverContext) -> None:
        self.config = config
        self._context = context
        self._client: Any = None
        self._limiter = anyio.CapacityLimiter(1)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], context: ResolverContext) -> VineyardResolver:
        """Validate the config; vineyard is imported and connected on first use."""
        return cls(VineyardConfig.parse(dict(config)), context)

    def _connect(self) -> tuple[Any, Any]:
        """(the vineyard module, a connected client), reconnecting if needed (blocking)."""
        vineyard = import_client("vineyard", system="vineyard", extra="vineyard")
        if self._client is None:
            if self.config.socket is not None and not self.config.socket.exists():
                # vineyard.connect would retry a missing socket for seconds first
                raise ResolverUnavailable(f"vineyard: no IPC socket at {self.config.socket}")
            try:
                if self.config.socket is not None:
                    self._client = vineyard.connect(str(self.config.socket))
                else:
                    assert self.config.rpc_endpoint is not None
                    host, port = self.config.rpc_endpoint.rsplit(":", 1)
                    self._client = vineyard.connect(host, int(port))
            except (RuntimeError, OSError) as exc:  # VineyardException is a RuntimeError
                where = self.config.socket or self.config.rpc_endpoint
                raise ResolverUnavailable(
                    f"vineyard: cannot connect to {where}: {type(exc).__name__}"
                ) from None
        return vineyard, self._client

    async def resolve(self, data_input: DataInput) -> DataSource:
        """One chunk per member of a global object (or the object itself)."""
        async with within_deadline(self.config.deadline, f"vineyard {data_input.name}"):
            chunks = await run_blocking(lambda: self._member_chunks(data_input.name), self._limiter)
        return build_data_source(data_input, chunks)

    def _member_chunks(self, name: str) -> list[Chunk]:
        """Chunks of the object ``name`` (blocking)."""
        vineyard, client = self._connect()
        try:
            object_id = (
                vineyard.ObjectID(name) if _OBJECT_ID.fullmatch(name) else client.get_name(name)
            )
            meta = client.get_meta(object_id, sync_remote=True)
            instances = client.meta
        except vineyard.ObjectNotExistsException:
            raise DataSourceNotFound(f"vineyard: no object {name!r}") from None
        except (RuntimeError, OSError) as exc:  # VineyardException is a RuntimeError
            self._client = None  # reconnect next time
            raise ResolverUnavailable(
                f"vineyard: {name}: {type(exc).__name__}: {redact(str(exc))}"
            ) from None
        return [
            build_chunk(
                format_object_id(int(member.id)),
                member.nbytes,
                [self._node(member.instance_id, instances)],
            )
            for member in self._leaves(vineyard, meta)
        ]

    @staticmethod
    def _leaves(vineyard: Any, meta: Any) -> list[Any]:
        """The local objects making up ``meta`` (itself when local; members, recursively)."""
        if not meta.isglobal:
            return [meta]
        leaves: list[Any] = []
        for _, value in sorted(meta.items(), key=lambda item: str(item[0])):
            if isinstance(value, vineyard.ObjectMeta):
                leaves.extend(VineyardResolver._leaves(vineyard, value))
        return leaves

    def _node(self, instance_id: int, instances: Mapping[int, Mapping[str, Any]]) -> str:
        """The node of a vineyardd instance."""
        if instance_id in self.config.instance_nodes:
            return self.config.instance_nodes[instance_id]
        info = instances.get(instance_id)
        if info is None:
            raise ResolverUnavailable(f"vineyard: instance {instance_id} is not in the cluster")
        host = str(info.get("hostname") or info.get("nodename") or "")
        return self.config.host_aliases.get(host, host)

    async def health(self) -> HealthStatus:
        """Connected, and how many instances the cluster has."""

        def status() -> str:
            _, client = self._connect()
            try:
                return f"instance {client.instance_id} of a {len(client.meta)}-instance cluster"
            except Exception as exc:  # the client's own error types
                self._client = None
                raise ResolverUnavailable(f"vineyard: {type(exc).__name__}") from None

        async def probe() -> str:
            async with within_deadline(self.config.deadline, "vineyard health"):
                return await run_blocking(status, self._limiter)

        return await fetch_probe(probe)
