"""The bad-input table, continued: the producer group's, the replica pod operator's and
the job operators' fields, a replica or Job aimed at another namespace than its plan's
chunk lists, and a DAG whose producer consumes its own consumer's output (a cycle).

As in ``test_bad_inputs``: one real control plane (the provider's writes counted from its
audit log) and one loopback server recording every request; each bad value is refused
with our error naming the field, when the DAG is parsed or, for a templated field, when
the task runs, before its first request.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datalocality.errors import DataLocalityError
from tests.airflow.bad_inputs_support import (
    INJECTIONS,
    LONG,
    Case,
    World,
    check_refused_before_any_request,
    cluster_access,
    task_context,
    world,
)

__all__ = ["world"]  # the module's fixture: one control plane for its cases

REPLICA = {  # one entry as the plan task returns it (locality_pods' expand_kwargs)
    "index": 0,
    "node": "worker-a1",
    "chunk_count": 1,
    "namespace": "default",
    "affinity": {},
    "env": [],
    "chunk_list": {"stem": "p-chunks-1", "key": "replica-0", "first": 0, "shards": 1, "count": 1},
}
OPERATION = {  # one operation entry as the plan task returns it
    "index": 0,
    "kind": "repartition",
    "scope": "replica",
    "source": "src",
    "node": "worker-a1",
    "replica": 0,
    "reason": "r",
    "chunk_count": 1,
    "namespace": "default",
    "chunk_list": {"stem": "p-chunks-1", "key": "operation-0", "first": 0, "shards": 1, "count": 1},
}

CASES: list[Case] = [
    # produce_chunks, refused when the DAG is parsed
    *(Case("produce", "replicas", {"replicas": v}) for v in (0, "2", True)),
    Case("produce", "replica_overrides", {"replicas": 1, "replica_overrides": [{}, {}]}),
    Case("produce", "replica_overrides", {"replica_overrides": {"env": {}}}),
    Case(
        "produce",
        "replica_overrides[0].nodeselector",
        {"replica_overrides": [{"nodeselector": {}}]},
    ),
    *(
        Case("produce", f"replica_overrides[0].{k}", {"replica_overrides": [{k: v}]})
        for k, v in (
            ("node_selector", {"a b": "x"}),
            ("node_selector", {"k": LONG}),
            ("node_selector", {"k": "a\nb"}),
            ("node_selector", {"k": 1}),
            ("annotations", {"/k": "x"}),
            ("annotations", {"k": 1}),
            ("annotations", {"k": {"nested": "x"}}),
            ("env", {"1 A": "x"}),
            ("env", {"A": 1}),
            ("env", []),
        )
    ),
    Case("produce", "reclaim_policy", {"reclaim_policy": "Keep"}),
    *(Case("produce", "system", {"system": v}) for v in ("", "a\nb", 1)),
    Case("produce", "data_source_type", {"data_source_type": "a\u2028b"}),
    Case("produce", "data_source_name", {"data_source_name": "a\nb"}),
    Case("produce", "publish", {"publish": "yes"}),
    *(Case("produce", "namespace", {"namespace": v}) for v in INJECTIONS),
    # the replica pod operator: a replica entry not the plan's, another namespace
    *(Case("pod", "namespace", {"namespace": v}) for v in INJECTIONS),
    *(Case("pod-run", "replica", {"replica": v}) for v in ({}, {"index": 0}, 3, ["x"])),
    Case("pod-run", "namespace", {"namespace": "other", "replica": REPLICA}),
    # the job operators, when the DAG is parsed
    Case("jobs", "cmds", {"cmds": "echo hi"}),
    Case("jobs", "arguments", {"arguments": [1]}),
    *(
        Case("jobs", f"requests.{k}", {"requests": {k: v}})
        for k, v in (("cpu", "x"), ("memory", "1Gb"), ("cpu", "-1"))
    ),
    Case("jobs", "limits.memory", {"limits": {"memory": "lots"}}),
    Case("jobs", "image", {"image": ""}),
    *(Case("jobs", "namespace", {"namespace": v}) for v in INJECTIONS),
    *(Case("jobs", "job_poll_interval", {"job_poll_interval": v}) for v in (0, -1, math.nan)),
    *(Case("jobs", "job_timeout", {"job_timeout": v}) for v in (0, math.inf)),
    # ... and when the task runs (templated fields, the plan's entries)
    *(Case("jobs-run", "namespace", {"namespace": v}) for v in ("a/b", "UPPER")),
    Case("jobs-run", "namespace", {"namespace": "other"}),  # the lists are in default
    Case("jobs-run", "image", {"image": ""}),
    Case("jobs-run", "operations", {"operations": "x"}),
    Case("jobs-run", "operations[0]", {"operations": [{"kind": "repartition"}]}),
]


def _run(case: Case, world: World) -> Callable[[], Any]:
    """What the case does: build the operator (and run it, for fields checked then)."""
    from airflow.sdk import DAG

    from datalocality.operators import (
        DataLocalityPodOperator,
        RepartitionOperator,
        produce_chunks,
    )

    access = cluster_access(world)
    args = dict(case.arguments)
    if case.surface == "produce":

        def group() -> Any:
            with DAG("bad_inputs", schedule=None):
                return produce_chunks(task_id="extract", image="etl:1", **args)

        return group
    if case.surface in ("pod", "pod-run"):
        pod_args = {"task_id": "replica", "image": "read:1", **access}
        if case.surface == "pod":
            return lambda: DataLocalityPodOperator(**pod_args, **args)
        templated: dict[str, Any] = dict.fromkeys(args, "{{ params.value }}")
        pod = DataLocalityPodOperator(**pod_args, **templated)
        for key, value in args.items():  # as rendering would set them
            setattr(pod, key, value)
        # the rendered replica is checked where KPO's execute starts: building the pod
        context = {**task_context(), "dag": DAG("bad_inputs", schedule=None), "task": pod}
        return lambda: pod.build_pod_request_obj(context)  # type: ignore[arg-type]
    job_args = {"task_id": "repartition", "image": "merge:1", "deferrable": False, **access}
    if case.surface == "jobs":
        return lambda: RepartitionOperator(operations=[OPERATION], **{**job_args, **args})
    rendered = {"operations": [OPERATION], **args}
    jobs = RepartitionOperator(**{**job_args, **dict.fromkeys(rendered, "{{ params.value }}")})
    for key, value in rendered.items():
        setattr(jobs, key, value)
    return lambda: jobs.execute(task_context())  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_task_value_is_refused_naming_its_field_before_any_request(
    case: Case, world: World
) -> None:
    check_refused_before_any_request(case, world, _run(case, world))


CYCLE = """
from airflow.sdk import DAG
from datalocality.operators import locality_pods, produce_chunks

with DAG("cycle", schedule=None):
    extract = produce_chunks(task_id="extract", image="etl:1")
    read = locality_pods(task_id="read", image="read:1", inputs=[extract.output])
    read >> extract  # the producer waits for its own consumer
"""


def test_a_producer_fed_by_its_own_consumer_is_refused_when_the_dag_is_parsed(
    world: World, tmp_path: Path
) -> None:
    """A cycle through the producer's output is Airflow's to refuse: the DAG file's
    import error names it, and nothing runs."""
    from airflow.dag_processing.dagbag import DagBag

    writes = world.writes()
    (tmp_path / "cycle.py").write_text(textwrap.dedent(CYCLE), encoding="utf-8")
    bag = DagBag(str(tmp_path), safe_mode=False)
    assert "cycle" not in bag.dags
    (error,) = bag.import_errors.values()
    assert "cycle" in error.lower(), error
    assert world.writes() == writes


PRODUCE_TEXT = ("system", "data_source_type", "data_source_name", "namespace", "image")
JOBS_TEXT = ("image", "namespace")


@settings(max_examples=200, deadline=None)
@given(
    produce_field=st.sampled_from(PRODUCE_TEXT),
    value=st.text(max_size=100),
    override=st.dictionaries(
        st.sampled_from(["node_selector", "annotations", "env"]),
        st.dictionaries(st.text(max_size=70), st.text(max_size=70), max_size=2),
    ),
    jobs_field=st.sampled_from(JOBS_TEXT),
    requests=st.dictionaries(st.sampled_from(["cpu", "memory", "gpu"]), st.text(max_size=12)),
    cmds=st.lists(st.text(max_size=10), max_size=3),
)
def test_any_text_in_the_other_tasks_fields_is_taken_or_refused_by_our_own_error(
    *,
    produce_field: str,
    value: str,
    override: dict[str, dict[str, str]],
    jobs_field: str,
    requests: dict[str, str],
    cmds: list[str],
) -> None:
    """Hypothesis: produce_chunks and a job operator built with any text in a string
    field, any override and any requests raise nothing but DataLocalityError."""
    from airflow.sdk import DAG

    from datalocality.operators import RepartitionOperator, produce_chunks

    fuzzed: dict[str, Any] = {"image": "etl:1", produce_field: value}
    with contextlib.suppress(DataLocalityError), DAG("fuzz", schedule=None):
        produce_chunks(task_id="extract", replica_overrides=[override], **fuzzed)
    fuzzed = {"image": "merge:1", jobs_field: value}
    with contextlib.suppress(DataLocalityError):
        RepartitionOperator(
            task_id="repartition", operations=[OPERATION], requests=requests, cmds=cmds, **fuzzed
        )
