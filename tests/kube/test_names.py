"""Names and labels: always valid for Kubernetes, stable across runs, distinct per input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datalocality.errors import SpecError
from datalocality.kube.names import (
    ANNOTATION_RUN_KEY,
    LABEL_DAG_ID,
    LABEL_MANAGED_BY,
    LABEL_RUN_ID,
    LABEL_TASK_ID,
    TaskKey,
    build_annotations,
    build_claim_name,
    build_data_source_name,
    build_labels,
    build_name,
    is_label_value,
    label_value,
    sanitize,
    selector,
    spec_hash,
)
from datalocality.model import DataInput

RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# What a DataInput's identity may hold: any text but control characters and line breaks
# (refused by the model, tested in tests/test_bad_inputs.py).
printable = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
identities = st.text(printable, min_size=1, max_size=300)
task_keys = st.builds(
    TaskKey,
    dag_id=st.text(min_size=1, max_size=250),
    run_id=st.text(min_size=1, max_size=250),
    task_id=st.text(min_size=1, max_size=250),
    map_index=st.integers(min_value=-1, max_value=100_000),
)
inputs = st.builds(
    DataInput,
    system=identities,
    dataSourceName=identities,
    dataSourceType=identities,
    attributes=st.dictionaries(
        st.text(printable, max_size=20), st.text(printable, max_size=20), max_size=4
    ),
)


def is_rfc1123_label(name: str) -> bool:
    return len(name) <= 63 and bool(RFC1123_LABEL.match(name))


@given(task_keys, st.text(max_size=30), st.text(max_size=300))
def test_object_names_are_rfc1123_labels(task: TaskKey, kind: str, part: str) -> None:
    assert is_rfc1123_label(build_name(task, kind, part))


@given(task_keys, st.text(max_size=30), st.text(max_size=300))
def test_object_names_are_stable(task: TaskKey, kind: str, part: str) -> None:
    again = TaskKey.parse(task.model_dump())
    assert build_name(task, kind, part) == build_name(again, kind, part)


@given(task_keys, task_keys)
def test_different_task_instances_get_different_names(a: TaskKey, b: TaskKey) -> None:
    if a != b:
        assert build_name(a, "claim", "x") != build_name(b, "claim", "x")


@given(task_keys, inputs, inputs)
def test_claim_names_differ_per_input(task: TaskKey, a: DataInput, b: DataInput) -> None:
    name_a, name_b = build_claim_name(task, a), build_claim_name(task, b)
    assert is_rfc1123_label(name_a)
    assert (name_a == name_b) == (a.key == b.key)


@given(inputs, inputs)
def test_data_source_names_are_valid_and_identify_the_source(a: DataInput, b: DataInput) -> None:
    name = build_data_source_name(a)
    assert is_rfc1123_label(name)
    same_identity = (a.system, a.data_source_type, a.name, a.attributes) == (
        b.system,
        b.data_source_type,
        b.name,
        b.attributes,
    )
    assert (name == build_data_source_name(b)) == same_identity


@given(task_keys)
def test_labels_are_valid_label_values(task: TaskKey) -> None:
    labels = build_labels(task, component="replica")
    assert labels[LABEL_MANAGED_BY] == "datalocality"
    for value in labels.values():
        assert len(value) <= 63 and LABEL_VALUE.match(value), value
    annotations = build_annotations(task)
    assert (annotations[LABEL_DAG_ID], annotations[LABEL_TASK_ID], annotations[LABEL_RUN_ID]) == (
        task.dag_id,
        task.task_id,
        task.run_id,
    )
    assert annotations[ANNOTATION_RUN_KEY] == task.run_key


@given(st.text(max_size=300))
def test_label_value_keeps_valid_values_and_hashes_the_rest(raw: str) -> None:
    value = label_value(raw)
    assert is_label_value(value)
    if is_label_value(raw):
        assert value == raw


@given(st.text(max_size=200), st.integers(min_value=0, max_value=63))
def test_sanitize_yields_label_characters(text: str, limit: int) -> None:
    cleaned = sanitize(text, limit)
    assert len(cleaned) <= limit
    assert cleaned == "" or RFC1123_LABEL.match(cleaned)


def test_names_are_pinned() -> None:
    # The hash is part of the contract: a changed name would orphan running objects.
    task = TaskKey(
        dag_id="clickstream", run_id="manual__2026-11-01T10:00:00+00:00", task_id="train"
    )
    assert build_name(task, "claim", "iceberg/table/warehouse.ml.events") == (
        "train-claim-2d9341774881"
    )
    assert build_labels(task)[LABEL_RUN_ID] == "manual-2026-11-01t10-00-00-00-00-7713b8618d71"
    source = DataInput(system="Iceberg", name="Warehouse.ML_Events")
    assert build_data_source_name(source) == "iceberg-table-warehouse-ml-events-0418b37cd570"


def test_long_task_ids_are_cut_but_stay_distinct() -> None:
    long_a = TaskKey(dag_id="d", run_id="r", task_id="x" * 200 + "a")
    long_b = TaskKey(dag_id="d", run_id="r", task_id="x" * 200 + "b")
    a, b = build_name(long_a, "replica"), build_name(long_b, "replica")
    assert len(a) == 63 and is_rfc1123_label(a)
    assert a != b


def test_a_task_id_with_no_usable_character_still_names_objects() -> None:
    assert build_name(TaskKey(dag_id="d", run_id="r", task_id="___"), "claim").startswith(
        "task-claim-"
    )


def test_selector_matches_the_labels() -> None:
    task = TaskKey(dag_id="d", run_id="r", task_id="t", map_index=3)
    assert "datalocality.io/map-index=3" in selector(task)
    assert "map-index" not in selector(task, per_instance=False)


def test_spec_hash_ignores_metadata_and_status() -> None:
    a = {"kind": "X", "spec": {"a": 1}, "metadata": {"name": "a"}, "status": {"b": 2}}
    b = {"kind": "X", "spec": {"a": 1}, "metadata": {"name": "b"}}
    assert spec_hash(a) == spec_hash(b)
    assert spec_hash(a) != spec_hash({"kind": "X", "spec": {"a": 2}})


@pytest.mark.parametrize(
    ("field", "value"), [("dag_id", ""), ("map_index", -2), ("task_id", "x" * 251)]
)
def test_bad_task_keys_name_the_field(field: str, value: object) -> None:
    values: dict[str, Any] = {"dag_id": "d", "run_id": "r", "task_id": "t", field: value}
    with pytest.raises(SpecError) as caught:
        TaskKey(**values)
    assert caught.value.field == field
