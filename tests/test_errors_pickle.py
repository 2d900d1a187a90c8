"""Every exception of the provider's error tree survives pickling.

Airflow pickles exceptions across processes (a task's failure reaches the supervisor, a
trigger's the triggerer), and ``BaseException.__reduce__`` rebuilds an exception as
``cls(*self.args)``: a class whose ``__init__`` takes other arguments than the message it
passes on raises TypeError while unpickling, and the real error is lost. Each class is
round-tripped with the arguments it is raised with; one that has no example of its own
uses its nearest ancestor's when it keeps that ancestor's ``__init__``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

import datalocality.resolvers.builtin.amoro  # noqa: F401  (defines a ResolverResponseError)
from datalocality import errors as E

Args = tuple[tuple[Any, ...], dict[str, Any]]


def _args(*args: Any, **kwargs: Any) -> Args:
    return args, kwargs


# Realistic arguments, as the code raising each class passes them.
EXAMPLES: dict[type[BaseException], list[Args]] = {
    E.DataLocalityError: [_args("datalocality failed")],
    E.SpecError: [
        _args("namespace", "Data_NS", "must be an RFC 1123 label (a-z, 0-9, '-', <= 63 chars)"),
        _args("inputs[0].chunks", ["part-00", "part-00"], "duplicate chunk id"),
        _args("timeout", None, "required when mode is reschedule"),
    ],
    E.PlacementNotRecorded: [_args("plan task 'train.plan' has recorded no plan in run 'r1'")],
    E.ResolutionError: [_args("warehouse.orders: no resolver answered")],
    E.DataSourceNotFound: [_args("iceberg table warehouse.orders does not exist")],
    E.ResolverConfigError: [_args("webhdfs http://nn:9870: 401 Unauthorized; check the token")],
    E.ResolverUnavailable: [_args("amoro http://ams:1630: 503 after 4 attempts")],
    E.UnknownResolver: [_args("no resolver is registered for system 'kudu'")],
    E.ResolverResponseError: [
        _args("amoro /tables/orders answered off-schema", status=200, excerpt='{"code": 4'),
        _args("webhdfs LISTSTATUS is not JSON"),
    ],
    E.ResponseTooLarge: [_args("webhdfs LISTSTATUS body is over 8388608 bytes", status=200)],
    E.CircuitOpen: [_args("http://ams:1630 failed 5 times; circuit open for 30 s")],
    E.PlacementError: [_args("no plan")],
    E.InfeasiblePlacement: [_args("replica 2 needs 4 cpu; no node has more than 3.5 free")],
    E.UnknownStrategy: [_args("unknown strategy 'greedy2'; use one of: flow, greedy")],
    E.KubernetesError: [_args("the Kubernetes API call failed")],
    E.ObjectConflict: [_args("ConfigMap data/train-chunks exists and is not ours")],
    E.ApiRejected: [
        _args(422, "Invalid", 'Pod "train-0" is invalid: spec.containers[0].image: Required'),
        _args(403, "Forbidden"),
        _args(500, "RequestTooLarge", "etcdserver: request is too large"),
    ],
    E.ObjectNotFound: [_args(404, "NotFound", "DataSource orders-3f2a")],
    E.ObjectTooLarge: [_args("ConfigMap", "train-chunks-0", 1_700_000, 1_572_864)],
    E.IncompleteSlices: [_args("orders-3f2a", "slice 2 of 3 is missing")],
    E.SourceReplaced: [_args("DataSource orders-3f2a was recreated while its slices were written")],
    E.IncompleteChunkLists: [_args("train-chunks-1a2b", "key replica-0 is missing")],
    E.ApiUnavailable: [_args("GET /api/v1/namespaces/data/pods kept failing after 5 attempts")],
}


def _tree(root: type[BaseException]) -> Iterator[type[BaseException]]:
    yield root
    for sub in root.__subclasses__():
        yield from _tree(sub)


def _examples(cls: type[BaseException]) -> list[Args]:
    """``cls``'s own examples, or those of the nearest ancestor whose ``__init__`` it keeps."""
    for owner in cls.__mro__:
        if owner in EXAMPLES and owner.__init__ is cls.__init__:
            return EXAMPLES[owner]
    return []


CLASSES = sorted(
    {*_tree(E.DataLocalityError), E.ApiRejected}, key=lambda c: f"{c.__module__}.{c.__name__}"
)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_round_trips_through_pickle(cls: type[BaseException]) -> None:
    examples = _examples(cls)
    assert examples, f"add realistic arguments for {cls.__module__}.{cls.__name__} to EXAMPLES"
    for args, kwargs in examples:
        error = cls(*args, **kwargs)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            copy = pickle.loads(pickle.dumps(error, protocol=protocol))
            assert type(copy) is cls
            assert str(copy) == str(error)
            assert copy.args == error.args
            assert vars(copy) == vars(error)  # field, value, status, reason ...


def test_a_raised_error_with_a_note_keeps_it() -> None:
    try:
        raise E.SpecError("replicas", 0, "must be an integer >= 1")
    except E.SpecError as raised:
        raised.add_note("while planning clickstream.plan")
        error = raised
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, E.SpecError) and isinstance(copy, ValueError)
    assert copy.__notes__ == ["while planning clickstream.plan"]
    assert (copy.field, copy.value, copy.reason) == ("replicas", 0, "must be an integer >= 1")
