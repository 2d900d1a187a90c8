"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2e3``) as exact fractions.

The grammar is datalocality's (:func:`datalocality.model.quantities.split_quantity`, the
one Kubernetes' ``resource.ParseQuantity`` applies), so the sandbox takes exactly the
quantities the provider does; only the value differs: an exact Fraction here, because
the scheduler sums requests and compares them with what a node allocates, where a float
would let ``3 x 100m`` overshoot ``300m``. Negative quantities parse, as in Kubernetes.
"""

from __future__ import annotations

from fractions import Fraction

from datalocality.model.quantities import SUFFIXES, split_quantity


def parse_quantity(value: object) -> Fraction:
    """The numeric value of a quantity; raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return Fraction(value)
    parts = split_quantity(str(value))
    if parts is None:
        raise ValueError(f"not a quantity: {value!r}")
    number = -Fraction(parts.digits) if parts.negative else Fraction(parts.digits)
    if parts.exponent is not None:
        return number * Fraction(10) ** parts.exponent
    base, power = SUFFIXES[parts.suffix]
    return number * Fraction(base) ** power


def format_quantity(value: Fraction) -> str:
    """A short canonical text for a quantity (millis when fractional)."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{round(value * 1000)}m"
