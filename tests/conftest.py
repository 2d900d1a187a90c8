"""Assertions in the tests' support modules (seeded_runs, support, emulator...) explain
themselves as the tests' own do: pytest rewrites only test modules and conftests unless
told, and a bare ``assert`` in a shared check fails in CI as an empty AssertionError."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests")
