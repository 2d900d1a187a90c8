"""The restricted Pod Security Standard, as the security contexts to apply.

Everything the provider runs (replica pods, repartition and assembly jobs) runs as
non-root, without privilege escalation, with every capability dropped, the runtime's
default seccomp profile and no hostPath, so it is admitted in ``restricted`` namespaces.
"""

from __future__ import annotations

from typing import Any

# The uid pods run as when nobody chose one. runAsNonRoot alone is not enough: a kubelet
# refuses to start an image whose user is root (most are) unless runAsUser is set.
DEFAULT_RUN_AS_USER = 65534


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
