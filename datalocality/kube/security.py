"""The restricted Pod Security Standard, as the security contexts to apply.

Everything the provider runs (replica pods, repartition and assembly jobs) runs as
non-root, without privilege escalation, with every capability dropped, the runtime's
default seccomp profile and no hostPath, so it is admitted in ``restricted`` namespaces.
A context the user gave is completed, never replaced: their fields win, the profile's
defaults fill the others (:func:`build_restricted_pod`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# The uid pods run as when nobody chose one. runAsNonRoot alone is not enough: a kubelet
# refuses to start an image whose user is root (most are) unless runAsUser is set.
DEFAULT_RUN_AS_USER = 65534
# What the restricted profile needs of a pod context whose uid the user chose.
RESTRICTED_POD_FIELDS = ("runAsNonRoot", "seccompProfile")


def pod_security_context(run_as_user: int | None = None) -> dict[str, Any]:
    """Pod-level context: non-root with a uid (``DEFAULT_RUN_AS_USER`` unless given; a
    given uid also owns the volumes), RuntimeDefault seccomp."""
    uid = DEFAULT_RUN_AS_USER if run_as_user is None else run_as_user
    context: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_user is not None:
        context["fsGroup"] = run_as_user
    return context


def container_security_context() -> dict[str, Any]:
    """Container-level context: non-root, no escalation, all capabilities dropped."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def build_pod_context(chosen: Mapping[str, Any] | None) -> dict[str, Any]:
    """A pod context: the user's fields kept, restricted's runAsNonRoot and seccomp added,
    and a uid (``DEFAULT_RUN_AS_USER``) only when the user chose none."""
    if not chosen:
        return pod_security_context()
    defaults = pod_security_context()
    if "runAsUser" in chosen:
        defaults = {k: v for k, v in defaults.items() if k in RESTRICTED_POD_FIELDS}
    return {**defaults, **chosen}


def build_container_context(chosen: Mapping[str, Any] | None) -> dict[str, Any]:
    """A container context: the user's fields kept, restricted's defaults for the rest."""
    return {**container_security_context(), **(chosen or {})}


def build_restricted_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of Pod manifest ``pod`` whose pod and containers (sidecars and init containers
    too) meet the restricted profile in every field the user left unset."""
    restricted = copy.deepcopy(dict(pod))
    spec = restricted.setdefault("spec", {})
    spec["securityContext"] = build_pod_context(spec.get("securityContext"))
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            container["securityContext"] = build_container_context(container.get("securityContext"))
    return restricted
