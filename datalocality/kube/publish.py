"""Write a DataSource and its slices through a KubeClient, and read its chunks back.

The order keeps readers safe: a set of slices is complete before the DataSource names
its hash, and an old set is deleted only after the source has moved off it. A reader
that still finds the set incomplete (a writer died half-way, or lost a race with
another) gets IncompleteSlices; the binder then resolves the source again and rewrites
it, which adopts every slice already there.
"""

from __future__ import annotations

from datalocality.errors import ObjectNotFound, SourceReplaced
from datalocality.kube.claims import build_data_source, source_state, with_resolved
from datalocality.kube.client import KubeClient
from datalocality.kube.objects import Obj, is_terminating, name_of
from datalocality.kube.resources import SLICES, SOURCES
from datalocality.kube.slices import (
    SlicedChunks,
    build_slices,
    is_complete,
    slice_changes,
    slice_chunks,
    slice_selector,
    source_chunks,
)
from datalocality.model import Chunk, DataSource


def uid_of(obj: Obj) -> str:
    """metadata.uid."""
    return str((obj.get("metadata") or {}).get("uid", ""))


def list_slices(client: KubeClient, source_name: str) -> list[Obj]:
    """Every slice labelled with the source (of any set, and of any earlier object)."""
    return client.list(SLICES, label_selector=slice_selector(source_name))[0]


def read_chunks(client: KubeClient, source: Obj) -> tuple[Chunk, ...]:
    """The chunks of the DataSource object ``source``; IncompleteSlices if unreadable."""
    return source_chunks(source, list_slices(client, name_of(source)))


def read_data_source(client: KubeClient, source: Obj) -> DataSource:
    """The DataSource object ``source`` as a model object, its chunks read from its slices."""
    model = source_state(source).source
    return model.model_copy(update={"chunks": read_chunks(client, source)})


def publish_data_source(
    client: KubeClient, name: str, source: DataSource, *, replace: bool = True
) -> Obj:
    """Create the DataSource ``name`` holding ``source``, or adopt the one there; the
    object as stored.

    ``replace=False`` keeps a source already there whose slices are complete (another
    writer's observation, adopted as create-or-get adopts); otherwise it is brought to
    ``source``, which writes nothing when it already says so.
    """
    sliced = slice_chunks(name, source.chunks)
    created = client.create_or_get(build_data_source(name, source, sliced))
    stored = created.object
    if created.created:
        for manifest in build_slices(name, uid_of(stored), sliced):
            client.create_or_get(manifest)
        return stored
    listed = list_slices(client, name)
    if not replace and is_complete(stored, listed):
        return stored
    return _replace(client, stored, source, sliced, listed)


def refresh_data_source(client: KubeClient, name: str, source: DataSource) -> Obj:
    """Bring the existing DataSource ``name`` to ``source``: SourceReplaced when it is
    gone, terminating, or was recreated while its new slices were written."""
    current = client.get(SOURCES, name)
    if current is None or is_terminating(current):
        raise SourceReplaced(f"DataSource {name} is gone or terminating")
    listed = list_slices(client, name)
    return _replace(client, current, source, slice_chunks(name, source.chunks), listed)


def _replace(
    client: KubeClient, current: Obj, source: DataSource, sliced: SlicedChunks, listed: list[Obj]
) -> Obj:
    """New slices first (the ones there are adopted), then the summary naming them, then
    the slices of every other set deleted."""
    name, uid = name_of(current), uid_of(current)
    create, surplus = slice_changes(build_slices(name, uid, sliced), listed)
    for manifest in create:
        client.create_or_get(manifest)

    def point_at_new_set(obj: Obj) -> Obj | None:
        if is_terminating(obj) or uid_of(obj) != uid:
            raise SourceReplaced(f"DataSource {name} was deleted or recreated meanwhile")
        return with_resolved(obj, source, sliced)

    try:
        stored = client.modify(SOURCES, name, point_at_new_set)
    except ObjectNotFound as exc:
        raise SourceReplaced(f"DataSource {name} is gone") from exc
    for slice_name in surplus:
        client.delete(SLICES, slice_name)
    return stored
