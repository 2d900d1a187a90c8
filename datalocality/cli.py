"""The ``datalocality`` console script: plan, benchmark, demo, and list resolvers.

Bad input (invalid request, unreadable file, unknown strategy) exits 2 with one
``error: ...`` line; an infeasible placement exits 1; no tracebacks for either.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import partial
from importlib import resources
from pathlib import Path
from typing import NoReturn

import anyio
import yaml

from datalocality import bench
from datalocality.errors import DataLocalityError, InfeasiblePlacement, SpecError
from datalocality.input_limits import MAX_REQUEST_BYTES, check_expansion, check_request_size
from datalocality.model import PlacementPlan, PlacementRequest
from datalocality.placement import plan, strategy_names
from datalocality.report import compare_table, plan_table, savings_table
from datalocality.resolvers import ResolverContext, ResolverRegistry, fetch_resolver_config
from datalocality.resolvers.report import build_report_table, fetch_report
from datalocality.synthetic import FAMILIES, PRESETS

EXIT_OK, EXIT_INFEASIBLE, EXIT_USAGE = 0, 1, 2
DEMO_REQUEST = "clickstream.yaml"
# libyaml's safe loader when PyYAML was built with it (every manylinux wheel is).
YAML_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return the exit code."""
    try:
        args = _parser().parse_args(argv)
        result: int = args.run(args)
        return result
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except (UsageError, SpecError, yaml.YAMLError, OSError) as exc:
        return _fail(_one_line(exc), EXIT_USAGE)
    except InfeasiblePlacement as exc:
        return _fail(f"infeasible placement: {exc.reason}", EXIT_INFEASIBLE)
    except DataLocalityError as exc:
        return _fail(_one_line(exc), EXIT_INFEASIBLE)


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports mistakes as one ``error:`` line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    """The argument parser with the plan, bench and demo subcommands."""
    parser = _Parser(prog="datalocality", description="Place Kubernetes pods near their data.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan_cmd = commands.add_parser("plan", help="plan a placement request (YAML or JSON)")
    plan_cmd.add_argument("request", metavar="REQUEST", help="request file, or - for stdin")
    plan_cmd.add_argument(
        "--strategy", default=strategy_names()[0], help=f"one of {', '.join(strategy_names())}"
    )
    plan_cmd.add_argument("-o", "--output", choices=("table", "json"), default="table")
    plan_cmd.add_argument("--compare", action="store_true", help="compare every strategy")
    plan_cmd.set_defaults(run=_cmd_plan)

    bench = commands.add_parser("bench", help="benchmark strategies on synthetic instances")
    bench.add_argument(
        "--instances", default="small,medium,large", help="comma-separated: small,medium,large"
    )
    bench.add_argument(
        "--strategies", default=",".join(strategy_names()), help="comma-separated strategies"
    )
    bench.add_argument("--repeat", type=int, default=3, help="timed runs per strategy (median)")
    sizes = bench.add_mutually_exclusive_group()
    for flag in ("unit", "uneven", "both"):
        sizes.add_argument(
            f"--{flag}", dest="sizes", action="store_const", const=flag, help=f"{flag} sizes"
        )
    bench.set_defaults(sizes="both")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument(
        "--scaling",
        default="10000,20000,40000,80000",
        help="chunk counts of the latency-scaling table at 500 nodes ('' to skip)",
    )
    bench.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    bench.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help="comma-separated instance families of the family table ('' to skip)",
    )
    bench.add_argument(
        "--family-sizes", default="large", help="sizes of the family table: small,medium,large"
    )
    bench.add_argument(
        "--no-cli", action="store_true", help="skip timing the CLI on the large request"
    )
    bench.add_argument(
        "--no-tenfold", action="store_true", help="skip the 10x instance (1M chunks, ~1.5 GiB)"
    )
    bench.set_defaults(run=_cmd_bench)

    demo = commands.add_parser(
        "demo",
        help="plan the example and compare strategies (make demo runs it with Airflow)",
    )
    demo.add_argument(
        "--plan-only",
        action="store_true",
        help="only plan examples/clickstream.yaml and compare strategies (no Airflow)",
    )
    demo.set_defaults(run=_cmd_demo)

    resolvers = commands.add_parser("resolvers", help="list registered resolvers and their health")
    resolvers.add_argument("--config", metavar="FILE", help="resolvers config: system -> config")
    resolvers.add_argument("--timeout", type=float, default=10.0, help="seconds per health probe")
    resolvers.add_argument("-o", "--output", choices=("table", "json"), default="table")
    resolvers.set_defaults(run=_cmd_resolvers)

    return parser


def _cmd_plan(args: argparse.Namespace) -> int:
    """Plan one request with one strategy (or all with --compare) and print it."""
    _check_strategy(args.strategy)
    request = load_request(args.request)
    if args.compare:
        results = _plan_all(request)
        failure = results[strategy_names()[0]]
        if isinstance(failure, InfeasiblePlacement):
            raise failure  # infeasible for the default is infeasible for the request
        if args.output == "json":
            print(json.dumps({name: _jsonable(r) for name, r in results.items()}, indent=2))
        else:
            print(compare_table(results))
        return EXIT_OK
    result = plan(request, args.strategy)
    if args.output == "json":
        print(json.dumps(result.to_json_dict(), indent=2))
    else:
        print(plan_table(result))
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark with the chosen instances, sizes and repeats."""
    instances = [name.strip() for name in args.instances.split(",") if name.strip()]
    unknown = [name for name in instances if name not in PRESETS]
    if unknown or not instances:
        raise UsageError(f"--instances: unknown {unknown}; choose from {list(PRESETS)}")
    strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]
    for name in strategies or [args.strategies]:
        _check_strategy(name, "--strategies")
    if args.repeat < 1:
        raise UsageError(f"--repeat: must be >= 1 (got {args.repeat})")
    try:
        scaling = [int(n) for n in args.scaling.split(",") if n.strip()]
    except ValueError:
        raise UsageError(f"--scaling: not a list of chunk counts ({args.scaling!r})") from None
    if any(n < 1 for n in scaling):
        raise UsageError(f"--scaling: chunk counts must be >= 1 (got {args.scaling!r})")
    families = [name.strip() for name in args.families.split(",") if name.strip()]
    bad = [name for name in families if name not in FAMILIES]
    if bad:
        raise UsageError(f"--families: unknown {bad}; choose from {list(FAMILIES)}")
    family_sizes = [name.strip() for name in args.family_sizes.split(",") if name.strip()]
    bad = [name for name in family_sizes if name not in PRESETS]
    if bad or not family_sizes:
        raise UsageError(f"--family-sizes: unknown {bad}; choose from {list(PRESETS)}")
    options = bench.BenchOptions(
        instances=instances,
        sizes=bench.SIZES if args.sizes == "both" else (args.sizes,),
        repeat=args.repeat,
        seed=args.seed,
        strategies=strategies,
        scaling=() if args.no_scaling else scaling,
        scaling_strategy=strategy_names()[0],
        families=families,
        family_sizes=family_sizes,
        cli=not args.no_cli,
        tenfold=not args.no_tenfold,
    )
    bench.run(options, lambda text: print(text, flush=True))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    """Plan the example. The end-to-end demo needs a cluster, which the wheel does not
    ship: from a checkout, ``make demo`` (``datalocality-cluster demo``) runs it."""
    if not args.plan_only:
        print(
            "the end-to-end demo (Airflow against a cluster) runs from a checkout: make demo",
            file=sys.stderr,
        )
    return _plan_only_demo()


def _plan_only_demo() -> int:
    """Plan the clickstream example with the default strategy; show bytes saved vs peers."""
    path = demo_request_path()
    request = load_request(str(path))
    default, *peers = strategy_names()
    best = plan(request, default)
    print(f"request: {path.name}\n")
    print(plan_table(best))
    print(f"\nbytes moved by each peer strategy, and what {default} saves:")
    print(savings_table(best, {name: _try_plan(request, name) for name in peers}))
    return EXIT_OK


def _cmd_resolvers(args: argparse.Namespace) -> int:
    """List resolvers with their health; exit 1 when a configured system is not healthy."""
    if args.timeout <= 0:
        raise UsageError(f"--timeout: must be > 0 (got {args.timeout})")
    config = fetch_resolver_config(Path(args.config)) if args.config else None
    rows = anyio.run(
        partial(
            fetch_report,
            config,
            registry=ResolverRegistry.discover(),
            context=ResolverContext(),
            timeout=args.timeout,
        )
    )
    if args.output == "json":
        print(json.dumps([row.to_json_dict() for row in rows], indent=2))
    else:
        print(build_report_table(rows))
    return EXIT_INFEASIBLE if any(r.configured and r.state != "ok" for r in rows) else EXIT_OK


def load_request(source: str) -> PlacementRequest:
    """Read a request from a YAML/JSON file, or stdin for ``-``, and validate it."""
    if source == "-":
        text = sys.stdin.read(MAX_REQUEST_BYTES + 1)
        where = "<stdin>"
        check_request_size(where, len(text))
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"request file not found: {source}")
        where = source
        check_request_size(where, path.stat().st_size)
        text = path.read_text(encoding="utf-8")
    try:
        data = parse_request_text(text, where)
        if not isinstance(data, dict):
            raise UsageError(f"{where}: a request must be a mapping (got {type(data).__name__})")
        return PlacementRequest.parse(data)
    except RecursionError:
        raise UsageError(f"{where}: nested too deeply to read") from None


def parse_request_text(text: str, where: str) -> object:
    """JSON through the JSON parser, anything else through libyaml's C loader.

    PyYAML's pure-Python loader took 60 s on a 7 MB request that ``json.loads`` reads in
    0.2 s; YAML is a superset of JSON, so text that only looks like JSON (a YAML flow
    mapping) falls back to the YAML loader."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass  # a YAML flow mapping, or broken JSON: the YAML loader says which
    try:
        data = yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: not valid YAML or JSON: {_yaml_problem(exc)}") from None
    except ValueError as exc:  # a constructor's: an int past 4,300 digits, a bad date
        problem = (
            "a number has more digits than any quantity can"
            if "integer string conversion" in str(exc)
            else _one_line(exc)
        )
        raise UsageError(f"{where}: not valid YAML or JSON: {problem}") from None
    check_expansion(where, data)  # aliases can share values; JSON cannot
    return data


def demo_request_path() -> Path:
    """The demo request: the repository's examples/, else a copy shipped in the package."""
    local = Path(__file__).resolve().parents[1] / "examples" / DEMO_REQUEST
    if local.is_file():
        return local
    shipped = resources.files("datalocality").joinpath("examples", DEMO_REQUEST)
    if shipped.is_file():
        return Path(str(shipped))
    raise UsageError(f"demo request {DEMO_REQUEST} not found in examples/ or the package")


def _check_strategy(name: str, option: str = "--strategy") -> None:
    """Reject an unknown strategy before reading any input."""
    if name not in strategy_names():
        raise UsageError(f"{option}: unknown strategy {name!r}; choose one of {strategy_names()}")


def _try_plan(request: PlacementRequest, strategy: str) -> PlacementPlan | BaseException:
    """A plan, or the exception the strategy raised (shown as a row, not a crash)."""
    try:
        return plan(request, strategy)
    except Exception as exc:  # one broken strategy must not hide the others
        return exc


def _plan_all(request: PlacementRequest) -> dict[str, PlacementPlan | BaseException]:
    """Every strategy's plan (or error) on one request, default first."""
    return {name: _try_plan(request, name) for name in strategy_names()}


def _jsonable(result: PlacementPlan | BaseException) -> object:
    """A plan's JSON dict, or ``{"error": ...}`` for a failed strategy."""
    if isinstance(result, BaseException):
        return {"error": f"{type(result).__name__}: {result}"}
    return result.to_json_dict()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what the YAML parser choked on, without its multi-line excerpt."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return f"{where}{exc.problem}"
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (YAML errors span several)."""
    text = " ".join(str(exc).split()) if str(exc) else type(exc).__name__
    return text


def _fail(message: str, code: int) -> int:
    """Print ``error: message`` to stderr and return the exit code."""
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
