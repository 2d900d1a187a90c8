"""Which cluster the operators talk to, switched by one environment variable.

``DATALOCALITY_KUBECONFIG`` points every task of a DAG at one kubeconfig (the one
``datalocality-cluster sandbox up`` or ``make demo`` writes) without a Connection; unset, the
tasks use a cncf.kubernetes Connection as usual. The example DAGs are written this way.
"""

from __future__ import annotations

import os
from typing import Any

from datalocality.provider.access import KubeAccess
from datalocality.provider.info import KUBERNETES_CONN_ID

KUBECONFIG_ENV = "DATALOCALITY_KUBECONFIG"


def cluster_access(default_conn_id: str = KUBERNETES_CONN_ID) -> dict[str, Any]:
    """Cluster-access arguments for any datalocality operator or ``locality_pods``.

    Reads an environment variable only, so it is safe at DAG parse time.
    """
    kubeconfig = os.environ.get(KUBECONFIG_ENV)
    if kubeconfig:
        return KubeAccess(None, config_file=kubeconfig, in_cluster=False).kwargs()
    return KubeAccess(default_conn_id).kwargs()
