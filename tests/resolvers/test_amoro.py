"""The amoro resolver against recorded AMS responses (see tests/resolvers/support.py)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any

import httpx
import pytest

from datalocality.errors import (
    DataSourceNotFound,
    ResolverConfigError,
    ResolverResponseError,
    ResolverUnavailable,
    SpecError,
)
from datalocality.model import DataInput
from datalocality.resolvers import ResolverContext
from datalocality.resolvers.builtin.amoro import AmoroResolver, build_signature
from tests.resolvers.support import Server, SleepLog, load_recordings, replay

pytestmark = pytest.mark.anyio
MB = 1024 * 1024
BASE = "s3://lake-eu/warehouse/ml.db/events"


def make(server: Server, env: dict[str, str] | None = None, **config: Any) -> AmoroResolver:
    context = ResolverContext(env=env or {}, transport=server.transport(), sleep=SleepLog())
    settings = {
        "endpoint": "http://ams.example:1630",
        "locationMapping": {
            "s3://lake-eu/": ["cluster:eu", "zone:eu-1a"],
            "s3://lake-us": "cluster:us",
        },
        "retry": {"backoffBase": 0.001, "jitter": 0},
        **config,
    }
    return AmoroResolver.from_config(settings, context)


def table(name: str = "lake.ml.events", **attributes: str) -> DataInput:
    return DataInput(system="amoro", name=name, attributes=attributes)


async def test_partition_chunks_located_by_table_location() -> None:
    server = Server(replay(load_recordings("amoro")))
    source = await make(server).resolve(table())
    assert [(c.id, c.size, c.locations) for c in source.chunks] == [
        ("dt=2026-11-21", 512 * MB, ("cluster:eu", "zone:eu-1a")),
        ("dt=2026-11-22", 768 * MB, ("cluster:eu", "zone:eu-1a")),
    ]
    assert source.locality.clusters == ("eu",) and source.locality.zones == ("eu-1a",)
    assert source.chunk_base == ""  # partition names are not paths
    assert [r.url.path.rsplit("/", 1)[1] for r in server.requests] == ["details", "partitions"]


async def test_file_chunks_located_by_their_own_paths() -> None:
    server = Server(replay(load_recordings("amoro")))
    source = await make(server, granularity="file").resolve(table())
    assert len(source.chunks) == 5
    assert {c.size for c in source.chunks} == {256 * MB}
    by_id = {c.id: c.locations for c in source.chunks}
    # one file lies outside the table location, so no id is relative: each is its full path
    assert source.chunk_base == ""
    assert by_id["s3://lake-eu/warehouse/ml.db/events/data/dt=2026-11-22/00000-0-1b2c.parquet"] == (
        "cluster:eu",
        "zone:eu-1a",
    )
    assert by_id["s3://lake-us/archive/events/dt=2026-11-21/00001-0-9f8e.parquet"] == (
        "cluster:us",
    )
    assert source.locality.clusters == ("eu", "us")
    # the partition name is path-encoded: dt%3D2026-11-22
    assert any("dt%3D2026-11-22" in str(r.url) for r in server.requests)
    assert server.count == 4


async def test_granularity_attribute_overrides_config() -> None:
    server = Server(replay(load_recordings("amoro")))
    source = await make(server).resolve(table(granularity="file"))
    assert len(source.chunks) == 5


async def test_missing_table_is_not_found_by_listing_not_by_message() -> None:
    server = Server(replay(load_recordings("amoro")))
    with pytest.raises(DataSourceNotFound, match=r"lake\.ml\.missing"):
        await make(server).resolve(table("lake.ml.missing"))
    assert server.count == 2  # details (code 500), then the table list
    assert server.requests[1].url.params["keywords"] == "missing"


async def test_table_that_exists_but_fails_is_a_response_error() -> None:
    server = Server(replay(load_recordings("amoro")))
    with pytest.raises(ResolverResponseError) as caught:
        await make(server).resolve(table("lake.ml.flaky"))
    assert caught.value.status == 500
    assert "Failed to load table" in caught.value.excerpt
    assert server.count == 2


async def test_code_403_in_the_envelope_is_a_config_error() -> None:
    server = Server(replay(load_recordings("amoro")))
    with pytest.raises(ResolverConfigError):
        await make(server).resolve(table("lake.ml.secret"))
    assert server.count == 1


async def test_bad_names_and_attributes_are_spec_errors() -> None:
    server = Server(replay(load_recordings("amoro")))
    resolver = make(server)
    with pytest.raises(SpecError, match=r"catalog\.database\.table"):
        await resolver.resolve(table("ml.events"))
    with pytest.raises(SpecError, match=r"attributes\.granularity"):
        await resolver.resolve(table(granularity="row"))
    assert server.count == 0


def test_signature_matches_ams_algorithm() -> None:
    params = {"pageSize": "100", "page": "2", "empty": " "}
    expected = hashlib.md5(b"KEYpage2pageSize100SECRET").hexdigest()
    assert build_signature(params, "KEY", "SECRET", date(2026, 11, 23)) == expected
    # no parameters: AMS signs the date instead
    dated = hashlib.md5(b"KEY20261123SECRET").hexdigest()
    assert build_signature({}, "KEY", "SECRET", date(2026, 11, 23)) == dated


async def test_signature_auth_signs_every_request_and_masks_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server(replay(load_recordings("amoro")))
    env = {"AMS_KEY": "key-0123456789", "AMS_SECRET": "s3cr3t-value-42"}
    auth = {"type": "signature", "apiKey": {"env": "AMS_KEY"}, "secret": {"env": "AMS_SECRET"}}
    with caplog.at_level(logging.DEBUG):
        await make(server, env, auth=auth).resolve(table())
    for request in server.requests:
        params = dict(request.url.params)
        signature, key = params.pop("signature"), params.pop("apiKey")
        assert key == "key-0123456789"
        assert signature == build_signature(params, key, "s3cr3t-value-42", date.today())
    assert "HTTP Request" in caplog.text  # httpx logged the URLs...
    assert "key-0123456789" not in caplog.text  # ...with the credentials masked
    assert "signature=***" in caplog.text


async def test_basic_auth_sends_the_header_and_a_missing_secret_is_a_config_error() -> None:
    server = Server(replay(load_recordings("amoro")))
    auth = {"type": "basic", "username": {"env": "AMS_USER"}, "password": {"env": "AMS_PASS"}}
    env = {"AMS_USER": "admin", "AMS_PASS": "pa55word-xyz"}
    await make(server, env, auth=auth).resolve(table())
    expected = httpx.BasicAuth("admin", "pa55word-xyz")
    header = next(expected.auth_flow(httpx.Request("GET", "http://x"))).headers["Authorization"]
    assert all(r.headers["Authorization"] == header for r in server.requests)
    with pytest.raises(ResolverConfigError, match="AMS_PASS is not set") as caught:
        await make(Server(replay([])), {"AMS_USER": "admin"}, auth=auth).resolve(table())
    assert "pa55word" not in str(caught.value)


def test_incomplete_auth_config_names_the_field() -> None:
    with pytest.raises(SpecError) as caught:
        make(Server(replay([])), auth={"type": "signature", "apiKey": {"env": "K"}})
    assert caught.value.field == "auth.secret"


async def test_health_ok_and_misconfigured() -> None:
    server = Server(replay(load_recordings("amoro")))
    assert (await make(server).health()).state == "ok"
    assert server.requests[0].url.path == "/api/ams/v1/health/status"
    bad = make(
        Server(replay([])),
        auth={"type": "basic", "username": {"env": "U"}, "password": {"env": "P"}},
    )
    health = await bad.health()
    assert health.state == "misconfigured" and "U is not set" in health.detail


@pytest.mark.parametrize("name", ["..", ".", "a\x00b"])
async def test_a_partition_name_that_would_leave_the_table_is_refused(name: str) -> None:
    recordings = load_recordings("amoro")
    for recording in recordings:  # the partition list names one more, hostile partition
        if recording.path.endswith("/events/partitions"):
            recording.body["result"]["list"].append({**recording.body["result"]["list"][0]})
            recording.body["result"]["list"][-1]["partition"] = name
            recording.body["result"]["total"] = len(recording.body["result"]["list"])
    server = Server(replay(recordings))
    with pytest.raises(ResolverResponseError, match="not a single path segment"):
        await make(server, granularity="file").resolve(table())
    assert all(
        "/events/partitions" in str(r.url) or "/details" in str(r.url) for r in server.requests
    )
    assert not any(r.url.path.endswith("/events/files") for r in server.requests)


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"type": "basic", "user": "etl", "password": "hunter2hunter2"}, "auth.password"),
        ({"type": "signature", "apiKey": "key-123456789", "secret": {"env": "S"}}, "auth.apiKey"),
    ],
)
def test_a_credential_typed_inline_is_refused_without_being_shown(
    auth: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        make(Server(replay([])), auth=auth)
    assert caught.value.field == field
    assert caught.value.value == "***"
    assert "hunter2" not in str(caught.value) and "key-123456789" not in str(caught.value)


def ams(answers: dict[str, tuple[int, Any]]) -> Server:
    """AMS answering each path (the query ignored) with an envelope of (code, result)."""

    def handler(request: httpx.Request) -> httpx.Response:
        code, result = answers[request.url.path]
        return httpx.Response(200, json={"code": code, "message": f"code {code}", "result": result})

    return Server(handler)


DETAILS = "/api/ams/v1/tables/catalogs/lake/dbs/ml/tables/events/details"
TABLES = "/api/ams/v1/catalogs/lake/databases/ml/tables"
DATABASES = "/api/ams/v1/catalogs/lake/databases"


async def test_a_failing_table_listing_is_not_read_as_a_missing_table() -> None:
    # details and the table list both fail, but the database is there: AMS is in trouble,
    # the table is not known to be gone (a "not found" would turn its DataSource Lost)
    server = ams({DETAILS: (500, None), TABLES: (500, None), DATABASES: (200, ["ml"])})
    with pytest.raises(ResolverUnavailable, match=r"failed to list the tables of lake\.ml"):
        await make(server).resolve(table("lake.ml.events"))
    assert [r.url.path for r in server.requests] == [DETAILS, TABLES, DATABASES]


@pytest.mark.parametrize(
    ("databases", "error", "message"),
    [
        ((200, ["other"]), DataSourceNotFound, r"database lake\.ml does not exist"),
        ((404, None), DataSourceNotFound, r"catalog 'lake' does not exist"),
        ((500, None), ResolverUnavailable, r"failed to list the databases of lake"),
    ],
)
async def test_only_a_listing_that_answers_says_the_database_is_gone(
    databases: tuple[int, Any], error: type[Exception], message: str
) -> None:
    server = ams({DETAILS: (500, None), TABLES: (500, None), DATABASES: databases})
    with pytest.raises(error, match=message):
        await make(server).resolve(table("lake.ml.events"))
