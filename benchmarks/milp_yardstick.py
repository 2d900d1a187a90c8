"""Optimal against an exact MILP (scipy HiGHS) on seeded small instances.

``python benchmarks/milp_yardstick.py [count]`` prints, per instance, optimal's cost, the
MILP optimum and their ratio, and the time each took. The MILP is the yardstick only for
small instances: it models every chunk-node pair.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datalocality.placement import plan
from datalocality.report import format_table
from datalocality.synthetic import build_instance, preset
from tests.milp_reference import solve


def main(count: int) -> int:
    """Compare on ``count`` seeded instances of 100 chunks, 10 nodes, 4 replicas."""
    rows = []
    plan(build_instance("small"))  # warm up imports so the first row is not skewed
    for seed in range(count):
        for unit in (True, False):
            request = build_instance(preset("small", chunks=60, nodes=8, replicas=3), seed, unit)
            start = time.perf_counter()
            ours = plan(request).totals.cost
            ours_s = time.perf_counter() - start
            start = time.perf_counter()
            exact = solve(request).cost
            milp_s = time.perf_counter() - start
            rows.append(
                [
                    str(seed),
                    "unit" if unit else "uneven",
                    f"{ours:.6g}",
                    f"{exact:.6g}",
                    f"{ours / exact:.4f}" if exact else "n/a",
                    f"{ours_s * 1000:.1f} ms",
                    f"{milp_s * 1000:.1f} ms",
                ]
            )
    headers = ["seed", "sizes", "optimal cost", "MILP cost", "ratio", "optimal", "MILP"]
    print(format_table(headers, rows))
    print("uneven: the MILP relaxes per-replica packing, so its value is a lower bound there")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
