"""Kubernetes quantity strings ("500m", "2Gi", "1.5") parsed to plain numbers.

The grammar is the one Kubernetes' ``resource.ParseQuantity`` applies (apimachinery
``pkg/api/resource/quantity.go``), so a request or a cluster object the apiserver took is
never refused here, and nothing it refuses is taken::

    quantity ::= sign? number suffix
    number   ::= digits | digits "." digits | digits "." | "." digits
    suffix   ::= binary | decimal | ("e" | "E") sign? digits      (an int64 exponent)
    binary   ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimal  ::= n | u | m | "" | k | M | G | T | P | E

with no whitespace anywhere. Like ParseQuantity, the number may also have no digits at
all and then counts as 0 ("." "-" "+." "k" "Mi" parse; the empty string does not).
:func:`split_quantity` is that grammar alone, shared with the test cluster's apiserver,
which keeps exact fractions where :func:`parse_quantity` makes floats.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import NamedTuple

from datalocality.errors import SpecError

# Each suffix as ``base ** power``.
SUFFIXES: dict[str, tuple[int, int]] = {
    "n": (10, -9),
    "u": (10, -6),
    "m": (10, -3),
    "": (10, 0),
    "k": (10, 3),
    "M": (10, 6),
    "G": (10, 9),
    "T": (10, 12),
    "P": (10, 15),
    "E": (10, 18),
    "Ki": (2, 10),
    "Mi": (2, 20),
    "Gi": (2, 30),
    "Ti": (2, 40),
    "Pi": (2, 50),
    "Ei": (2, 60),
}
# The suffixes as floats, each the double nearest its exact value (so 1e-3 for "m").
_FACTOR = {suffix: float(Fraction(base) ** power) for suffix, (base, power) in SUFFIXES.items()}
_GRAMMAR = re.compile(
    r"(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?"
    r"(?:[eE](?P<exponent>[+-]?[0-9]+)|(?P<suffix>[KMGTPE]i|[numkMGTPE]?))"
)
# ParseQuantity reads the exponent with strconv.ParseInt(..., 10, 64).
_INT64 = range(-(2**63), 2**63)


class QuantityParts(NamedTuple):
    """A quantity string split by the grammar: ``sign digits × suffix`` or, with an
    exponent, ``sign digits × 10 ** exponent`` (``suffix`` is then "")."""

    negative: bool
    digits: str  # a digit on each side of the point: "0.5" for ".5", "0.0" for "."
    suffix: str
    exponent: int | None


def split_quantity(text: str) -> QuantityParts | None:
    """The parts of a quantity string, or None if Kubernetes would refuse it."""
    match = _GRAMMAR.fullmatch(text)
    if match is None or not text:
        return None
    exponent = None if match["exponent"] is None else int(match["exponent"])
    if exponent is not None and exponent not in _INT64:
        return None
    digits = f"{match['whole'] or '0'}.{match['fraction'] or '0'}"
    return QuantityParts(match["sign"] == "-", digits, match["suffix"] or "", exponent)


def parse_quantity(field: str, value: object) -> float:
    """Parse a Kubernetes quantity (number or string such as ``"500m"``, ``"2Gi"``).

    Refuses what Kubernetes refuses, and negative or non-finite values, which no
    resource, size or bandwidth here can be, with a SpecError naming field and value.

    >>> parse_quantity("cpu", "500m")
    0.5
    >>> parse_quantity("memory", "2Gi")
    2147483648.0
    """
    if isinstance(value, bool):
        raise SpecError(field, value, "must be a number or a Kubernetes quantity string")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int past 1.8e308: no resource, size or bandwidth
            raise SpecError(field, value, "must be a finite number >= 0") from None
    elif isinstance(value, str):
        parts = split_quantity(value)
        if parts is None:
            raise SpecError(field, value, "is not a Kubernetes quantity such as '500m' or '2Gi'")
        sign = "-" if parts.negative else ""
        if parts.exponent is not None:
            number = float(f"{sign}{parts.digits}e{parts.exponent}")
        else:
            number = float(sign + parts.digits) * _FACTOR[parts.suffix]
    else:
        raise SpecError(field, value, "must be a number or a Kubernetes quantity string")
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise SpecError(field, value, "must be a finite number >= 0")
    return number + 0.0  # "-0" is 0, without the sign


def parse_bytes(field: str, value: object) -> int:
    """Parse a byte count; fractional bytes are rounded up."""
    return math.ceil(parse_quantity(field, value))
