"""The real kubernetes client against the emulator: CRUD, conflicts, selectors, patches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox import Sandbox
from tests.sandbox.conftest import pod, wait_for


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def test_create_get_list_delete_configmap(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", cm("one"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.resource_version.isdigit()
    assert core.read_namespaced_config_map("one", "default").data == {"k": "v"}
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["one"]
    status = core.delete_namespaced_config_map("one", "default")
    assert status.status == "Success"
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("one", "default")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["reason"] == "NotFound"


def test_duplicate_create_is_409_already_exists(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", cm("dup"))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", cm("dup"))
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["reason"] == "AlreadyExists"


def test_stale_update_is_409_conflict_and_noop_keeps_version(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", cm("cfg"))
    fresh = core.read_namespaced_config_map("cfg", "default")
    fresh.data = {"k": "new"}
    updated = core.replace_namespaced_config_map("cfg", "default", fresh)
    assert int(updated.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"k": "stale"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("cfg", "default", first)
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["reason"] == "Conflict"
    same = core.replace_namespaced_config_map("cfg", "default", updated)
    assert same.metadata.resource_version == updated.metadata.resource_version


def test_resource_versions_increase(core: client.CoreV1Api) -> None:
    versions = [
        int(core.create_namespaced_config_map("default", cm(f"c{i}")).metadata.resource_version)
        for i in range(5)
    ]
    assert versions == sorted(versions) and len(set(versions)) == 5


def test_generate_name_and_missing_namespace(core: client.CoreV1Api) -> None:
    made = core.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == 9
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("nowhere", cm("x"))
    assert exc.value.status == 404


def test_invalid_names_and_labels_are_422(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as bad_name:
        core.create_namespaced_config_map("default", cm("Not_Valid"))
    assert bad_name.value.status == 422
    with pytest.raises(ApiException) as bad_label:
        core.create_namespaced_config_map("default", cm("ok", key="x" * 64))
    assert bad_label.value.status == 422
    assert "metadata.labels" in bad_label.value.body


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "b"]),
        ("tier==web", ["a", "b"]),
        ("tier!=web", ["c", "d"]),
        ("tier in (web,db)", ["a", "b", "c"]),
        ("tier notin (web)", ["c", "d"]),
        ("env", ["a", "c"]),
        ("!env", ["b", "d"]),
        ("tier=web,env=prod", ["a"]),
    ],
)
def test_label_selectors(core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    core.create_namespaced_config_map("default", cm("a", tier="web", env="prod"))
    core.create_namespaced_config_map("default", cm("b", tier="web"))
    core.create_namespaced_config_map("default", cm("c", tier="db", env="dev"))
    core.create_namespaced_config_map("default", cm("d"))
    found = core.list_namespaced_config_map("default", label_selector=selector).items
    assert [c.metadata.name for c in found] == expected


def test_field_selectors_on_pods(core: client.CoreV1Api, sandbox: Sandbox) -> None:
    core.create_namespaced_pod("default", pod("on-a1", nodeName="a1"))
    core.create_namespaced_pod("default", pod("gated", schedulingGates=[{"name": "wait"}]))

    def names(selector: str) -> list[str]:
        found = core.list_pod_for_all_namespaces(field_selector=selector).items
        return [p.metadata.name for p in found]

    assert names("spec.nodeName=a1") == ["on-a1"]
    assert names("spec.nodeName=") == ["gated"]
    assert names("metadata.name=gated,metadata.namespace=default") == ["gated"]
    assert names("metadata.namespace!=default") == []
    wait_for(lambda: names("status.phase=Succeeded") == ["on-a1"])
    assert names("status.phase!=Succeeded") == ["gated"]


def test_list_paging(core: client.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_config_map("default", cm(f"p{i}"))
    page = core.list_namespaced_config_map("default", limit=2)
    names = [c.metadata.name for c in page.items]
    while page.metadata._continue:
        page = core.list_namespaced_config_map(
            "default", limit=2, _continue=page.metadata._continue
        )
        names += [c.metadata.name for c in page.items]
    assert names == [f"p{i}" for i in range(5)]


def test_patch_types(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", cm("patched", a="1"))
    core.patch_namespaced_config_map("patched", "default", {"metadata": {"labels": {"b": "2"}}})
    merged = core.read_namespaced_config_map("patched", "default")
    assert merged.metadata.labels == {"a": "1", "b": "2"}
    core.patch_namespaced_config_map(
        "patched",
        "default",
        [
            {"op": "replace", "path": "/data/k", "value": "j"},
            {"op": "remove", "path": "/metadata/labels/a"},
        ],
    )
    after = core.read_namespaced_config_map("patched", "default")
    assert after.data == {"k": "j"} and after.metadata.labels == {"b": "2"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map(
            "patched", "default", [{"op": "test", "path": "/data/k", "value": "no"}]
        )
    assert exc.value.status == 422
    stale = {"metadata": {"resourceVersion": "1", "labels": {"c": "3"}}}
    with pytest.raises(ApiException) as conflict:
        core.patch_namespaced_config_map("patched", "default", stale)
    assert conflict.value.status == 409


def test_strategic_merge_keeps_containers_by_name(core: client.CoreV1Api) -> None:
    body = pod("smp", containers=[{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}])
    core.create_namespaced_pod("default", body)
    core.patch_namespaced_pod(
        "smp", "default", {"spec": {"containers": [{"name": "b", "image": "y:2"}]}}
    )
    images = {c.name: c.image for c in core.read_namespaced_pod("smp", "default").spec.containers}
    assert images == {"a": "x:1", "b": "y:2"}
    with pytest.raises(
        ApiException
    ) as exc:  # pod spec is immutable apart from images and a few fields
        core.patch_namespaced_pod("smp", "default", {"spec": {"restartPolicy": "Always"}})
    assert exc.value.status == 422


def test_status_subresource(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("st", nodeName="nowhere"))
    core.patch_namespaced_pod("st", "default", {"status": {"phase": "Failed"}})
    assert (
        core.read_namespaced_pod("st", "default").status.phase == "Pending"
    )  # main resource ignores status
    core.patch_namespaced_pod_status(
        "st", "default", {"status": {"message": "hi"}, "metadata": {"labels": {"x": "y"}}}
    )
    read = core.read_namespaced_pod_status("st", "default")
    assert read.status.message == "hi" and read.metadata.labels is None  # /status ignores the rest


def test_finalizers_hold_deletion(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}}
    )
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map(
            "held", "default", {"metadata": {"finalizers": ["example.com/keep", "new"]}}
        )
    assert exc.value.status == 422
    core.patch_namespaced_config_map(
        "held", "default", [{"op": "remove", "path": "/metadata/finalizers"}]
    )
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", "default")
    assert gone.value.status == 404


def test_delete_preconditions(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", cm("pre"))
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_config_map(
            "pre",
            "default",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="other")),
        )
    assert exc.value.status == 409


def test_owner_references_cascade(core: client.CoreV1Api, sandbox: Sandbox) -> None:
    owner = core.create_namespaced_config_map("default", cm("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "child", "ownerReferences": [ref]}}
    )
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "kept", "ownerReferences": [ref]}}
    )
    core.delete_namespaced_config_map("owner", "default")  # background: dependents collected
    wait_for(lambda: not core.list_namespaced_config_map("default").items)
    wait_for(lambda: not core.list_namespaced_secret("default").items)


def test_orphan_and_foreground_propagation(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", cm("o1"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o1", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "orphaned", "ownerReferences": [ref]}}
    )
    core.delete_namespaced_config_map("o1", "default", propagation_policy="Orphan")
    assert core.read_namespaced_config_map("orphaned", "default").metadata.owner_references is None
    owner = core.create_namespaced_config_map("default", cm("o2"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o2", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "dep", "ownerReferences": [ref]}}
    )
    core.delete_namespaced_config_map("o2", "default", propagation_policy="Foreground")

    def names() -> set[str]:
        return {c.metadata.name for c in core.list_namespaced_config_map("default").items}

    wait_for(lambda: names() == {"orphaned"})


def test_namespaces_and_default_service_account(core: client.CoreV1Api, sandbox: Sandbox) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    wait_for(lambda: core.list_namespaced_service_account("team").items)
    core.create_namespaced_config_map("team", cm("inside"))
    core.delete_namespace("team")
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("team", cm("late"))
    assert exc.value.status in (403, 404)

    def gone() -> bool:
        try:
            core.read_namespace("team")
        except ApiException as missing:
            return bool(missing.status == 404)
        return False

    wait_for(gone)


def test_discovery(api: Any) -> None:
    versions = client.CoreApi(api).get_api_versions()
    assert versions.versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"batch", "apiextensions.k8s.io", "coordination.k8s.io"} <= groups
    resources = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/log", "pods/status", "nodes", "configmaps", "events"} <= resources
    assert client.VersionApi(api).get_code().major == "1"


def test_secrets_string_data(core: client.CoreV1Api) -> None:
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"token": "abc"}}
    )
    secret = core.read_namespaced_secret("s", "default")
    assert secret.data == {"token": "YWJj"} and secret.type == "Opaque"


def test_leases_and_services(api: Any, core: client.CoreV1Api) -> None:
    coordination = client.CoordinationV1Api(api)
    coordination.create_namespaced_lease(
        "default", {"metadata": {"name": "lock"}, "spec": {"holderIdentity": "me"}}
    )
    assert coordination.read_namespaced_lease("lock", "default").spec.holder_identity == "me"
    service = core.create_namespaced_service(
        "default", {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert service.spec.type == "ClusterIP"
