"""Kubernetes quantity strings ("500m", "2Gi", "1.5") parsed to plain numbers."""

from __future__ import annotations

import math
import re

from datalocality.errors import SpecError

_SUFFIX: dict[str, float] = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*([a-zA-Z]*)\s*$")


def parse_quantity(field: str, value: object) -> float:
    """Parse a Kubernetes quantity (number or string such as ``"500m"``, ``"2Gi"``).

    >>> parse_quantity("cpu", "500m")
    0.5
    >>> parse_quantity("memory", "2Gi")
    2147483648.0
    """
    if isinstance(value, bool):
        raise SpecError(field, value, "must be a number or a Kubernetes quantity string")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if match is None or match.group(3) not in _SUFFIX:
            raise SpecError(field, value, "is not a Kubernetes quantity such as '500m' or '2Gi'")
        mantissa, exponent, suffix = match.groups()
        if exponent and suffix:
            raise SpecError(field, value, "cannot have both an exponent and a suffix")
        number = float(mantissa + (exponent or "")) * _SUFFIX[suffix]
    else:
        raise SpecError(field, value, "must be a number or a Kubernetes quantity string")
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise SpecError(field, value, "must be a finite number >= 0")
    return number


def parse_bytes(field: str, value: object) -> int:
    """Parse a byte count; fractional bytes are rounded up."""
    return math.ceil(parse_quantity(field, value))
