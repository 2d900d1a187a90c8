"""The resource types the emulator serves, and the discovery documents that describe them.

Built-in kinds are listed in :data:`BUILTIN`; custom resources are added at run time when
a ``CustomResourceDefinition`` is created (see :mod:`datalocality_testcluster.sandbox.crds`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives in the URL space and what it is called."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    singular: str = ""
    served_versions: tuple[str, ...] = ()
    crd: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def storage(self) -> tuple[str, str]:
        """The storage key: objects are shared by every served version of a group."""
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural`` or ``plural.group``, as in the API server's messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def for_version(self, version: str) -> ResourceType:
        """The same resource as served under another version of its group."""
        return ResourceType(
            self.group,
            version,
            self.plural,
            self.kind,
            self.namespaced,
            self.subresources,
            self.short_names,
            self.singular,
            self.served_versions,
            self.crd,
            self.extra,
        )


def _rt(
    gv: str, plural: str, kind: str, namespaced: bool, *subs: str, short: str = ""
) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(
        group,
        version,
        plural,
        kind,
        namespaced,
        frozenset(subs),
        tuple(s for s in short.split(",") if s),
        kind.lower(),
        (version,),
    )


BUILTIN = [
    _rt("v1", "namespaces", "Namespace", False, "status", short="ns"),
    _rt("v1", "nodes", "Node", False, "status", short="no"),
    _rt("v1", "pods", "Pod", True, "status", "log", "exec", "binding", short="po"),
    _rt("v1", "configmaps", "ConfigMap", True, short="cm"),
    _rt("v1", "secrets", "Secret", True),
    _rt("v1", "services", "Service", True, "status", short="svc"),
    _rt("v1", "serviceaccounts", "ServiceAccount", True, short="sa"),
    _rt("v1", "events", "Event", True, short="ev"),
    _rt("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "status", short="pvc"),
    _rt("batch/v1", "jobs", "Job", True, "status"),
    _rt("coordination.k8s.io/v1", "leases", "Lease", True),
    _rt(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "status",
        short="crd,crds",
    ),
]


class Registry:
    """The resource types currently served, looked up by group, version and plural."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTIN:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        """Serve ``rt`` (replacing an earlier registration of the same name)."""
        with self._lock:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_group_resource(self, group: str, plural: str) -> None:
        """Stop serving every version of ``plural.group``."""
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural]:
                del self._types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The served type, or None."""
        with self._lock:
            return self._types.get((group, version, plural))

    def by_storage(self, group: str, plural: str) -> ResourceType | None:
        """Any served version of ``plural.group``."""
        with self._lock:
            for key in sorted(self._types):
                if key[0] == group and key[2] == plural:
                    return self._types[key]
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The served type of an object's ``apiVersion`` and ``kind``."""
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rt in self._types.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        return None

    def all(self) -> list[ResourceType]:
        """Every served (group, version, plural), sorted."""
        with self._lock:
            return [self._types[k] for k in sorted(self._types)]

    def group_versions(self) -> dict[str, list[str]]:
        """Served versions of every named group (the core group excluded)."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            if rt.group and rt.version not in out.setdefault(rt.group, []):
                out[rt.group].append(rt.version)
        return out

    # discovery documents -------------------------------------------------

    def resource_list(self, group: str, version: str) -> Obj | None:
        """The ``APIResourceList`` for one group version, or None if not served."""
        types = [rt for rt in self.all() if rt.group == group and rt.version == version]
        if not types:
            return None
        resources: list[Obj] = []
        for rt in types:
            resources.append(
                {
                    "name": rt.plural,
                    "singularName": rt.singular,
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": VERBS,
                    **({"shortNames": list(rt.short_names)} if rt.short_names else {}),
                }
            )
            for sub in sorted(rt.subresources):
                sub_verbs = {"log": ["get"], "exec": ["create", "get"], "binding": ["create"]}
                resources.append(
                    {
                        "name": f"{rt.plural}/{sub}",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": "Binding" if sub == "binding" else rt.kind,
                        "verbs": sub_verbs.get(sub, ["get", "patch", "update"]),
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def api_group(self, group: str) -> Obj | None:
        """The ``APIGroup`` document of a named group, or None."""
        versions = self.group_versions().get(group)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def api_group_list(self) -> Obj:
        """The ``APIGroupList`` served at ``/apis``."""
        groups = [self.api_group(g) for g in sorted(self.group_versions())]
        for doc in groups:
            if doc is not None:
                doc.pop("kind")
                doc.pop("apiVersion")
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
