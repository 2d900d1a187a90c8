"""Least privilege, from the real apiserver's audit log: the example pipelines run as the
service account ``deploy/rbac.yaml`` binds; every request it made was granted, and every
right the Role and ClusterRole grant was used by some request (or is listed below with
the path that needs it and why no test here takes that path)."""

from __future__ import annotations

from pathlib import Path

from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.controlplane import ControlPlane
from datalocality_testcluster.tenancy import SERVICE_ACCOUNT, rbac_documents
from tests.airflow.support import run_dag

Right = tuple[str, str, str]  # (API group, resource[/subresource], verb)

# Granted, needed, and not taken by these runs: each names the code path that needs it.
NOT_EXERCISED: dict[Right, str] = {
    ("", "configmaps", "get"): "a rerun adopting the chunk lists its killed try wrote "
    "(operators/plan_store.py; tests/airflow/test_crash_recovery.py)",
    ("", "configmaps", "update"): "the same rerun rewriting a list it adopted",
    ("", "events", "get"): "KubernetesPodOperator reading a failed pod's events (cncf)",
    ("", "events", "list"): "the same",
    ("", "events", "watch"): "the same (cncf's pod manager watches them)",
    ("", "pods", "watch"): "cncf's pod manager (KubernetesPodOperator)",
    ("", "pods/exec", "create"): "kube-apiserver 1.35 also authorizes a websocket exec (the "
    "XCom sidecar's, audited as get) as create (AuthorizePodWebsocketUpgradeCreatePermission)",
    ("datalocality.io", "datasourceslices", "get"): "a rerun adopting the slices its killed "
    "try created (kube/publish.py create_or_get)",
    ("datalocality.io", "datasourceslices", "delete"): "republishing a source in a new set of "
    "slices (kube/publish.py)",
    ("scheduling.volcano.sh", "podgroups", "get"): "a rerun adopting its PodGroup",
    ("policy.karmada.io", "propagationpolicies", "get"): "only on a Karmada apiserver "
    "(kube/members.apply_propagation_policy; tests/realkube/test_karmada_members.py)",
    ("policy.karmada.io", "propagationpolicies", "create"): "the same",
    ("policy.karmada.io", "propagationpolicies", "update"): "the same",
}


def granted_rights(namespace: str) -> set[Right]:
    """Every (group, resource, verb) the Role and ClusterRole of deploy/rbac.yaml grant."""
    rights: set[Right] = set()
    for doc in rbac_documents(namespace, suffix=f"-{namespace}"):
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in doc["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    rights.update((group, resource, verb) for verb in rule["verbs"])
    return rights


def test_every_request_is_granted_and_every_grant_is_used(
    airflow_db: Path, kube: ProviderCluster
) -> None:
    run_dag("chunk_pipeline", "chunk_pipeline.py", keep=False)  # producers, jobs, release
    run_dag("gang_trainer", "gang_trainer.py", keep=False)  # Volcano's PodGroup
    run_dag("iceberg_trainer", "iceberg_trainer.py", keep=False)
    plane = kube.admin
    assert isinstance(plane, ControlPlane)
    user = f"system:serviceaccount:default:{SERVICE_ACCOUNT}"
    requests = [r for r in plane.audited_requests() if r.user == user]
    assert len(requests) > 100  # the runs went through the audited account
    refused = sorted({(r.group, r.resource, r.verb) for r in requests if r.code == 403})
    assert refused == []
    used = {(r.group, r.resource, r.verb) for r in requests}
    granted = granted_rights("default")
    assert used <= granted  # nothing was asked that RBAC does not name (or it was refused)
    assert set(NOT_EXERCISED) <= granted  # the list names only rights the Role grants
    # every right granted and not used has its reason; one of them may be taken by a run
    # now and then (a rerun's adoption after a timeout), which is no excess
    unexplained = granted - used - set(NOT_EXERCISED)
    assert unexplained == set(), sorted(unexplained)
