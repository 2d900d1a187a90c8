"""locationMapping, config validation and credential masking: pure, no I/O."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datalocality.errors import ResolverConfigError, SpecError
from datalocality.model import Chunk
from datalocality.resolvers import HttpConfig, LocationMapping, RetryPolicy, SecretRef, fetch_secret
from datalocality.resolvers.chunks import build_chunk_base, build_chunk_id
from datalocality.resolvers.credentials import LOGGER, redact, redact_url
from datalocality.resolvers.http.client import build_http_client
from datalocality.resolvers.http.policy import classify_status, parse_retry_after, plan_backoff
from datalocality.resolvers.location import build_locality

MAPPING = {
    "s3://a/": "zone:za",
    "s3://a/hot": ["node-1", "cluster:c1"],
    "S3://lake": "region:r1",
    "hdfs://nn1": "node-9",
    "file:///": "cluster:local",
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://a/x", ("zone:za",)),
        ("s3://a", ("zone:za",)),
        ("s3://ab/x", ()),  # s3://a/ must not match s3://ab/x
        ("s3://a/hot/p-0", ("cluster:c1", "node-1")),  # the longest prefix wins
        ("s3://a/hot", ("cluster:c1", "node-1")),
        ("s3://a/hotter/x", ("zone:za",)),  # boundary, not string prefix
        ("s3://lake/t", ("region:r1",)),  # schemes are case-insensitive
        ("s3://lakes/t", ()),
        ("hdfs://nn1/data", ("node-9",)),
        ("hdfs://nn10/data", ()),
        ("file:///anything/at/all", ("cluster:local",)),
        ("gs://a/x", ()),
    ],
)
def test_longest_prefix_on_a_path_boundary(url: str, expected: tuple[str, ...]) -> None:
    assert LocationMapping.parse(MAPPING).locate(url) == expected


@pytest.mark.parametrize(
    ("mapping", "field", "reason"),
    [
        ({"s3://a": "z", "s3://a/": "y"}, "s3://a/", "same prefix"),
        ({"bucket/path": "node-1"}, "bucket/path", "scheme"),
        ({"s3://a//": "node-1"}, "s3://a//", "one slash"),
        ({"s3://a?x=1": "node-1"}, "s3://a?x=1", "URL"),
        ({"s3://a": "Node_1"}, "s3://a", "node name or zone"),
        ({"s3://a": "rack:r1"}, "s3://a", "node name or zone"),
        ({"s3://a": []}, "s3://a", "non-empty list"),
        ({"s3://a": 7}, "s3://a", "non-empty list"),
    ],
)
def test_malformed_mappings_are_rejected_naming_the_prefix(
    mapping: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(SpecError, match=reason) as caught:
        LocationMapping.parse(mapping)
    assert caught.value.field == field


def test_locality_from_chunk_locations() -> None:
    chunks = [
        Chunk(id="a", locations=("node-1", "zone:z1")),
        Chunk(id="b", locations=("cluster:c1", "region:r1", "node-2")),
    ]
    locality = build_locality(chunks, ["zone:z2"])
    assert (locality.clusters, locality.zones, locality.nodes) == (
        ("c1",),
        ("z1", "z2"),
        ("node-1", "node-2"),
    )


def test_chunk_base_only_when_every_path_is_under_it() -> None:
    paths = ["s3://b/t/data/a.parquet", "s3://b/t/data/b.parquet"]
    assert build_chunk_base(paths, "s3://b/t/") == "s3://b/t"
    assert build_chunk_base([*paths, "s3://b/other/c.parquet"], "s3://b/t") == ""
    assert build_chunk_base(["s3://b/tx/a"], "s3://b/t") == ""  # a path boundary, not a prefix
    assert build_chunk_base(paths, "") == ""


def test_chunk_ids_are_relative_and_bounded() -> None:
    assert build_chunk_id("s3://b/t/data/f.parquet", "s3://b/t") == "data/f.parquet"
    assert build_chunk_id("s3://b/other/f", "s3://b/t") == "s3://b/other/f"
    long_a, long_b = "p/" + "a" * 300, "p/" + "a" * 299 + "b"
    assert len(build_chunk_id(long_a)) == 253 and build_chunk_id(long_a) != build_chunk_id(long_b)


def http(**fields: object) -> HttpConfig:
    return HttpConfig.parse({"endpoint": "https://ams.example:1630", **fields})


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("ftp://ams.example", "only http"),
        ("https://admin:hunter2@ams.example", "credentials must not be in the URL"),
        ("https://ams.example/?apiKey=abc", "no query"),
        ("https://", "no host"),
        ("https://ams.example:99999", "not a valid URL"),
        ("https://ams.example:1630 ", "whitespace or control"),
        ("https://ams.example\r\nX-Injected: 1", "whitespace or control"),
        ("https://ams\x00.example", "whitespace or control"),
    ],
)
def test_bad_endpoints_name_the_field_and_mask_credentials(endpoint: str, reason: str) -> None:
    with pytest.raises(SpecError, match=reason) as caught:
        http(endpoint=endpoint)
    assert caught.value.field == "endpoint"
    assert "hunter2" not in str(caught.value) and "apiKey=abc" not in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"insecureSkipVerify": "yes"}, "insecureSkipVerify", "must be true or false"),
        ({"insecureSkipVerify": 1}, "insecureSkipVerify", "must be true or false"),
        ({"retry": {"maxAttempts": True}}, "retry.maxAttempts", "must be an integer"),
        ({"retry": {"maxAttempts": "5"}}, "retry.maxAttempts", "must be an integer"),
        ({"maxRedirects": 2.5}, "maxRedirects", "must be an integer"),
        ({"deadline": float("inf")}, "deadline", "must be a finite number"),
        ({"timeouts": {"read": "30"}}, "timeouts.read", "must be a number"),
        ({"timeouts": {"read": float("nan")}}, "timeouts.read", "must be a finite number"),
    ],
)
def test_booleans_and_numbers_are_taken_only_as_themselves(
    fields: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(SpecError, match=reason) as caught:
        http(**fields)
    assert caught.value.field == field
    assert http(insecureSkipVerify=True, retry={"backoffBase": 1}).retry.backoff_base == 1


@pytest.mark.parametrize("ttl", [float("inf"), float("nan"), -1, 10**400, True, "300"])
def test_cache_ttl_must_be_a_finite_number_of_seconds(ttl: object) -> None:
    from datalocality.resolvers.service import parse_system_config

    with pytest.raises(SpecError, match="must be a number of seconds") as caught:
        parse_system_config("lake", {"cacheTtl": ttl})
    assert caught.value.field == "lake.cacheTtl"
    assert parse_system_config("lake", {"cacheTtl": 0}).cache_ttl == 0


def test_camel_and_snake_case_and_bad_values_name_the_field(tmp_path: Path) -> None:
    assert http(maxResponseBytes=2048).max_response_bytes == 2048
    assert http(retry={"max_attempts": 2}).retry.max_attempts == 2
    with pytest.raises(SpecError) as caught:
        http(retry={"maxAttempts": 0})
    assert (caught.value.field, caught.value.value) == ("retry.maxAttempts", 0)
    with pytest.raises(SpecError) as caught:
        http(caBundle=str(tmp_path / "missing.pem"))
    assert caught.value.field == "caBundle" and "not found" in caught.value.reason
    with pytest.raises(SpecError, match="Extra inputs"):
        http(password="x")
    with pytest.raises(SpecError, match="contradicts"):
        (tmp_path / "ca.pem").write_text("x")
        http(caBundle=str(tmp_path / "ca.pem"), insecureSkipVerify=True)


@pytest.mark.anyio
async def test_skipping_tls_verification_warns_every_time(caplog: pytest.LogCaptureFixture) -> None:
    config = http(insecureSkipVerify=True)
    with caplog.at_level(logging.WARNING, logger=LOGGER.name):
        for _ in range(2):
            await build_http_client(config).aclose()
    assert caplog.text.count("TLS certificate verification is OFF") == 2
    verified = build_http_client(http())
    assert verified.follow_redirects is False and verified.trust_env is False
    assert verified.timeout.connect == 5.0 and verified.timeout.read == 30.0
    await verified.aclose()


def test_secret_refs_and_masking(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SpecError, match="exactly one"):
        SecretRef.parse({})
    with pytest.raises(SpecError, match="exactly one"):
        SecretRef.parse({"env": "A", "file": "/x"})
    with pytest.raises(SpecError, match="environment variable name"):
        SecretRef.parse({"env": "not a name"})
    secret_file = tmp_path / "token"
    secret_file.write_text("file-secret-value\n")
    from_file = fetch_secret(SecretRef(file=secret_file), {}, field="token")
    from_env = fetch_secret(SecretRef(env="TOKEN"), {"TOKEN": "env-secret-value"}, field="token")
    assert (from_file.reveal(), from_env.reveal()) == ("file-secret-value", "env-secret-value")
    assert (
        str(from_env) == "***"
        and "env-secret" not in repr(from_env)
        and "env-secret" not in f"{from_env}"
    )
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        LOGGER.info("sending %s and %s", "env-secret-value", "file-secret-value")
    assert "secret-value" not in caplog.text and "sending *** and ***" in caplog.text
    with pytest.raises(ResolverConfigError, match="cannot read secret file"):
        fetch_secret(SecretRef(file=tmp_path / "missing"), {}, field="token")


def test_redaction_of_urls_and_text() -> None:
    url = "https://u:p4ss@ams.example/api?apiKey=k&signature=s&page=2&delegation=t"
    redacted = redact_url(url)
    assert "p4ss" not in redacted and "apiKey=***" in redacted and "page=2" in redacted
    assert "delegation=***" in redacted and "signature=***" in redacted
    assert redact(f"failed: {url} (retry)").startswith("failed: https://***@ams.example/api?")


def test_status_classification_backoff_and_retry_after() -> None:
    verdicts = {
        code: classify_status(code)
        for code in (200, 204, 301, 307, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 501)
    }
    assert verdicts == {
        200: "ok", 204: "ok", 301: "redirect", 307: "redirect", 400: "response", 401: "auth",
        403: "auth", 404: "not-found", 409: "response", 429: "retry", 500: "retry",
        502: "retry", 503: "retry", 504: "retry", 501: "response",
    }  # fmt: skip
    policy = RetryPolicy(backoff_base=1, backoff_max=5, jitter=0)
    assert [plan_backoff(n, policy, random.Random(1)) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittered = RetryPolicy(backoff_base=1, backoff_max=100, jitter=0.5)
    delays = [plan_backoff(4, jittered, random.Random(seed)) for seed in range(50)]
    assert all(4 <= d <= 8 for d in delays) and len(set(delays)) == 50
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now) == 90.0
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("-3", now) is None and parse_retry_after(None) is None
