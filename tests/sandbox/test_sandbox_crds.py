"""CRDs registered at run time, then custom objects through CustomObjectsApi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs

from datalocality_testcluster.sandbox import Sandbox, start_sandbox
from tests.sandbox.conftest import FAST, NODES, wait_for

GROUP, VERSION, PLURAL = "example.datalocality.io", "v1alpha1", "widgets"
SHIPPED = sorted(
    (Path(__file__).resolve().parents[2] / "datalocality" / "kube" / "crds").glob("*.yaml")
)


def crd(status: bool = True) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "colour": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
        },
    }
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": PLURAL,
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "versions": [version],
        },
    }


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def widgets(api: Any) -> client.CustomObjectsApi:
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(crd())
    established = lambda: any(  # noqa: E731
        c.type == "Established" and c.status == "True"
        for c in ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}").status.conditions or []
    )
    wait_for(established)
    return client.CustomObjectsApi(api)


def test_custom_objects_crud(widgets: client.CustomObjectsApi, api: Any) -> None:
    made = widgets.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w1", size=2)
    )
    assert made["metadata"]["uid"] and made["metadata"]["generation"] == 1
    assert made["spec"] == {"size": 2, "colour": "red"}  # defaulted
    with pytest.raises(ApiException) as dup:
        widgets.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("w1", size=2)
        )
    assert dup.value.status == 409
    patched = widgets.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": 5}}
    )
    assert patched["spec"]["size"] == 5 and patched["metadata"]["generation"] == 2
    stale = dict(made, spec={"size": 9})
    with pytest.raises(ApiException) as conflict:
        widgets.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", stale)
    assert conflict.value.status == 409
    listed = widgets.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert [w["metadata"]["name"] for w in listed["items"]] == ["w1"]
    widgets.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    with pytest.raises(ApiException) as missing:
        widgets.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    assert missing.value.status == 404


def test_status_subresource_and_generation(widgets: client.CustomObjectsApi) -> None:
    with_status = dict(widget("w2", size=1), status={"phase": "Ignored"})
    made = widgets.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, with_status)
    assert "status" not in made  # create drops status when the subresource exists
    widgets.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "w2", {"status": {"phase": "Bound"}}
    )
    read = widgets.get_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "w2")
    assert read["status"] == {"phase": "Bound"} and read["metadata"]["generation"] == 1
    widgets.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w2", {"status": {"phase": "X"}}
    )
    assert widgets.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w2")[
        "status"
    ] == {"phase": "Bound"}


def test_schema_validation_and_pruning(widgets: client.CustomObjectsApi) -> None:
    for bad in (
        widget("b1"),
        widget("b2", size="big"),
        widget("b3", size=0),
        widget("b4", size=1, colour="green"),
    ):
        with pytest.raises(ApiException) as exc:
            widgets.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
        assert exc.value.status == 422
    kept = widgets.create_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        widget("p", size=1, typo=True, extra={"free": {"form": 1}}),
    )
    assert kept["spec"] == {"size": 1, "colour": "red", "extra": {"free": {"form": 1}}}


def test_discovery_and_unregistering(widgets: client.CustomObjectsApi, api: Any) -> None:
    widgets.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w", size=1))
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert GROUP in groups
    client.ApiextensionsV1Api(api).delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    with pytest.raises(ApiException) as exc:
        widgets.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert exc.value.status == 404


def test_invalid_crd_is_422(api: Any) -> None:
    broken = crd()
    broken["metadata"]["name"] = "wrong.name"
    with pytest.raises(ApiException) as exc:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(broken)
    assert exc.value.status == 422


def test_crds_preloaded_from_files(tmp_path: Path) -> None:
    path = tmp_path / "crd.yaml"
    path.write_text(yaml.safe_dump(crd(status=False)))
    with start_sandbox(NODES, timing=FAST, crds=[path]) as sandbox, sandbox.api_client() as api:
        objects = client.CustomObjectsApi(api)
        made = objects.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, dict(widget("s", size=1), status={"phase": "kept"})
        )
        assert made["status"] == {"phase": "kept"}  # no status subresource: status is ordinary
        assert sandbox.errors == []


@pytest.mark.skipif(not SHIPPED, reason="datalocality/kube/crds/ has no CRD yet")
def test_shipped_crds_register(sandbox: Sandbox, api: Any) -> None:
    ext = client.ApiextensionsV1Api(api)
    for path in SHIPPED:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                ext.create_custom_resource_definition(doc)
                group, plural = doc["spec"]["group"], doc["spec"]["names"]["plural"]
                version = next(v["name"] for v in doc["spec"]["versions"] if v.get("served", True))
                listed = client.CustomObjectsApi(api).list_cluster_custom_object(
                    group, version, plural
                )
                assert listed["items"] == []
