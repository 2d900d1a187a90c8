"""The HTTP front of the emulator: URL routing, query parameters, JSON and chunked streams.

Plain HTTP/1.1 on a loopback port (``ThreadingHTTPServer``, one thread per connection,
keep-alive). Watches (``?watch=true``) and followed logs (``pods/{name}/log?follow=true``)
are chunked streams of one JSON event (or log line) per line. Any bearer token is
accepted: there is no authentication or authorisation.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from datalocality_testcluster.sandbox.apierrors import ApiError, bad_request
from datalocality_testcluster.sandbox.apiserver import ApiServer
from datalocality_testcluster.sandbox.execs import serve_exec
from datalocality_testcluster.sandbox.faults import Faults
from datalocality_testcluster.sandbox.kubelet import Kubelet
from datalocality_testcluster.sandbox.logs import pick_container, stream_logs
from datalocality_testcluster.sandbox.resources import ResourceType
from datalocality_testcluster.sandbox.scheduler import set_condition

Obj = dict[str, Any]
Query = dict[str, list[str]]
VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-datalocality-sandbox",
    "gitCommit": "emulated",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "none",
    "compiler": "none",
    "platform": "linux/amd64",
}
DEFAULT_WATCH_SECONDS = 1800.0


@dataclass
class Context:
    """What the request handlers share."""

    api: ApiServer
    kubelet: Kubelet
    faults: Faults = field(default_factory=Faults)
    verbose: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    """A resource URL taken apart."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    sub: str | None


def _flag(query: Query, key: str) -> bool:
    return (query.get(key) or ["false"])[0].lower() in {"true", "1", "yes"}


def _param(query: Query, key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _int(query: Query, key: str) -> int | None:
    value = _param(query, key)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f"{key}: not an integer ({value!r})") from None


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its open connections when stopping."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: Context) -> None:
        self.context = context
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection so that :meth:`close_connections` can end it."""
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection (keep-alive, watches, log streams)."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """One connection's requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Log requests to stderr only when the server is verbose."""
        if self.server.context.verbose:
            sys.stderr.write(f"sandbox: {format % args}\n")

    def do_GET(self) -> None:
        """GET."""
        self._handle("GET")

    def do_POST(self) -> None:
        """POST."""
        self._handle("POST")

    def do_PUT(self) -> None:
        """PUT."""
        self._handle("PUT")

    def do_PATCH(self) -> None:
        """PATCH."""
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        """DELETE."""
        self._handle("DELETE")

    # plumbing ------------------------------------------------------------

    def _send(
        self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: Obj, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json", headers)

    def _stream(self, chunks: Iterator[bytes], content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            if "yaml" in (self.headers.get("Content-Type") or ""):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from None

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            body = self._body()
            if not self._discovery(method, url.path):
                self._resource(method, url.path, query, body)
        except ApiError as exc:
            self._json(exc.code, exc.status(), exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the emulator: answer 500, keep serving
            self.server.context.errors.append(traceback.format_exc())
            self._json(500, ApiError(500, f"sandbox internal error: {exc!r}").status())

    # discovery -----------------------------------------------------------

    def _discovery(self, method: str, path: str) -> bool:
        registry = self.server.context.api.registry
        parts = [p for p in path.split("/") if p]
        doc: Obj | None = None
        if path in {"/healthz", "/readyz", "/livez"}:
            self._send(200, b"ok", "text/plain")
            return True
        if parts == ["version"]:
            doc = VERSION
        elif parts == ["api"]:
            host, port = self.server.server_address[:2]
            doc = {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host!s}:{port}"}
                ],
            }
        elif parts == ["apis"]:
            doc = registry.api_group_list()
        elif len(parts) == 2 and parts[0] == "apis":
            doc = registry.api_group(parts[1])
        elif parts == ["api", "v1"]:
            doc = registry.resource_list("", "v1")
        elif len(parts) == 3 and parts[0] == "apis":
            doc = registry.resource_list(parts[1], parts[2])
        else:
            return False
        if method != "GET":
            raise ApiError(405, f"{method} is not allowed on {path}")
        if doc is None:
            raise ApiError(404, f"the server could not find the requested resource ({path})")
        self._json(200, doc)
        return True

    def _route(self, path: str) -> Route:
        api = self.server.context.api
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, f"the server could not find the requested resource ({path})")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            inner = api.registry.get(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise ApiError(404, f"the server could not find the requested resource ({path})")
        rt = api.rt(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rt.subresources:
            raise ApiError(
                404, f"the server could not find the requested resource ({rt.plural}/{sub})"
            )
        if rt.namespaced != (namespace is not None) and name is not None:
            raise ApiError(404, f"the server could not find the requested resource ({path})")
        return Route(rt, namespace, name, sub)

    # resources -----------------------------------------------------------

    def _resource(self, method: str, path: str, query: Query, body: Any) -> None:
        ctx = self.server.context
        route = self._route(path)
        verb = _verb(method, route, query)
        fault = ctx.faults.take(verb, route.rt.plural, route.name, route.sub)
        if fault is not None and fault.reset:  # nothing applied, no answer
            self._hang_up()
            return
        if fault is not None and not (fault.after or fault.drop):
            if verb == "watch" and fault.code == 410:
                event = {"type": "ERROR", "object": fault.error().status()}
                self._stream(iter([json.dumps(event).encode() + b"\n"]), "application/json")
                return
            raise fault.error()
        code, result = self._apply(verb, route, query, body)
        if result is None:
            return  # streamed
        if fault is not None and fault.hold:
            time.sleep(fault.hold)  # the client gives up first: a timeout
        if fault is not None and fault.drop:
            self._hang_up()
            return
        if fault is not None:
            raise fault.error()
        self._json(code, result)

    def _hang_up(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _apply(self, verb: str, route: Route, query: Query, body: Any) -> tuple[int, Obj | None]:
        api = self.server.context.api
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.sub
        labels, fields = _param(query, "labelSelector"), _param(query, "fieldSelector")
        if verb == "list":
            return 200, api.list(
                rt, ns, labels, fields, limit=_int(query, "limit"), token=_param(query, "continue")
            )
        if verb == "watch":
            timeout = _int(query, "timeoutSeconds")
            end = time.monotonic() + (timeout if timeout is not None else DEFAULT_WATCH_SECONDS)
            since = _param(query, "resourceVersion")
            if since not in (None, "") and not str(since).isdigit():
                raise bad_request(f"invalid resourceVersion {since!r}")
            events = api.watch(
                rt,
                ns,
                labels,
                fields,
                resource_version=since,
                deadline=lambda: end - time.monotonic(),
            )
            self._stream((json.dumps(e).encode() + b"\n" for e in events), "application/json")
            return 200, None
        if verb == "create" and sub is None:
            dry = "All" in (query.get("dryRun") or [])
            return 201, api.create(rt, ns, body, dry_run=dry)
        if verb == "deletecollection":
            return 200, api.delete_collection(
                rt, ns, labels, fields, self._delete_options(query, body)
            )
        assert name is not None
        if sub == "log":
            return self._log(api.get(rt, ns, name), query)
        if sub == "exec":
            serve_exec(self, api.get(rt, ns, name), query, self.server.context.kubelet)
            return 200, None
        if sub == "binding":
            return 201, self._bind(route, body)
        if verb == "get":
            return 200, api.get(rt, ns, name)
        if verb == "update":
            return 200, api.update(rt, ns, name, body, sub)
        if verb == "patch":
            content_type = self.headers.get("Content-Type") or "application/merge-patch+json"
            if "apply-patch" in content_type and api.store.get(rt.storage, ns or "", name) is None:
                return 201, api.create(rt, ns, body)
            return 200, api.patch(rt, ns, name, content_type, body, sub=sub)
        if verb == "delete":
            return 200, api.delete(rt, ns, name, self._delete_options(query, body))
        raise ApiError(405, f"{verb} is not supported on {rt.plural}")

    def _delete_options(self, query: Query, body: Any) -> Obj:
        options: Obj = dict(body) if isinstance(body, dict) else {}
        policy = _param(query, "propagationPolicy")
        if policy:
            options["propagationPolicy"] = policy
        if "orphanDependents" in query:
            options["orphanDependents"] = _flag(query, "orphanDependents")
        return options

    def _log(self, pod: Obj, query: Query) -> tuple[int, Obj | None]:
        kubelet = self.server.context.kubelet
        container = pick_container(pod, query, kubelet)
        if _flag(query, "follow"):
            self._stream(stream_logs(pod, container, query, kubelet), "text/plain")
        else:
            self._send(
                200,
                b"".join(stream_logs(pod, container, query, kubelet, follow=False)),
                "text/plain",
            )
        return 200, None

    def _bind(self, route: Route, body: Any) -> Obj:
        api = self.server.context.api
        target = ((body or {}).get("target") or {}).get("name")
        if not target:
            raise bad_request("a Binding needs target.name")
        pod = api.get(route.rt, route.namespace, str(route.name))
        if pod["spec"].get("nodeName"):
            raise ApiError(
                409, f'pod {route.name} is already assigned to node "{pod["spec"]["nodeName"]}"'
            )

        def bind(p: Obj) -> None:
            p["spec"]["nodeName"] = target
            set_condition(p, "PodScheduled", "True")

        api.mutate(route.rt, str(route.namespace), str(route.name), bind)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }


def _verb(method: str, route: Route, query: Query) -> str:
    if method == "GET":
        if route.name is None:
            return "watch" if _flag(query, "watch") else "list"
        return "get"
    if method == "POST":
        return "create"
    if method == "DELETE":
        return "delete" if route.name is not None else "deletecollection"
    if route.name is None:
        raise ApiError(405, f"{method} needs an object name")
    return {"PUT": "update", "PATCH": "patch"}[method]
