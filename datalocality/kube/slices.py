"""DataSourceSlices: a source's chunks cut into bounded objects, and put back together.

100,000 chunks with realistic ids are 14 to 22 MiB of JSON, and etcd stores at most
1.5 MiB per object. So a DataSource keeps its identity, locality and totals, and its
chunks live in slices of at most :data:`SLICE_BYTES` each, as a Service's endpoints live
in EndpointSlices (KEP 752). Every slice of a set carries the hash of all the chunks
(the DataSource names it in ``spec.chunksHash``), its index and the set's size; a
reader keeps the set the source names and refuses one with a slice missing, doubled or
not adding up to the hash. Chunks keep their order: slice by slice, within each slice.

Slice names are ``<source>-<generation>-<index>``, the generation a hash of the
source's uid and its chunks' hash. A retried writer computes the same names and adopts;
a source whose chunks change gets a new set beside the old one, named before it is
written, so readers never see a mix; a recreated source never meets the old one's
slices (still waiting for the garbage collector) under its names.

Everything here is pure; :mod:`datalocality.kube.publish` does the I/O.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from datalocality.errors import IncompleteSlices, SpecError
from datalocality.kube.names import (
    LABEL_DATA_SOURCE,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    build_slice_name,
    digest,
    label_value,
    stamp,
)
from datalocality.kube.resources import CRD_API_VERSION, SLICES, SOURCES
from datalocality.model import Chunk
from datalocality.model.base import spec_error_from

Obj = dict[str, Any]
Entry = dict[str, Any]
SLICE_KIND = SLICES.kind
SOURCE_KIND = SOURCES.kind
# At most this many bytes of compact JSON per slice (the whole object): a third of
# etcd's 1.5 MiB, so a slice is far from every limit on the way (etcd, the apiserver's
# 3 MiB body, watch events), and 100,000 realistic chunks take 30 to 45 slices.
SLICE_BYTES = 512 * 1024
TOP_LOCATIONS = 100  # per tier in a DataSource's totals: with 5,000 nodes it stays small
TIERS = {"zone:": "zones", "region:": "regions", "cluster:": "clusters"}
HASH_LENGTH = 16
GENERATION_LENGTH = 10
MAX_UID = 64  # sizes are bounded for any uid up to this (the apiserver's are 36)
MAX_SLICES = 999_999  # sizes are bounded for indices up to this many digits
_COMPACT = (",", ":")
_CHUNKS = TypeAdapter(tuple[Chunk, ...])
_ENCODE = json.JSONEncoder(separators=_COMPACT, default=str).encode
_quote = json.encoder.encode_basestring_ascii  # a JSON string, as json.dumps writes it
_ENTRY_FRAME = len('{"id":,"size":,"kind":,"locations":[]}')


def chunk_entry(chunk: Chunk) -> Entry:
    """A chunk as slices hold it (the fields of the chunk schema)."""
    return {"id": chunk.id, "size": chunk.size, "kind": chunk.kind, "locations": [*chunk.locations]}


def entry_size(entry: Mapping[str, Any]) -> int:
    """Bytes of ``entry``'s compact JSON, counted without encoding it (about 5x faster
    than ``json.dumps`` per chunk, which is most of slicing 100,000 chunks)."""
    locations = entry["locations"]
    return (
        _ENTRY_FRAME
        + len(_quote(entry["id"]))
        + len(str(entry["size"]))
        + len(_quote(entry["kind"]))
        + sum(len(_quote(loc)) for loc in locations)
        + max(len(locations) - 1, 0)
    )


def chunks_hash(entries: Sequence[Mapping[str, Any]]) -> str:
    """Hash of the chunk entries in order (key order and spacing do not count)."""
    encoded = json.dumps(list(entries), sort_keys=True, separators=_COMPACT, ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def generation(source_uid: str, hashed: str) -> str:
    """The tag naming one set of slices: the source object's uid and its chunks' hash."""
    return digest(source_uid, hashed, length=GENERATION_LENGTH)


def slice_selector(source_name: str) -> str:
    """The label selector listing every slice of a source (of any set)."""
    return f"{LABEL_DATA_SOURCE}={label_value(source_name)}"


@dataclass(frozen=True)
class SlicedChunks:
    """A source's chunks as its slices hold them: their hash and each slice's share."""

    chunks_hash: str
    shares: tuple[tuple[Entry, ...], ...]

    @property
    def count(self) -> int:
        """How many slices the set has (0 for a source without chunks)."""
        return len(self.shares)


def _size(obj: object) -> int:
    """Bytes of compact JSON, measured as KubeClient's etcd check measures them (ASCII:
    the encoder escapes the rest, so characters are bytes)."""
    return len(_ENCODE(obj))


def slice_chunks(
    source_name: str, chunks: Sequence[Chunk], *, limit: int = SLICE_BYTES
) -> SlicedChunks:
    """Cut ``chunks`` into shares whose slice objects stay within ``limit`` bytes.

    Greedy in order: a slice takes chunks while its whole object (metadata included,
    measured with the longest uid and index it may get) fits. SpecError when one chunk
    alone cannot fit, or the set would need more than MAX_SLICES slices.
    """
    entries = [chunk_entry(c) for c in chunks]
    skeleton = _manifest(source_name, "u" * MAX_UID, "g" * GENERATION_LENGTH, "h" * HASH_LENGTH)
    room = limit - _size(skeleton(MAX_SLICES, MAX_SLICES, ()))
    shares: list[tuple[Entry, ...]] = []
    current: list[Entry] = []
    used = 0
    for index, entry in enumerate(entries):
        size = entry_size(entry)
        if size > room:
            raise SpecError(
                f"chunks[{index}]",
                entry["id"],
                f"is {size:,} bytes as JSON; a slice holds {room:,}",
            )
        if current and used + 1 + size > room:
            shares.append(tuple(current))
            current, used = [], 0
        used += size + (1 if current else 0)
        current.append(entry)
    if current:
        shares.append(tuple(current))
    if len(shares) > MAX_SLICES:
        raise SpecError("chunks", len(entries), f"need more than {MAX_SLICES:,} slices")
    return SlicedChunks(chunks_hash(entries), tuple(shares))


def _manifest(
    source_name: str, source_uid: str, tag: str, hashed: str
) -> Callable[[int, int, Sequence[Entry]], Obj]:
    """The builder of one set's slice objects, by index, set size and share."""

    def build(index: int, count: int, share: Sequence[Entry]) -> Obj:
        manifest = {
            "apiVersion": CRD_API_VERSION,
            "kind": SLICE_KIND,
            "metadata": {
                "name": build_slice_name(source_name, tag, index),
                "labels": {
                    LABEL_MANAGED_BY: MANAGED_BY,
                    LABEL_DATA_SOURCE: label_value(source_name),
                },
                "ownerReferences": [
                    {
                        "apiVersion": CRD_API_VERSION,
                        "kind": SOURCE_KIND,
                        "name": source_name,
                        "uid": source_uid,
                        "controller": True,
                        "blockOwnerDeletion": False,
                    }
                ],
            },
            "spec": {"chunksHash": hashed, "index": index, "count": count, "chunks": list(share)},
        }
        return stamp(manifest)

    return build


def build_slices(
    source_name: str, source_uid: str, chunks: Sequence[Chunk] | SlicedChunks
) -> list[Obj]:
    """The DataSourceSlice manifests holding a source's chunks (cluster-scoped, as the
    DataSource is), owned by the source object ``source_uid``; in index order."""
    if not source_uid or len(source_uid) > MAX_UID:
        raise SpecError("source_uid", source_uid, f"must be 1 to {MAX_UID} characters")
    sliced = chunks if isinstance(chunks, SlicedChunks) else slice_chunks(source_name, chunks)
    tag = generation(source_uid, sliced.chunks_hash)
    build = _manifest(source_name, source_uid, tag, sliced.chunks_hash)
    return [build(i, sliced.count, share) for i, share in enumerate(sliced.shares)]


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _source_of(slices: Sequence[Mapping[str, Any]]) -> str:
    for obj in slices:
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            return str(ref.get("name", ""))
    return "?"


def _entries(slices: Iterable[Mapping[str, Any]], source: str = "") -> list[Any]:
    """The chunk entries of one complete set of slices, in order; IncompleteSlices if not."""
    given = list(slices)
    source = source or _source_of(given)
    if not given:
        return []
    by_index: dict[int, Mapping[str, Any]] = {}
    hashes, counts = set(), set()
    for obj in given:
        spec = _spec(obj)
        index, count = spec.get("index"), spec.get("count")
        if not isinstance(index, int) or not isinstance(count, int) or not 0 <= index < count:
            raise IncompleteSlices(source, f"slice {_name(obj)} has index {index} of {count}")
        if index in by_index:
            raise IncompleteSlices(
                source, f"slices {_name(by_index[index])} and {_name(obj)} both hold index {index}"
            )
        by_index[index] = obj
        hashes.add(str(spec.get("chunksHash", "")))
        counts.add(count)
    if len(hashes) > 1 or len(counts) > 1:
        raise IncompleteSlices(source, f"the slices belong to different sets ({sorted(hashes)})")
    (count,) = counts
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise IncompleteSlices(source, f"slice {shown} of {count} missing")
    entries = [entry for i in range(count) for entry in _spec(by_index[i]).get("chunks") or []]
    (hashed,) = hashes
    if chunks_hash(entries) != hashed:
        raise IncompleteSlices(source, f"the slices' chunks do not add up to their hash {hashed}")
    return entries


def _parse(entries: Sequence[Any]) -> tuple[Chunk, ...]:
    try:
        return _CHUNKS.validate_python(entries)
    except ValidationError as exc:
        error = spec_error_from(exc)
        raise SpecError(f"chunks{error.field}", error.value, error.reason) from None


def chunks_from_slices(slices: Iterable[Mapping[str, Any]]) -> tuple[Chunk, ...]:
    """The chunks of one set of slices, given in any order, back in their order.

    IncompleteSlices when a slice is missing or doubled, the slices belong to different
    sets, or their chunks do not add up to the set's hash; no slices are no chunks.
    """
    return _parse(_entries(slices))


def _owned(source: Mapping[str, Any], listed: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The slices of ``listed`` in the set the DataSource ``source`` names, owned by it."""
    meta = source.get("metadata") or {}
    name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
    spec = _spec(source)
    hashed, count = spec.get("chunksHash"), spec.get("slices")
    if not hashed or not isinstance(count, int):
        raise IncompleteSlices(name, "names no chunk slices (written before slices, or by hand)")
    mine = [
        obj
        for obj in listed
        if _spec(obj).get("chunksHash") == hashed
        and any(
            r.get("uid") == uid for r in (obj.get("metadata") or {}).get("ownerReferences") or []
        )
    ]
    if not mine and count == 0 and chunks_hash([]) == hashed:
        return []
    entries = _entries(mine, name)
    if not mine or len(mine) != count:
        raise IncompleteSlices(name, f"{len(mine)} of its {count} slices of {hashed} found")
    return entries


def source_chunks(
    source: Mapping[str, Any], listed: Iterable[Mapping[str, Any]]
) -> tuple[Chunk, ...]:
    """A DataSource object's chunks, from the slices listed by its label (any sets)."""
    return _parse(_owned(source, listed))


def is_complete(source: Mapping[str, Any], listed: Iterable[Mapping[str, Any]]) -> bool:
    """True when ``listed`` holds the whole set of slices the DataSource names."""
    try:
        _owned(source, listed)
    except IncompleteSlices:
        return False
    return True


def slice_changes(
    desired: Sequence[Obj], listed: Iterable[Mapping[str, Any]]
) -> tuple[list[Obj], list[str]]:
    """The desired slices not yet there, and the names of the listed ones not desired."""
    wanted = {_name(obj) for obj in desired}
    present = {_name(obj) for obj in listed}
    create = [obj for obj in desired if _name(obj) not in present]
    return create, sorted(present - wanted)


def summarize(chunks: Sequence[Chunk], top: int = TOP_LOCATIONS) -> Obj:
    """A DataSource's ``spec.totals``: chunks and bytes, overall and per location.

    Per location as the chunks name it (a node, or a zone, region or cluster for data
    known only by domain; a chunk counts at each of its copies), the ``top`` largest by
    bytes, then name, per tier, with the tier's count of distinct locations.
    """
    per: dict[str, dict[str, list[int]]] = {t: {} for t in ("nodes", *TIERS.values())}
    unlocated = 0
    for chunk in chunks:
        if not chunk.locations:
            unlocated += chunk.size
        for location in chunk.locations:
            tier, name = "nodes", location
            prefix, sep, rest = location.partition(":")
            if sep:
                tier, name = TIERS[f"{prefix}:"], rest
            counted = per[tier].setdefault(name, [0, 0])
            counted[0] += 1
            counted[1] += chunk.size
    totals: Obj = {
        "chunks": len(chunks),
        "bytes": sum(c.size for c in chunks),
        "unlocatedBytes": unlocated,
    }
    for tier, counts in per.items():
        largest = heapq.nsmallest(top, counts.items(), key=lambda kv: (-kv[1][1], kv[0]))
        totals[tier] = {
            "count": len(counts),
            "top": [{"name": n, "chunks": c, "bytes": b} for n, (c, b) in largest],
        }
    return totals
