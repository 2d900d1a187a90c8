"""Defaulting and validation at the door, as the API server's strategies do them.

Not the whole of Kubernetes validation: names (RFC 1123), label and annotation keys and
values, the fields of pods and jobs that a client gets wrong most often, immutable pod
and job fields, and the metadata rules (namespace match, no new finalizers on an object
being deleted). Everything refused is a 422 ``Invalid`` naming the field, as in a cluster.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from datalocality_testcluster.sandbox.apierrors import ApiError, invalid
from datalocality_testcluster.sandbox.crds import CRD_STORAGE, crd_causes, schema_causes
from datalocality_testcluster.sandbox.podsecurity import restricted_violations
from datalocality_testcluster.sandbox.resources import ResourceType

Obj = dict[str, Any]
Cause = tuple[str, str, str]

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAMED = {"namespaces", "services"}
DEFAULT_TOLERATIONS = [
    {
        "key": f"node.kubernetes.io/{key}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    for key in ("not-ready", "unreachable")
]
POD_MUTABLE_SPEC = {"activeDeadlineSeconds", "tolerations", "schedulingGates"}


def _name_causes(name: str, field: str, label: bool) -> list[Cause]:
    limit, pattern = (63, DNS_LABEL) if label else (253, DNS_SUBDOMAIN)
    if len(name) > limit or not pattern.match(name):
        kind = "RFC 1123 label" if label else "RFC 1123 subdomain"
        return [("FieldValueInvalid", field, f"Invalid value: {name!r}: a lowercase {kind}")]
    return []


def _key_causes(key: str, field: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    bad = (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix))) or (
        len(name) > 63 or not QUALIFIED_NAME.match(name)
    )
    return (
        [("FieldValueInvalid", field, f"Invalid value: {key!r}: not a qualified name")]
        if bad
        else []
    )


def _metadata_causes(rt: ResourceType, obj: Obj) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes = _name_causes(str(meta.get("name", "")), "metadata.name", rt.plural in LABEL_NAMED)
    for key, value in (meta.get("labels") or {}).items():
        causes += _key_causes(str(key), "metadata.labels")
        text = value if isinstance(value, str) else ""
        if not isinstance(value, str) or len(text) > 63 or not LABEL_VALUE.match(text):
            causes.append(
                ("FieldValueInvalid", "metadata.labels", f"Invalid value: {value!r}: label value")
            )
    for key, value in (meta.get("annotations") or {}).items():
        causes += _key_causes(str(key), "metadata.annotations")
        if not isinstance(value, str):
            causes.append(("FieldValueInvalid", "metadata.annotations", f"{key}: not a string"))
    return causes


# What a real apiserver (1.35) checks that clients get wrong: tests/realkube sends the same
# pods to it. Env names: any printable ASCII but '=' (RelaxedEnvironmentVariableValidation).
QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
ENV_NAME = re.compile(r"^[ -<>-~]+$")


def _container_causes(container: Obj, where: str) -> list[Cause]:
    causes: list[Cause] = []
    for j, env in enumerate(container.get("env") or []):
        name = str(env.get("name", ""))
        if not ENV_NAME.match(name):
            causes.append(
                (
                    "FieldValueInvalid",
                    f"{where}.env[{j}].name",
                    f"Invalid value: {name!r}: a valid environment variable name must consist"
                    " only of printable ASCII characters other than '='",
                )
            )
    for part in ("requests", "limits"):
        for resource, value in ((container.get("resources") or {}).get(part) or {}).items():
            if not QUANTITY.match(str(value)):
                raise ApiError(
                    400,
                    f'Pod in version "v1" cannot be handled as a Pod: quantities must match'
                    f" the regular expression '{QUANTITY.pattern}' ({resource}: {value!r})",
                    reason="BadRequest",
                )
    return causes


def _requirement_causes(requirement: Obj, where: str) -> list[Cause]:
    operator, values = requirement.get("operator"), requirement.get("values") or []
    if operator in {"In", "NotIn"} and not values:
        return [
            (
                "FieldValueRequired",
                f"{where}.values",
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            )
        ]
    if operator in {"Exists", "DoesNotExist"} and values:
        return [
            (
                "FieldValueForbidden",
                f"{where}.values",
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
        ]
    if operator in {"Gt", "Lt"} and len(values) != 1:
        return [
            (
                "FieldValueRequired",
                f"{where}.values",
                "Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
            )
        ]
    if operator not in {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}:
        return [("FieldValueInvalid", f"{where}.operator", f"Invalid value: {operator!r}")]
    return []


def _affinity_causes(affinity: Obj, where: str) -> list[Cause]:
    node = affinity.get("nodeAffinity") or {}
    causes: list[Cause] = []
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for t, term in enumerate(required.get("nodeSelectorTerms") or []):
        for e, requirement in enumerate(term.get("matchExpressions") or []):
            path = f"{where}.requiredDuringSchedulingIgnoredDuringExecution"
            causes += _requirement_causes(
                requirement, f"{path}.nodeSelectorTerms[{t}].matchExpressions[{e}]"
            )
    for p, preferred in enumerate(
        node.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    ):
        path = f"{where}.preferredDuringSchedulingIgnoredDuringExecution[{p}]"
        weight = preferred.get("weight")
        if not isinstance(weight, int) or not 1 <= weight <= 100:
            causes.append(
                ("FieldValueInvalid", f"{path}.weight", "Invalid value: must be in the range 1-100")
            )
        for e, requirement in enumerate(
            (preferred.get("preference") or {}).get("matchExpressions") or []
        ):
            causes += _requirement_causes(requirement, f"{path}.preference.matchExpressions[{e}]")
    return causes


def _pod_spec_causes(spec: Any, field: str, restart: tuple[str, ...]) -> list[Cause]:
    if not isinstance(spec, dict):
        return [("FieldValueRequired", field, "Required value")]
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(("FieldValueRequired", f"{field}.containers", "Required value"))
        containers = []
    seen: set[str] = set()
    for kind in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(kind) or []):
            where = f"{field}.{kind}[{i}]"
            name = str(container.get("name", "")) if isinstance(container, dict) else ""
            if not name:
                causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
            else:
                causes += _name_causes(name, f"{where}.name", label=True)
            if name in seen:
                causes.append(
                    ("FieldValueDuplicate", f"{where}.name", f"Duplicate value: {name!r}")
                )
            seen.add(name)
            if not isinstance(container, dict) or not container.get("image"):
                causes.append(("FieldValueRequired", f"{where}.image", "Required value"))
            if isinstance(container, dict):
                causes += _container_causes(container, where)
    causes += _affinity_causes(spec.get("affinity") or {}, f"{field}.affinity.nodeAffinity")
    policy = spec.get("restartPolicy", "Always")
    if policy not in restart:
        causes.append(
            ("FieldValueNotSupported", f"{field}.restartPolicy", f"Unsupported value: {policy!r}")
        )
    return causes


def validate(rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
    """Raise 422 Invalid if ``obj`` (a create, or an update of ``old``) is not acceptable."""
    causes = _metadata_causes(rt, obj)
    key = (rt.group, rt.plural)
    if key == ("", "pods"):
        causes += _pod_spec_causes(obj.get("spec"), "spec", ("Always", "OnFailure", "Never"))
        if old is not None:
            causes += _pod_update_causes(old.get("spec") or {}, obj.get("spec") or {})
    elif key == ("batch", "jobs"):
        template = (obj.get("spec") or {}).get("template") or {}
        causes += _pod_spec_causes(
            template.get("spec"), "spec.template.spec", ("OnFailure", "Never")
        )
        if old is not None and (old.get("spec") or {}).get("template") != (
            obj.get("spec") or {}
        ).get("template"):
            causes.append(("FieldValueInvalid", "spec.template", "field is immutable"))
    elif key == CRD_STORAGE:
        causes += crd_causes(obj)
    if rt.crd:
        causes += schema_causes(rt.extra.get("schema"), obj)
    if old is not None and old["metadata"].get("deletionTimestamp"):
        added = set(obj["metadata"].get("finalizers") or []) - set(
            old["metadata"].get("finalizers") or []
        )
        if added:
            causes.append(
                (
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted",
                )
            )
    if key == ("", "configmaps"):
        causes += _configmap_size_causes(obj)
    if causes:
        raise invalid(rt.kind, str((obj.get("metadata") or {}).get("name", "")), causes)
    _check_stored_size(obj)


# The limits of a real cluster, as tests/realkube measures them: a ConfigMap's data and
# binaryData together at most 1 MiB (422), and etcd stores at most 1.5 MiB per request
# (500 "etcdserver: request is too large").
CONFIGMAP_BYTES = 1024 * 1024
ETCD_REQUEST_BYTES = 1536 * 1024


def _configmap_size_causes(obj: Obj) -> list[Cause]:
    size = sum(len(k) + len(str(v)) for k, v in (obj.get("data") or {}).items())
    size += sum(len(k) + len(base64.b64decode(v)) for k, v in (obj.get("binaryData") or {}).items())
    if size > CONFIGMAP_BYTES:
        return [
            ("FieldValueTooLong", "[]", f"Too long: may not be more than {CONFIGMAP_BYTES} bytes")
        ]
    return []


def _check_stored_size(obj: Obj) -> None:
    if len(json.dumps(obj, separators=(",", ":"), default=str).encode()) > ETCD_REQUEST_BYTES:
        raise ApiError(500, "etcdserver: request is too large")


def _pod_update_causes(old: Obj, new: Obj) -> list[Cause]:
    def frozen(spec: Obj) -> Obj:
        out = {k: v for k, v in spec.items() if k not in POD_MUTABLE_SPEC}
        for kind in ("containers", "initContainers"):
            out[kind] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(kind) or []]
        return out

    if frozen(old) != frozen(new):
        message = (
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
            "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` "
            "(only additions to existing tolerations) or `spec.schedulingGates`"
        )
        return [("FieldValueForbidden", "spec", message)]
    return []


def check_kind(rt: ResourceType, obj: Any) -> Obj:
    """The body as an object of this type, or 400 if it is of another kind."""
    if not isinstance(obj, dict):
        raise ApiError(400, "the body of the request is not a JSON object")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise ApiError(
            400,
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version}) or kind {kind!r} is not {rt.kind!r}",
        )
    obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    return obj


def _qos(spec: Obj) -> str:
    containers = spec.get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for r in resources:
        limits = r.get("limits") or {}
        requests = r.get("requests") or limits
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name) != limits[name]:
                return "Burstable"
    return "Guaranteed"


def default_pod_spec(spec: Obj) -> None:
    """The pod spec defaults the API server fills in."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(container, dict):
            image = str(container.get("image", ""))
            latest = ":" not in image.rpartition("/")[2] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})


def prepare_create(rt: ResourceType, obj: Obj, uid: str) -> None:
    """Kind-specific defaults and status reset for a new object."""
    key = (rt.group, rt.plural)
    if "status" in rt.subresources and key != ("", "nodes"):
        obj.pop("status", None)
    if key == ("", "pods"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            default_pod_spec(spec)
            spec.setdefault("priority", 0)
            tolerations = spec.setdefault("tolerations", [])
            for toleration in DEFAULT_TOLERATIONS:
                if not any(t.get("key") == toleration["key"] for t in tolerations):
                    tolerations.append(dict(toleration))
            obj["status"] = {"phase": "Pending", "qosClass": _qos(spec)}
    elif key == ("batch", "jobs"):
        _default_job(obj, uid)
    elif key == ("", "namespaces"):
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif key == ("", "secrets"):
        normalise_secret(obj)
    elif key == ("", "services"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        obj["status"] = {"loadBalancer": {}}


def normalise_secret(obj: Obj) -> None:
    """Fold ``stringData`` into base64 ``data`` and default the type, as the server does."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()


def _default_job(obj: Obj, uid: str) -> None:
    spec = obj.setdefault("spec", {})
    if "completions" not in spec and "parallelism" not in spec:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if not spec.get("manualSelector"):
        name = obj["metadata"]["name"]
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    if isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])
    obj["status"] = {}


ENFORCE = "pod-security.kubernetes.io/enforce"


def check_pod_security(namespace: Obj, pod: Obj) -> None:
    """PodSecurity admission for a namespace enforcing ``restricted``: 403, as the real
    plugin answers (its checks here are those of ``restricted_violations``)."""
    labels = (namespace.get("metadata") or {}).get("labels") or {}
    if labels.get(ENFORCE) != "restricted":
        return
    problems = restricted_violations(pod.get("spec") or {})
    if problems:
        name = (pod.get("metadata") or {}).get("name", "")
        raise ApiError(
            403,
            f'pods "{name}" is forbidden: violates PodSecurity "restricted:latest": '
            + ", ".join(problems),
            reason="Forbidden",
        )
