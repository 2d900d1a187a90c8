"""The client's contract, with request counts: adopt or refuse, retry what is safe, re-read
what may have landed, follow Retry-After, and treat 409/410 on a read as final."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client import ApiClient  # type: ignore[import-untyped]  # no stubs

from datalocality.errors import ApiRejected, ApiUnavailable, ObjectConflict
from datalocality.kube.client import KubeClient
from datalocality.kube.names import TaskKey, build_metadata, stamp
from datalocality.kube.objects import RetryPolicy
from datalocality.kube.resources import CONFIGMAPS
from tests.kube.conftest import RequestLog
from tests.kube.emulator import EmulatedApi

PATH = "/api/v1/namespaces/data/configmaps"
TASK = TaskKey(dag_id="d", run_id="r", task_id="t")


def configmap(
    name: str = "cm", data: dict[str, str] | None = None, task: TaskKey = TASK
) -> dict[str, Any]:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": build_metadata(task, name, "data"),
        "data": data or {"k": "v"},
    }
    return stamp(manifest)


def append(value: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """An idempotent edit: add ``value`` to data.log once."""

    def edit(obj: dict[str, Any]) -> dict[str, Any] | None:
        log = obj["data"].get("log", "")
        if value in log.split(","):
            return None
        return {**obj, "data": {**obj["data"], "log": ",".join(filter(None, [log, value]))}}

    return edit


def test_create_returns_the_new_object(kube: KubeClient, request_log: RequestLog) -> None:
    created = kube.create_or_get(configmap())
    assert created.created and created.object["metadata"]["resourceVersion"]
    assert request_log.seen == [("POST", PATH)]


def test_an_equal_object_of_the_same_run_is_adopted(
    kube: KubeClient, request_log: RequestLog
) -> None:
    first = kube.create_or_get(configmap()).object
    again = kube.create_or_get(configmap())
    assert not again.created and again.object == first
    assert request_log.seen[1:] == [("POST", PATH), ("GET", f"{PATH}/cm")]


@pytest.mark.parametrize(
    "rival",
    [configmap(data={"k": "other"}), configmap(task=TaskKey(dag_id="d", run_id="r2", task_id="t"))],
    ids=["other-spec", "other-run"],
)
def test_someone_elses_object_is_refused_and_left_untouched(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, rival: dict[str, Any]
) -> None:
    stored = kube.create_or_get(rival).object
    with pytest.raises(ObjectConflict, match="not ours"):
        kube.create_or_get(configmap())
    assert api_server.stored(CONFIGMAPS, "cm", "data") == stored
    assert request_log.count("PUT") == request_log.count("DELETE") == 0


def test_a_terminating_object_is_waited_for(
    api_client: ApiClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    old = configmap()
    old["metadata"]["finalizers"] = ["example.com/cleanup"]
    old["metadata"]["deletionTimestamp"] = "2026-11-01T00:00:00Z"
    api_server.put_object(CONFIGMAPS, old)
    polls = itertools.count(1)

    def sleep(_: float) -> None:
        if next(polls) == 3:  # the finalizer finishes while we wait
            api_server.remove_object(CONFIGMAPS, "cm", "data")

    client = KubeClient(api_client, sleep=sleep, clock=lambda: 0.0)
    assert client.create_or_get(configmap()).created
    # POST 409, GET: terminating; polls with 3 waits until a GET finds it gone; POST 201.
    assert [m for m, _ in request_log.seen] == ["POST", "GET", "GET", "GET", "GET", "GET", "POST"]


def test_a_terminating_object_that_never_goes_gives_up(
    api_client: ApiClient, api_server: EmulatedApi
) -> None:
    old = configmap()
    old["metadata"].update(finalizers=["x/y"], deletionTimestamp="2026-11-01T00:00:00Z")
    api_server.put_object(CONFIGMAPS, old)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = KubeClient(
        api_client, policy=RetryPolicy(terminating_timeout=5), sleep=sleep, clock=lambda: now[0]
    )
    with pytest.raises(ApiUnavailable, match="terminating"):
        client.create_or_get(configmap())


def test_read_modify_write_retries_a_conflict(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    kube.create_or_get(configmap())
    api_server.inject("update", "configmaps", code=409)
    result = kube.modify(CONFIGMAPS, "cm", append("a"), namespace="data")
    assert result["data"]["log"] == "a"
    assert [m for m, _ in request_log.seen[1:]] == ["GET", "PUT", "GET", "PUT"]


def test_read_modify_write_against_a_real_rival(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    kube.create_or_get(configmap())
    rival_done: list[bool] = []  # the rival writes between our GET and our PUT

    def edit(obj: dict[str, Any]) -> dict[str, Any] | None:
        if not rival_done:
            rival_done.append(True)
            current = api_server.stored(CONFIGMAPS, "cm", "data")
            assert current is not None
            current["data"]["log"] = "rival"
            api_server.put_object(CONFIGMAPS, current)
        return append("ours")(obj)

    result = kube.modify(CONFIGMAPS, "cm", edit, namespace="data")
    assert result["data"]["log"] == "rival,ours"
    assert request_log.count("PUT") == 2


def test_rmw_gives_up_after_too_many_conflicts(kube: KubeClient, api_server: EmulatedApi) -> None:
    kube.create_or_get(configmap())
    api_server.inject("update", "configmaps", code=409, times=100)
    with pytest.raises(ApiUnavailable, match="kept changing"):
        kube.modify(CONFIGMAPS, "cm", append("a"), namespace="data")


def test_an_update_that_landed_but_failed_is_not_applied_twice(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    kube.create_or_get(configmap())
    api_server.inject("update", "configmaps", code=500, after=True)
    result = kube.modify(CONFIGMAPS, "cm", append("a"), namespace="data")
    assert result["data"]["log"] == "a"
    # GET, PUT (applied, answered 500), GET (sees the edit: nothing left to do).
    assert [m for m, _ in request_log.seen[1:]] == ["GET", "PUT", "GET"]


@pytest.mark.parametrize(
    "fault", [{"code": 500, "after": True}, {"drop": True}], ids=["apply-then-500", "timeout"]
)
def test_a_create_that_may_have_landed_is_re_read_not_duplicated(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, fault: dict[str, Any]
) -> None:
    api_server.inject("create", "configmaps", **fault)
    result = kube.create_or_get(configmap())
    assert result.object["data"] == {"k": "v"}
    assert request_log.seen == [("POST", PATH), ("GET", f"{PATH}/cm")]
    assert len(api_server.objects) == 1


def test_a_create_that_did_not_land_is_tried_again(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, sleeps: list[float]
) -> None:
    api_server.inject("create", "configmaps", code=503)
    assert kube.create_or_get(configmap()).created
    assert [m for m, _ in request_log.seen] == ["POST", "GET", "POST"]
    assert sleeps == [0.2]


def test_too_many_requests_waits_for_retry_after(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, sleeps: list[float]
) -> None:
    kube.create_or_get(configmap())
    api_server.inject("get", "configmaps", code=429, retry_after=7)
    api_server.inject("create", "configmaps", code=429, retry_after=3)
    assert kube.get(CONFIGMAPS, "cm", "data") is not None
    kube.create_or_get(configmap("cm2"))
    assert sleeps == [7.0, 3.0]
    # A throttled write was never applied: it is retried without a re-read.
    assert [m for m, _ in request_log.seen[1:]] == ["GET", "GET", "POST", "POST"]


def test_server_errors_on_reads_are_retried_with_backoff(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, sleeps: list[float]
) -> None:
    kube.create_or_get(configmap())
    api_server.inject("get", "configmaps", code=500, times=2)
    api_server.inject("list", "configmaps", drop=True)
    assert kube.get(CONFIGMAPS, "cm", "data") is not None
    items, version = kube.list(CONFIGMAPS, "data")
    assert len(items) == 1 and version
    assert sleeps == [0.2, 0.4, 0.2]
    assert request_log.count("GET") == 5


def test_a_server_that_keeps_failing_is_reported(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    api_server.inject("get", "configmaps", code=503, times=100)
    with pytest.raises(ApiUnavailable, match="6 attempts"):
        kube.get(CONFIGMAPS, "cm", "data")
    assert request_log.count("GET") == 6


@pytest.mark.parametrize("code", [400, 403, 422])
def test_final_errors_are_not_retried(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, code: int
) -> None:
    api_server.inject("create", "configmaps", code=code)
    with pytest.raises(ApiRejected) as caught:
        kube.create_or_get(configmap())
    assert caught.value.status == code
    assert request_log.seen == [("POST", PATH)]


def test_not_found_reads_are_none(kube: KubeClient, request_log: RequestLog) -> None:
    assert kube.get(CONFIGMAPS, "missing", "data") is None
    assert request_log.count() == 1


def test_delete_honours_its_precondition_and_re_reads_an_ambiguous_answer(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    created = kube.create_or_get(configmap()).object
    assert not kube.delete(CONFIGMAPS, "cm", "data", resource_version="999")
    assert api_server.stored(CONFIGMAPS, "cm", "data") is not None
    api_server.inject("delete", "configmaps", code=500, after=True)
    version = created["metadata"]["resourceVersion"]
    assert kube.delete(CONFIGMAPS, "cm", "data", resource_version=version)
    assert api_server.stored(CONFIGMAPS, "cm", "data") is None
    assert [m for m, _ in request_log.seen[1:]] == ["DELETE", "DELETE", "GET"]
    assert not kube.delete(CONFIGMAPS, "cm", "data")


def test_conflict_and_gone_on_plain_reads_are_final_errors(
    kube: KubeClient, api_server: EmulatedApi
) -> None:
    api_server.inject("get", "configmaps", code=409)
    api_server.inject("list", "configmaps", code=410)
    with pytest.raises(ApiRejected) as conflict:
        kube.get(CONFIGMAPS, "cm", "data")
    with pytest.raises(ApiRejected) as gone:
        kube.list(CONFIGMAPS, "data")
    assert (conflict.value.status, gone.value.status) == (409, 410)


def test_a_conflict_on_an_unconditional_delete_is_retried(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog, sleeps: list[float]
) -> None:
    kube.create_or_get(configmap())
    api_server.inject("delete", "configmaps", code=409)
    assert kube.delete(CONFIGMAPS, "cm", "data")
    assert api_server.stored(CONFIGMAPS, "cm", "data") is None
    assert [m for m, _ in request_log.seen[1:]] == ["DELETE", "DELETE"]
    assert sleeps == [0.2]


def test_a_delete_that_landed_but_was_answered_409_counts_as_deleted(
    kube: KubeClient, api_server: EmulatedApi, request_log: RequestLog
) -> None:
    kube.create_or_get(configmap())
    api_server.inject("delete", "configmaps", code=409, after=True)
    assert kube.delete(CONFIGMAPS, "cm", "data")
    assert [m for m, _ in request_log.seen[1:]] == ["DELETE", "DELETE"]  # 409, then 404
