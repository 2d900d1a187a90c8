"""What a container would see: its environment and mounted config, resolved as kubelet does.

Resolves ``env`` (literal values with ``$(VAR)`` expansion, ``fieldRef``,
``configMapKeyRef``, ``secretKeyRef``), ``envFrom`` (config maps and secrets, with a
prefix) and checks that non-optional ConfigMap and Secret volumes, and the ConfigMap and
Secret sources of projected volumes, exist with the keys their ``items`` name. A missing
reference is reported the way the kubelet reports it, so the pod stays waiting
(``CreateContainerConfigError`` or ``ContainerCreating``) until the object appears.
:func:`volume_files` gives the files a container's ConfigMap, Secret and projected
mounts hold, as the kubelet would write them.
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Callable, Iterator
from typing import Any

from datalocality_testcluster.sandbox.store import Store

Obj = dict[str, Any]
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


class MissingReference(Exception):
    """A config map, secret or key the container needs does not exist (yet)."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion (``$$`` escapes; unknown variables stay as written)."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR.sub(sub, text)


def _field(pod: Obj, path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    item = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if item:
        return str((meta.get(item.group(1)) or {}).get(item.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    return str(simple.get(path) or "")


def _data(
    store: Store, namespace: str, kind: str, name: str, optional: bool
) -> dict[str, str] | None:
    plural = "configmaps" if kind == "configmap" else "secrets"
    obj = store.get(("", plural), namespace, name)
    if obj is None:
        if optional:
            return None
        raise MissingReference(f'{kind} "{name}" not found')
    if kind == "secret":
        return {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (obj.get("data") or {}).items()
        }
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


def container_env(store: Store, pod: Obj, container: Obj) -> dict[str, str]:
    """The environment of one container; raises MissingReference like the kubelet would."""
    namespace = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            ref = source.get(key)
            if ref:
                data = _data(store, namespace, kind, ref.get("name", ""), bool(ref.get("optional")))
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for var in container.get("env") or []:
        name, source = var.get("name", ""), var.get("valueFrom")
        if not source:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        if "fieldRef" in source:
            env[name] = _field(pod, source["fieldRef"].get("fieldPath", ""))
        for key, kind in (("configMapKeyRef", "configmap"), ("secretKeyRef", "secret")):
            ref = source.get(key)
            if not ref:
                continue
            optional = bool(ref.get("optional"))
            data = _data(store, namespace, kind, ref.get("name", ""), optional)
            if data is not None and ref.get("key") in data:
                env[name] = data[ref["key"]]
            elif not optional:
                label = "ConfigMap" if kind == "configmap" else "Secret"
                raise MissingReference(
                    f"couldn't find key {ref.get('key')} in {label} {namespace}/{ref.get('name')}"
                )
    return env


# (volume key, kind, the field naming the object), for volumes and projected sources
_SOURCES = (("configMap", "configmap", "name"), ("secret", "secret", "secretName"))
_PROJECTED = (("configMap", "configmap", "name"), ("secret", "secret", "name"))
Read = Callable[[str, str, bool], "dict[str, str] | None"]  # (kind, name, optional) -> data


def _volume_sources(volume: Obj) -> Iterator[tuple[str, Obj, str]]:
    """(kind, reference, object name) of each ConfigMap or Secret a volume projects."""
    for key, kind, field in _SOURCES:
        ref = volume.get(key)
        if ref:
            yield kind, ref, str(ref.get(field, ""))
    for source in (volume.get("projected") or {}).get("sources") or []:
        for key, kind, field in _PROJECTED:
            ref = source.get(key)
            if ref:
                yield kind, ref, str(ref.get(field, ""))


def _files(kind: str, ref: Obj, data: dict[str, str]) -> dict[str, str]:
    """Relative path -> content of one source; MissingReference for an absent item key."""
    items = ref.get("items")
    if not items:
        return dict(data)
    files = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if ref.get("optional"):
                continue
            label = "configmap" if kind == "configmap" else "secret"
            raise MissingReference(f"{label} references non-existent config key: {key}")
        files[str(item.get("path", key))] = data[key]
    return files


def _volume_files(volume: Obj, read: Read) -> dict[str, str]:
    files: dict[str, str] = {}
    for kind, ref, name in _volume_sources(volume):
        data = read(kind, name, bool(ref.get("optional")))
        if data is not None:
            files.update(_files(kind, ref, data))
    return files


def _store_reader(store: Store, namespace: str) -> Read:
    return lambda kind, name, optional: _data(store, namespace, kind, name, optional)


def missing_volume(store: Store, pod: Obj) -> str | None:
    """Why a non-optional ConfigMap or Secret volume (or projected source) cannot be
    mounted, or None."""
    read = _store_reader(store, pod["metadata"]["namespace"])
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        try:
            _volume_files(volume, read)
        except MissingReference as exc:
            return f'MountVolume.SetUp failed for volume "{volume.get("name")}" : {exc}'
    return None


def volume_files(pod: Obj, container: Obj, read: Read) -> dict[str, str]:
    """Absolute path -> content of every file the container's ConfigMap, Secret and
    projected mounts show; ``read(kind, name, optional)`` gives an object's data (None
    when it is absent and optional, MissingReference when absent and required)."""
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        base = str(mount.get("mountPath", "/"))
        for path, content in _volume_files(volume, read).items():
            files[posixpath.join(base, path)] = content
    return files
