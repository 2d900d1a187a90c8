"""The example third-party resolver (examples/third_party_resolver), installed from the lock as
a uv workspace member: found through its entry point, configured, resolving, in the CLI."""

from __future__ import annotations

import json
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest

from datalocality.cli import main
from datalocality.errors import DataSourceNotFound, ResolverResponseError
from datalocality.model import DataInput
from datalocality.resolvers import GROUP, ResolverRegistry, ResolverSet

pytestmark = pytest.mark.anyio


def test_the_package_is_installed_with_its_entry_point() -> None:
    dist = distribution("datalocality-example-resolver")
    points = [p for p in entry_points(group=GROUP) if p.name == "csv-manifest"]
    assert len(points) == 1 and points[0].dist is not None
    assert points[0].dist.name == dist.metadata["Name"]
    assert points[0].value == "datalocality_example_resolver:CsvManifestResolver"


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    (tmp_path / "clicks.csv").write_text(
        "chunk_id,size,locations\npart-0,1Gi,node-1;node-2\npart-1,512Mi,zone:eu-1a\n"
    )
    (tmp_path / "broken.csv").write_text("chunk_id,size,locations\npart-0,lots,node-1\n")
    return tmp_path


async def test_it_resolves_through_a_resolver_set(manifests: Path) -> None:
    config = {"manifests": {"resolver": "csv-manifest", "root": str(manifests)}}
    async with ResolverSet.from_config(config, registry=ResolverRegistry.discover()) as resolvers:
        source = await resolvers.resolve(DataInput(system="manifests", name="clicks"))
        assert [(c.id, c.size, c.locations) for c in source.chunks] == [
            ("part-0", 2**30, ("node-1", "node-2")),
            ("part-1", 2**29, ("zone:eu-1a",)),
        ]
        assert source.locality.zones == ("eu-1a",)
        with pytest.raises(DataSourceNotFound):
            await resolvers.resolve(DataInput(system="manifests", name="nope"))
        with pytest.raises(ResolverResponseError, match=r"broken\.csv:2"):
            await resolvers.resolve(DataInput(system="manifests", name="broken"))


def test_cli_lists_it_with_health(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "resolvers.yaml"
    config.write_text(f"manifests:\n  resolver: csv-manifest\n  root: {manifests}\n")
    assert main(["resolvers", "--config", str(config), "-o", "json"]) == 0
    rows = {
        row["system"] + "/" + row["resolver"]: row for row in json.loads(capsys.readouterr().out)
    }
    row = rows["manifests/csv-manifest"]
    assert row["state"] == "ok" and row["origin"].startswith(
        "entry point from datalocality-example"
    )
