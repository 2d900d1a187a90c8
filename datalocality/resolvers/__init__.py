"""Resolvers: where a data input lives, in which chunks, how big.

``import datalocality.resolvers`` stays light: it imports neither httpx nor any data
system's client; built-in resolvers are imported when first used and import their client
library (pyiceberg, fsspec, vineyard) only when they resolve.
"""

from __future__ import annotations

from datalocality.resolvers.config import (
    BreakerPolicy,
    ConfigModel,
    HttpConfig,
    ResolverConfig,
    RetryPolicy,
    Timeouts,
)
from datalocality.resolvers.credentials import Secret, SecretRef, fetch_secret, redact
from datalocality.resolvers.location import LocationMapping, build_locality
from datalocality.resolvers.protocol import (
    HealthState,
    HealthStatus,
    Resolver,
    ResolverContext,
    ResolverFactory,
)
from datalocality.resolvers.registry import GROUP, ResolverRegistry
from datalocality.resolvers.service import ResolverSet, fetch_health, fetch_resolver_config

__all__ = [
    "GROUP",
    "BreakerPolicy",
    "ConfigModel",
    "HealthState",
    "HealthStatus",
    "HttpConfig",
    "LocationMapping",
    "Resolver",
    "ResolverConfig",
    "ResolverContext",
    "ResolverFactory",
    "ResolverRegistry",
    "ResolverSet",
    "RetryPolicy",
    "Secret",
    "SecretRef",
    "Timeouts",
    "build_locality",
    "fetch_health",
    "fetch_resolver_config",
    "fetch_secret",
    "redact",
]
