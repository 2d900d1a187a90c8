"""How the provider reaches a cluster: one value, as KubernetesPodOperator takes it.

Every operator, sensor, trigger and the hook carry the same four options
(``kubernetes_conn_id``, ``config_file``, ``cluster_context``, ``in_cluster``) with one
default (:data:`~datalocality.provider.info.KUBERNETES_CONN_ID`). Operators keep them as
four attributes, because Airflow applies ``default_args`` and templates only to an
operator's own ``__init__`` parameters and attributes; everything past the operator passes
this one object (and a trigger serializes its :meth:`KubeAccess.kwargs`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from datalocality.errors import SpecError
from datalocality.provider.info import KUBERNETES_CONN_ID

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook


@dataclass(frozen=True)
class KubeAccess:
    """The cluster options of KubernetesPodOperator (all serializable).

    ``kubernetes_conn_id=None`` reads no connection: kubeconfig (``config_file``,
    ``cluster_context``) or in-cluster config only.
    """

    kubernetes_conn_id: str | None = KUBERNETES_CONN_ID
    config_file: str | None = None
    cluster_context: str | None = None
    in_cluster: bool | None = None

    def kwargs(self) -> dict[str, Any]:
        """The four options as keyword arguments (a trigger's ``serialize``, a task's)."""
        return asdict(self)

    def build_kubernetes_hook(self) -> KubernetesHook:
        """cncf.kubernetes' hook for these options (no I/O until it is used)."""
        # Imported when first used: loading this module must not load kubernetes.
        module = importlib.import_module("airflow.providers.cncf.kubernetes.hooks.kubernetes")
        hook: KubernetesHook = module.KubernetesHook(
            conn_id=self.kubernetes_conn_id,
            kubernetes_conn_id=None,
            config_file=self.config_file,
            cluster_context=self.cluster_context,
            in_cluster=self.in_cluster,
        )
        return hook


def parse_access(value: object, field: str) -> KubeAccess:
    """A KubeAccess from its keyword dict (``cluster_access()``'s shape); SpecError names
    ``field`` and the unknown key or bad value."""
    if isinstance(value, KubeAccess):
        return value
    if not isinstance(value, Mapping):
        raise SpecError(field, value, "must be a mapping of the cluster options")
    known = set(KubeAccess.__dataclass_fields__)
    for key in value:
        if key not in known:
            raise SpecError(f"{field}.{key}", value[key], f"unknown option; use {sorted(known)}")
    return KubeAccess(**dict(value))


class ClusterAccess:
    """For operators and sensors that keep the four options as attributes (rendered
    templates included): the one value they stand for."""

    kubernetes_conn_id: str | None
    config_file: str | None
    cluster_context: str | None
    in_cluster: bool | None

    @property
    def access(self) -> KubeAccess:
        """The options as one value, read when asked (after templates are rendered)."""
        return KubeAccess(
            self.kubernetes_conn_id, self.config_file, self.cluster_context, self.in_cluster
        )
