"""Both quantity parsers (the model's floats, the sandbox apiserver's fractions) take what
Kubernetes' ``resource.ParseQuantity`` takes and refuse the rest.

The cases are Kubernetes' own, from apimachinery ``pkg/api/resource/quantity_test.go``
(TestQuantityParse, its invalid list, TestParseQuantityString, TestQuantityString's
canonical and alternate forms), with the exact value of each string: Kubernetes rounds a
value finer than 1n up to 1n and caps binary ones at 2^63-1, which neither parser does.
A few more cases follow from the grammar and the parser's code; they are marked.
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from datalocality.errors import SpecError
from datalocality.model import parse_quantity
from datalocality.model.quantities import split_quantity
from datalocality_testcluster.sandbox.quantities import parse_quantity as sandbox_parse

KI, MI, GI, TI, PI, EI = (2**p for p in (10, 20, 30, 40, 50, 60))

ACCEPTED: list[tuple[str, F | int]] = [
    # TestQuantityParse: zeros, plain numbers, binary and decimal suffixes.
    ("0", 0), ("0n", 0), ("0u", 0), ("0m", 0), ("0Ki", 0), ("0k", 0), ("0Mi", 0),
    ("0M", 0), ("0Gi", 0), ("0G", 0), ("0Ti", 0), ("0T", 0), ("1", 1),
    ("1Ki", KI), ("8Ki", 8 * KI), ("7Mi", 7 * MI), ("6Gi", 6 * GI), ("5Ti", 5 * TI),
    ("4Pi", 4 * PI), ("3Ei", 3 * EI), ("10Ti", 10 * TI), ("100Ti", 100 * TI),
    ("5n", F(5, 10**9)), ("4u", F(4, 10**6)), ("3m", F(3, 1000)), ("9", 9), ("8k", 8000),
    ("50k", 50_000), ("7M", 7 * 10**6), ("6G", 6 * 10**9), ("5T", 5 * 10**12),
    ("40T", 40 * 10**12), ("300T", 300 * 10**12), ("2P", 2 * 10**15), ("1E", 10**18),
    # Decimal exponents, standard and not.
    ("1E-3", F(1, 1000)), ("1e3", 1000), ("1E6", 10**6), ("1e9", 10**9), ("1E12", 10**12),
    ("1e15", 10**15), ("1E18", 10**18), ("1e14", 10**14), ("1e13", 10**13),
    ("100.035k", 100_035),
    # Things that look like floating point.
    ("0.001", F(1, 1000)), ("0.0005k", F(1, 2)), ("0.005", F(5, 1000)), ("0.05", F(5, 100)),
    ("0.5", F(1, 2)), ("0.00050k", F(1, 2)), ("0.00500", F(5, 1000)), ("0.05000", F(5, 100)),
    ("0.50000", F(1, 2)), ("0.5e0", F(1, 2)), ("0.5e-1", F(5, 100)), ("0.5e-2", F(5, 1000)),
    ("10.035M", 10_035_000), ("1.2e3", 1200), ("1.3E+6", 1_300_000), ("1.40e9", 14 * 10**8),
    ("1.53E12", 153 * 10**10), ("1.6e15", 16 * 10**14), ("1.7E18", 17 * 10**17),
    ("9.01", F(901, 100)), ("8.1k", 8100), ("7.123456M", 7_123_456),
    ("6.987654321G", 6_987_654_321), ("5.444T", 5444 * 10**9), ("40.1T", 401 * 10**11),
    ("300.2T", 3002 * 10**11), ("2.5P", 25 * 10**14), ("1.01E", 101 * 10**16),
    # Things Kubernetes saturates or rounds (exact values here).
    ("3.001n", F(3001, 10**12)), ("1.1E-9", F(11, 10**10)), ("0.0000000001", F(1, 10**10)),
    ("0.0000000005", F(5, 10**10)), ("0.00000000050", F(5, 10**10)),
    ("0.5e-9", F(5, 10**10)), ("0.9n", F(9, 10**10)), ("0.00000012345", F(12345, 10**11)),
    ("0.00000012354", F(12354, 10**11)), ("9Ei", 9 * EI),
    ("9223372036854775807Ki", (2**63 - 1) * KI), ("12E", 12 * 10**18),
    # Fractional binary quantities.
    ("100.035Ki", F(100_035, 1000) * KI), ("0.5Mi", MI // 2), ("0.05Gi", F(5, 100) * GI),
    ("0.025Ti", F(25, 1000) * TI),
    # "Things written by trolls".
    ("0.000000000001Ki", F(KI, 10**12)), (".001", F(1, 1000)), (".0001k", F(1, 10)),
    ("1.", 1), ("1.G", 10**9),
    # TestParseQuantityString: a number may have no digits at all.
    (".", 0), ("-.", 0), ("1.025Ti", F(1025, 1000) * TI),
    # TestQuantityString: canonical and alternate forms.
    ("1e21", 10**21), ("1000E", 10**21), ("1e24", 10**24), ("1000000E", 10**24),
    ("1234567m", F(1_234_567, 1000)), ("1080n", F(1080, 10**9)), ("1080u", F(1080, 10**6)),
    ("1e-9", F(1, 10**9)), ("1000e-12", F(1, 10**9)), (".001e12", 10**9),
    ("0.001e0", F(1, 1000)), ("00", 0), ("80e-3", F(80, 1000)), ("1080000000n", F(108, 100)),
    # From the grammar and ParseQuantity's code (not in quantity_test.go): digit-less
    # numbers are 0 whatever the suffix, and an exponent may have a sign and leading zeros.
    ("+", 0), ("-", 0), ("+.", 0), ("k", 0), ("Mi", 0), ("e3", 0), ("+.5", F(1, 2)),
    ("1e+03", 1000), ("1E-0", 1), ("250n", F(250, 10**9)),
]  # fmt: skip

REFUSED = [
    # quantity_test.go: TestQuantityParse's invalid list, the empty string, MustParse's panic.
    "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 ",
    "", "Non-Numeric",
    # From the grammar: suffixes that are not, exponents without digits or not integers,
    # an exponent and a suffix both, whitespace anywhere, non-ASCII digits, an exponent
    # beyond int64 (ParseInt refuses it).
    "1e", "1E+", "1K", "1ki", "1KI", "1e3Gi", "1Gi3", "1mm", "1kk", "1e1.5", "1Ee3",
    "1..", "1.5.", "++1", "+-1", "1_000", "1,5", "0x10", "inf", "NaN", "1\n", "\t1", "1 Gi",
    "1\u0663", "\u0661", "1\u00b5", "1e9223372036854775808",
]  # fmt: skip

# quantity_test.go parses every case again with "-" and with "+" in front.
SIGNED = [
    (sign, text, exact)
    for text, exact in ACCEPTED
    for sign in ("", "+", "-")
    if not (sign and text[:1] in "+-")
]


@pytest.mark.parametrize(("sign", "text", "exact"), SIGNED)
def test_sandbox_parser_takes_kubernetes_quantities_exactly(
    sign: str, text: str, exact: F | int
) -> None:
    expected = -F(exact) if sign == "-" else F(exact)
    assert sandbox_parse(sign + text) == expected


@pytest.mark.parametrize(("sign", "text", "exact"), SIGNED)
def test_model_parser_takes_kubernetes_quantities(sign: str, text: str, exact: F | int) -> None:
    value = sign + text
    if sign == "-" and exact != 0:
        # Kubernetes' grammar, but no size, resource or bandwidth can be negative.
        with pytest.raises(SpecError, match="must be a finite number >= 0") as err:
            parse_quantity("requests.cpu", value)
        assert (err.value.field, err.value.value) == ("requests.cpu", value)
        return
    got = parse_quantity("requests.cpu", value)
    assert got == pytest.approx(float(exact), rel=1e-15, abs=0.0)
    assert str(got) != "-0.0"


@pytest.mark.parametrize("text", REFUSED)
def test_both_parsers_refuse_what_kubernetes_refuses(text: str) -> None:
    assert split_quantity(text) is None
    with pytest.raises(ValueError, match="not a quantity"):
        sandbox_parse(text)
    with pytest.raises(SpecError, match="is not a Kubernetes quantity") as err:
        parse_quantity("requests.memory", text)
    assert (err.value.field, err.value.value) == ("requests.memory", text)


def test_the_exponent_range_is_int64_and_floats_past_it_are_refused() -> None:
    # ParseInt takes -2^63 .. 2^63-1; the model's float then underflows to 0 or
    # overflows, which is refused as not finite (the sandbox's exact powers would be
    # astronomically large, so only the grammar is checked for it here).
    assert split_quantity(f"1e-{2**63}") is not None
    assert split_quantity(f"1e-{2**63 + 1}") is None
    assert parse_quantity("bandwidth", f"1e-{2**63}") == 0.0
    with pytest.raises(SpecError, match="finite"):
        parse_quantity("bandwidth", f"1e{2**63 - 1}")


def test_numbers_bypass_the_grammar() -> None:
    assert parse_quantity("cpu", 2) == 2.0 and sandbox_parse(2) == 2
    assert sandbox_parse(0.5) == F(1, 2)
    for parser in (lambda v: parse_quantity("cpu", v), sandbox_parse):
        with pytest.raises((SpecError, ValueError)):
            parser(True)
