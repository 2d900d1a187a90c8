"""What tests of datalocality.argo share: placed workflows and the pod Argo would make."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from datalocality.argo import ArgoPlacement, plan_ahead
from datalocality.model import PlacementRequest
from datalocality.synthetic import build_instance, preset

Obj = dict[str, Any]


def request_of(size: str = "small", **overrides: object) -> PlacementRequest:
    return build_instance(preset(size, **overrides))


def placement_of(name: str = "train", request: PlacementRequest | None = None) -> ArgoPlacement:
    return ArgoPlacement(name=name, namespace="ml", planned=plan_ahead(request or request_of()))


def templates_by_name(workflow: Mapping[str, Any]) -> dict[str, Obj]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


def arguments_of(task: Mapping[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}


def affinity_node(affinity: Mapping[str, Any]) -> str:
    """The node an affinity requires, else the one it prefers most."""
    node = affinity["nodeAffinity"]
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required:
        term = required["nodeSelectorTerms"][0]["matchExpressions"][0]
    else:
        preferred = node["preferredDuringSchedulingIgnoredDuringExecution"]
        term = max(preferred, key=lambda p: p["weight"])["preference"]["matchExpressions"][0]
    assert term["key"] == "kubernetes.io/hostname", term
    (value,) = term["values"]
    return str(value)


def _merge_named(base: Sequence[Obj], patch: Sequence[Obj]) -> list[Obj]:
    out = [copy.deepcopy(dict(item)) for item in base]
    for item in patch:
        match = next((o for o in out if o.get("name") == item.get("name")), None)
        if match is None:
            out.append(copy.deepcopy(dict(item)))
        else:
            for key, value in item.items():
                if key in ("env", "volumeMounts") and isinstance(value, list):
                    match[key] = _merge_named(match.get(key, []), value)
                else:
                    match[key] = copy.deepcopy(value)
    return out


def argo_pod(template: Mapping[str, Any], arguments: Mapping[str, str]) -> Obj:
    """The Pod Argo's controller would create for ``template`` called with ``arguments``:
    its main container and security context, then ``podSpecPatch`` (with the parameter
    substituted) merged as a strategic merge patch merges these fields (lists by name).
    The executor's init and wait containers are left out: the controller adds them."""
    body = template.get("container") or template.get("script") or {}
    main = {k: v for k, v in body.items() if k != "source"}
    main["name"] = "main"
    spec: Obj = {"containers": [main], "restartPolicy": "Never"}
    if "securityContext" in template:
        spec["securityContext"] = template["securityContext"]
    patch_text = str(template.get("podSpecPatch", "{}"))
    for name, value in arguments.items():
        patch_text = patch_text.replace(f"{{{{inputs.parameters.{name}}}}}", value)
    patch = json.loads(patch_text)
    for key, value in patch.items():
        if key in ("containers", "volumes"):
            spec[key] = _merge_named(spec.get(key, []), value)
        else:
            spec[key] = copy.deepcopy(value)
    labels = {
        k: arguments.get(v[len("{{inputs.parameters.") : -2], v) if v.startswith("{{") else v
        for k, v in template.get("metadata", {}).get("labels", {}).items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "replica", "labels": labels},
        "spec": spec,
    }


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "argo"


def load_example(name: str) -> ModuleType:
    """An example script of examples/argo as a module (they are scripts, not a package)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"argo_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
