"""A real HDFS for the tests: Hadoop's MiniDFSCluster (a NameNode serving WebHDFS and
DataNodes with their own host names on racks) in one JVM, built from Maven Central by
``hdfs/build-hdfs.sh`` into the cache outside the repo.

The harness answers line commands on stdin (``hdfs/src/.../HdfsHarness.java``): a file's
block locations as the NameNode reports them over RPC, independent of WebHDFS, and stopping
a DataNode. Files are written through WebHDFS itself (``CREATE``, then the DataNode the
NameNode redirects to); the DataNodes' host names resolve only inside the JVM, so the
redirect is followed on loopback at the DataNode's own port.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from datalocality_testcluster.processes import ComponentError

_HERE = Path(__file__).parent / "hdfs"
_DIE_WITH_PARENT = ("setpriv", "--pdeathsig=KILL", "--")
MIB = 1 << 20
START_TIMEOUT = 240.0
# The JPMS flags Hadoop's own launcher passes on Java 17+ (hadoop-functions.sh, HADOOP-19310);
# nothing these tests do was seen to need one, but a NameNode code path might.
JAVA17_OPENS = tuple(
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in (
        "java.io", "java.lang", "java.lang.reflect", "java.math", "java.net", "java.text",
        "java.util", "java.util.concurrent", "java.util.zip", "sun.security.util",
        "sun.security.x509",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Block:
    """One block of a file as the NameNode reports it."""

    offset: int
    length: int
    hosts: frozenset[str]


def build_harness() -> str:
    """The java classpath of the harness (built on first use, then cached)."""
    done = subprocess.run(
        ["bash", str(_HERE / "build-hdfs.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ComponentError(f"build-hdfs.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


class MiniHdfs:
    """A running MiniDFSCluster; use :func:`start_hdfs`."""

    def __init__(self, process: subprocess.Popen[str], log: Path, ready: Mapping[str, Any]):
        self._process = process
        self._log = log
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self.http_port = int(ready["httpPort"])
        self.superuser = str(ready["superuser"])
        self.datanodes: dict[str, int] = {d["host"]: int(d["infoPort"]) for d in ready["datanodes"]}
        self.endpoint = f"http://127.0.0.1:{self.http_port}"
        self.http = httpx.Client(base_url=f"{self.endpoint}/webhdfs/v1", timeout=60)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def tail(self, lines: int = 30) -> str:
        """The end of the JVM's log."""
        with contextlib.suppress(OSError):
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _ask(self, command: str, timeout: float = 60.0) -> dict[str, Any]:
        with self._lock:
            assert self._process.stdin is not None
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise ComponentError(f"hdfs: no answer to {command!r}:\n{self.tail()}") from None
        if line is None:
            raise ComponentError(f"hdfs exited during {command!r}:\n{self.tail()}")
        status, _, body = line.partition(" ")
        if status != "OK":
            raise ComponentError(f"hdfs {command!r}: {body}")
        result: dict[str, Any] = json.loads(body)
        return result

    def locations(self, path: str) -> list[Block]:
        """The file's blocks by offset, from the NameNode over RPC (not WebHDFS)."""
        blocks = self._ask(f"LOCATIONS {path}")["blocks"]
        return [Block(b["offset"], b["length"], frozenset(b["hosts"])) for b in blocks]

    def write_on(self, path: str, size: int, hosts: Sequence[str]) -> list[Block]:
        """``size`` bytes written by the harness with ``hosts`` as favoured DataNodes (so
        every block's copies are known), and the blocks that resulted."""
        blocks = self._ask(f"WRITE {path} {size} {','.join(hosts)}")["blocks"]
        return [Block(b["offset"], b["length"], frozenset(b["hosts"])) for b in blocks]

    def stop_datanode(self, host: str) -> None:
        """Stop a DataNode; the NameNode declares it dead at once and re-replicates."""
        self._ask(f"STOP {host}")

    def _params(self, op: str, user: str | None, **extra: str) -> dict[str, str]:
        return {"op": op, "user.name": user or self.superuser, **extra}

    def write(self, path: str, data: bytes, *, user: str | None = None) -> None:
        """``CREATE`` through WebHDFS: the NameNode names a DataNode, the data goes there."""
        answer = self.http.put(
            path, params=self._params("CREATE", user, overwrite="true", noredirect="true")
        )
        answer.raise_for_status()
        target = urlsplit(answer.json()["Location"])
        port = self.datanodes[str(target.hostname)]
        loopback = urlunsplit(target._replace(netloc=f"127.0.0.1:{port}"))
        httpx.put(loopback, content=data, timeout=120).raise_for_status()

    def mkdirs(self, path: str, *, permission: str = "755", user: str | None = None) -> None:
        """``MKDIRS`` with an octal permission."""
        answer = self.http.put(path, params=self._params("MKDIRS", user, permission=permission))
        answer.raise_for_status()

    def delete(self, path: str, *, user: str | None = None) -> None:
        """``DELETE`` recursively."""
        answer = self.http.delete(path, params=self._params("DELETE", user, recursive="true"))
        answer.raise_for_status()

    def delegation_token(self, user: str, renewer: str) -> str:
        """A token the NameNode issues (security off: it issues them but does not check)."""
        answer = self.http.get(
            "/", params=self._params("GETDELEGATIONTOKEN", user, renewer=renewer)
        )
        answer.raise_for_status()
        return str(answer.json()["Token"]["urlString"])

    def close(self) -> None:
        """Shut the cluster down (``EXIT``), killing the JVM if it does not finish."""
        self.http.close()
        if self._process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self._process.stdin is not None
                self._process.stdin.write("EXIT\n")
                self._process.stdin.close()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
        self._reader.join(10)
        with contextlib.suppress(OSError, ValueError):
            assert self._process.stdout is not None
            self._process.stdout.close()


@contextlib.contextmanager
def start_hdfs(
    workdir: Path,
    datanodes: Mapping[str, str],
    *,
    block_size: int = MIB,
    replication: int = 2,
) -> Iterator[MiniHdfs]:
    """A MiniDFSCluster with one DataNode per ``host: rack`` entry, stopped on exit."""
    classpath = build_harness()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "hdfs.log"
    pairs = [f"{host}={rack}" for host, rack in datanodes.items()]
    with log.open("w") as err:
        process = subprocess.Popen(
            [
                *_DIE_WITH_PARENT,
                "java",
                "-Xmx1g",
                "-XX:+IgnoreUnrecognizedVMOptions",
                *JAVA17_OPENS,
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                classpath,
                "local.datalocality.HdfsHarness",
                str(workdir / "data"),
                str(block_size),
                str(replication),
                *pairs,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
    ready = _wait_ready(process, log)
    hdfs = MiniHdfs(process, log, ready)
    try:
        yield hdfs
    finally:
        hdfs.close()


def _wait_ready(process: subprocess.Popen[str], log: Path) -> dict[str, Any]:
    """The ``READY`` line's fields; ComponentError with the log if the JVM dies or stalls."""
    assert process.stdout is not None
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("READY "):
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not found:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise ComponentError(f"hdfs not up after {START_TIMEOUT:.0f} s:\n{tail}")
    ready: dict[str, Any] = json.loads(found[0].split(" ", 1)[1])
    return ready
