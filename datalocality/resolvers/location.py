"""``locationMapping``: from storage locations to the clusters, zones or nodes that hold them.

Written in config as a mapping from a URL prefix to one target or a list of them::

    locationMapping:
      s3://lake-eu/: [cluster:eu, zone:eu-west-1a]
      hdfs://nn1/warehouse/hot: node-7

The longest matching prefix wins, and a prefix only matches on a path boundary:
``s3://a/`` matches ``s3://a/x`` and ``s3://a`` but never ``s3://ab/x``. A target is a node
name or ``zone:NAME`` / ``region:NAME`` / ``cluster:NAME``. Malformed prefixes or targets,
and two prefixes that differ only by a trailing slash, are rejected when the config loads.

>>> m = LocationMapping.parse({"s3://a/": "zone:z1", "s3://a/hot": "node-1"})
>>> m.locate("s3://a/hot/part-0"), m.locate("s3://a/cold/x"), m.locate("s3://ab/x")
(('node-1',), ('zone:z1',), ())
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic import model_validator

from datalocality.errors import SpecError
from datalocality.model import Chunk, Locality, Spec

_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_NODE: Final = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_DOMAIN: Final = re.compile(r"(zone|region|cluster):[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


class LocationRule(Spec):
    """One prefix (normalised: lower-case scheme, no trailing slash) and its targets."""

    prefix: str
    targets: tuple[str, ...]

    def matches(self, url: str) -> bool:
        """Whether ``url`` lies under this prefix, on a path boundary."""
        if self.prefix.endswith("/"):  # a scheme's root ("s3://", "file:///") holds it all
            return url.startswith(self.prefix)
        return url == self.prefix or url.startswith(self.prefix + "/")


def parse_prefix(raw: object) -> str:
    """Normalise a mapping prefix (lower-case scheme, one trailing slash dropped)."""
    if not isinstance(raw, str) or not raw or any(c in raw for c in "?# \t\n"):
        raise SpecError(str(raw), raw, "a prefix must be a URL like s3://bucket/path/")
    scheme, sep, rest = raw.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise SpecError(raw, raw, "a prefix must start with a scheme, like s3:// or hdfs://")
    if rest.endswith("//"):
        raise SpecError(raw, raw, "a prefix may end with one slash at most")
    body = rest[:-1] if rest.endswith("/") and rest != "/" else rest
    return f"{scheme.lower()}://{body}"


def parse_targets(prefix: str, raw: object) -> tuple[str, ...]:
    """Validate one prefix's targets (a string or a non-empty list of strings)."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not items:
        raise SpecError(prefix, raw, "give a target or a non-empty list of targets")
    for target in items:
        if not isinstance(target, str) or not (
            _NODE.fullmatch(target) or _DOMAIN.fullmatch(target)
        ):
            raise SpecError(
                prefix, target, "a target is a node name or zone:NAME, region:NAME, cluster:NAME"
            )
    return tuple(sorted(set(items)))


class LocationMapping(Spec):
    """Longest-prefix lookup from storage URLs to locations (see the module docstring)."""

    rules: tuple[LocationRule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_mapping(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) != {"rules"}:
            return {"rules": build_rules(data)}
        return data

    def locate(self, url: str) -> tuple[str, ...]:
        """Targets of the longest prefix ``url`` lies under; ``()`` when none does."""
        normalised = _normalise_url(url)
        for rule in self.rules:
            if rule.matches(normalised):
                return rule.targets
        return ()

    def __bool__(self) -> bool:
        return bool(self.rules)


def build_rules(data: dict[Any, Any]) -> list[dict[str, object]]:
    """Rules from a ``{prefix: target(s)}`` mapping, longest prefix first."""
    seen: dict[str, str] = {}
    rules: list[dict[str, object]] = []
    for raw, targets in data.items():
        prefix = parse_prefix(raw)
        if prefix in seen:
            raise SpecError(raw, raw, f"the same prefix as {seen[prefix]!r}")
        seen[prefix] = raw
        rules.append({"prefix": prefix, "targets": parse_targets(raw, targets)})
    rules.sort(key=lambda rule: (-len(str(rule["prefix"])), str(rule["prefix"])))
    return rules


def _normalise_url(url: str) -> str:
    """Lower-case the scheme so ``S3://a`` and ``s3://a`` look the same."""
    cut = url.find("://")
    return url[:cut].lower() + url[cut:] if cut > 0 else url


def build_locality(chunks: Iterable[Chunk], extra: Iterable[str] = ()) -> Locality:
    """The clusters, zones and nodes named by the chunks' locations (plus ``extra``)."""
    clusters: set[str] = set()
    zones: set[str] = set()
    nodes: set[str] = set()
    for location in [loc for chunk in chunks for loc in chunk.locations] + list(extra):
        kind, _, name = location.partition(":")
        if not name:
            nodes.add(location)
        elif kind == "cluster":
            clusters.add(name)
        elif kind == "zone":
            zones.add(name)
    return Locality(
        clusters=tuple(sorted(clusters)), zones=tuple(sorted(zones)), nodes=tuple(sorted(nodes))
    )
