"""Seeded fault runs: 1,000 runs of a pipeline's Kubernetes work with every request
faulted at random, and not one invariant broken.

Each run is what the example pipeline's tasks ask of the apiserver, task by task, with
Airflow's retries: the plan task (claim and bind two inputs, write the chunk lists owned
by the claims), one pod per replica, and the release teardown. The emulator faults each
request with probability 0.2, drawn (seeded: the seed is in every failure's message, so
``SEEDS=<seed>`` replays one) from the sandbox's chaos kinds: 409 conflict, 409
AlreadyExists after applying, a write applied then the connection dropped, 410 on a
watch, 429 with Retry-After, 500, 503, no answer before the client's timeout, a reset.
The client's backoff sleeps are injected (no wall-clock wait); its request timeout is
short, so a held answer costs 0.1 s.

After each task try, failed or not: at most one claim per input, every reference a
source holds is a live claim's and every Bound claim is referenced. After a plan try
that reported success: every claim Bound and every chunk list written. At the end: the
run completed within its tries, one pod per replica, no claim and no chunk list left,
one source per input with no reference.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from datalocality.kube.client import KubeClient
from datalocality_testcluster.sandbox import Sandbox
from tests.kube.conftest import api_client_for
from tests.kube.emulator import EmulatedApi, start_emulator
from tests.kube.seeded_runs import HOLD, POLICY, Run, no_sleep, run_seeded

RUNS, BATCH = 1_000, 100  # a fresh emulator per batch keeps its lists short
SEEDS = [int(s) for s in os.environ.get("SEEDS", "").split(",") if s]


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Callable[[], Sandbox]]:
    """A fresh emulator per batch of runs (stopped when the next starts, and at the end)."""
    running: list[Sandbox] = []

    def fresh() -> Sandbox:
        for old in running:
            assert old.errors == []
            old.stop()
        running.clear()
        running.append(start_emulator())
        return running[0]

    yield fresh
    for old in running:
        assert old.errors == []
        old.stop()


BATCHES = [SEEDS] if SEEDS else [list(range(b, b + BATCH)) for b in range(0, RUNS, BATCH)]


@pytest.mark.parametrize("seeds", BATCHES, ids=[f"seeds-{b[0]}-{b[-1]}" for b in BATCHES])
def test_seeded_fault_runs_break_no_invariant(
    sandboxes: Callable[[], Sandbox], seeds: list[int]
) -> None:
    sandbox = sandboxes()
    api = EmulatedApi(sandbox)
    faulted, retried = 0, 0
    with api_client_for(sandbox) as api_client:
        client = KubeClient(api_client, policy=POLICY, sleep=no_sleep)
        for seed in seeds:
            tries, fired = run_seeded(client, api, sandbox.faults, Run(seed), HOLD)
            retried, faulted = retried + tries, faulted + fired
    kinds = Counter(kind for kind, _, _ in sandbox.faults.chaos_fired)
    print(  # the figures README quotes (pytest -s)
        f"seeds {seeds[0]}-{seeds[-1]}: {len(seeds)} runs completed, {faulted} faults "
        f"({dict(sorted(kinds.items()))}), {retried} task tries failed and retried, "
        "0 invariant violations"
    )
    assert faulted > len(seeds) and len(kinds) >= 8, (faulted, kinds)  # the faults did fire
