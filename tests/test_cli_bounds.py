"""``datalocality plan`` on hostile input: bounded, one ``error:`` line, exit 2, never a
traceback; and fuzzed by hypothesis (exit 0, 1 or 2 only, no exception escapes ``main``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datalocality import input_limits
from datalocality.cli import main

NODE = {"name": "n1", "zone": "z", "allocatable": {"cpu": "4"}}


def request(chunk_size: object = 1, name: object = "n1") -> dict[str, Any]:
    return {
        "topology": {"nodes": [{**NODE, "name": name}]},
        "consumer": {"replicas": 1},
        "sources": [
            {
                "system": "s",
                "dataSourceName": "d",
                "chunks": [{"id": "c", "size": chunk_size, "locations": ["n1"]}],
            }
        ],
    }


def run(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    code = main(["plan", str(path)])
    return code, capsys.readouterr().err


def billion_laughs() -> str:
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 10):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    return text


CASES = {
    "int past a float": (json.dumps(request(10**400)), r"size: must be a finite number"),
    "int past 4300 digits": (
        json.dumps(request()).replace('"size": 1', '"size": ' + "9" * 5000),
        r"a number has more digits than any quantity can",
    ),
    "json nested 6000 deep": ("[" * 6000 + "]" * 6000, r"nested too deeply to read"),
    "yaml nested 100 deep": ("topology: " + "[" * 100 + "]" * 100, r"nests deeper than 64"),
    "yaml alias bomb": (billion_laughs(), r"expands past 20,000,000 values"),
    "yaml alias loop": ("topology: &a {nodes: [*a]}\n", r"contains itself"),
    "10 MB name": (json.dumps(request(name="x" * 10_000_000)), r"\(10,000,000 characters\)"),
    "5 MB unicode name": (json.dumps(request(name="é" * 5_000_000)), r"5,000,000 characters"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_request_exits_2_with_one_short_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = CASES[case]
    path = tmp_path / "request.yaml"
    path.write_text(text, encoding="utf-8")
    code, err = run(capsys, path)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err[:500]
    assert len(err) < 400
    assert re.search(expected, err), err


def test_a_request_larger_than_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request()), encoding="utf-8")
    monkeypatch.setattr(input_limits, "MAX_REQUEST_BYTES", 64)
    code, err = run(capsys, path)
    assert code == 2
    assert "a request may be at most 64 bytes" in err
    assert f"{path.stat().st_size:,} bytes" in err


def test_yaml_aliases_within_the_bound_still_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = """
topology:
  nodes:
    - {name: n1, <<: &zoned {zone: z, allocatable: {cpu: "4"}}}
    - {name: n2, <<: *zoned}
consumer: {replicas: 2}
sources: [{system: s, dataSourceName: d, chunks: [{id: c, locations: [n1]}]}]
"""
    path = tmp_path / "request.yaml"
    path.write_text(text, encoding="utf-8")
    code = main(["plan", str(path), "-o", "json"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert {r["node"] for r in json.loads(out)["replicas"]} <= {"n1", "n2"}


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from(["500m", "2Gi", "1e400", "-1", "n1", "zone:z", "", "..", "\x00"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)


@st.composite
def requests(draw: st.DrawFn) -> object:
    """Mostly near-valid requests with one part replaced by anything, sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(VALUES)
    data: Any = request()
    path = draw(
        st.sampled_from(
            [
                ("topology",),
                ("topology", "nodes"),
                ("topology", "nodes", 0),
                ("topology", "nodes", 0, "allocatable"),
                ("topology", "nodes", 0, "name"),
                ("consumer",),
                ("consumer", "replicas"),
                ("consumer", "requests"),
                ("consumer", "topology"),
                ("sources", 0, "chunks"),
                ("sources", 0, "chunks", 0, "size"),
                ("sources", 0, "chunks", 0, "locations"),
                ("sources", 0, "locality"),
                ("strategy",),
            ]
        )
    )
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = draw(VALUES)
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=requests(), as_yaml=st.booleans())
def test_fuzzed_plan_exits_0_1_or_2_quickly_and_never_raises(
    data: object, as_yaml: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "request"
    try:
        text = yaml.safe_dump(data) if as_yaml else json.dumps(data)
    except (ValueError, yaml.YAMLError):
        return  # not expressible in that format (an int too long for json.dumps)
    path.write_text(text, encoding="utf-8")
    assert main(["plan", str(path), "-o", "json"]) in (0, 1, 2)
