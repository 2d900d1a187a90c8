"""The placement benchmark: ``python benchmarks/placement.py [bench options]``.

Same as ``datalocality bench`` / ``make bench``; it prints every strategy side by side on
seeded small, medium and large instances (unit and uneven chunk sizes) and optimal's
latency as the chunk count grows. Results are in benchmarks/README.md.
"""

from __future__ import annotations

import sys

from datalocality.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
