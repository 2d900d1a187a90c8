"""Our CRDs: valid apiextensions/v1, and their schemas really check our objects."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs
import kubernetes_validate
import pytest

from datalocality.binding import claim_ref
from datalocality.errors import SpecError
from datalocality.kube.claims import (
    build_data_source,
    build_data_source_claim,
    claim_state,
    crd_manifests,
    crd_schema,
    source_state,
    with_claim_ref,
    with_phase,
)
from datalocality.kube.names import build_claim_name, build_data_source_name
from datalocality.kube.slices import SLICE_KIND, build_slices, chunks_from_slices, chunks_hash
from datalocality.model import DataSourceClaim, WorkloadRef
from tests.kube.support import INPUT, NOW, SOURCE, TASK

FORMATS = jsonschema.FormatChecker()
UID = "3b0d4f52-6a8e-4f3c-9a51-0d5b1c2e7f90"


def _date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.fromisoformat(value))


def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


# Registered by call, not as decorators: jsonschema is untyped, so its decorator would be too.
FORMATS.checks("date-time", raises=ValueError)(_date_time)
FORMATS.checks("int32")(_int32)
FORMATS.checks("int64")(_int64)


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused (the API server would silently prune them)."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def validate(kind: str, obj: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(strict(crd_schema(kind)), format_checker=FORMATS).validate(obj)


def claim_object() -> dict[str, Any]:
    claim = DataSourceClaim(
        name=build_claim_name(TASK, INPUT),
        input=INPUT,
        workload=WorkloadRef(name="clickstream.train", namespace="data"),
    )
    return build_data_source_claim(claim, task=TASK, namespace="data")


def source_object() -> dict[str, Any]:
    return build_data_source(build_data_source_name(SOURCE), SOURCE)


def slice_object() -> dict[str, Any]:
    (made,) = build_slices(build_data_source_name(SOURCE), UID, SOURCE.chunks)
    return made


@pytest.mark.parametrize("crd", crd_manifests(), ids=lambda c: c["metadata"]["name"])
def test_crds_are_valid_apiextensions_v1(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, "1.33", strict=True)
    version = crd["spec"]["versions"][0]
    assert (version.get("subresources"), version["served"], version["storage"]) == (
        # slices are written once and have no status, as EndpointSlices
        None if crd["spec"]["names"]["kind"] == SLICE_KIND else {"status": {}},
        True,
        True,
    )
    assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.datalocality.io"
    assert crd["spec"]["scope"] == (
        "Namespaced" if "claim" in crd["metadata"]["name"] else "Cluster"
    )


@pytest.mark.parametrize("crd", crd_manifests(), ids=lambda c: c["metadata"]["name"])
def test_crd_schemas_are_structural(crd: dict[str, Any]) -> None:
    # Structural schemas: every node typed; properties and additionalProperties exclusive.
    def walk(node: dict[str, Any], path: str) -> None:
        assert "type" in node, path
        assert not ("properties" in node and "additionalProperties" in node), path
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")


@pytest.mark.parametrize("crd", crd_manifests(), ids=lambda c: c["metadata"]["name"])
def test_printer_columns_point_at_schema_fields(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    # kubectl fills a column from the field its jsonPath names, formatted as the column's
    # type: the field must exist with a type that formats so (a list prints as a string).
    fits = {"string": {"string", "array"}, "integer": {"integer"}}
    for column in version["additionalPrinterColumns"]:
        path = column["jsonPath"].lstrip(".").split(".")
        if path[0] == "metadata":
            continue
        node = schema
        for part in path:
            node = node["properties"][part]
        if column["type"] == "date":
            assert (node["type"], node.get("format")) == ("string", "date-time"), column
        else:
            assert node["type"] in fits[column["type"]], column


def test_claim_objects_match_the_claim_crd() -> None:
    obj = claim_object()
    validate("DataSourceClaim", obj)
    bound = with_phase(obj, "Bound", "src", now=NOW, reason="BindingSuccessful", message="ok")
    assert bound is not None
    validate("DataSourceClaim", bound)


def test_source_objects_match_the_source_crd() -> None:
    obj = source_object()
    validate("DataSource", obj)
    referenced = with_claim_ref(obj, "data/claim-a", uid="u-1")
    assert referenced is not None
    validate("DataSource", referenced)
    assert referenced["status"]["boundClaims"] == 1


def test_slice_objects_match_the_slice_crd() -> None:
    validate("DataSourceSlice", slice_object())


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("DataSourceClaim", ("spec", "dataSourceNmae"), "typo"),
        ("DataSourceClaim", ("spec", "system"), ""),
        ("DataSourceClaim", ("status", "phase"), "Ready"),
        ("DataSource", ("spec", "reclaimPolicy"), "Recycle"),
        ("DataSource", ("spec", "observedAt"), "yesterday"),
        ("DataSource", ("status", "boundClaims"), -1),
        ("DataSource", ("spec", "locality", "clusters"), ["prod"]),
        ("DataSource", ("spec", "chunks"), []),  # chunks live in slices now
        ("DataSource", ("spec", "totals", "bytes"), -1),
        ("DataSource", ("spec", "slices"), -1),
        ("DataSourceSlice", ("spec", "index"), -1),
        ("DataSourceSlice", ("spec", "count"), 0),
        ("DataSourceSlice", ("spec", "chunksHash"), ""),
    ],
)
def test_schemas_refuse_bad_fields(kind: str, path: tuple[str, ...], value: object) -> None:
    objects = {"DataSourceClaim": claim_object, "DataSource": source_object}
    obj = objects.get(kind, slice_object)()
    node = obj
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(kind, obj)


def test_schema_refuses_a_bad_chunk() -> None:
    obj = slice_object()
    obj["spec"]["chunks"][0]["size"] = -5
    with pytest.raises(jsonschema.ValidationError):
        validate("DataSourceSlice", obj)
    obj["spec"]["chunks"][0].update(size=1, locations=["rack:7"])
    with pytest.raises(jsonschema.ValidationError):
        validate("DataSourceSlice", obj)


def test_objects_parse_back_into_the_model() -> None:
    claim = claim_state(claim_object())
    assert claim.namespace == "data"
    assert claim.claim.input == INPUT
    assert claim.claim.phase == "Pending"
    referenced = with_claim_ref(source_object(), claim_ref("data", claim.claim.name))
    assert referenced is not None
    source = source_state(referenced)
    assert source.source.model_dump(exclude={"claim_refs", "chunks"}) == SOURCE.model_dump(
        exclude={"claim_refs", "chunks"}
    )
    assert source.source.chunks == ()  # in the slices, read by datalocality.kube.publish
    assert source.refs == (claim.ref,)
    assert not source.deleting
    assert chunks_from_slices([slice_object()]) == SOURCE.chunks


def test_the_source_summarises_its_chunks() -> None:
    spec = source_object()["spec"]
    assert (spec["slices"], spec["totals"]["chunks"], spec["totals"]["bytes"]) == (
        1,
        4,
        SOURCE.total_bytes,
    )
    assert spec["chunksHash"] == slice_object()["spec"]["chunksHash"]
    nodes = spec["totals"]["nodes"]
    assert nodes["count"] == 3
    assert nodes["top"][0] == {"name": "node-a1", "chunks": 2, "bytes": 2 * 2**30}
    assert spec["totals"]["zones"] == {
        "count": 1,
        "top": [{"name": "zone-a", "chunks": 1, "bytes": 2**30}],
    }


def test_unparseable_objects_raise_spec_errors() -> None:
    obj = slice_object()
    obj["spec"]["chunks"][0]["locations"] = ["rack:7"]
    obj["spec"]["chunksHash"] = chunks_hash(obj["spec"]["chunks"])
    with pytest.raises(SpecError, match=r"chunks\[0\]\.locations"):
        chunks_from_slices([obj])
    bad = source_object()
    bad["spec"]["reclaimPolicy"] = "Recycle"
    with pytest.raises(SpecError, match="reclaimPolicy"):
        source_state(bad)
    with pytest.raises(SpecError, match=r"metadata\.name"):
        claim_state({"spec": {}})
    with pytest.raises(SpecError, match="kind"):
        crd_schema("Widget")
