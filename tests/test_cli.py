"""The ``datalocality`` CLI, run in-process through ``main(argv)`` and once as a script."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from datalocality.bench import BenchOptions, instance_table, run, time_plan
from datalocality.bench_scale import CliTiming, cli_table, tenfold_table
from datalocality.cli import main
from datalocality.model import PlacementRequest
from datalocality.placement import plan, strategy_names
from datalocality.report import dls_score, format_bytes, format_table, locality_mix
from datalocality.synthetic import build_instance

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "clickstream.yaml"
MiB = 2**20


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _example() -> PlacementRequest:
    return PlacementRequest.parse(yaml.safe_load(EXAMPLE.read_text()))


def _write(tmp_path: Path, data: object) -> str:
    path = tmp_path / "request.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _replica_rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines() if line[:1].isdigit()]


def test_plan_prints_one_row_per_replica_then_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "plan", str(EXAMPLE))
    assert (code, err) == (0, "")
    expected = plan(_example())
    rows = _replica_rows(out)
    assert [(row[0], row[1], row[2], row[3]) for row in rows] == [
        (str(r.index), r.node, r.zone, r.cluster) for r in expected.replicas
    ]
    assert [int(row[4]) for row in rows] == [len(r.chunks) for r in expected.replicas]
    assert sum(int(row[4]) for row in rows) == 12
    assert "totals:" in out and f"moved          {format_bytes(expected.totals.moved_bytes)}" in out
    # The overloaded gateway is explained, and never chosen.
    assert "gateway gateway-b is overloaded" in out
    assert all(row[1] != "gateway-b" for row in rows)


def test_json_output_is_the_documented_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "plan", str(EXAMPLE), "--output", "json")
    assert code == 0
    data = json.loads(out)
    assert {"strategy", "replicas", "transfers", "operations", "totals"} <= set(data)
    assert data["strategy"] == strategy_names()[0]
    replica_keys = {"index", "node", "cluster", "chunks", "bytes", "local_bytes", "moved_bytes"}
    assert all(replica_keys <= set(r) for r in data["replicas"])
    assert all({"chunk", "from", "to", "bytes", "tier"} <= set(t) for t in data["transfers"])
    totals = data["totals"]
    assert set(totals) >= {"bytes", "moved_bytes", "cost", "lower_bound_cost", "bytes_by_tier"}
    assert totals["bytes"] == 12 * 256 * MiB == sum(totals["bytes_by_tier"])
    assert totals["moved_bytes"] == sum(t["bytes"] for t in data["transfers"])
    assert data == plan(_example()).to_json_dict()


def test_strategy_option_selects_the_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "plan", str(EXAMPLE), "--strategy", "round-robin", "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert data["strategy"] == "round-robin"
    assert data == plan(_example(), "round-robin").to_json_dict()


def test_compare_lists_every_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "plan", str(EXAMPLE), "--compare")
    assert code == 0
    first_words = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert first_words[0] == "strategy"
    assert [w for w in first_words if w in strategy_names()] == strategy_names()
    round_robin = next(line for line in out.splitlines() if line.startswith("round-robin"))
    moved = plan(_example(), "round-robin").totals.moved_bytes
    assert format_bytes(moved) in round_robin


def test_compare_as_json_maps_each_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "plan", str(EXAMPLE), "--compare", "--output", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == strategy_names()
    assert data["round-robin"]["strategy"] == "round-robin"


@pytest.mark.parametrize("as_json", [False, True])
def test_request_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    text = EXAMPLE.read_text()
    if as_json:
        text = json.dumps(yaml.safe_load(text))
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code, out, _ = _run(capsys, "plan", "-", "--output", "json")
    assert code == 0
    assert json.loads(out) == plan(_example()).to_json_dict()


def test_bad_field_exits_2_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["consumer"]["replicas"] = 0
    code, out, err = _run(capsys, "plan", _write(tmp_path, data))
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "consumer.replicas" in err and "0" in err
    assert "Traceback" not in err


def test_unknown_chunk_location_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["sources"][0]["chunks"][3]["locations"] = ["worker-zz"]
    code, _, err = _run(capsys, "plan", _write(tmp_path, data))
    assert code == 2
    assert "sources[0].chunks[3].locations" in err and "worker-zz" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["plan", str(EXAMPLE), "--strategy", "nope"], "nope"),
        (["plan", "/no/such/request.yaml"], "not found"),
        (["bench", "--instances", "tiny"], "tiny"),
        (["bench", "--repeat", "0"], "--repeat"),
        (["bench", "--strategies", "optimal,nope"], "--strategies: unknown strategy 'nope'"),
        (["plan", str(EXAMPLE), "--output", "xml"], "--output"),
        (["plan"], "REQUEST"),
        (["launch"], "launch"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and needle in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("text", "needle"),
    [("topology: {nodes: [\n", "line 2"), ("- just\n- a list\n", "mapping")],
)
def test_unparseable_input_exits_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    needle: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code, _, err = _run(capsys, "plan", "-")
    assert code == 2
    assert err.startswith("error: <stdin>") and needle in err and err.count("\n") == 1


@pytest.mark.parametrize("compare", [False, True])
def test_infeasible_request_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, compare: bool
) -> None:
    # Two zones with room for one replica each: no zone can hold both.
    data = {
        "topology": {
            "nodes": [
                {"name": "a", "zone": "z1", "allocatable": {"pods": 1}},
                {"name": "b", "zone": "z2", "allocatable": {"pods": 1}},
            ]
        },
        "consumer": {"replicas": 2, "topology": {"mode": "hard", "highestTierAllowed": 1}},
    }
    argv = ["plan", _write(tmp_path, data), *(["--compare"] if compare else [])]
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith("error: infeasible") and "zone" in err and err.count("\n") == 1


def test_demo_plans_the_example_and_compares_peers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "demo", "--plan-only")
    assert (code, err) == (0, "")
    best = plan(_example())
    assert f"strategy: {best.strategy}" in out
    assert {row[1] for row in _replica_rows(out)} == {r.node for r in best.replicas}
    peers = [line.split() for line in out.splitlines() if line.split()[:1] == ["round-robin"]]
    assert len(peers) == 1
    peer_moved = plan(_example(), "round-robin").totals.moved_bytes
    saved = format_bytes(peer_moved - best.totals.moved_bytes)
    assert " ".join(peers[0]).startswith(f"round-robin {format_bytes(peer_moved)} {saved}")
    for name in strategy_names()[1:]:
        assert any(line.startswith(name) for line in out.splitlines())


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "datalocality"
    ok = subprocess.run(
        [str(script), "plan", str(EXAMPLE), "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["totals"]["bytes"] == 12 * 256 * MiB
    bad = subprocess.run(
        [str(script), "plan", "-"],
        input="consumer: {}\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: topology") and "Traceback" not in bad.stderr


QUICK = ("--families", "", "--no-cli", "--no-tenfold")  # the slow tables, tested below


def test_bench_family_table_puts_every_strategy_side_by_side() -> None:
    lines: list[str] = []
    options = BenchOptions(
        instances=[],
        repeat=1,
        strategies=["optimal", "round-robin"],
        scaling=(),
        families=["hot", "hdfs"],
        family_sizes=["small"],
    )
    run(options, lines.append)
    text = "\n".join(lines).splitlines()
    rows = [line.split() for line in text if line.split()[:1] in (["hot"], ["hdfs"])]
    assert [row[:2] for row in rows] == [
        ["hot", "unit"],
        ["hot", "uneven"],
        ["hdfs", "unit"],
        ["hdfs", "uneven"],
    ]
    for row in rows:  # optimal's cost/bound and latency, then round-robin's
        assert float(row[2]) >= 1.0 and float(row[5]) >= float(row[2])
    assert "hdfs: HDFS blocks: 128 MiB, 3 copies on random nodes" in text[0]


def test_cli_and_tenfold_rows_format_what_the_children_measured() -> None:
    table = cli_table(CliTiming(cli=4.5, floor=1.5, size=7 * 2**20))
    assert table.splitlines()[-1].split() == ["7.0", "MiB", "JSON", "4.5", "s", "1.5", "s", "3.00"]
    report = {"built": 15.0, "plan": 9.0, "cost": 2.0, "bound": 2.0, "peak_rss": 1.5 * 2**30}
    row = tenfold_table([("unit", report)]).splitlines()[-1].split()
    assert row == ["unit", "9", "s", "1.00", "1.50", "GiB", "15", "s"]


def test_bench_command_prints_a_table_per_instance(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "bench",
        "--instances",
        "small",
        "--repeat",
        "1",
        "--scaling",
        "200,400",
        *QUICK,
    )
    assert code == 0
    assert "small / unit sizes: 100 chunks" in out and "small / uneven sizes" in out
    for name in strategy_names():
        assert sum(line.startswith(f"{name} ") for line in out.splitlines()) >= 2
    scaling = [line.split() for line in out.splitlines() if line.split()[:1] in (["200"], ["400"])]
    assert [row[:3] for row in scaling] == [["200", "500", "100"], ["400", "500", "100"]]
    assert scaling[0][-1] == "1.00"


def test_bench_runs_only_the_selected_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--instances", "small", "--uneven", "--strategies", "round-robin"]
    code, out, _ = _run(capsys, *argv, "--repeat", "2", "--no-scaling", *QUICK)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("small / uneven sizes")
    assert [line.split()[0] for line in lines[3:] if line.strip()] == ["round-robin"]
    assert lines[3].split()[-1] == "2"  # runs


def test_bench_shows_a_failing_strategy_as_a_row() -> None:
    lines: list[str] = []
    options = BenchOptions(
        instances=["small"],
        sizes=["unit"],
        repeat=1,
        strategies=["round-robin", "no-such"],
        scaling=(),
    )
    run(options, lines.append)
    table = "\n".join(lines)
    failing = next(line for line in table.splitlines() if line.startswith("no-such"))
    assert "error: UnknownStrategy" in failing
    assert any(line.startswith("round-robin") for line in table.splitlines())


def test_bench_row_reports_locality_mix_and_dls_score() -> None:
    request = build_instance("small", seed=5)
    outcome = time_plan(request, "round-robin", repeat=2, budget=60.0)
    assert outcome.plan is not None and len(outcome.latencies) == 2
    totals = outcome.plan.totals
    node, zone, region, farther = locality_mix(totals)
    assert node + zone + region + farther == pytest.approx(1.0)
    tiers = totals.bytes_by_tier
    assert dls_score(totals) == pytest.approx(
        (tiers[0] + 0.8 * tiers[1] + 0.5 * tiers[2]) / sum(tiers)
    )
    row = next(line.split() for line in instance_table([outcome]).splitlines() if line[:2] == "ro")
    assert row[row.index(f"{dls_score(totals):.3f}") - 4] == f"{node:.1%}"


def test_format_table_aligns_columns_and_lets_notes_span() -> None:
    rows = [["a", "1", "22"], ["long-name", "100", "3"], ["x", "a note wider than columns"]]
    lines = format_table(["name", "n", "m"], rows).splitlines()
    assert lines[0] == "name         n   m"
    assert lines[1] == "---------  ---  --"
    assert lines[2] == "a            1  22"
    assert lines[3] == "long-name  100   3"
    assert lines[4] == "x          a note wider than columns"


def test_requests_are_read_by_the_fast_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON goes through json.loads (not the YAML loader) and YAML through libyaml's
    C loader: PyYAML's pure-Python loader took 60 s on a 7 MB request."""
    from datalocality import cli

    assert cli.YAML_LOADER is yaml.CSafeLoader
    text = json.dumps(yaml.safe_load(EXAMPLE.read_text()))

    def no_yaml(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("JSON text went through the YAML loader")

    monkeypatch.setattr(yaml, "load", no_yaml)  # cli.yaml is this module
    assert cli.parse_request_text(text, "<t>") == json.loads(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{consumer: {replicas: 2}}", {"consumer": {"replicas": 2}}),  # a YAML flow mapping
        ('{"a": [1, 2.5, null]}', {"a": [1, 2.5, None]}),
    ],
)
def test_flow_yaml_and_json_both_parse(text: str, expected: object) -> None:
    from datalocality.cli import parse_request_text

    assert parse_request_text(text, "<t>") == expected


def test_broken_json_exits_2_with_where(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"topology": {"nodes": [}\n')
    code, out, err = _run(capsys, "plan", str(path))
    assert (code, out) == (2, "")
    assert "not valid YAML or JSON" in err and "line 1" in err and "Traceback" not in err
