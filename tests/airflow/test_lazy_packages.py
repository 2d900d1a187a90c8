"""The packages Airflow's provider discovery imports stay lazy, and still export every name."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PACKAGES = ("datalocality", "datalocality.operators", "datalocality.sensors")


def loaded_after(statement: str) -> list[str]:
    """Modules imported by running ``statement`` in a fresh interpreter."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return list(json.loads(out.stdout))


def test_importing_the_packages_imports_no_airflow_nor_kubernetes() -> None:
    loaded = loaded_after("import " + ", ".join(PACKAGES))
    assert not {name.split(".")[0] for name in loaded} & {"airflow", "kubernetes", "hera"}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_imports_and_is_listed(package: str) -> None:
    statement = (
        f"import {package} as p; "
        "names = {n: getattr(p, n) for n in p.__all__}; "
        "assert set(p.__all__) <= set(dir(p)), dir(p); "
        "assert all(vars(p)[n] is v for n, v in names.items())"
    )
    loaded_after(statement)


def test_an_unknown_name_is_a_missing_attribute() -> None:
    import datalocality.operators

    with pytest.raises(AttributeError, match=r"'datalocality\.operators' has no attribute 'Nope'"):
        datalocality.operators.Nope  # noqa: B018


def test_the_plan_and_job_operators_do_not_import_kubernetes_pod_operator() -> None:
    loaded = loaded_after("import datalocality.operators.jobs, datalocality.operators.plan")
    assert "datalocality.operators.jobs" in loaded
    assert "airflow.providers.cncf.kubernetes.operators.pod" not in loaded
    assert "datalocality.operators.pod" not in loaded
