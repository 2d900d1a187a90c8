"""The built-in resolvers, one per module; each imports its data system's client lazily."""

from __future__ import annotations
