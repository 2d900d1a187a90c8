"""The restricted Pod Security Standard as a check: what in a pod spec breaks it.

The emulator's PodSecurity admission and the manifest tests use it; the real control
plane's PodSecurity plugin is the judge it is held to (tests/realkube).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Volume types the restricted profile admits.
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        *spec.get("initContainers", []),
        *spec.get("containers", []),
        *spec.get("ephemeralContainers", []),
    ]


def restricted_violations(pod_spec: Mapping[str, Any]) -> list[str]:
    """What in a pod spec breaks the restricted profile (empty when it complies)."""
    problems: list[str] = []
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            problems.append(f"{flag} is set")
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {volume.get('name')!r} uses {sorted(kinds)}")
    pod_context = pod_spec.get("securityContext") or {}
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_context.get("runAsUser") == 0:
        problems.append("pod runs as uid 0")
    for container in _containers(pod_spec):
        name = container.get("name")
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"container {name!r} is privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name!r} does not set allowPrivilegeEscalation: false")
        drops = (context.get("capabilities") or {}).get("drop") or []
        if "ALL" not in drops:
            problems.append(f"container {name!r} does not drop ALL capabilities")
        adds = set((context.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}
        if adds:
            problems.append(f"container {name!r} adds capabilities {sorted(adds)}")
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"container {name!r} may run as root")
        if context.get("runAsUser") == 0:
            problems.append(f"container {name!r} runs as uid 0")
        seccomp = (context.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name!r} has no RuntimeDefault seccomp profile")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"container {name!r} uses a hostPort")
    return problems
