"""``datalocality-cluster sandbox up``: the emulator in the foreground, until Ctrl-C.

SIGTERM stops it the same way (as it stops the real control plane's ``up``): a process
started with SIGINT ignored, as a shell's background job is, can still be shut down
cleanly, serving stopped and connections closed before it exits 0.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import Any

from datalocality.kube.claims import crd_manifests
from datalocality_testcluster.controlplane import signals_raise
from datalocality_testcluster.sandbox.cluster import Sandbox
from datalocality_testcluster.sandbox.inventory import InventoryError
from datalocality_testcluster.sandbox.kubelet import KubeletTiming


def add_parser(commands: Any) -> None:
    """Add ``sandbox up`` to the ``datalocality-cluster`` subcommands."""
    sandbox = commands.add_parser(
        "sandbox", help="run the embedded Kubernetes API emulator (it runs no containers)"
    )
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="serve on 127.0.0.1 until Ctrl-C and write a kubeconfig")
    up.add_argument("--inventory", metavar="FILE", help="node inventory (default: six demo nodes)")
    up.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    up.add_argument("--kubeconfig", metavar="PATH", default="sandbox.kubeconfig")
    up.add_argument(
        "--crd",
        metavar="FILE",
        action="append",
        help="CRD manifest to register (repeatable; default: the package's own CRDs)",
    )
    up.add_argument("--start-seconds", type=float, default=1.0, help="bound pod -> Running")
    up.add_argument("--run-seconds", type=float, default=5.0, help="Running -> Succeeded")
    up.add_argument("-v", "--verbose", action="store_true", help="log every request")
    up.set_defaults(run=run_up)


def run_up(
    args: argparse.Namespace,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = lambda text: print(text, flush=True),
) -> int:
    """Start the sandbox, say where it is, and serve until Ctrl-C, SIGTERM or ``stop``.

    Exits 0 once stopped; 130 when interrupted before serving (as the control plane does).
    """
    try:
        with signals_raise():  # SIGTERM raises KeyboardInterrupt in here, as SIGINT does
            try:
                sandbox = Sandbox(
                    args.inventory,
                    port=args.port,
                    kubeconfig_path=args.kubeconfig,
                    crds=args.crd if args.crd is not None else crd_manifests(),
                    timing=KubeletTiming(args.start_seconds, args.run_seconds),
                    verbose=args.verbose,
                )
            except InventoryError as exc:
                print(f"error: inventory: {exc}", file=sys.stderr)
                return 2
            with sandbox:
                nodes = sandbox.api.store.objects(("", "nodes"))
                say(f"sandbox API server (emulated, runs no containers) on {sandbox.url}")
                say(f"{len(nodes)} nodes: {', '.join(n['metadata']['name'] for n in nodes)}")
                say(f"kubeconfig: {sandbox.kubeconfig_path}")
                say(f"  export KUBECONFIG={sandbox.kubeconfig_path.resolve()}")
                try:  # the line that invites Ctrl-C is inside: a signal right after it is caught
                    say("Ctrl-C to stop")
                    (stop or threading.Event()).wait()
                except KeyboardInterrupt:
                    say("stopping")
    except KeyboardInterrupt:  # before serving, or a second signal while stopping
        print("interrupted", file=sys.stderr)
        return 130
    return 0
