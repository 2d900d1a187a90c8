"""Building chunks and data sources from what a data system reports (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

from datalocality.errors import ResolverResponseError, SpecError
from datalocality.model import Chunk, DataInput, DataSource
from datalocality.resolvers.location import build_locality

MAX_ID: Final = 253
_HASH_CHARS: Final = 16


def build_chunk_id(path: str, base: str = "") -> str:
    """A chunk id from a storage path: relative to ``base`` when under it, at most 253 chars.

    >>> build_chunk_id("s3://b/t/data/p=1/f.parquet", "s3://b/t/")
    'data/p=1/f.parquet'
    >>> len(build_chunk_id("x" * 400))
    253
    """
    text = path
    if base and path.startswith(base.rstrip("/") + "/"):
        text = path[len(base.rstrip("/")) + 1 :]
    text = text or path or "_"
    if len(text) <= MAX_ID:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]
    return f"{text[: MAX_ID - _HASH_CHARS - 1]}~{digest}"


def build_chunk_base(paths: Iterable[str], base: str) -> str:
    """``base`` when every path lies under it (ids relative to it can be joined back),
    else "" (the ids are the paths themselves).

    >>> build_chunk_base(["s3://b/t/data/a", "s3://b/t/data/b"], "s3://b/t/")
    's3://b/t'
    >>> build_chunk_base(["s3://b/t/data/a", "s3://other/a"], "s3://b/t")
    ''
    """
    root = base.rstrip("/")
    prefix = root + "/"
    if not root or not all(path.startswith(prefix) for path in paths):
        return ""
    return root


def build_chunk(chunk_id: str, size: int, locations: Iterable[str]) -> Chunk:
    """A chunk from what a system reported (size at least 1: an empty file still counts).

    A location the model rejects (a host name with a port, say) means the system or a
    mapping produced something unusable: ResolverResponseError.
    """
    try:
        return Chunk(id=chunk_id, size=max(1, int(size)), locations=tuple(locations))
    except SpecError as exc:
        raise ResolverResponseError(f"chunk {chunk_id!r}: {exc}") from None


def build_data_source(
    data_input: DataInput,
    chunks: Sequence[Chunk],
    extra_locations: Iterable[str] = (),
    chunk_base: str = "",
) -> DataSource:
    """The DataSource answering ``data_input``: chunks sorted by id, locality from them;
    ``chunk_base`` is what the ids are relative to (:func:`build_chunk_base`)."""
    ordered = tuple(sorted(chunks, key=lambda chunk: chunk.id))
    seen: set[str] = set()
    for chunk in ordered:
        if chunk.id in seen:
            raise ResolverResponseError(f"two chunks share the id {chunk.id!r}")
        seen.add(chunk.id)
    return DataSource.for_input(
        data_input,
        chunks=ordered,
        locality=build_locality(ordered, extra_locations),
        observed_at=datetime.now(UTC),
        chunk_base=chunk_base,
    )
