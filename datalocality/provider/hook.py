"""DataLocalityHook: resolver clients from Airflow Connections, cluster access via cncf.kubernetes.

Two things a task of this provider needs from outside, both built only when the task runs
(never at DAG parse time):

* **resolvers** — a :class:`~datalocality.resolvers.ResolverSet` configured from a
  Connection (``conn_type: datalocality``) whose ``extra`` is the resolvers config (system
  → config, as ``datalocality resolvers --config`` reads), or from a ``resolvers_config``
  file, or both (the file first, the connection's systems on top). The connection's
  password and the values under ``extra.secrets`` become environment entries that
  SecretRefs with ``env`` can name (``password`` is ``DATALOCALITY_CONN_PASSWORD``);
  every one is registered with Airflow's secrets masker before any resolver sees it.
* **the cluster** — the cncf.kubernetes :class:`KubernetesHook` (``kubernetes_conn_id`` or
  ``config_file``/``in_cluster``/``cluster_context``, exactly as KubernetesPodOperator
  takes them) supplies the ``ApiClient`` behind :class:`~datalocality.kube.client.KubeClient`.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from datalocality.errors import SpecError
from datalocality.provider.access import KubeAccess
from datalocality.provider.info import KUBERNETES_CONN_ID
from datalocality.resolvers import (
    ResolverContext,
    ResolverSet,
    fetch_resolver_config,
)
from datalocality.resolvers.credentials import register_secret

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    from datalocality.kube.client import KubeClient

PASSWORD_ENV = "DATALOCALITY_CONN_PASSWORD"


def build_resolvers_config(
    file_config: Mapping[str, Any] | None, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The resolvers config: the file's systems, then the connection's (``secrets`` left out).

    >>> build_resolvers_config({"a": {"x": 1}}, {"b": {}, "secrets": {"T": "s"}})
    {'a': {'x': 1}, 'b': {}}
    """
    merged: dict[str, Any] = dict(file_config or {})
    for system, config in (extra or {}).items():
        if system == "secrets":
            continue
        merged[system] = config
    return merged


def build_secret_env(password: str | None, extra: Mapping[str, Any] | None) -> dict[str, str]:
    """Environment entries for SecretRefs: the password and ``extra.secrets`` (name → value)."""
    env: dict[str, str] = {}
    if password:
        env[PASSWORD_ENV] = password
    secrets = (extra or {}).get("secrets") or {}
    if not isinstance(secrets, Mapping):
        raise SpecError("extra.secrets", type(secrets).__name__, "must map names to values")
    for name, value in secrets.items():
        env[str(name)] = str(value)
    return env


def _extra_of(extra: object) -> dict[str, Any]:
    if not extra:
        return {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            raise SpecError("extra", "<not shown>", "must be a JSON object") from None
    if not isinstance(extra, dict):
        raise SpecError("extra", type(extra).__name__, "must be a JSON object")
    return extra


class DataLocalityHook(BaseHook):
    """Resolvers from a Connection or file; a KubeClient through cncf.kubernetes' hook."""

    conn_name_attr = "datalocality_conn_id"
    default_conn_name = "datalocality_default"
    conn_type = "datalocality"
    hook_name = "Data Locality"

    def __init__(
        self,
        datalocality_conn_id: str | None = None,
        *,
        resolvers_config: str | None = None,
        access: KubeAccess | None = None,
        kubernetes_conn_id: str | None = KUBERNETES_CONN_ID,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
    ) -> None:
        """``access`` is the cluster to reach; without it, the four KPO-style options."""
        super().__init__()
        self.datalocality_conn_id = datalocality_conn_id
        self.resolvers_config = resolvers_config
        self.access = access or KubeAccess(
            kubernetes_conn_id, config_file, cluster_context, in_cluster
        )

    # -- resolvers ----------------------------------------------------------------------

    def get_resolver_settings(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The resolvers config and the secret environment, secrets masked in logs."""
        file_config = (
            fetch_resolver_config(Path(self.resolvers_config)) if self.resolvers_config else {}
        )
        extra: dict[str, Any] = {}
        password: str | None = None
        if self.datalocality_conn_id:
            conn = self.get_connection(self.datalocality_conn_id)
            extra = _extra_of(conn.extra)
            password = conn.password
        env = build_secret_env(password, extra)
        for name, value in env.items():
            mask_secret(value, name)
            register_secret(value)
        return build_resolvers_config(file_config, extra), env

    def get_resolver_set(self) -> ResolverSet:
        """A ResolverSet over the configured systems (validated now, SpecError on bad config)."""
        config, secret_env = self.get_resolver_settings()
        context = ResolverContext(env={**os.environ, **secret_env})
        return ResolverSet.from_config(config, context=context)

    # -- cluster ------------------------------------------------------------------------

    @cached_property
    def kubernetes_hook(self) -> KubernetesHook:
        """cncf.kubernetes' hook, with the same connection options KubernetesPodOperator takes."""
        return self.access.build_kubernetes_hook()

    def get_kube_client(self) -> KubeClient:
        """A create-or-get client over a no-retry twin of the KubernetesHook's ApiClient."""
        module = importlib.import_module("datalocality.kube.client")
        client: KubeClient = module.KubeClient(
            module.build_api_client_without_retries(self.kubernetes_hook.api_client)
        )
        return client

    def get_namespace(self, default: str = "default") -> str:
        """The connection's namespace, else ``default``."""
        return str(self.kubernetes_hook.get_namespace() or default)

    def get_conn(self) -> KubeClient:
        """Airflow's generic accessor: the KubeClient."""
        return self.get_kube_client()
