"""What a container would see: its environment and mounted config, resolved as kubelet does.

Resolves ``env`` (literal values with ``$(VAR)`` expansion, ``fieldRef``,
``configMapKeyRef``, ``secretKeyRef``), ``envFrom`` (config maps and secrets, with a
prefix) and checks that non-optional ConfigMap and Secret volumes exist. A missing
reference is reported the way the kubelet reports it, so the pod stays waiting
(``CreateContainerConfigError`` or ``ContainerCreating``) until the object appears.
"""

from __future__ import annotations

import base64
import re
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


def missing_volume(store: Store, pod: Obj) -> str | None:
    """Why a non-optional ConfigMap or Secret volume cannot be mounted, or None."""
    namespace = pod["metadata"]["namespace"]
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for key, kind, field in (
            ("configMap", "configmap", "name"),
            ("secret", "secret", "secretName"),
        ):
            ref = volume.get(key)
            if ref and not ref.get("optional"):
                try:
                    _data(store, namespace, kind, ref.get(field, ""), False)
                except MissingReference as exc:
                    return f'MountVolume.SetUp failed for volume "{volume.get("name")}" : {exc}'
    return None
