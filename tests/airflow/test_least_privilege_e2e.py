"""Least privilege, from the real apiserver's audit log: the example pipelines run as the
service account ``deploy/rbac.yaml`` binds; every request it made was granted, and every
right the Role and ClusterRole grant was used by some request (or is listed below with
the path that needs it and why no test here takes that path)."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]

from datalocality_testcluster.clusters import ProviderCluster
from datalocality_testcluster.controlplane import ControlPlane
from datalocality_testcluster.tenancy import SERVICE_ACCOUNT, rbac_documents
from tests.airflow.support import run_dag, run_dag_unchecked, task_states

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


# --- each right taken away in turn ----------------------------------------------------

# The Role's rights are checked in the tasks' namespace; the ClusterRole's across all of
# them (its `list pods` is what the topology reads; the Role's one covers one namespace).
Held = tuple[str, str, str, str]  # (Role or ClusterRole, API group, resource, verb)
NEEDED_BY = {("scheduling.volcano.sh", "podgroups", "create"): ("gang_trainer", "gang_trainer.py")}
PIPELINE = ("chunk_pipeline", "chunk_pipeline.py")


def held_rights() -> list[Held]:
    """Each right the Role or the ClusterRole grants that some example run takes."""
    held = []
    for doc in rbac_documents("default", suffix="-default"):
        if doc["kind"] in ("Role", "ClusterRole"):
            for rule in doc["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            if (group, resource, verb) not in NOT_EXERCISED:
                                held.append((doc["kind"], group, resource, verb))
    return held


def _allowed(api: Any, right: Held) -> bool:
    """Whether the apiserver's authorizer now grants the provider's account ``right``."""
    kind, group, resource, verb = right
    base, _, sub = resource.partition("/")
    attributes = {"group": group, "resource": base, "subresource": sub, "verb": verb}
    if kind == "Role":
        attributes["namespace"] = "default"
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:default:{SERVICE_ACCOUNT}",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:default"],
            "resourceAttributes": attributes,
        },
    }
    answer = client.AuthorizationV1Api(api).create_subject_access_review(review)
    return bool(answer.status.allowed)


def _wait_allowed(api: Any, right: Held, allowed: bool) -> None:
    """Wait until RBAC's change reached the authorizer (its informer lags the write)."""
    deadline = time.monotonic() + 30
    while _allowed(api, right) != allowed:
        assert time.monotonic() < deadline, f"RBAC never {'granted' if allowed else 'took'} {right}"
        time.sleep(0.05)


@contextmanager
def _without(api: Any, right: Held) -> Iterator[None]:
    """The Role or ClusterRole of deploy/rbac.yaml with one verb taken out, then put back."""
    kind, group, resource, verb = right
    rbac = client.RbacAuthorizationV1Api(api)

    def read() -> Any:
        if kind == "Role":
            return rbac.read_namespaced_role("datalocality", "default")
        return rbac.read_cluster_role("datalocality-default")

    def write(body: dict[str, Any]) -> None:
        if kind == "Role":
            rbac.replace_namespaced_role("datalocality", "default", body)
        else:
            rbac.replace_cluster_role("datalocality-default", body)

    original = api.sanitize_for_serialization(read())
    changed = copy.deepcopy(original)
    rules = []
    for rule in changed["rules"]:
        if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]:
            assert rule["apiGroups"] == [group] and rule["resources"] == [resource], rule
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
        if rule["verbs"]:
            rules.append(rule)
    changed["rules"] = rules
    write(changed)
    _wait_allowed(api, right, False)
    try:
        yield
    finally:
        restored = api.sanitize_for_serialization(read())
        restored["rules"] = original["rules"]
        write(restored)
        _wait_allowed(api, right, True)


# Taken away, these fail no task: KubernetesPodOperator's cleanup labels the finished pod
# checked and deletes it with errors suppressed (logged by KPO's logger, which after an
# earlier dag.test in the process no longer writes to the captured output: the refusal is
# read from the apiserver's audit log instead). Still needed: without the label a rerun
# reattaches to a finished pod, without the delete finished pods pile up.
LOGGED_BY_KPO = {("", "pods", "patch"), ("", "pods", "delete")}


def test_each_right_taken_away_fails_a_task_naming_it(
    airflow_db: Path, kube: ProviderCluster, capfd: pytest.CaptureFixture[str]
) -> None:
    """Remove one verb from deploy/rbac.yaml's roles: a task of the run fails, and its log
    names the verb and the resource the apiserver refused, in the apiserver's words."""
    plane = kube.admin
    assert isinstance(plane, ControlPlane)
    user = f"system:serviceaccount:default:{SERVICE_ACCOUNT}"
    wrong: dict[Held, str] = {}
    with kube.api_client() as api:
        for right in held_rights():
            _, group, resource, verb = right
            with _without(api, right):
                audited = len(plane.audited_requests())
                capfd.readouterr()
                run = run_dag_unchecked(*NEEDED_BY.get((group, resource, verb), PIPELINE))
                out = "".join(capfd.readouterr())
            failed = sorted(task for task, state in task_states(run).items() if state == "failed")
            words = f'cannot {verb} resource "{resource}" in API group "{group}"'
            named = words in out
            if (group, resource, verb) in LOGGED_BY_KPO:
                refused = [
                    r
                    for r in plane.audited_requests()[audited:]
                    if r.user == user
                    and (r.group, r.resource, r.verb, r.code) == (group, resource, verb, 403)
                ]
                if not refused or failed:
                    wrong[right] = f"expected refused, not failed: {len(refused)}, {failed}"
            elif not failed or not named:
                wrong[right] = f"failed {failed}, named: {named}\n{_excerpt(out)}"
    assert wrong == {}, wrong


def _excerpt(out: str) -> str:
    """The lines of a run's output that tell why a task failed."""
    lines = [line for line in out.splitlines() if "rror" in line or "orbidden" in line]
    return "\n".join(lines[-8:])[-3000:]
