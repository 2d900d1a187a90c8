"""CustomResourceDefinitions: serving a new group/version/plural when one is created.

Creating an ``apiextensions.k8s.io/v1`` CustomResourceDefinition registers every served
version (with the ``status`` subresource if declared), marks the CRD ``Established`` and
``NamesAccepted``; deleting it deletes its objects and stops serving it. Custom objects
are pruned, defaulted and validated against the version's ``openAPIV3Schema`` as a
structural schema (types, required, enum, pattern, bounds, nullable,
``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-int-or-string``); CEL rules
(``x-kubernetes-validations``) and conversion webhooks are not evaluated.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.resources import ResourceType
from datalocality_testcluster.sandbox.store import rfc3339

if TYPE_CHECKING:
    from datalocality_testcluster.sandbox.apiserver import ApiServer

Obj = dict[str, Any]
Cause = tuple[str, str, str]
CRD_STORAGE = ("apiextensions.k8s.io", "customresourcedefinitions")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def crd_causes(obj: Obj) -> list[Cause]:
    """What makes a CustomResourceDefinition unacceptable."""
    spec, name = obj.get("spec") or {}, obj["metadata"].get("name", "")
    names = spec.get("names") or {}
    causes: list[Cause] = []
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append(("FieldValueRequired", f"spec.names.{field}", "Required value"))
    if not spec.get("group"):
        causes.append(("FieldValueRequired", "spec.group", "Required value"))
    elif name != f"{names.get('plural')}.{spec['group']}":
        causes.append(
            ("FieldValueInvalid", "metadata.name", 'must be spec.names.plural+"."+spec.group')
        )
    if spec.get("scope") not in {"Namespaced", "Cluster"}:
        causes.append(("FieldValueNotSupported", "spec.scope", "must be Namespaced or Cluster"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(("FieldValueRequired", "spec.versions", "Required value"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "must have exactly one version marked as storage version",
            )
        )
    return causes


def resource_types(crd: Obj) -> list[ResourceType]:
    """The served versions of a CRD as resource types."""
    spec, names = crd["spec"], crd["spec"]["names"]
    served = tuple(v["name"] for v in spec["versions"] if v.get("served", True))
    out = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                subresources=frozenset(k for k in ("status",) if k in subresources),
                short_names=tuple(names.get("shortNames") or ()),
                singular=names.get("singular") or names["kind"].lower(),
                served_versions=served,
                crd=True,
                extra={"schema": (version.get("schema") or {}).get("openAPIV3Schema")},
            )
        )
    return out


class CrdController:
    """Keeps the served resource types in step with the stored CRDs."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        api.hooks.append(self.on_write)

    def on_write(self, rt: ResourceType, before: Obj | None, after: Obj | None) -> None:
        """Register, re-register or unregister after a CRD write."""
        if rt.storage != CRD_STORAGE:
            return
        if after is None:
            assert before is not None
            spec = before["spec"]
            group, plural = spec["group"], spec["names"]["plural"]
            for obj in self.api.store.objects((group, plural)):
                self.api.store.remove(
                    (group, plural), obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                )
            self.api.registry.remove_group_resource(group, plural)
            return
        self.api.registry.remove_group_resource(
            after["spec"]["group"], after["spec"]["names"]["plural"]
        )
        for served in resource_types(after):
            self.api.registry.add(served)
        if not (after.get("status") or {}).get("conditions"):
            self.api.mutate(rt, "", after["metadata"]["name"], _established)


def _established(crd: Obj) -> None:
    now, names = rfc3339(), crd["spec"]["names"]
    crd["status"] = {
        "acceptedNames": {k: v for k, v in names.items() if k != "categories"},
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        "conditions": [
            {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
            for t, r, m in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            )
        ],
    }


def schema_causes(schema: Obj | None, obj: Obj) -> list[Cause]:
    """Prune, default and validate a custom object in place against its structural schema."""
    if not schema:
        return []
    body = {k: v for k, v in obj.items() if k not in {"apiVersion", "kind", "metadata"}}
    root = copy.deepcopy(schema)
    props = root.setdefault("properties", {})
    for key in ("apiVersion", "kind", "metadata"):
        props.pop(key, None)
    causes: list[Cause] = []
    pruned = _walk(root, body, "", causes)
    for key in [k for k in obj if k not in {"apiVersion", "kind", "metadata"}]:
        del obj[key]
    obj.update(pruned if isinstance(pruned, dict) else {})
    return causes


def _walk(schema: Obj, value: Any, path: str, causes: list[Cause]) -> Any:
    where = path or "<root>"
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            causes.append(("FieldValueTypeInvalid", where, "must be an integer or a string"))
        return value
    if kind in _TYPES and (
        not isinstance(value, _TYPES[kind])
        or (kind in {"integer", "number"} and isinstance(value, bool))
    ):
        causes.append(
            ("FieldValueTypeInvalid", where, f"Invalid value: {value!r}: must be of type {kind}")
        )
        return value
    if "enum" in schema and value not in schema["enum"]:
        causes.append(
            (
                "FieldValueNotSupported",
                where,
                f"Unsupported value: {value!r}: supported values: {schema['enum']}",
            )
        )
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            causes.append(
                (
                    "FieldValueInvalid",
                    where,
                    f"Invalid value: {value!r}: should match {schema['pattern']!r}",
                )
            )
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get(
            "minLength", 0
        ):
            causes.append(
                ("FieldValueInvalid", where, f"Invalid value: {value!r}: length out of bounds")
            )
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and (
        ("minimum" in schema and value < schema["minimum"])
        or ("maximum" in schema and value > schema["maximum"])
    ):
        causes.append(("FieldValueInvalid", where, f"Invalid value: {value!r}: out of bounds"))
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)) or len(value) < schema.get(
            "minItems", 0
        ):
            causes.append(("FieldValueInvalid", where, "number of items out of bounds"))
        items = schema.get("items")
        if isinstance(items, dict):
            return [_walk(items, v, f"{path}[{i}]", causes) for i, v in enumerate(value)]
        return value
    if not isinstance(value, dict):
        return value
    return _walk_object(schema, value, path, causes)


def _walk_object(schema: Obj, value: Obj, path: str, causes: list[Cause]) -> Obj:
    props: Obj = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or extra is True
    out: Obj = {}
    for key, sub in props.items():
        if key not in value and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        sub = props.get(key, extra if isinstance(extra, dict) else None)
        if item is None and not (sub or {}).get("nullable"):
            continue  # nulls of non-nullable fields are pruned
        if sub is not None:
            out[key] = _walk(sub, item, child, causes)
        elif keep_unknown:
            out[key] = item
    for key in schema.get("required") or []:
        if key not in out:
            where = f"{path}.{key}" if path else key
            causes.append(("FieldValueRequired", where, "Required value"))
    return out
