"""HTTP machinery shared by the HTTP resolvers: client factory, request loop, breaker, policy."""

from __future__ import annotations
