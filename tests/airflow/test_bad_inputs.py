"""The bad-input table: each user-facing field given a bad value is refused, the error
naming the field, before any write to the real apiserver and before any HTTP request.

Every case runs against one real control plane (the provider's service account; writes
counted from the apiserver's audit log) and one loopback HTTP server that records every
request line (the webhdfs, Iceberg REST and Amoro resolvers point at it). A field
refused when the DAG is parsed raises SpecError from the constructor; a templated one is
checked when the task runs, before its first request: the case builds the operator with
a template and sets the rendered value, as Airflow would, then runs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datalocality.errors import DataLocalityError
from tests.airflow.bad_inputs_support import (
    INJECTIONS,
    LONG,
    NAMES,
    Case,
    World,
    an_input,
    check_refused_before_any_request,
    cluster_access,
    resolvers_file,
    task_context,
    world,
)

__all__ = ["world"]  # the module's fixture: one control plane for its cases

CASES: list[Case] = [
    # the plan operator, refused when the DAG is parsed
    *(Case("plan", "replicas", {"replicas": v}) for v in (0, -1, "3", True, 1.5, None)),
    *(
        Case("plan", "requests.cpu", {"requests": {"cpu": v}})
        for v in ("1.5.5", "-1", "1e", "one", "1Ki0", "", "Infinity", "NaN")
    ),
    *(Case("plan", "requests.memory", {"requests": {"memory": v}}) for v in ("1Gb", "-2Mi")),
    Case("plan", "requests.gpu", {"requests": {"gpu": "1"}}),
    Case("plan", "topology.mode", {"topology": {"mode": "strict"}}),
    *(
        Case("plan", "topology.highest_tier_allowed", {"topology": {"highest_tier_allowed": v}})
        for v in (5, -1, "zone", 1.5)
    ),
    Case("plan", "topology.spread", {"topology": {"spread": True}}),
    Case("plan", "partitioning", {"partitioning": "one-per-node"}),
    Case("plan", "inputFormat", {"input_format": "csv"}),
    Case("plan", "workloadClass", {"workload_class": "gpu"}),
    *(
        Case("plan", f"nodeSelector.{k}", {"node_selector": {k: v}})
        for k, v in (("a b", "x"), ("k", LONG), ("k", "a\nb"), ("/k", "x"), ("A_/k", "x"))
    ),
    Case("plan", "strategy", {"strategy": "optimla"}),
    Case("plan", "baseline_strategy", {"baseline_strategy": "blind"}),
    Case("plan", "scheduler", {"scheduler": "yunikorn"}),
    *(Case("plan", "volcano_queue", {"volcano_queue": v}) for v in ("a/b", "..", "Q", LONG * 4)),
    *(Case("plan", "namespace", {"namespace": v}) for v in INJECTIONS),
    *(Case("plan", "cluster_name", {"cluster_name": v}) for v in INJECTIONS),
    *(Case("plan", "member_clusters", {"member_clusters": {v: {}}}) for v in ("a/b", "EU")),
    Case("plan", "member_clusters.eu.token", {"member_clusters": {"eu": {"token": "x"}}}),
    *(Case("plan", "source_ttl", {"source_ttl": v}) for v in (300, "5m", timedelta(-1))),
    # templated fields: rendered when the task runs, refused before its first request
    *(Case("plan-run", "namespace", {"namespace": v}) for v in INJECTIONS),
    Case("plan-run", "strategy", {"strategy": "optimla"}),
    Case("plan-run", "inputs", {"inputs": []}),
    Case("plan-run", "inputs[0].dataSourceName", {"inputs": [{"system": "webhdfs"}]}),
    *(
        Case("plan-run", f"inputs[0].{f}", {"inputs": [{**an_input(), key: v}]})
        for f, key in (("system", "system"), ("dataSourceName", "dataSourceName"))
        for v in ("", "a\nb", "a\x00b", "a\u2028b")
    ),
    Case("plan-run", "inputs[0].attributes", {"inputs": [{**an_input(), "attributes": {"k": 1}}]}),
    Case(
        "plan-run",
        "inputs[0].requireLocality",
        {"inputs": [{**an_input(), "requireLocality": "y"}]},
    ),
    Case("plan-run", "inputs[0].extra", {"inputs": [{**an_input(), "extra": 1}]}),
    # data input names a resolver cannot send without changing the request's path
    *(
        Case("plan-run", "dataSourceName", {"inputs": [an_input(name=v)]})
        for v in ("lake/events", "/lake/../etc", "/lake//x", "/lake/./x")
    ),
    *(
        Case("plan-run", "dataSourceName", {"inputs": [an_input("iceberg", v)]})
        for v in ("db.t/../x", "db..t", ".t", "t")
    ),
    # resolver configs: refused naming the field, before any request
    *(
        Case("plan-run", f"webhdfs.{f}", {}, {"webhdfs": {"resolver": "webhdfs", **c}})
        for f, c in (
            ("endpoint", {"endpoint": "ftp://127.0.0.1:1"}),
            ("endpoint", {"endpoint": "http://user:pw@127.0.0.1:1"}),
            ("endpoint", {"endpoint": "http://169.254.169.254"}),
            ("endpoint", {"endpoint": "http://0xA9FEA9FE"}),
            ("endpoint", {"endpoint": "http://[fd00:ec2::254]"}),
            ("endpoint", {"endpoint": "http://127.0.0.1:1/a?b=c"}),
            ("endpoint", {"endpoint": "not a url"}),
            ("bogus", {"endpoint": "http://127.0.0.1:1", "bogus": 1}),
            ("timeout", {"endpoint": "http://127.0.0.1:1", "timeout": -1}),
            ("timeout", {"endpoint": "http://127.0.0.1:1", "timeout": "1s"}),
            ("retry.maxAttempts", {"endpoint": "http://127.0.0.1:1", "retry": {"maxAttempts": 0}}),
            ("insecureSkipVerify", {"endpoint": "http://127.0.0.1:1", "insecureSkipVerify": "no"}),
            ("locationMapping", {"endpoint": "http://127.0.0.1:1", "locationMapping": []}),
        )
    ),
    Case("plan-run", "webhdfs.resolver", {}, {"webhdfs": {"resolver": "hdfs3"}}),
    # locality_pods, refused when the DAG is parsed
    Case("group", "replicas", {"replicas": 1025}),
    Case("group", "replicas", {"replicas": 0}),
    *(Case("group", "namespace", {"namespace": v}) for v in ("a/b", "UPPER")),
    # the sensors: refused when the task runs, before it polls
    *(Case("claim-sensor", "claim_name", {"claim_name": v}) for v in NAMES),
    *(Case("claim-sensor", "namespace", {"namespace": v}) for v in ("a/b", "..")),
    *(Case("phase-sensor", "data_source_name", {"data_source_name": v}) for v in NAMES),
    Case("phase-sensor", "phase", {"phase": "Gone"}),
    Case("data-sensor", "min_bytes", {"min_bytes": "ten"}),
    Case("data-sensor", "min_chunks", {"min_chunks": -1}),
    Case("data-sensor", "system", {"system": "a\nb"}),
    Case("data-sensor", "dataSourceName", {"name": "/lake/../etc"}),
    Case("data-sensor", "attributes", {"attributes": {"k": "a\nb"}}),
]


def _run(case: Case, world: World) -> Callable[[], Any]:
    """What the case does: build the operator (and run it, for fields checked then)."""
    from airflow.sdk import DAG

    from datalocality.operators import DataLocalityPlanOperator, locality_pods
    from datalocality.sensors import (
        DataAvailableSensor,
        DataSourceClaimBoundSensor,
        DataSourcePhaseSensor,
    )

    access = cluster_access(world)
    resolvers = resolvers_file(world, case.config)
    args = dict(case.arguments)
    if case.surface == "plan":
        return lambda: DataLocalityPlanOperator(
            task_id="plan", inputs=[an_input()], resolvers_config=resolvers, **access, **args
        )
    if case.surface == "plan-run":
        inputs = args.pop("inputs", [an_input()])
        templated: dict[str, Any] = dict.fromkeys(args, "{{ params.value }}")
        op = DataLocalityPlanOperator(
            task_id="plan", inputs=inputs, resolvers_config=resolvers, **access, **templated
        )
        for key, value in args.items():  # as rendering would set them
            setattr(op, key, value)
        return lambda: op.execute(task_context())  # type: ignore[arg-type]
    if case.surface == "group":

        def group() -> Any:
            with DAG("bad_inputs", schedule=None):
                return locality_pods(task_id="read", image="busybox", inputs=[an_input()], **args)

        return group
    sensors: dict[str, tuple[Any, dict[str, Any]]] = {
        "claim-sensor": (DataSourceClaimBoundSensor, {"claim_name": "c", **access}),
        "phase-sensor": (DataSourcePhaseSensor, {"data_source_name": "s", **access}),
        "data-sensor": (
            DataAvailableSensor,
            {"system": "webhdfs", "name": "/lake/events", "resolvers_config": resolvers},
        ),
    }
    kind, defaults = sensors[case.surface]
    sensor = kind(task_id="sense", deferrable=False, timeout=5, **{**defaults, **args})
    return lambda: sensor.execute(task_context())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_value_is_refused_naming_its_field_before_any_request(
    case: Case, world: World
) -> None:
    check_refused_before_any_request(case, world, _run(case, world))


STRING_FIELDS = (
    "namespace",
    "cluster_name",
    "volcano_queue",
    "strategy",
    "baseline_strategy",
    "scheduler",
    "partitioning",
    "input_format",
    "workload_class",
    "consumer_name",
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(STRING_FIELDS),
    st.text(max_size=300),
    st.dictionaries(st.text(max_size=70), st.text(max_size=70), max_size=3),
    st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3),
    st.dictionaries(st.sampled_from(["system", "dataSourceName", "dataSourceType"]), st.text()),
)
def test_any_string_in_any_field_is_taken_or_refused_by_our_own_error(
    name: str,
    value: str,
    node_selector: dict[str, str],
    requests: dict[str, str],
    identity: dict[str, str],
) -> None:
    """Hypothesis: the plan operator built with any text in a string field (and the run's
    checks of its rendered fields and inputs) raises nothing but DataLocalityError."""
    from datalocality.operators import DataLocalityPlanOperator
    from datalocality.operators.entries import parse_inputs

    built = None
    fuzzed: dict[str, Any] = {name: value}
    with contextlib.suppress(DataLocalityError):
        built = DataLocalityPlanOperator(
            task_id="plan", inputs=[], node_selector=node_selector, **fuzzed
        )
    if built is not None:
        with contextlib.suppress(DataLocalityError):
            built.check_rendered_fields()
    for check in (
        lambda: DataLocalityPlanOperator(task_id="plan", inputs=[], requests=requests),
        lambda: parse_inputs([{**an_input(), **identity}]),
    ):
        with contextlib.suppress(DataLocalityError):
            check()
