"""What the bad-input tables share: the cases' shape, the real control plane with the
provider's writes counted from its audit log, the loopback server recording every request,
and how a refusal is recognised as ours."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from datalocality.errors import DataLocalityError
from datalocality_testcluster.clusters import ProviderCluster, start_cluster
from datalocality_testcluster.controlplane import ControlPlane
from datalocality_testcluster.tenancy import SERVICE_ACCOUNT
from tests.resolvers.support import QuietHandler, loopback_http

WRITES = {"create", "update", "patch", "delete", "deletecollection"}
USER = f"system:serviceaccount:default:{SERVICE_ACCOUNT}"
OURS = ("SpecError", "ResolverConfigError", "UnknownResolver")
LONG = "x" * 64
INJECTIONS = ("a/b", "..", "%2F", "a\nb", "a b", "UPPER", LONG, "-a", "a.")
NAMES = (*INJECTIONS[:-3], "x" * 254, "-a", "a.")  # object names: subdomains, <= 253


@dataclass(frozen=True)
class Case:
    """One bad value: which surface gets it, the arguments, the field the error names."""

    surface: str  # plan, plan-run (templated, checked at run), group, produce, sensor
    named: str  # the field the error names before its first ':'
    arguments: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None  # a resolvers config file, when the case needs one

    @property
    def id(self) -> str:
        return f"{self.surface}:{self.named}={json.dumps(self.arguments, default=str)[:40]}"


def an_input(system: str = "webhdfs", name: str = "/lake/events") -> dict[str, Any]:
    return {"system": system, "dataSourceName": name}


class Recorder(QuietHandler):
    """Records every request line; answers 404 (no case may get this far)."""

    lines: ClassVar[list[str]] = []

    def _any(self) -> None:
        self.lines.append(self.requestline)
        self.send_json(404, {"message": "no case may reach a resolver's server"})

    do_GET = do_POST = do_PUT = do_DELETE = _any


@dataclass
class World:
    """The real control plane, the recording server, and where the config files go."""

    cluster: ProviderCluster
    http: str
    root: Path

    def writes(self) -> int:
        plane = self.cluster.admin
        assert isinstance(plane, ControlPlane)
        return sum(1 for r in plane.audited_requests() if r.user == USER and r.verb in WRITES)


@pytest.fixture(scope="module")
def world(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with (
        start_cluster("kube") as cluster,
        loopback_http(Recorder) as base,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("DATALOCALITY_KUBECONFIG", str(cluster.kubeconfig_path))
        yield World(cluster, base, tmp_path_factory.mktemp("bad-inputs"))
        assert cluster.errors == []


def resolvers_file(world: World, extra: dict[str, Any] | None) -> str:
    """A resolvers config: every HTTP resolver at the recorder, plus the case's."""
    config: dict[str, Any] = {
        "webhdfs": {"resolver": "webhdfs", "endpoint": world.http},
        "iceberg": {"resolver": "iceberg", "catalog": {"type": "rest", "uri": world.http}},
        **(extra or {}),
    }
    path = world.root / f"resolvers-{len(list(world.root.iterdir()))}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def task_context() -> dict[str, Any]:
    from tests.airflow.test_retries import FakeTaskInstance

    return {"ti": FakeTaskInstance("plan", 1), "run_id": "manual__bad-inputs"}


def our_refusal(exc: BaseException) -> str:
    """The text of our own error behind what the case raised: ours, Airflow's wrapping
    ours, or a sensor's final failure quoting it (``<what it polls>: SpecError: ...``)."""
    from airflow.sdk.exceptions import AirflowFailException

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DataLocalityError):
            return str(seen)
        seen = seen.__cause__
    quoted = re.search(rf": ({'|'.join(OURS)}): (.*)", str(exc), re.DOTALL)
    if isinstance(exc, AirflowFailException) and quoted:
        return quoted.group(2)
    raise AssertionError(f"not our error: {type(exc).__name__}: {exc}") from exc


def cluster_access(world: World) -> dict[str, Any]:
    """The operators' arguments reaching the world's cluster as the provider's account."""
    return {"config_file": str(world.cluster.kubeconfig_path), "kubernetes_conn_id": None}


def check_refused_before_any_request(case: Case, world: World, run: Callable[[], Any]) -> None:
    """``run`` raises our error naming ``case.named``, with no write and no request."""
    writes, requests = world.writes(), len(Recorder.lines)
    with pytest.raises(Exception) as caught:
        run()
    message = our_refusal(caught.value)
    assert case.named in message.split(":", 1)[0], message
    assert world.writes() == writes, f"{case.id} wrote to the apiserver"
    assert len(Recorder.lines) == requests, Recorder.lines[requests:]
