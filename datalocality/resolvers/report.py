"""What ``datalocality resolvers`` shows: every registered resolver, every configured system,
and their health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import anyio

from datalocality.errors import DataLocalityError, SpecError
from datalocality.resolvers.credentials import redact
from datalocality.resolvers.protocol import HealthStatus, ResolverContext
from datalocality.resolvers.registry import ResolverRegistry
from datalocality.resolvers.service import fetch_health, parse_system_config


@dataclass(frozen=True)
class ReportRow:
    """One line: a configured system (or ``-`` for a resolver nothing configures)."""

    system: str
    resolver: str
    origin: str
    state: str
    detail: str

    @property
    def configured(self) -> bool:
        """Whether the row comes from the config."""
        return self.system != "-"

    def to_json_dict(self) -> dict[str, Any]:
        """The row as plain data."""
        return asdict(self)


@dataclass(frozen=True)
class _Job:
    system: str
    resolver: str
    config: Mapping[str, Any]
    error: str = ""


def plan_jobs(config: Mapping[str, Any] | None, registry: ResolverRegistry) -> list[_Job]:
    """One job per configured system, then one per registered resolver no system uses."""
    jobs: list[_Job] = []
    used: set[str] = set()
    for system, raw in sorted((config or {}).items()):
        try:
            entry = parse_system_config(system, raw)
        except SpecError as exc:
            jobs.append(_Job(system, "?", {}, str(exc)))
            continue
        used.add(entry.resolver)
        jobs.append(_Job(system, entry.resolver, entry.config))
    jobs.extend(_Job("-", name, {}) for name in registry.names() if name not in used)
    return jobs


async def fetch_report(
    config: Mapping[str, Any] | None,
    *,
    registry: ResolverRegistry,
    context: ResolverContext,
    timeout: float = 10.0,
) -> list[ReportRow]:
    """Health of each configured system, and of each registered resolver no system uses.

    An unused resolver is built from an empty config: one that needs config reads as
    ``unconfigured`` with the field it misses. Probes run concurrently, each cut at ``timeout``.
    """
    jobs = plan_jobs(config, registry)
    rows: dict[int, ReportRow] = {}

    async def probe(index: int, job: _Job) -> None:
        rows[index] = await _fetch_row(job, registry, context, timeout)

    async with anyio.create_task_group() as group:
        for index, job in enumerate(jobs):
            group.start_soon(probe, index, job)
    return [rows[index] for index in range(len(jobs))]


async def _fetch_row(
    job: _Job, registry: ResolverRegistry, context: ResolverContext, timeout: float
) -> ReportRow:
    known = job.resolver in registry.names()
    origin = registry.entry(job.resolver).origin if known else "not registered"
    row = ReportRow(job.system, job.resolver, origin, "misconfigured", job.error)
    if job.error:
        return row
    if not known:
        return replace(row, detail=f"no resolver named {job.resolver!r}")
    field = job.system if job.system != "-" else ""
    try:
        resolver = registry.create(job.resolver, job.config, context, field=field)
    except SpecError as exc:
        return replace(row, state="unconfigured" if not field else "misconfigured", detail=str(exc))
    except DataLocalityError as exc:
        return replace(row, detail=redact(str(exc)))
    health = HealthStatus("unavailable", f"no answer within {timeout:g} s")
    try:
        with anyio.move_on_after(timeout):
            health = await fetch_health(resolver)
    finally:
        close = getattr(resolver, "aclose", None)
        if close is not None:
            await close()
    return replace(row, state=health.state, detail=health.detail)


def build_report_table(rows: list[ReportRow]) -> str:
    """The rows as an aligned text table."""
    header = ("SYSTEM", "RESOLVER", "ORIGIN", "HEALTH", "DETAIL")
    lines = [header, *((r.system, r.resolver, r.origin, r.state, r.detail) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    )
