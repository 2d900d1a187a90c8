"""Pod annotations that tell a simulated container what to do, read by both emulated
runtimes (kwok's runtime agent and the embedded sandbox's kubelet). No container runs:
these stand for what it would print, return and exit with."""

from __future__ import annotations

from datalocality_testcluster.sandbox.environment import expand
from datalocality_testcluster.sandbox.execs import XCOM_ANNOTATION as XCOM
from datalocality_testcluster.sandbox.kubelet import PREFIX

LOG = PREFIX + "log"  # the base container's log ($(VAR) from its env is expanded)
EXIT_CODE = PREFIX + "exit-code"  # the exit code of every container but the XCom sidecar
RUN_SECONDS = PREFIX + "run-seconds"  # how long the containers run

__all__ = ["EXIT_CODE", "LOG", "PREFIX", "RUN_SECONDS", "XCOM", "expand"]
