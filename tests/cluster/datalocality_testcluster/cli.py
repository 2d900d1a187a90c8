"""``datalocality-cluster``: the test clusters from the command line.

datalocality-cluster build                 build the binaries (cached) and say where
datalocality-cluster up [--inventory F]    a real control plane until Ctrl-C
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from datalocality.kube.claims import crd_manifests
from datalocality_testcluster.controlplane import binaries, start_control_plane
from datalocality_testcluster.processes import ComponentError
from datalocality_testcluster.sandbox import command as sandbox_command
from datalocality_testcluster.sandbox.inventory import InventoryError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datalocality-cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("build", help="build etcd, kube-* and kwok from Go modules (cached)")
    up = commands.add_parser("up", help="run a real control plane with kwok nodes until Ctrl-C")
    up.add_argument("--inventory", metavar="FILE", help="node inventory (default: six demo nodes)")
    up.add_argument("--kubeconfig", metavar="PATH", default="cluster.kubeconfig")
    up.add_argument("--run-seconds", type=float, default=5.0, help="Running -> Succeeded")
    up.set_defaults(run=run_up)
    sandbox_command.add_parser(commands)
    demo = commands.add_parser("demo", help="run example 1 with Airflow against a cluster")
    demo.add_argument(
        "--cluster",
        choices=("sandbox", "kube"),
        default="sandbox",
        help="sandbox: the embedded emulator (default); kube: the real control plane",
    )
    demo.set_defaults(run=run_demo_command)
    return parser


def run_demo_command(args: argparse.Namespace) -> int:
    """Example 1 end to end, then the report."""
    from datalocality_testcluster.demo import DemoError, run_demo

    try:
        return run_demo(lambda text: print(text, flush=True), kind=args.cluster)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run_up(
    args: argparse.Namespace,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = lambda text: print(text, flush=True),
) -> int:
    """Start the control plane, say where it is, and run until Ctrl-C (or ``stop``)."""
    try:
        with start_control_plane(
            args.inventory, crds=crd_manifests(), default_run_seconds=args.run_seconds
        ) as plane:
            target = Path(args.kubeconfig)
            shutil.copyfile(plane.kubeconfig_path, target)
            target.chmod(0o600)
            say(f"kube-apiserver {plane.server} (real: etcd, apiserver, scheduler, controllers)")
            say("kubelets: kwok (simulated: no container runs)")
            say(
                "started in "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in plane.timings.items())
            )
            say(f"kubeconfig: {target}  (valid while this runs)")
            say(f"  export KUBECONFIG={target.resolve()}")
            try:  # the line that invites Ctrl-C is inside: a signal right after it is caught
                say("Ctrl-C to stop")
                (stop or threading.Event()).wait()
            except KeyboardInterrupt:
                say("stopping")
    except KeyboardInterrupt:  # during start-up: everything started is stopped already
        print("interrupted", file=sys.stderr)
        return 130
    except InventoryError as exc:
        print(f"error: inventory: {exc}", file=sys.stderr)
        return 2
    except ComponentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        try:
            print(binaries(build=True))
        except ComponentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
