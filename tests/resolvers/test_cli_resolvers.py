"""``datalocality resolvers``: every registered resolver and configured system, with health."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from datalocality.cli import main


def test_lists_every_registered_resolver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resolvers"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["SYSTEM", "RESOLVER", "ORIGIN", "HEALTH", "DETAIL"]
    by_name = {line.split()[1]: line for line in lines[1:]}
    assert set(by_name) >= {
        "amoro",
        "csv-manifest",
        "iceberg",
        "objectstore",
        "static",
        "vineyard",
        "webhdfs",
    }
    assert "unconfigured" in by_name["amoro"] and "endpoint" in by_name["amoro"]
    assert " ok " in by_name["objectstore"]


def test_configured_systems_report_health_and_set_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("[]\n")
    config = tmp_path / "resolvers.yaml"
    config.write_text(
        f"""
hive: {{resolver: static, inventory: {inventory}}}
ams:
  resolver: amoro
  endpoint: http://127.0.0.1:{closed}
  auth: {{type: signature, apiKey: {{env: NO_SUCH_KEY_VAR}}, secret: {{env: NO_SUCH_SECRET}}}}
lake: {{resolver: webhdfs, endpoint: "http://127.0.0.1:{closed}", timeouts: {{connect: 1}}}}
odd: {{resolver: hudi}}
"""
    )
    assert main(["resolvers", "--config", str(config), "-o", "json", "--timeout", "5"]) == 1
    listed = json.loads(capsys.readouterr().out)
    rows = {row["system"]: row for row in listed}
    assert rows["hive"]["state"] == "ok"
    assert rows["ams"]["state"] == "misconfigured" and "NO_SUCH_KEY_VAR" in rows["ams"]["detail"]
    assert rows["lake"]["state"] == "unavailable" and "ConnectError" in rows["lake"]["detail"]
    assert rows["odd"]["state"] == "misconfigured" and rows["odd"]["origin"] == "not registered"
    # amoro and webhdfs are used by systems, so they get no unconfigured row of their own
    unused = {r["resolver"] for r in listed if r["system"] == "-"}
    assert unused >= {"iceberg", "vineyard"} and not unused & {"amoro", "webhdfs", "static"}


def test_bad_config_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "resolvers.yaml"
    config.write_text("ams: {resolver: amoro, endpoint: 'ftp://x'}\n")
    assert main(["resolvers", "--config", str(config)]) == 1
    assert "misconfigured" in capsys.readouterr().out
    config.write_text("- not a mapping\n")
    assert main(["resolvers", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert main(["resolvers", "--timeout", "0"]) == 2
