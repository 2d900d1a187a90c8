"""Where a template's annotation finds its placement or producer at build time.

A template built with ``**placement.template_kwargs()`` carries one annotation whose value
is the placement's key (its name and a digest of what it holds): two workflows built in
one process may each have a placement named ``train`` with different plans.
"""

from __future__ import annotations

from typing import Protocol

from datalocality.errors import SpecError


class Registrable(Protocol):
    """A placement or producer: its key names it and what it holds."""

    @property
    def registry_key(self) -> str: ...


_REGISTERED: dict[str, object] = {}


def register(item: Registrable) -> str:
    """Make ``item`` findable by its key; the key."""
    key = item.registry_key
    _REGISTERED[key] = item
    return key


def registered(key: str, field: str) -> object:
    """What ``key`` was registered for (``field`` names the annotation that asked)."""
    try:
        return _REGISTERED[key]
    except KeyError:
        raise SpecError(
            field, key, "nothing is registered under it: use template_kwargs() of the placement"
        ) from None


def register_operation_template(placement_key: str, kind: str, template: str) -> None:
    """Record that the template named ``template`` runs a placement's ``kind`` operations."""
    _REGISTERED[f"{placement_key}/{kind}"] = template


def operation_template(placement_key: str, kind: str) -> str | None:
    """The name of the template running a placement's ``kind`` operations, if one was given."""
    found = _REGISTERED.get(f"{placement_key}/{kind}")
    return found if isinstance(found, str) else None
