"""A kubeconfig that points at the sandbox (plain HTTP, a placeholder token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONTEXT = "datalocality-sandbox"


def kubeconfig(server: str, namespace: str = "default") -> dict[str, Any]:
    """The kubeconfig document for an API server URL such as ``http://127.0.0.1:8001``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {"token": "sandbox-accepts-any-token"}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, server: str) -> Path:
    """Write the kubeconfig to ``path`` (parents created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(server), sort_keys=False), encoding="utf-8")
    return target
