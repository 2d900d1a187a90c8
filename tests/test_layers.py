"""The core stays pure: importing it loads no Airflow, Kubernetes, httpx or Hera."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("airflow", "kubernetes", "httpx", "hera")


def loaded_after(statement: str) -> set[str]:
    """Top-level packages imported by running ``statement`` in a fresh interpreter."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_placement_imports_no_adapter_library() -> None:
    loaded = loaded_after("import datalocality.placement, datalocality.model")
    assert "datalocality" in loaded
    assert not loaded & set(FORBIDDEN)


def test_planning_runs_without_adapter_libraries() -> None:
    statement = (
        "from datalocality.model import *; from datalocality.placement import plan; "
        "r = PlacementRequest(topology=Topology(nodes=[Node(name='a')]), consumer=Consumer(), "
        "sources=[DataSource(system='s', dataSourceName='d', chunks=[Chunk(id='c')])]); "
        "[plan(r, s) for s in ('optimal', 'round-robin')]"
    )
    assert not loaded_after(statement) & set(FORBIDDEN)


def test_package_import_is_lazy() -> None:
    loaded = loaded_after("import datalocality")
    assert "pydantic" not in loaded
