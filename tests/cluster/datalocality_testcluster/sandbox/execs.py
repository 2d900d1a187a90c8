"""``pods/{name}/exec`` over WebSocket, for the KubernetesPodOperator's XCom sidecar only.

KubernetesPodOperator with ``do_xcom_push=True`` adds a container ``airflow-xcom-sidecar``
and, once the base container is done, execs two commands in it over the Kubernetes
WebSocket channel protocol (``v4.channel.k8s.io``): one that prints
``/airflow/xcom/return.json`` and one (fed on stdin) that kills the sidecar. The
sandbox answers the first with the pod's ``sandbox.datalocality.io/xcom`` annotation
(or the operator's "empty" marker) and treats the second as the sidecar exiting. Any
other command fails with exit code 126: no container exists to run it in.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import select
import struct
from typing import TYPE_CHECKING, Any

from datalocality_testcluster.sandbox.apierrors import ApiError

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from datalocality_testcluster.sandbox.kubelet import Kubelet

Obj = dict[str, Any]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTOCOL = "v4.channel.k8s.io"
STDOUT, STDERR, ERROR = 1, 2, 3
XCOM_FILE = "/airflow/xcom/return.json"
EMPTY_XCOM = "__airflow_xcom_result_empty__"
XCOM_ANNOTATION = "sandbox.datalocality.io/xcom"
SIDECAR = "airflow-xcom-sidecar"


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


def _read_frame(stream: io.BufferedIOBase) -> tuple[int, bytes] | None:
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", stream.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = stream.read(size)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _status(code: int) -> bytes:
    if code == 0:
        body: Obj = {"metadata": {}, "status": "Success"}
    else:
        body = {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    return bytes([ERROR]) + json.dumps(body).encode()


def serve_exec(
    handler: BaseHTTPRequestHandler, pod: Obj, query: dict[str, list[str]], kubelet: Kubelet
) -> None:
    """Upgrade the connection and play the XCom sidecar's side of the exec protocol."""
    key = handler.headers.get("Sec-WebSocket-Key")
    if handler.headers.get("Upgrade", "").lower() != "websocket" or not key:
        raise ApiError(400, "Upgrade request required")
    container = (query.get("container") or [""])[0]
    command = query.get("command") or []
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", PROTOCOL)
    handler.end_headers()
    handler.close_connection = True
    out = handler.wfile
    text = " ".join(command)
    if container == SIDECAR and XCOM_FILE in text:
        value = (pod["metadata"].get("annotations") or {}).get(XCOM_ANNOTATION) or EMPTY_XCOM
        out.write(_frame(bytes([STDOUT]) + value.encode()))
        code = 0
    elif container == SIDECAR and (query.get("stdin") or ["false"])[0].lower() in {"true", "1"}:
        ready, _, _ = select.select([handler.connection], [], [], 10)
        frame = _read_frame(handler.rfile) if ready else None
        stdin = frame[1][1:].decode(errors="replace") if frame else ""
        if "kill" in stdin:
            kubelet.killed_sidecars.add(pod["metadata"]["uid"])
            kubelet.api.store.poke()
        code = 0
    else:
        message = (
            "the sandbox runs no containers: "
            "exec only emulates the KubernetesPodOperator XCom sidecar\n"
        )
        out.write(_frame(bytes([STDERR]) + message.encode()))
        code = 126
    out.write(_frame(_status(code)))
    out.write(_frame(struct.pack("!H", 1000), opcode=0x8))
    out.flush()
