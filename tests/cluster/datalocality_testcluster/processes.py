"""Child processes of the control plane: started in their own process group, killed with
the harness (the kernel's parent-death signal covers a SIGKILLed test run), their output
kept in a log file whose tail is quoted when a component fails to start."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# setpriv (util-linux) sets the parent-death signal and execs the component, so it dies
# with the harness even when the harness is SIGKILLed; no preexec_fn in a threaded process.
_DIE_WITH_PARENT = ("setpriv", "--pdeathsig=KILL", "--")


class ComponentError(RuntimeError):
    """A component would not start, or died; the message quotes its log."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Component:
    """One running binary."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise ComponentError(f"{self.name} exited with code {code}:\n{self.tail()}")

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to its process group, SIGKILL after the grace period."""
        if self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Also reap what is left of the group after the leader exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_component(name: str, argv: Sequence[str | Path], logs: Path) -> Component:
    """Start ``argv`` with its output in ``logs/<name>.log``."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_DIE_WITH_PARENT, *(str(a) for a in argv)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Component(name, process, log)


def wait_until(component: Component, ready: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``ready`` until true; seconds taken. Raises with the log if it dies or times out."""
    start = time.monotonic()
    while True:
        component.check_alive()
        try:
            if ready():
                return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise ComponentError(
                f"{component.name} not {what} after {timeout:.0f} s:\n{component.tail()}"
            )
        time.sleep(0.05)
